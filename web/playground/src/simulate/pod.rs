//! A referenced Task's Pod in outline, as `pod.Build` makes it.

use std::collections::BTreeMap;

use pipelinerun_sidecars::support::json::{array, string_entries};
use pipelinerun_sidecars::tekton::{CONTAINER_PREFIX, TASKRUN_LABEL, workspace_volume};
use serde_json::{Map, Value, json};

use super::inputs::referenced_names;
use super::{TEKTON_RELEASE, str_at, string_map};

/// The Pod `pod.Build` makes for a TaskRun of a referenced Task, in outline: the TaskRun's labels and
/// annotations (with the Task's merged in, as `storeTaskSpecAndMergeMeta` does before the Pod is built),
/// the TaskRun as controller, Tekton's internal volumes, one volume per workspace, the steps as `step-*`
/// containers with their workspace mounts, and the Task's own sidecars as `sidecar-*` containers.
pub(super) fn pod(taskrun: &Value, task: Option<&Value>) -> Value {
    let tr_name = str_at(taskrun, "/metadata/name");
    let tr_uid = str_at(taskrun, "/metadata/uid");
    let (labels, annotations) = pod_metadata(taskrun, task);
    let (workspace_volumes, mounts) = workspaces(taskrun, task);
    let volumes: Vec<Value> = INTERNAL_VOLUMES
        .iter()
        .map(|(name, _)| json!({"name": name, "emptyDir": {}}))
        .chain(workspace_volumes)
        .collect();
    let step_mounts: Vec<Value> = INTERNAL_VOLUMES
        .iter()
        .filter(|(_, path)| !path.is_empty())
        .map(|(name, path)| json!({"name": name, "mountPath": path}))
        .chain(mounts.iter().cloned())
        .collect();

    let unknown_steps =
        [json!({"name": "from-the-task", "image": "(the Task's steps are not known here)"})];
    let steps = match task {
        Some(task) => array(task, "/spec/steps"),
        None => &unknown_steps[..],
    };
    let step_containers = steps.iter().enumerate().map(|(i, step)| {
        let name = step
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("unnamed-{i}"), str::to_string);
        let mut container: Map<String, Value> =
            ["image", "workingDir", "env", "envFrom", "securityContext"]
                .into_iter()
                .filter_map(|field| Some((field.to_string(), step.get(field)?.clone())))
                .collect();
        container.insert("name".to_string(), json!(format!("step-{name}")));
        with_mounts(container, &step_mounts, step)
    });
    // The Task's own sidecars, which Tekton shares every workspace with.
    let sidecars = task
        .map(|t| array(t, "/spec/sidecars"))
        .unwrap_or_default()
        .iter()
        .filter_map(|sidecar| {
            let mut container = sidecar.as_object()?.clone();
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("unnamed");
            container.insert(
                "name".to_string(),
                json!(format!("{CONTAINER_PREFIX}{name}")),
            );
            for tekton_only in ["script", "workspaces"] {
                container.remove(tekton_only);
            }
            if let Some(resources) = container.remove("computeResources") {
                container.insert("resources".to_string(), resources);
            }
            Some(with_mounts(container, &mounts, sidecar))
        });
    let containers: Vec<Value> = step_containers.chain(sidecars).collect();

    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{tr_name}-pod"),
            "namespace": str_at(taskrun, "/metadata/namespace"),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "tekton.dev/v1",
                "kind": "TaskRun",
                "name": tr_name,
                "uid": tr_uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "volumes": volumes,
            "initContainers": [{
                "name": "prepare",
                "image": format!("ghcr.io/tektoncd/pipeline/entrypoint:{TEKTON_RELEASE}"),
                "command": ["/ko-app/entrypoint", "init", "/ko-app/entrypoint", "/tekton/bin/entrypoint"],
                "volumeMounts": [{"name": "tekton-internal-bin", "mountPath": "/tekton/bin"}],
            }],
            "containers": containers,
            "restartPolicy": "Never",
            "serviceAccountName": taskrun.pointer("/spec/serviceAccountName").cloned().unwrap_or(Value::Null),
        },
    })
}

/// Tekton's internal volumes, and where steps mount them (an empty path: not mounted by steps).
const INTERNAL_VOLUMES: [(&str, &str); 6] = [
    ("tekton-internal-workspace", "/workspace"),
    ("tekton-internal-home", "/tekton/home"),
    ("tekton-internal-results", "/tekton/results"),
    ("tekton-internal-steps", ""),
    ("tekton-internal-scripts", ""),
    ("tekton-internal-bin", "/tekton/bin"),
];

/// The Pod's labels and annotations: the TaskRun's over the Task's, and what `pod.Build` adds.
fn pod_metadata(
    taskrun: &Value,
    task: Option<&Value>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut labels = string_map(task.and_then(|t| t.pointer("/metadata/labels")));
    labels.extend(string_entries(taskrun.pointer("/metadata/labels")));
    let task_name = task
        .map(|t| str_at(t, "/metadata/name").to_string())
        .or_else(|| {
            referenced_names(taskrun.pointer("/spec/taskRef"))
                .into_iter()
                .next()
        });
    if let Some(task_name) = task_name {
        labels.insert("tekton.dev/task".to_string(), task_name);
    }
    for (key, value) in [
        (TASKRUN_LABEL, str_at(taskrun, "/metadata/name")),
        ("tekton.dev/taskRunUID", str_at(taskrun, "/metadata/uid")),
        ("app.kubernetes.io/managed-by", "tekton-pipelines"),
    ] {
        labels.insert(key.to_string(), value.to_string());
    }
    let mut annotations = string_map(task.and_then(|t| t.pointer("/metadata/annotations")));
    annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    annotations.extend(string_entries(taskrun.pointer("/metadata/annotations")));
    annotations.remove("app.kubernetes.io/managed-by");
    annotations.insert(
        "pipeline.tekton.dev/release".to_string(),
        TEKTON_RELEASE.to_string(),
    );
    (labels, annotations)
}

/// A volume per workspace the TaskRun binds and the Task declares, named as `workspace.CreateVolumes`
/// names it, and its mount at the Task's `mountPath` (Tekton's default `/workspace/<name>`). A Task that
/// is not given is taken to declare every bound workspace at the default path.
fn workspaces(taskrun: &Value, task: Option<&Value>) -> (Vec<Value>, Vec<Value>) {
    let declared = task.map(|t| array(t, "/spec/workspaces"));
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for binding in array(taskrun, "/spec/workspaces") {
        let Some(name) = binding.get("name").and_then(Value::as_str) else {
            continue;
        };
        let declaration = declared.map(|list| {
            list.iter()
                .find(|w| w.get("name").and_then(Value::as_str) == Some(name))
        });
        if declaration == Some(None) {
            continue;
        }
        let declaration = declaration.flatten();
        let volume = workspace_volume(name);
        let mut source = binding.as_object().cloned().unwrap_or_default();
        source.remove("name");
        let sub_path = source.remove("subPath");
        source.insert("name".to_string(), json!(volume));
        volumes.push(Value::Object(source));
        let mount_path = declaration
            .and_then(|d| d.get("mountPath"))
            .and_then(Value::as_str)
            .map_or_else(|| format!("/workspace/{name}"), str::to_string);
        let mut mount = Map::new();
        mount.insert("name".to_string(), json!(volume));
        mount.insert("mountPath".to_string(), json!(mount_path));
        if let Some(sub_path) = sub_path {
            mount.insert("subPath".to_string(), sub_path);
        }
        if declaration.and_then(|d| d.get("readOnly")) == Some(&Value::Bool(true)) {
            mount.insert("readOnly".to_string(), json!(true));
        }
        mounts.push(Value::Object(mount));
    }
    (volumes, mounts)
}

/// `container` with `mounts` and then the `volumeMounts` its Task entry declares.
fn with_mounts(mut container: Map<String, Value>, mounts: &[Value], entry: &Value) -> Value {
    let own = array(entry, "/volumeMounts");
    let all: Vec<Value> = mounts.iter().chain(own).cloned().collect();
    container.insert("volumeMounts".to_string(), Value::Array(all));
    Value::Object(container)
}
