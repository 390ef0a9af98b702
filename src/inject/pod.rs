//! Pod CREATE of a TaskRun: the declared sidecars become containers, built the way Tekton builds a
//! Task's sidecar (`Build` in `pkg/pod/pod.go`, `convertScripts` in `pkg/pod/script.go`,
//! `workspace.Apply` in `pkg/workspace/apply.go`).
//!
//! A container named `sidecar-<name>` is one Tekton treats as a sidecar: it waits for it to be ready
//! before the first step (`SidecarsReady`), stops it when the steps are done (`StopSidecars`) and reports
//! it in `taskRun.status.sidecars`. In native mode the container is an init container with
//! `restartPolicy: Always`, after Tekton's own init containers, as Tekton does with
//! `enable-kubernetes-sidecar`.

use k8s_openapi::api::core::v1::{Container, Probe};
use serde_json::Value;

use super::workspaces::{self, PodView};
use super::{conflict, script};
use crate::declaration::Declared;
use crate::settings::{InjectAs, OnConflict, Settings};
use crate::support::error::{FieldError, Problem, SidecarRef};
use crate::support::json::array;
use crate::tekton::CONTAINER_PREFIX;
use crate::tekton::sidecar::Sidecar;

/// Adds the declared sidecars that `already` does not list to the Pod, or replaces a Task-defined
/// `sidecar-<name>` in place. Returns the names injected now (empty: nothing to change).
pub fn inject(
    pod: &mut Value,
    declared: &[Declared],
    already: &[String],
    settings: &Settings,
) -> Result<Vec<String>, Vec<Problem>> {
    let view = PodView::of(pod);
    let mut problems = Vec::new();
    let mut injected = Vec::new();
    let mut containers = array(pod, "/spec/containers").to_vec();
    let mut init_containers = array(pod, "/spec/initContainers").to_vec();
    for entry in declared
        .iter()
        .filter(|d| !already.contains(&d.sidecar.name))
    {
        let container_name = format!("{CONTAINER_PREFIX}{}", entry.sidecar.name);
        let named =
            |c: &Value| c.get("name").and_then(Value::as_str) == Some(container_name.as_str());
        let existing = match containers.iter().position(named) {
            Some(i) => Some((false, i)),
            None => init_containers.iter().position(named).map(|i| (true, i)),
        };
        if existing.is_some() && settings.on_conflict == OnConflict::Reject {
            problems.push(conflict(entry));
            continue;
        }
        let native = existing.map_or(settings.inject_as == InjectAs::Native, |(init, _)| init);
        let built = match build(&entry.sidecar, &view, native) {
            Ok(container) => serde_json::to_value(container).unwrap_or(Value::Null),
            Err(errors) => {
                problems.extend(errors.into_iter().map(|error| Problem {
                    annotation: entry.annotation.clone(),
                    sidecar: Some(SidecarRef::Named(entry.sidecar.name.clone())),
                    error,
                }));
                continue;
            }
        };
        let list = if existing.map_or(native, |(init, _)| init) {
            &mut init_containers
        } else {
            &mut containers
        };
        match existing.and_then(|(_, i)| list.get_mut(i)) {
            Some(slot) => *slot = built,
            None => list.push(built),
        }
        injected.push(entry.sidecar.name.clone());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if injected.is_empty() {
        return Ok(injected);
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Err(vec![Problem {
            annotation: declared
                .first()
                .map(|d| d.annotation.clone())
                .unwrap_or_default(),
            sidecar: None,
            error: FieldError::new("", "the Pod has no spec to add sidecars to"),
        }]);
    };
    spec.insert("containers".to_string(), Value::Array(containers));
    if !init_containers.is_empty() {
        spec.insert("initContainers".to_string(), Value::Array(init_containers));
    }
    Ok(injected)
}

/// The container for one sidecar, as Tekton's Pod builder would make it.
fn build(sidecar: &Sidecar, pod: &PodView, native: bool) -> Result<Container, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mounts = workspaces::mounts(sidecar, pod).unwrap_or_else(|problems| {
        errors.extend(problems);
        Vec::new()
    });
    let (command, args) = match &sidecar.script {
        Some(script) => match script::command(&sidecar.name, script) {
            Ok(command) => (Some(command), sidecar.args.clone()),
            Err(error) => {
                errors.push(error);
                (None, None)
            }
        },
        None => (sidecar.command.clone(), sidecar.args.clone()),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let startup_probe = match (&sidecar.startup_probe, &sidecar.readiness_probe) {
        (None, Some(readiness)) if native => Some(startup_from_readiness(readiness)),
        (startup, _) => startup.clone(),
    };
    Ok(Container {
        name: format!("{CONTAINER_PREFIX}{}", sidecar.name),
        image: sidecar.image.clone(),
        command,
        args,
        working_dir: sidecar.working_dir.clone(),
        ports: sidecar.ports.clone(),
        env_from: sidecar.env_from.clone(),
        env: sidecar.env.clone(),
        resources: sidecar.compute_resources.clone(),
        volume_mounts: (!mounts.is_empty()).then_some(mounts),
        volume_devices: sidecar.volume_devices.clone(),
        liveness_probe: sidecar.liveness_probe.clone(),
        readiness_probe: sidecar.readiness_probe.clone(),
        startup_probe,
        lifecycle: sidecar.lifecycle.clone(),
        termination_message_path: sidecar.termination_message_path.clone(),
        termination_message_policy: sidecar.termination_message_policy.clone(),
        image_pull_policy: sidecar.image_pull_policy.clone(),
        security_context: sidecar.security_context.clone(),
        stdin: sidecar.stdin,
        stdin_once: sidecar.stdin_once,
        tty: sidecar.tty,
        restart_policy: native.then(|| "Always".to_string()),
        ..Container::default()
    })
}

/// Kubernetes holds the steps until a native sidecar has *started*, which only a startupProbe decides
/// (`docs/tasks.md`: "use a startupProbe"), so the readiness check becomes the startup gate too. A startup
/// probe that fails is retried rather than ending the sidecar, hence the generous failure threshold.
fn startup_from_readiness(readiness: &Probe) -> Probe {
    Probe {
        exec: readiness.exec.clone(),
        grpc: readiness.grpc.clone(),
        http_get: readiness.http_get.clone(),
        tcp_socket: readiness.tcp_socket.clone(),
        initial_delay_seconds: readiness.initial_delay_seconds,
        period_seconds: readiness.period_seconds,
        timeout_seconds: readiness.timeout_seconds,
        success_threshold: Some(1),
        failure_threshold: Some(readiness.failure_threshold.unwrap_or(3).max(60)),
        termination_grace_period_seconds: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tekton::workspace_volume;
    use serde_json::json;

    use crate::inject::tests::declared;

    /// A Pod as Tekton's `Build` makes it for a Task with one step and the workspace `source` bound.
    fn pod() -> Value {
        json!({"metadata": {"name": "run-test-pod"}, "spec": {
            "initContainers": [{"name": "prepare", "image": "entrypoint"}],
            "containers": [{"name": "step-test", "image": "golang", "volumeMounts": [
                {"name": "tekton-internal-tools", "mountPath": "/tekton/bin"},
                {"name": workspace_volume("source"), "mountPath": "/workspace/source"}
            ]}],
            "volumes": [{"name": "tekton-internal-tools", "emptyDir": {}}, {"name": workspace_volume("source"), "emptyDir": {}}]
        }})
    }

    #[test]
    fn appends_a_sidecar_container_with_the_shared_workspace() {
        let mut pod = pod();
        let decl = [declared(
            json!({"name": "db", "image": "postgres", "computeResources": {"limits": {"cpu": "1"}}}),
        )];
        let injected = inject(&mut pod, &decl, &[], &Settings::default()).expect("ok");
        assert_eq!(injected, vec!["db"]);
        assert_eq!(
            pod["spec"]["containers"][1],
            json!({"name": "sidecar-db", "image": "postgres", "resources": {"limits": {"cpu": "1"}},
                   "volumeMounts": [{"name": workspace_volume("source"), "mountPath": "/workspace/source"}]})
        );
    }

    #[test]
    fn declared_workspaces_take_their_mount_path() {
        let mut pod = pod();
        let decl = [declared(
            json!({"name": "db", "image": "p", "workspaces": [{"name": "source", "mountPath": "/src"}]}),
        )];
        inject(&mut pod, &decl, &[], &Settings::default()).expect("ok");
        assert_eq!(
            pod["spec"]["containers"][1]["volumeMounts"],
            json!([{"name": workspace_volume("source"), "mountPath": "/src"}])
        );
    }

    #[test]
    fn native_mode_adds_an_init_container_with_a_startup_probe() {
        let mut pod = pod();
        let settings = Settings {
            inject_as: InjectAs::Native,
            ..Settings::default()
        };
        let decl = [declared(
            json!({"name": "db", "image": "p", "readinessProbe": {"tcpSocket": {"port": 5432}, "periodSeconds": 2}}),
        )];
        inject(&mut pod, &decl, &[], &settings).expect("ok");
        let init = &pod["spec"]["initContainers"];
        assert_eq!(init[0]["name"], "prepare");
        assert_eq!(init[1]["name"], "sidecar-db");
        assert_eq!(init[1]["restartPolicy"], "Always");
        assert_eq!(
            init[1]["startupProbe"],
            json!({"tcpSocket": {"port": 5432}, "periodSeconds": 2, "successThreshold": 1, "failureThreshold": 60})
        );
        assert_eq!(pod["spec"]["containers"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn overrides_a_task_sidecar_in_place_and_respects_the_marker() {
        let mut pod = pod();
        pod["spec"]["containers"]
            .as_array_mut()
            .expect("containers")
            .push(json!({"name": "sidecar-db", "image": "old"}));
        pod["spec"]["containers"]
            .as_array_mut()
            .expect("containers")
            .push(json!({"name": "sidecar-cache", "image": "c"}));
        let decl = [declared(json!({"name": "db", "image": "new"}))];
        inject(&mut pod, &decl, &[], &Settings::default()).expect("ok");
        assert_eq!(pod["spec"]["containers"][1]["image"], "new");
        assert_eq!(pod["spec"]["containers"][2]["name"], "sidecar-cache");
        let before = pod.clone();
        assert!(
            inject(&mut pod, &decl, &["db".into()], &Settings::default())
                .expect("ok")
                .is_empty()
        );
        assert_eq!(pod, before);
    }

    #[test]
    fn missing_volumes_and_unbound_workspaces_are_named() {
        let mut pod = pod();
        let decl = [declared(json!({"name": "db", "image": "p",
            "volumeMounts": [{"name": "cache", "mountPath": "/cache"}], "workspaces": [{"name": "output"}]}))];
        let problems: Vec<String> = inject(&mut pod, &decl, &[], &Settings::default())
            .expect_err("bad")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            vec![
                "annotation \"p.io/test\", sidecar \"db\": volumeMounts[0].name: the Pod has no volume \"cache\"; its volumes are tekton-internal-tools, ws-1bcf2 (add a volume with the TaskRun's podTemplate, or use a workspace)",
                "annotation \"p.io/test\", sidecar \"db\": workspaces[0].name: workspace \"output\" is not bound in this TaskRun, so there is nothing to mount",
            ]
        );
    }
}
