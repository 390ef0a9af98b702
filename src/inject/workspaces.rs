//! The volumes a Pod-level sidecar gets, as Tekton's `workspace.Apply` (`pkg/workspace/apply.go`) gives
//! them to a Task's sidecar: its own `volumeMounts` (on volumes the Pod has), the workspaces it lists, and
//! the workspaces every step shares.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::VolumeMount;
use serde_json::Value;

use crate::support::error::FieldError;
use crate::support::json::array;
use crate::tekton::sidecar::Sidecar;
use crate::tekton::workspaces::{is_workspace_volume, workspace_volume};
use crate::tekton::{STEP_PREFIX, WORKSPACE_DIR};

/// What the Pod already has that a sidecar may use: its volumes, and the workspace mounts of its steps.
pub(super) struct PodView {
    volumes: BTreeSet<String>,
    /// The workspace mounts every step has: the workspaces Tekton shares with all sidecars.
    shared: Vec<VolumeMount>,
    /// Every workspace mount of any step, to find a workspace's path, subPath and readOnly.
    step_mounts: Vec<VolumeMount>,
}

impl PodView {
    pub(super) fn of(pod: &Value) -> Self {
        let volumes = array(pod, "/spec/volumes")
            .iter()
            .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
            .collect();
        let steps: Vec<Vec<VolumeMount>> = array(pod, "/spec/containers")
            .iter()
            .filter(|c| {
                c.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.starts_with(STEP_PREFIX))
            })
            .map(|c| {
                let mounts: Vec<VolumeMount> = c
                    .get("volumeMounts")
                    .and_then(|m| serde_json::from_value(m.clone()).ok())
                    .unwrap_or_default();
                mounts
                    .into_iter()
                    .filter(|m| is_workspace_volume(&m.name))
                    .collect()
            })
            .collect();
        let shared = match steps.split_first() {
            Some((first, rest)) => first
                .iter()
                .filter(|m| rest.iter().all(|other| other.contains(m)))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        PodView {
            volumes,
            shared,
            step_mounts: steps.into_iter().flatten().collect(),
        }
    }
}

/// The volume mounts of `sidecar` in this Pod, or why it cannot have them.
pub(super) fn mounts(
    sidecar: &Sidecar,
    pod: &PodView,
) -> Result<Vec<VolumeMount>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut mounts: Vec<VolumeMount> = sidecar.volume_mounts.clone().unwrap_or_default();
    for (i, mount) in mounts.iter().enumerate() {
        if !pod.volumes.contains(&mount.name) {
            errors.push(FieldError::new(
                format!("volumeMounts[{i}].name"),
                format!(
                    "the Pod has no volume {:?}; its volumes are {} (add a volume with the TaskRun's podTemplate, or use a workspace)",
                    mount.name,
                    pod.volumes.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    let mut isolated = BTreeSet::new();
    for (i, usage) in sidecar.workspaces.iter().flatten().enumerate() {
        let volume = workspace_volume(&usage.name);
        if !pod.volumes.contains(&volume) {
            errors.push(FieldError::new(
                format!("workspaces[{i}].name"),
                format!(
                    "workspace {:?} is not bound in this TaskRun, so there is nothing to mount",
                    usage.name
                ),
            ));
            continue;
        }
        let from_step = pod.step_mounts.iter().find(|m| m.name == volume);
        let mut mount = from_step.cloned().unwrap_or_else(|| VolumeMount {
            name: volume.clone(),
            mount_path: format!("{WORKSPACE_DIR}/{}", usage.name),
            ..VolumeMount::default()
        });
        if !usage.mount_path.is_empty() {
            mount.mount_path = usage.mount_path.clone();
        }
        isolated.insert(volume);
        add_mount(&mut mounts, mount);
    }
    for mount in pod.shared.iter().filter(|m| !isolated.contains(&m.name)) {
        add_mount(&mut mounts, mount.clone());
    }
    if errors.is_empty() {
        Ok(mounts)
    } else {
        Err(errors)
    }
}

/// Tekton's `AddSidecarVolumeMount`: a mount whose path the sidecar already uses is not added again.
fn add_mount(mounts: &mut Vec<VolumeMount>, mount: VolumeMount) {
    if !mounts.iter().any(|m| m.mount_path == mount.mount_path) {
        mounts.push(mount);
    }
}
