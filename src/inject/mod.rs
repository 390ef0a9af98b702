//! Injection: the declared sidecars put where Tekton will run them. An inline `taskSpec` gets them in its
//! `sidecars` at TaskRun CREATE ([`taskrun`]); any other TaskRun's Pod gets containers built the way
//! Tekton's Pod builder builds a Task's sidecar ([`pod`], with its [`workspaces`] and [`script`]).
//!
//! Injection edits the object's raw JSON and adds or replaces only the sidecars (and, on a TaskRun whose
//! Task is referenced, carries what its Pod will need: [`context`]); it never reads the declarations'
//! annotations itself (admission hands it the declarations) and knows nothing of waPC.

pub(crate) mod context;
mod inline;
mod lists;
pub(crate) mod pod;
pub(crate) mod resources;
mod script;
pub(crate) mod task;
pub(crate) mod taskrun;
mod workspaces;

use serde_json::{Map, Value};

use crate::declaration::Declared;
use crate::settings::pod_level::Surroundings;
use crate::support::error::{FieldError, Problem, SidecarRef};
use crate::support::json::array;
use crate::support::json_edit::Edit;
use crate::support::json_pruned::Keep;

/// The warning for a sidecar that lists a workspace: its listing becomes a volume mount, which does not
/// take the workspace from the Task's steps as a Task sidecar's listing does (`mountAsIsolatedWorkspace`
/// in `pkg/workspace/apply.go`), so that a declaration never changes what the Task's own containers see.
const LISTING_SHARES: &str = "a listed workspace stays shared with the steps";

/// A container, or a sidecar of an inline Task, as the JSON it is written into the object as.
type Container = Map<String, Value>;

/// What an injection does: the sidecars it adds (for the marker), the changes to the object that add
/// them (and, on a TaskRun whose Task is referenced, carry its bindings to the Pod), and what a person
/// should know about it.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Injected {
    pub(crate) names: Vec<String>,
    pub(crate) warnings: Vec<String>,
    pub(crate) edits: Vec<Edit>,
}

/// What of a Pod's spec the injection reads (`PodView`, `surroundings`, the container lists); the rest is
/// left out of the tree the Pod is read into (`support::json_pruned`). Reading anything
/// else of the Pod needs it named here: `admission::pruned_tests` holds every fixture to the same answer
/// with the whole Pod.
pub(crate) const POD_SPEC_READS: Keep = Keep::Members(&[
    ("hostNetwork", Keep::All),
    ("hostPID", Keep::All),
    ("hostIPC", Keep::All),
    ("securityContext", Keep::All),
    ("volumes", Keep::All),
    ("containers", Keep::Elements(&CONTAINER_READS)),
    ("initContainers", Keep::Elements(&CONTAINER_READS)),
]);

/// What of a container of the Pod the injection reads.
const CONTAINER_READS: Keep = Keep::Members(&[
    ("name", Keep::All),
    ("volumeMounts", Keep::All),
    ("securityContext", Keep::All),
    ("resources", Keep::All),
]);

/// What the Pod Security Standards judge of the Pod a sidecar joins, from a Pod's `spec` or a TaskRun's
/// `podTemplate` (they spell these fields alike), with `more_volumes` (an inline Task's own).
fn surroundings<'a>(spec: &'a Value, more_volumes: &'a [Value]) -> Surroundings<'a> {
    let host_namespaces = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|field| spec.get(field) == Some(&Value::Bool(true)))
        .collect();
    let volumes = array(spec, "/volumes")
        .iter()
        .chain(more_volumes)
        .filter_map(|volume| Some((volume.get("name")?.as_str()?, volume_kind(volume)?)))
        .collect();
    Surroundings {
        host_namespaces,
        security_context: spec.get("securityContext").filter(|c| c.is_object()),
        volumes,
    }
}

/// The kind of a volume's source (`hostPath`, `emptyDir`...) as Tekton's Go decoder reads a Task's
/// volume: a `null` source is none, and a field name matches whatever its case (`hostpath` is
/// `hostPath`); a field Kubernetes does not know is kept as its kind, which no level allows. With more
/// than one source Kubernetes refuses the Pod; a hostPath among them is named.
fn volume_kind(volume: &Value) -> Option<&str> {
    let kinds: Vec<&str> = volume
        .as_object()?
        .iter()
        .filter(|(key, source)| !source.is_null() && !key.eq_ignore_ascii_case("name"))
        .map(|(key, _)| {
            VOLUME_SOURCES
                .iter()
                .find(|kind| kind.eq_ignore_ascii_case(key))
                .copied()
                .unwrap_or(key.as_str())
        })
        .collect();
    kinds
        .iter()
        .find(|kind| **kind == "hostPath")
        .or(kinds.first())
        .copied()
}

/// The sources of a Kubernetes volume (`VolumeSource` in `k8s.io/api/core/v1`).
const VOLUME_SOURCES: [&str; 30] = [
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// `errors` of the declared sidecar `entry`, as the problems a refusal lists.
fn reported(entry: &Declared, errors: Vec<FieldError>) -> impl Iterator<Item = Problem> + '_ {
    errors.into_iter().map(|error| Problem {
        annotation: entry.annotation.clone(),
        sidecar: Some(SidecarRef::Named(entry.sidecar.name().to_string())),
        error,
    })
}

/// A declared sidecar that has the name of one the Task defines, when the settings forbid overriding.
fn conflict(entry: &Declared) -> Problem {
    Problem {
        annotation: entry.annotation.clone(),
        sidecar: Some(SidecarRef::Named(entry.sidecar.name().to_string())),
        error: FieldError::new(
            "name",
            format!(
                "the Task already defines a sidecar named {:?}, and the policy setting onConflict is \"reject\"; choose another name",
                entry.sidecar.name()
            ),
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::tekton::sidecar;
    use serde_json::Value;

    use crate::settings::Settings;
    use crate::support::json_edit::apply_to_value;
    use serde_json::json;

    #[rstest::rstest]
    #[case(json!({"name": "h", "emptyDir": null, "hostPath": {"path": "/"}}), Some("hostPath"))]
    #[case(json!({"name": "h", "hostpath": {"path": "/"}}), Some("hostPath"))]
    #[case(json!({"Name": "h", "emptyDir": {}}), Some("emptyDir"))]
    #[case(json!({"name": "h", "emptyDir": {}, "hostPath": {"path": "/"}}), Some("hostPath"))]
    #[case(json!({"name": "h", "someFutureSource": {}}), Some("someFutureSource"))]
    #[case(json!({"name": "h", "hostPath": null}), None)]
    fn a_volume_s_kind_is_what_go_decodes(#[case] volume: Value, #[case] expected: Option<&str>) {
        assert_eq!(volume_kind(&volume), expected);
    }

    /// [`pod::inject`], its changes made to the Pod.
    pub(crate) fn inject_pod(
        pod: &mut Value,
        declared: &[Declared],
        already: &[String],
        context: Option<context::TaskRunContext>,
        settings: &Settings,
    ) -> Result<Injected, Vec<Problem>> {
        let injected = pod::inject(
            pod,
            declared,
            already,
            context,
            Default::default(),
            settings,
        )?;
        apply_to_value(pod, &injected.edits);
        Ok(injected)
    }

    /// [`taskrun::inject`], its changes made to the TaskRun.
    pub(crate) fn inject_taskrun(
        taskrun: &mut Value,
        declared: &[Declared],
        already: &[String],
        v1beta1: bool,
        context_key: &str,
        settings: &Settings,
    ) -> Result<Injected, Vec<Problem>> {
        let text = |pointer: &str| {
            taskrun
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (name, namespace) = (text("/metadata/name"), text("/metadata/namespace"));
        let present = taskrun["metadata"]["annotations"][context_key]
            .as_str()
            .map(str::to_string);
        let head = taskrun::Head {
            named: crate::tekton::variables::Named {
                name: name.as_deref(),
                namespace: namespace.as_deref(),
            },
            carrier: context::Annotation {
                key: context_key,
                present: present.as_deref(),
            },
        };
        let injected = taskrun::inject(taskrun, declared, already, v1beta1, head, None, settings)?;
        apply_to_value(taskrun, &injected.edits);
        Ok(injected)
    }

    /// A declared sidecar from its JSON, as if the annotation `p.io/test` had declared it.
    pub(crate) fn declared(value: Value) -> Declared {
        Declared {
            sidecar: sidecar::parse(value).expect("valid"),
            annotation: "p.io/test".into(),
            template: None,
        }
    }
}
