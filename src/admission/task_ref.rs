//! The Task a TaskRun's Pod runs, read from the cluster at Pod CREATE for what it declares of its
//! workspaces and its params. Neither the Pod nor the TaskRun's status holds it yet: Tekton's reconciler
//! sets `tr.Status.TaskSpec` in memory (`storeTaskSpecAndMergeMeta`, `pkg/reconciler/taskrun/taskrun.go`)
//! in the same `reconcile` that calls `createPod`, and the status is written only once `ReconcileKind`
//! returns (`updateStatus` in knative's generated `pkg/client/injection/reconciler/pipeline/v1/taskrun`).
//! So the policy reads the Pod's TaskRun for its spec, and the namespaced Task its `taskRef` names, as
//! Tekton's `LocalTaskRefResolver` gets it. A Task that comes through a resolver or a bundle is not in
//! the namespace under its name, and is not read.

use serde_json::Value;

use super::cluster::{Cluster, within_a_line};
use super::envelope::Metadata;
use crate::inject::task::{KnownTask, TaskWorkspaces};
use crate::tekton::variables::Variables;

/// The start of the warning for a Task or TaskRun that could not be read.
const NOT_READ: &str = "Task not known: ";

/// What is known of the Task of the TaskRun that owns the Pod (`pod`, in `namespace`): nothing, with a
/// warning when a read failed, when it cannot be read.
pub(super) fn known(
    pod: &Metadata,
    namespace: &str,
    cluster: &dyn Cluster,
    warnings: &mut Vec<String>,
) -> KnownTask {
    let Some((taskrun, spec, name)) = read(pod, namespace, cluster, warnings) else {
        return KnownTask::default();
    };
    KnownTask {
        workspaces: TaskWorkspaces::of(&spec),
        variables: Some(Variables::for_referenced_task(&taskrun, &spec, &name)),
    }
}

/// The TaskRun, the spec of its Task and the Task's name (the TaskRun's for an inline spec, as
/// `GetTaskData` in `pkg/reconciler/taskrun/resources/taskspec.go` names it).
fn read(
    pod: &Metadata,
    namespace: &str,
    cluster: &dyn Cluster,
    warnings: &mut Vec<String>,
) -> Option<(Value, Value, String)> {
    let owner = pod
        .owner_references
        .iter()
        .find(|owner| owner.kind == "TaskRun" && owner.controller == Some(true))?;
    let not_read = |kind: &str, name: &str| {
        within_a_line(&format!("{NOT_READ}{kind} "), name, " could not be read")
    };
    // A TaskRun of the same name made since is not the one the Pod was built for.
    let taskrun = cluster
        .get("tekton.dev/v1", "TaskRun", namespace, &owner.name)
        .ok()
        .filter(|taskrun| {
            taskrun.pointer("/metadata/uid").and_then(Value::as_str) == Some(&owner.uid)
        });
    let Some(mut taskrun) = taskrun else {
        warnings.push(not_read("TaskRun", &owner.name));
        return None;
    };
    // Go reads a `null` taskSpec as none, and Tekton then runs the taskRef.
    if let Some(spec) = taskrun
        .pointer_mut("/spec/taskSpec")
        .filter(|s| !s.is_null())
    {
        let spec = spec.take();
        return Some((taskrun, spec, owner.name.clone()));
    }
    let name = local_task(taskrun.pointer("/spec/taskRef")?)?;
    match cluster.get("tekton.dev/v1", "Task", namespace, &name) {
        Ok(mut task) => {
            let spec = task.get_mut("spec").map(Value::take).unwrap_or_default();
            Some((taskrun, spec, name))
        }
        Err(_) => {
            warnings.push(not_read("Task", &name));
            None
        }
    }
}

/// The name of the namespaced Task `reference` names; none for a resolver, a bundle or another kind.
fn local_task(reference: &Value) -> Option<String> {
    let text = |field: &str| {
        reference
            .get(field)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    };
    let namespaced = matches!(text("kind"), None | Some("Task"));
    if !namespaced || text("resolver").is_some() || text("bundle").is_some() {
        return None;
    }
    text("name").map(str::to_string)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::super::cluster::Holding;
    use super::super::{Outcome, verdict_reading};
    use super::*;
    use crate::tekton::workspaces::workspace_volume;

    const UID: &str = "11111111-2222-4333-8444-555555555555";

    /// The Pod Tekton builds for TaskRun `run-test` of a one-step Task with workspace `source` bound
    /// (shared: the step mounts it where the Task declares it), the declared sidecar `db` listing
    /// `listed` workspaces.
    fn pod(listed: Value) -> Value {
        pod_declaring(json!([{"name": "db", "image": "postgres:16", "workspaces": listed}]))
    }

    /// That Pod, with `declaration` for its sidecars.
    fn pod_declaring(declaration: Value) -> Value {
        let volume = workspace_volume("source");
        let context = json!({"workspaces": [{"name": "source", "volume": volume}]}).to_string();
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "run-test-pod", "namespace": "ci",
            "labels": {"tekton.dev/taskRun": "run-test", "tekton.dev/pipelineTask": "test"},
            "annotations": {"pipelinerun-sidecars.io/test": declaration.to_string(),
                            "pipelinerun-sidecars.io/taskrun.json": context},
            "ownerReferences": [{"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "run-test",
                                 "uid": UID, "controller": true}]},
            "spec": {"containers": [{"name": "step-test", "image": "golang",
                "volumeMounts": [{"name": volume, "mountPath": "/go/src"}]}],
                "volumes": [{"name": volume, "emptyDir": {}}]}})
    }

    fn taskrun(spec: Value, uid: &str) -> Value {
        json!({"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
            "metadata": {"name": "run-test", "namespace": "ci", "uid": uid}, "spec": spec})
    }

    /// The Task `golang-test`, its workspace `source` at `/go/src`, listed by its step when `isolated`.
    fn task_spec(isolated: bool) -> Value {
        let listing = if isolated {
            json!([{"name": "source"}])
        } else {
            json!([])
        };
        json!({"workspaces": [{"name": "source", "mountPath": "/go/src", "readOnly": true}],
            "steps": [{"name": "test", "image": "golang", "workspaces": listing}]})
    }

    fn task(isolated: bool) -> Value {
        json!({"apiVersion": "tekton.dev/v1", "kind": "Task",
            "metadata": {"name": "golang-test", "namespace": "ci"}, "spec": task_spec(isolated)})
    }

    const REF: fn() -> Value = || json!({"taskRef": {"name": "golang-test"}});

    /// The sidecar's volume mounts, the warnings and the reads of the cluster.
    fn injected(pod: Value, objects: Vec<Value>) -> (Value, Vec<String>, usize) {
        let cluster = Holding::new(objects);
        let payload = json!({"request": {"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE", "namespace": "ci", "object": pod}, "settings": {}});
        let verdict = verdict_reading(payload.to_string().as_bytes(), &cluster);
        let Ok(Outcome::Mutate(mutated)) = verdict.outcome else {
            panic!("not injected: {:?}", verdict.outcome);
        };
        let pod: Value = serde_json::from_str(mutated.text()).expect("JSON");
        let mounts = pod.pointer("/spec/containers/1/volumeMounts").cloned();
        (
            mounts.unwrap_or(Value::Null),
            verdict.warnings,
            cluster.reads.get(),
        )
    }

    const AS_SHOWN: &str = "annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": workspaces as this Pod shows them, not as the Task says";

    fn shared() -> Value {
        json!([{"name": workspace_volume("source"), "mountPath": "/go/src", "readOnly": true}])
    }

    #[rstest]
    #[case::shared_in_a_one_step_task(json!([]), vec![taskrun(REF(), UID), task(false)], shared(), vec![], 2)]
    #[case::isolated_by_the_step(json!([]), vec![taskrun(REF(), UID), task(true)], Value::Null, vec![], 2)]
    #[case::listed_where_the_task_declares_it(json!([{"name": "source"}]), vec![taskrun(REF(), UID), task(true)],
        shared(), vec!["annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": a listed workspace stays shared with the steps"], 2)]
    #[case::listed_at_its_own_path(json!([{"name": "source", "mountPath": "/db"}]), vec![taskrun(REF(), UID), task(true)],
        json!([{"name": workspace_volume("source"), "mountPath": "/db", "readOnly": true}]),
        vec!["annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": a listed workspace stays shared with the steps"], 2)]
    #[case::inline_spec_of_the_taskrun(json!([]), vec![taskrun(json!({"taskSpec": task_spec(true)}), UID)], Value::Null, vec![], 1)]
    #[case::taskrun_not_readable(json!([]), vec![task(true)], shared_as_the_pod_shows(),
        vec!["Task not known: TaskRun \"run-test\" could not be read", AS_SHOWN], 1)]
    #[case::another_taskrun_of_the_name(json!([]), vec![taskrun(REF(), "other"), task(true)], shared_as_the_pod_shows(),
        vec!["Task not known: TaskRun \"run-test\" could not be read", AS_SHOWN], 1)]
    #[case::task_not_readable(json!([]), vec![taskrun(REF(), UID)], shared_as_the_pod_shows(),
        vec!["Task not known: Task \"golang-test\" could not be read", AS_SHOWN], 2)]
    #[case::through_a_resolver(json!([]), vec![taskrun(json!({"taskRef": {"resolver": "hub"}}), UID), task(true)],
        shared_as_the_pod_shows(), vec![AS_SHOWN], 1)]
    #[case::from_a_bundle(json!([]), vec![taskrun(json!({"taskRef": {"name": "golang-test", "bundle": "r.example.com/t:1"}}), UID), task(true)],
        shared_as_the_pod_shows(), vec![AS_SHOWN], 1)]
    #[case::of_another_kind(json!([]), vec![taskrun(json!({"taskRef": {"name": "golang-test", "kind": "ClusterTask"}}), UID), task(true)],
        shared_as_the_pod_shows(), vec![AS_SHOWN], 1)]
    #[case::a_mount_path_with_a_variable(json!([]), vec![taskrun(REF(), UID), json!({"apiVersion": "tekton.dev/v1", "kind": "Task",
            "metadata": {"name": "golang-test", "namespace": "ci"},
            "spec": {"workspaces": [{"name": "source", "mountPath": "$(params.path)"}]}})],
        shared_as_the_pod_shows(), vec![AS_SHOWN], 2)]
    fn the_task_decides_what_a_pod_level_sidecar_gets(
        #[case] listed: Value,
        #[case] objects: Vec<Value>,
        #[case] mounts: Value,
        #[case] warnings: Vec<&str>,
        #[case] reads: usize,
    ) {
        assert_eq!(
            injected(pod(listed), objects),
            (
                mounts,
                warnings.iter().map(ToString::to_string).collect(),
                reads
            )
        );
    }

    /// Without the Task, a one-step Pod's workspace could be isolated: the sidecar gets nothing.
    fn shared_as_the_pod_shows() -> Value {
        Value::Null
    }

    /// A Pod without workspaces bound reads nothing: the Task would change nothing.
    #[test]
    fn nothing_is_read_without_workspaces() {
        let mut pod = pod(json!([]));
        pod["metadata"]["annotations"]["pipelinerun-sidecars.io/taskrun.json"] = json!("{}");
        let (_, warnings, reads) = injected(pod, vec![taskrun(REF(), UID), task(false)]);
        assert_eq!((warnings.len(), reads), (0, 0), "{warnings:?}");
    }

    /// The Task's params with the TaskRun's values, its name, the TaskRun's name, namespace and uid, and
    /// the workspace's path: what Tekton substitutes in a Task's sidecar, the policy substitutes in the Pod.
    #[test]
    fn variables_are_made_as_tekton_makes_them_in_the_task() {
        let declaration = json!([{"name": "db", "image": "postgres:$(params.version)",
            "args": ["-c", "$(params.flags)", "$(context.task.retry-count)"],
            "env": [{"name": "RUN", "value": "$(context.taskRun.name)/$(context.taskRun.uid)"},
                    {"name": "TASK", "value": "$(context.task.name) in $(context.taskRun.namespace)"},
                    {"name": "SRC", "value": "$(workspaces.source.path)"}]}]);
        let mut spec = task_spec(false);
        spec["params"] =
            json!([{"name": "version", "default": "15"}, {"name": "flags", "default": "-v"}]);
        let task = json!({"apiVersion": "tekton.dev/v1", "kind": "Task",
            "metadata": {"name": "golang-test", "namespace": "ci"}, "spec": spec});
        let run = taskrun(
            json!({"taskRef": {"name": "golang-test"}, "params": [{"name": "version", "value": "16"}],
            "workspaces": [{"name": "source", "emptyDir": {}}]}),
            UID,
        );
        let cluster = Holding::new([run, task]);
        let payload = json!({"request": {"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE", "namespace": "ci", "object": pod_declaring(declaration)}, "settings": {}});
        let verdict = verdict_reading(payload.to_string().as_bytes(), &cluster);
        let Ok(Outcome::Mutate(mutated)) = verdict.outcome else {
            panic!("not injected: {:?}", verdict.outcome);
        };
        let pod: Value = serde_json::from_str(mutated.text()).expect("JSON");
        let container = &pod["spec"]["containers"][1];
        assert_eq!(container["image"], "postgres:16");
        // Tekton keeps a retry count in the TaskRun's status, which a retry's Pod may be judged on
        // before it is written: it stays as written, and the warning says so.
        assert_eq!(
            container["args"],
            json!(["-c", "-v", "$(context.task.retry-count)"])
        );
        assert_eq!(
            container["env"],
            json!([{"name": "RUN", "value": format!("run-test/{UID}")},
                   {"name": "TASK", "value": "golang-test in ci"},
                   {"name": "SRC", "value": "/go/src"}])
        );
        assert_eq!(
            verdict.warnings,
            [
                "annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": Tekton variables stay literal in a Pod-level sidecar"
            ]
        );
    }

    /// The image a param makes is held to the settings, as the image of an inline Task's sidecar is.
    #[test]
    fn the_image_a_param_makes_is_judged() {
        let declaration = json!([{"name": "db", "image": "$(params.image)"}]);
        let mut spec = task_spec(false);
        spec["params"] = json!([{"name": "image", "default": "evil.example.com/miner"}]);
        let task = json!({"apiVersion": "tekton.dev/v1", "kind": "Task",
            "metadata": {"name": "golang-test", "namespace": "ci"}, "spec": spec});
        let cluster = Holding::new([taskrun(REF(), UID), task]);
        let payload = json!({"request": {"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE", "namespace": "ci", "object": pod_declaring(declaration)},
            "settings": {"allowedImages": ["docker.io/library/*"]}});
        let verdict = verdict_reading(payload.to_string().as_bytes(), &cluster);
        let message = verdict.outcome.map(|_| ()).map_err(|e| e.to_string());
        assert!(
            matches!(&message, Err(m) if m.contains("\"$(params.image)\" is \"evil.example.com/miner\" in this TaskRun, and")),
            "{message:?}"
        );
    }
}
