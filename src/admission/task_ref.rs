//! The Task a TaskRun's Pod runs, read from the cluster at Pod CREATE for what it declares of its
//! workspaces and its params. The Pod does not hold it, and at the first Pod neither does the TaskRun's
//! status: Tekton's reconciler sets `tr.Status.TaskSpec` in memory (`storeTaskSpecAndMergeMeta`,
//! `pkg/reconciler/taskrun/taskrun.go`) in the same `reconcile` that calls `createPod`, and the status is
//! written only once `ReconcileKind` returns (`updateStatus` in knative's generated
//! `pkg/client/injection/reconciler/pipeline/v1/taskrun`). So the policy reads the Pod's TaskRun and takes
//! the Task as Tekton does (`GetTaskFuncFromTaskRun` and `GetTaskData` in
//! `pkg/reconciler/taskrun/resources/`): `status.taskSpec` once it is written (a retry's Pod, one created
//! again), else the namespaced Task its `taskRef` names, as `LocalTaskRefResolver` gets it, else its inline
//! `taskSpec`, else the Task a resolver gave it, from the ResolutionRequest Tekton left
//! (`tekton::resolution`). A bundle or another kind is not read.

use serde_json::Value;

use super::cluster::{Cluster, within_a_line};
use super::config_defaults;
use super::envelope::Metadata;
use super::tekton_config::TektonConfigMap;
use crate::inject::context::bindings;
use crate::inject::task::{KnownTask, TaskWorkspaces};
use crate::support::json::array;
use crate::tekton::resolution;
use crate::tekton::variables::Variables;

/// The start of the warning for a Task or TaskRun that could not be read.
const NOT_READ: &str = "Task not known: ";

/// What is known of the Task of the TaskRun that owns the Pod (`pod`, in `namespace`): nothing, with a
/// warning when a read failed, when it cannot be read.
pub(super) fn known(
    pod: &Metadata,
    namespace: &str,
    cluster: &dyn Cluster,
    defaults: &TektonConfigMap<'_>,
    warnings: &mut Vec<String>,
) -> KnownTask {
    let Some((mut taskrun, spec, name)) = read(pod, namespace, cluster, warnings) else {
        return KnownTask::default();
    };
    let workspaces = TaskWorkspaces::of(&spec);
    if let Some(workspaces) = &workspaces {
        bind_by_default(&mut taskrun, workspaces, defaults, warnings);
    }
    KnownTask {
        workspaces,
        variables: Some(Variables::for_referenced_task(&taskrun, &spec, &name)),
        bindings: Some(bindings(&taskrun)),
    }
}

/// `taskrun` with config-defaults' binding for each required workspace it leaves unbound, added as
/// Tekton's reconciler adds it before it builds the Pod (`updateTaskRunWithDefaultWorkspaces`), so that
/// the volumes are named as `CreateVolumes` names them. The ConfigMap is read only when one is unbound.
fn bind_by_default(
    taskrun: &mut Value,
    workspaces: &TaskWorkspaces,
    defaults: &TektonConfigMap<'_>,
    warnings: &mut Vec<String>,
) {
    let bound = array(taskrun, "/spec/workspaces").iter();
    let bound = bound.filter_map(|b| b.get("name").and_then(Value::as_str));
    let unbound: Vec<String> = workspaces.unbound(bound).map(str::to_string).collect();
    if unbound.is_empty() {
        return;
    }
    let Some(binding) = config_defaults::workspace_binding(defaults, warnings) else {
        return;
    };
    // Tekton rebuilds the bindings from a Go map, in no fixed order, and `CreateVolumes` names a claim's
    // one volume after the first of its bindings: two on one claim leave the names to chance.
    let mut claims: Vec<&str> = array(taskrun, "/spec/workspaces")
        .iter()
        .filter_map(claim)
        .collect();
    claims.extend(claim(&binding).into_iter().cycle().take(unbound.len()));
    let mut seen = std::collections::BTreeSet::new();
    if claims.iter().any(|c| !seen.insert(*c)) {
        warnings.push(config_defaults::ON_ONE_CLAIM.to_string());
        return;
    }
    let Some(spec) = taskrun.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let list = spec
        .entry("workspaces")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    if let Value::Array(list) = list {
        for name in unbound {
            let mut named = binding.clone();
            if let Value::Object(fields) = &mut named {
                fields.insert("name".to_string(), Value::String(name));
            }
            list.push(named);
        }
    }
}

/// The claim a binding mounts, if it is one.
fn claim(binding: &Value) -> Option<&str> {
    binding
        .pointer("/persistentVolumeClaim/claimName")?
        .as_str()
}

/// The TaskRun, the spec of its Task and the Task's name (the `taskRef`'s, else the TaskRun's, as
/// `GetTaskData` names it).
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
    let reference = taskrun.pointer_mut("/spec/taskRef").map(Value::take);
    let reference = reference.unwrap_or_default();
    let named = reference
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty());
    let name = named.unwrap_or(&owner.name).to_string();
    if let Some(spec) = take_spec(&mut taskrun, "/status/taskSpec") {
        return Some((taskrun, spec, name));
    }
    if named.is_none() {
        if let Some(spec) = take_spec(&mut taskrun, "/spec/taskSpec") {
            return Some((taskrun, spec, name));
        }
        let (name, spec) = resolved(&reference, namespace, &owner.name, cluster, warnings)?;
        return Some((taskrun, spec, name));
    }
    let name = local_task(&reference)?;
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

/// The name and spec of the Task a resolver gave TaskRun `taskrun`, read from the ResolutionRequest
/// Tekton left for it; none, with a warning, when it cannot be read. None for a reference without a
/// resolver.
fn resolved(
    reference: &Value,
    namespace: &str,
    taskrun: &str,
    cluster: &dyn Cluster,
    warnings: &mut Vec<String>,
) -> Option<(String, Value)> {
    let resolver = reference.get("resolver").and_then(Value::as_str);
    let resolver = resolver.filter(|r| !r.is_empty())?;
    let Some(name) = resolution::request_name(resolver, reference, namespace, taskrun) else {
        let start = format!("{NOT_READ}the params of resolver ");
        warnings.push(within_a_line(&start, resolver, " are not plain strings"));
        return None;
    };
    let (api_version, kind) = resolution::REQUEST;
    let request = cluster.get(api_version, kind, namespace, &name);
    let task = request.as_ref().ok().and_then(resolution::resolved_task);
    if task.is_none() {
        let problem = match request {
            Ok(_) => " holds no Task the policy reads",
            Err(_) => " could not be read",
        };
        warnings.push(within_a_line(&format!("{NOT_READ}{kind} "), &name, problem));
    }
    task
}

/// The spec at `pointer` in `taskrun`, taken out of it; Go reads a `null` spec as none.
fn take_spec(taskrun: &mut Value, pointer: &str) -> Option<Value> {
    let spec = taskrun.pointer_mut(pointer).filter(|s| !s.is_null());
    spec.map(Value::take)
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
    use super::super::config_defaults::ON_ONE_CLAIM;
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
        stored(task_spec(isolated))
    }

    const REF: fn() -> Value = || json!({"taskRef": {"name": "golang-test"}, "workspaces": [{"name": "source", "emptyDir": {}}]});

    /// What the policy makes of `pod` under `settings`, the cluster holding `objects`: the injected
    /// sidecar's container (or the refusal), the warnings and the reads of the cluster.
    fn admitted(
        pod: Value,
        settings: Value,
        objects: Vec<Value>,
    ) -> (Result<Value, String>, Vec<String>, usize) {
        let cluster = Holding::new(objects);
        let payload = json!({"request": {"uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE", "namespace": "ci", "object": pod}, "settings": settings});
        let verdict = verdict_reading(payload.to_string().as_bytes(), &cluster);
        let container = match verdict.outcome {
            Ok(Outcome::Mutate(mutated)) => {
                let pod: Value = serde_json::from_str(mutated.text()).expect("JSON");
                Ok(pod["spec"]["containers"][1].clone())
            }
            Ok(other) => Err(format!("{other:?}")),
            Err(error) => Err(error.to_string()),
        };
        (container, verdict.warnings, cluster.reads.get())
    }

    /// The injected sidecar's volume mounts, the warnings and the reads of the cluster.
    fn injected(pod: Value, objects: Vec<Value>) -> (Value, Vec<String>, usize) {
        let (container, warnings, reads) = admitted(pod, json!({}), objects);
        let mounts = container.expect("injected").get("volumeMounts").cloned();
        (mounts.unwrap_or(Value::Null), warnings, reads)
    }

    /// The injected sidecar's container and the warnings.
    fn built(pod: Value, settings: Value, objects: Vec<Value>) -> (Value, Vec<String>) {
        let (container, warnings, _) = admitted(pod, settings, objects);
        (container.expect("injected"), warnings)
    }

    /// The Task `golang-test` in `ci`, with `spec`.
    fn stored(spec: Value) -> Value {
        json!({"apiVersion": "tekton.dev/v1", "kind": "Task",
            "metadata": {"name": "golang-test", "namespace": "ci"}, "spec": spec})
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
    #[case::inline_spec_of_the_taskrun(json!([]), vec![taskrun(json!({"taskSpec": task_spec(true), "workspaces": [{"name": "source", "emptyDir": {}}]}), UID)], Value::Null, vec![], 1)]
    #[case::taskrun_not_readable(json!([]), vec![task(true)], shared_as_the_pod_shows(),
        vec!["Task not known: TaskRun \"run-test\" could not be read", AS_SHOWN], 1)]
    #[case::another_taskrun_of_the_name(json!([]), vec![taskrun(REF(), "other"), task(true)], shared_as_the_pod_shows(),
        vec!["Task not known: TaskRun \"run-test\" could not be read", AS_SHOWN], 1)]
    #[case::task_not_readable(json!([]), vec![taskrun(REF(), UID)], shared_as_the_pod_shows(),
        vec!["Task not known: Task \"golang-test\" could not be read", AS_SHOWN], 2)]
    // The ResolutionRequests' names are those Tekton's `resource.GetNameAndNamespace` gives (v1.15.0).
    #[case::through_a_resolver_not_readable(json!([]), vec![taskrun(json!({"taskRef": {"resolver": "hub"}}), UID), task(true)],
        shared_as_the_pod_shows(), vec!["Task not known: ResolutionRequest \"hub-2cbd01e4ecd6b35c41d89d614854826a\" could not be read", AS_SHOWN], 2)]
    #[case::through_a_resolver(json!([]), vec![taskrun(HUB(), UID), resolution_request(HUB(), Some(task(false)))], shared(), vec![], 2)]
    #[case::through_a_resolver_that_failed(json!([]), vec![taskrun(HUB(), UID), resolution_request(HUB(), None)],
        shared_as_the_pod_shows(), vec!["Task not known: ResolutionRequest \"hub-a1f0d6064d4583b920ff363fa6b83abe\" holds no Task the policy reads", AS_SHOWN], 2)]
    #[case::through_a_resolver_with_variables(json!([]), vec![taskrun(json!({"taskRef": {"resolver": "git", "params": [{"name": "revision", "value": "$(params.rev)"}]}}), UID)],
        shared_as_the_pod_shows(), vec!["Task not known: the params of resolver \"git\" are not plain strings", AS_SHOWN], 1)]
    #[case::from_a_bundle(json!([]), vec![taskrun(json!({"taskRef": {"name": "golang-test", "bundle": "r.example.com/t:1"}}), UID), task(true)],
        shared_as_the_pod_shows(), vec![AS_SHOWN], 1)]
    #[case::of_another_kind(json!([]), vec![taskrun(json!({"taskRef": {"name": "golang-test", "kind": "ClusterTask"}}), UID), task(true)],
        shared_as_the_pod_shows(), vec![AS_SHOWN], 1)]
    #[case::a_mount_path_with_a_variable(json!([]), vec![taskrun(REF(), UID), stored(json!({"workspaces": [{"name": "source", "mountPath": "$(params.path)"}]}))],
        shared_as_the_pod_shows(), vec![AS_SHOWN], 2)]
    #[case::bound_by_config_defaults(json!([]), vec![taskrun(UNBOUND(), UID), task(false), defaults("emptyDir: {}")],
        shared(), vec![], 3)]
    #[case::bound_by_config_defaults_at_a_sub_path(json!([]), vec![taskrun(UNBOUND(), UID), task(false), defaults("emptyDir: {}\nsubPath: cache")],
        json!([{"name": workspace_volume("source"), "mountPath": "/go/src", "subPath": "cache", "readOnly": true}]), vec![], 3)]
    #[case::listed_and_bound_by_config_defaults(json!([{"name": "source", "mountPath": "/db"}]),
        vec![taskrun(UNBOUND(), UID), task(true), defaults("persistentVolumeClaim: {claimName: cache}")],
        json!([{"name": workspace_volume("source"), "mountPath": "/db", "readOnly": true}]),
        vec!["annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": a listed workspace stays shared with the steps"], 3)]
    #[case::config_defaults_on_a_claim_of_the_taskrun(json!([]),
        vec![taskrun(json!({"taskRef": {"name": "golang-test"}, "workspaces": [{"name": "other", "persistentVolumeClaim": {"claimName": "cache"}}]}), UID),
            stored(json!({"workspaces": [{"name": "source", "mountPath": "/go/src", "readOnly": true}, {"name": "other", "optional": true}],
                "steps": [{"name": "test", "image": "golang"}]})),
            defaults("persistentVolumeClaim: {claimName: cache}")],
        shared_as_the_pod_shows(), vec![ON_ONE_CLAIM, AS_SHOWN], 3)]
    #[case::config_defaults_not_readable(json!([]), vec![taskrun(UNBOUND(), UID), task(false)], shared_as_the_pod_shows(),
        vec!["workspace binding not known: config-defaults in \"tekton-pipelines\" could not be read", AS_SHOWN], 3)]
    #[case::config_defaults_not_a_binding(json!([]), vec![taskrun(UNBOUND(), UID), task(false), defaults("[emptyDir]")], shared_as_the_pod_shows(),
        vec!["workspace binding not known: default-task-run-workspace-binding is not a workspace binding", AS_SHOWN], 3)]
    #[case::config_defaults_bind_nothing(json!([]), vec![taskrun(UNBOUND(), UID), task(false), defaults("")], shared_as_the_pod_shows(),
        vec![AS_SHOWN], 3)]
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

    /// A binding's subPath with a variable is what the reconciler substitutes
    /// (`ApplyParametersToWorkspaceBindings`): a listed workspace takes the subPath the Pod shows.
    #[test]
    fn a_listed_workspace_takes_a_substituted_sub_path_from_the_pod() {
        let mut pod = pod(json!([{"name": "source", "mountPath": "/db"}]));
        pod["spec"]["containers"][0]["volumeMounts"][0]["subPath"] = json!("x");
        let run = taskrun(
            json!({"taskRef": {"name": "golang-test"}, "params": [{"name": "dir", "value": "x"}],
            "workspaces": [{"name": "source", "subPath": "$(params.dir)", "persistentVolumeClaim": {"claimName": "c"}}]}),
            UID,
        );
        let (mounts, _, _) = injected(pod, vec![run, task(true)]);
        assert_eq!(
            mounts,
            json!([{"name": workspace_volume("source"), "mountPath": "/db", "subPath": "x"}])
        );
    }

    /// A TaskRun of the hub's `golang-test`, through the hub resolver.
    const HUB: fn() -> Value = || {
        json!({"taskRef": {"resolver": "hub", "params": [{"name": "name", "value": "golang-test"},
            {"name": "version", "value": "0.2"}]}, "workspaces": [{"name": "source", "emptyDir": {}}]})
    };

    /// The ResolutionRequest Tekton leaves for TaskRun `run-test` with `spec`, holding `task` as the
    /// resolver's YAML.
    fn resolution_request(spec: Value, task: Option<Value>) -> Value {
        use ::base64::Engine;
        let reference = &spec["taskRef"];
        let name = resolution::request_name("hub", reference, "ci", "run-test").expect("named");
        let data =
            task.map(|task| ::base64::engine::general_purpose::STANDARD.encode(task.to_string()));
        json!({"apiVersion": "resolution.tekton.dev/v1beta1", "kind": "ResolutionRequest",
            "metadata": {"name": name, "namespace": "ci"}, "status": {"data": data}})
    }

    /// A TaskRun of `golang-test` that leaves its workspace to config-defaults.
    const UNBOUND: fn() -> Value = || json!({"taskRef": {"name": "golang-test"}});

    /// Tekton's config-defaults with `binding` for the workspaces a TaskRun leaves unbound.
    fn defaults(binding: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "config-defaults", "namespace": "tekton-pipelines"},
            "data": {"default-task-run-workspace-binding": binding}})
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
        pod["spec"]["volumes"] = json!([]);
        pod["spec"]["containers"][0]["volumeMounts"] = json!([]);
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
        let task = stored(spec);
        let run = taskrun(
            json!({"taskRef": {"name": "golang-test"}, "params": [{"name": "version", "value": "16"}],
            "workspaces": [{"name": "source", "emptyDir": {}}]}),
            UID,
        );
        let (container, warnings) = built(pod_declaring(declaration), json!({}), vec![run, task]);
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
            warnings,
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
        let task = stored(spec);
        let settings = json!({"allowedImages": ["docker.io/library/*"]});
        let objects = vec![taskrun(REF(), UID), task];
        let (message, _, _) = admitted(pod_declaring(declaration), settings, objects);
        assert!(
            matches!(&message, Err(m) if m.contains("\"$(params.image)\" is \"evil.example.com/miner\" in this TaskRun, and")),
            "{message:?}"
        );
    }

    /// Whoever creates a TaskRun can write its `taskrun.json`: once the TaskRun is read, its own
    /// bindings stand, and a binding it does not have gives no mount.
    #[test]
    fn the_taskrun_s_bindings_stand_over_a_forged_annotation() {
        let (source, creds) = (workspace_volume("source"), workspace_volume("creds"));
        let mut pod = pod_declaring(json!([{"name": "db", "image": "postgres:16"}]));
        pod["spec"]["volumes"] = json!([{"name": source, "emptyDir": {}}, {"name": creds, "secret": {"secretName": "push"}}]);
        let forged = json!({"workspaces": [{"name": "source", "volume": source}, {"name": "creds", "volume": creds},
            {"name": "x", "volume": creds}]});
        pod["metadata"]["annotations"]["pipelinerun-sidecars.io/taskrun.json"] =
            json!(forged.to_string());
        let mut spec = task_spec(false);
        spec["workspaces"] = json!([{"name": "source", "mountPath": "/go/src"}, {"name": "creds"}]);
        spec["steps"][0]["workspaces"] = json!([{"name": "creds"}]);
        let task = stored(spec);
        let run = taskrun(
            json!({"taskRef": {"name": "golang-test"}, "workspaces": [
            {"name": "source", "emptyDir": {}}, {"name": "creds", "secret": {"secretName": "push"}}]}),
            UID,
        );
        let (container, _) = built(pod, json!({}), vec![run, task]);
        assert_eq!(
            container["volumeMounts"],
            json!([{"name": source, "mountPath": "/go/src"}])
        );
    }

    /// A template's listing without a path of its own goes where the Task declares the workspace, which
    /// the Task's author chose: never over the template's files.
    #[rstest]
    #[case::under_workspace("/workspace/src", json!([{"name": workspace_volume("source"), "mountPath": "/workspace/src", "readOnly": true}]), 0)]
    #[case::over_its_binaries("/usr/local/bin", Value::Null, 1)]
    fn a_template_s_listing_is_held_to_the_template_s_paths(
        #[case] declared_at: &str,
        #[case] mounts: Value,
        #[case] warned: usize,
    ) {
        let pod = pod_declaring(json!([{"template": "dind"}]));
        let mut spec = task_spec(true);
        spec["workspaces"][0]["mountPath"] = json!(declared_at);
        spec["steps"][0]["workspaces"] = json!([{"name": "source", "mountPath": "/s"}]);
        let task = stored(spec);
        let settings = json!({"templates": {"dind": {"image": "docker:27-dind", "workspaces": [{"name": "source"}]}}});
        let (container, warnings) = built(pod, settings, vec![taskrun(REF(), UID), task]);
        assert_eq!(container["volumeMounts"], mounts);
        let outside = warnings.iter().filter(|w| {
            w.ends_with(&format!(
                "no Task workspace at \"{declared_at}\": outside /workspace/"
            ))
        });
        assert_eq!(outside.count(), warned, "{warnings:?}");
    }

    /// A volume a param names is mounted as Tekton mounts it in a Task's sidecar.
    #[test]
    fn a_volume_a_param_names_is_mounted() {
        let mut pod = pod_declaring(json!([{"name": "db", "image": "postgres:16",
            "volumeMounts": [{"name": "$(params.cache)", "mountPath": "/cache"}]}]));
        pod["spec"]["volumes"]
            .as_array_mut()
            .expect("volumes")
            .push(json!({"name": "cache", "emptyDir": {}}));
        let mut spec = task_spec(true);
        spec["params"] = json!([{"name": "cache", "default": "cache"}]);
        let task = stored(spec);
        let (container, warnings) = built(pod, json!({}), vec![taskrun(REF(), UID), task]);
        assert_eq!(
            container["volumeMounts"],
            json!([{"name": "cache", "mountPath": "/cache"}])
        );
        assert_eq!(warnings, Vec::<String>::new());
    }

    /// Once Tekton writes the Task it ran into the TaskRun's status (a retry's Pod), that is the Task
    /// (`GetTaskFuncFromTaskRun`), read or not, resolved or not; and a `taskRef`'s name is the Task's
    /// name even beside a `taskSpec` (`GetTaskData`).
    #[rstest]
    #[case::status_over_the_stored_task(json!({"taskRef": {"name": "golang-test"}}), json!({"taskSpec": {"params": [{"name": "v", "default": "from-status"}]}}), "from-status golang-test", 1)]
    #[case::status_of_a_resolved_task(json!({"taskRef": {"resolver": "hub"}}), json!({"taskSpec": {"params": [{"name": "v", "default": "hub"}]}}), "hub run-test", 1)]
    #[case::task_ref_before_task_spec(json!({"taskRef": {"name": "golang-test"}, "taskSpec": {"params": [{"name": "v", "default": "inline"}]},
        "workspaces": [{"name": "source", "emptyDir": {}}]}), json!({}), "stored golang-test", 2)]
    fn the_task_is_taken_as_tekton_takes_it(
        #[case] spec: Value,
        #[case] status: Value,
        #[case] expected: &str,
        #[case] reads: usize,
    ) {
        let pod = pod_declaring(json!([{"name": "db", "image": "postgres:16",
            "env": [{"name": "V", "value": "$(params.v) $(context.task.name)"}]}]));
        let mut run = taskrun(spec, UID);
        run["status"] = status;
        let mut spec = task_spec(true);
        spec["params"] = json!([{"name": "v", "default": "stored"}]);
        let task = stored(spec);
        let (container, _, read) = admitted(pod, json!({}), vec![run, task]);
        assert_eq!(container.expect("injected")["env"][0]["value"], expected);
        assert_eq!(read, reads);
    }
}
