//! What a Pod-level injection needs from the TaskRun and Tekton does not put in the Pod: the workspace
//! bindings (which volume is which workspace, with its `subPath`), and the PipelineRun's
//! `taskRunSpecs[].sidecarSpecs` entries for declared sidecars.
//!
//! At TaskRun CREATE of a TaskRun whose Task is referenced, the policy writes them on the annotation
//! `<prefix>/taskrun.json`; Tekton copies TaskRun annotations onto the Pod (`Build` in `pkg/pod/pod.go`).
//! A `sidecarSpecs` entry for a declared sidecar moves from the TaskRun's spec to the annotation: Tekton
//! fails a TaskRun whose `sidecarSpecs` names no sidecar of its Task (`validateSidecarOverrides` in
//! `pkg/reconciler/taskrun/validate_taskrun.go`), and a declared sidecar is not one until its Pod exists.
//!
//! The annotation is ordinary metadata that whoever creates a TaskRun could write, so the Pod side takes
//! nothing from it on trust: a volume it names must be a workspace volume the Pod has.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::resources::{self, Resources};
use crate::declaration::Declared;
use crate::support::json::array;
use crate::support::json_edit::{Edit, path};
use crate::tekton::workspaces::create_volumes;

/// The key suffix of the annotation; it is not a DNS label, so no pipeline task can have its name.
pub(crate) const SUFFIX: &str = "taskrun.json";

/// What the annotation holds.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskRunContext {
    /// Every workspace binding of the TaskRun, with the volume Tekton gives it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) workspaces: Vec<Binding>,
    /// The `sidecarSpecs` entries that name a declared sidecar.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) sidecar_specs: Vec<SidecarSpec>,
}

/// One workspace binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Binding {
    pub(crate) name: String,
    pub(crate) volume: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) sub_path: String,
}

/// A `sidecarSpecs` entry (`TaskRunSidecarSpec`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SidecarSpec {
    pub(crate) name: String,
    #[serde(default, alias = "resources")]
    pub(crate) compute_resources: Resources,
}

impl SidecarSpec {
    /// A `sidecarSpecs` entry as Tekton reads one, its resources as a typed reading leaves them; none if
    /// it is not one.
    fn read(value: &Value) -> Option<SidecarSpec> {
        let mut spec = SidecarSpec::deserialize(value).ok()?;
        spec.compute_resources = resources::read(&Value::Object(spec.compute_resources))?;
        Some(spec)
    }
}

impl TaskRunContext {
    /// Reads the annotation's value; anything unreadable is as if it were not there.
    pub(crate) fn read(value: Option<&str>) -> Option<TaskRunContext> {
        let value: Value = serde_json::from_str(value?).ok()?;
        let workspaces = match value.get("workspaces") {
            Some(list) => Vec::<Binding>::deserialize(list).ok()?,
            None => Vec::new(),
        };
        let sidecar_specs = array(&value, "/sidecarSpecs")
            .iter()
            .map(SidecarSpec::read)
            .collect::<Option<Vec<_>>>()?;
        Some(TaskRunContext {
            workspaces,
            sidecar_specs,
        })
    }

    /// The `sidecarSpecs` resources of sidecar `name`.
    pub(crate) fn resources(&self, name: &str) -> Option<&Resources> {
        self.sidecar_specs
            .iter()
            .rfind(|s| s.name == name)
            .map(|s| &s.compute_resources)
    }
}

/// The annotation that carries a TaskRun's context: its key, and its value on the TaskRun as it came.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Annotation<'a> {
    pub(crate) key: &'a str,
    pub(crate) present: Option<&'a str>,
}

/// The workspace bindings of `taskrun`'s spec, each with the volume `CreateVolumes` gives it.
pub(crate) fn bindings(taskrun: &Value) -> Vec<Binding> {
    let bindings = array(taskrun, "/spec/workspaces");
    let volumes = create_volumes(bindings);
    // A name bound twice, which Tekton's validation refuses, is carried once.
    let mut carried = BTreeSet::new();
    bindings
        .iter()
        .filter_map(|binding| {
            let name = binding.get("name").and_then(Value::as_str)?;
            if !carried.insert(name) {
                return None;
            }
            let volume = volumes.get(name)?.name.clone();
            let sub_path = binding
                .get("subPath")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Some(Binding {
                name: name.to_string(),
                volume,
                sub_path,
            })
        })
        .collect()
}

/// At TaskRun CREATE of a referenced Task: writes the annotation `key` and moves the `sidecarSpecs`
/// entries of declared sidecars into it. Returns the changes (none: the TaskRun stays as it is).
///
/// The annotation is the policy's: the bindings are always worked out again from the TaskRun's spec, so
/// one written by hand (or copied from a PipelineRun) cannot name other volumes. The `sidecarSpecs` it
/// already holds for declared sidecars are kept, as a second evaluation must change nothing after the
/// first moved them out of the spec; they set resources only, which the declaration could set as well.
pub(crate) fn carry(
    taskrun: &Value,
    annotation: Annotation<'_>,
    declared: &[Declared],
    v1beta1: bool,
) -> Vec<Edit> {
    let Annotation { key, present } = annotation;
    let is_declared = |name: &str| declared.iter().any(|d| d.sidecar.name() == name);
    let workspaces = bindings(taskrun);
    let list = if v1beta1 {
        "sidecarOverrides"
    } else {
        "sidecarSpecs"
    };
    let entries = array(taskrun, &format!("/spec/{list}"));
    let (moved, kept): (Vec<&Value>, Vec<&Value>) = entries.iter().partition(|entry| {
        entry
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(is_declared)
    });
    let mut sidecar_specs: Vec<SidecarSpec> = TaskRunContext::read(present)
        .map(|context| context.sidecar_specs)
        .unwrap_or_default();
    sidecar_specs.retain(|spec| is_declared(&spec.name));
    sidecar_specs.extend(moved.iter().filter_map(|entry| SidecarSpec::read(entry)));
    let kept: Vec<Value> = kept.into_iter().cloned().collect();
    let context = TaskRunContext {
        workspaces,
        sidecar_specs,
    };
    let text = if context == TaskRunContext::default() {
        None
    } else {
        serde_json::to_value(&context)
            .ok()
            .map(|value| value.to_string())
    };
    if text.as_deref() == present {
        return Vec::new();
    }
    let mut edits = Vec::new();
    if !moved.is_empty() && taskrun.get("spec").is_some_and(Value::is_object) {
        edits.push(if kept.is_empty() {
            Edit::Remove(path(&["spec", list]))
        } else {
            Edit::Set(path(&["spec", list]), Value::Array(kept))
        });
    }
    let annotation = path(&["metadata", "annotations", key]);
    edits.push(match text {
        Some(text) => Edit::Set(annotation, Value::String(text)),
        None => Edit::Remove(annotation),
    });
    edits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::tests::declared;
    use crate::support::json_edit::apply_to_value;
    use serde_json::json;

    /// `carry` made to the TaskRun: whether it changed.
    fn carried(taskrun: &mut Value, declared: &[Declared], v1beta1: bool) -> bool {
        let present = taskrun["metadata"]["annotations"][KEY]
            .as_str()
            .map(str::to_string);
        let annotation = Annotation {
            key: KEY,
            present: present.as_deref(),
        };
        let edits = carry(taskrun, annotation, declared, v1beta1);
        apply_to_value(taskrun, &edits);
        !edits.is_empty()
    }

    const KEY: &str = "p.io/taskrun.json";

    fn taskrun() -> Value {
        json!({"metadata": {"name": "run-it"}, "spec": {
            "taskRef": {"name": "go-test"},
            "workspaces": [{"name": "custom", "persistentVolumeClaim": {"claimName": "mypvc"}, "subPath": "a"},
                           {"name": "custom2", "persistentVolumeClaim": {"claimName": "mypvc"}, "subPath": "b"}],
            "sidecarSpecs": [{"name": "db", "computeResources": {"requests": {"memory": "2Gi"}}},
                             {"name": "task-own", "computeResources": {"requests": {"cpu": "1"}}}]
        }})
    }

    #[test]
    fn carries_bindings_and_moves_the_sidecar_specs_of_declared_sidecars() {
        let mut tr = taskrun();
        let decl = [declared(json!({"name": "db", "image": "postgres"}))];
        assert!(carried(&mut tr, &decl, false));
        assert_eq!(
            tr["spec"]["sidecarSpecs"],
            json!([{"name": "task-own", "computeResources": {"requests": {"cpu": "1"}}}])
        );
        let context =
            TaskRunContext::read(tr["metadata"]["annotations"][KEY].as_str()).expect("readable");
        assert_eq!(
            context.workspaces,
            vec![
                Binding {
                    name: "custom".into(),
                    volume: "ws-20573".into(),
                    sub_path: "a".into()
                },
                Binding {
                    name: "custom2".into(),
                    volume: "ws-20573".into(),
                    sub_path: "b".into()
                },
            ]
        );
        assert_eq!(
            serde_json::to_value(context.resources("db")).expect("json"),
            json!({"requests": {"memory": "2Gi"}})
        );
        let before = tr.clone();
        assert!(!carried(&mut tr, &decl, false));
        assert_eq!(tr, before);
    }

    #[test]
    fn an_annotation_written_by_hand_is_replaced_by_what_the_bindings_say() {
        let mut tr = taskrun();
        let forged = r#"{"workspaces":[{"name":"custom","volume":"tekton-internal-bin"}],"sidecarSpecs":[{"name":"other","computeResources":{}}]}"#;
        tr["metadata"]["annotations"] = json!({KEY: forged});
        let decl = [declared(json!({"name": "db", "image": "postgres"}))];
        assert!(carried(&mut tr, &decl, false));
        let context =
            TaskRunContext::read(tr["metadata"]["annotations"][KEY].as_str()).expect("readable");
        assert_eq!(
            context
                .workspaces
                .iter()
                .find(|b| b.name == "custom")
                .map(|b| b.volume.as_str()),
            Some("ws-20573")
        );
        assert!(context.resources("other").is_none());
        assert!(context.resources("db").is_some());
        let mut bare =
            json!({"metadata": {"annotations": {KEY: forged}}, "spec": {"taskRef": {"name": "t"}}});
        assert!(carried(&mut bare, &decl, false));
        assert_eq!(bare["metadata"]["annotations"], json!({}));
    }

    #[test]
    fn nothing_to_carry_changes_nothing() {
        let mut tr = json!({"spec": {"taskRef": {"name": "t"}}});
        assert!(!carried(
            &mut tr,
            &[declared(json!({"name": "db", "image": "p"}))],
            false
        ));
        assert_eq!(tr, json!({"spec": {"taskRef": {"name": "t"}}}));
    }

    #[test]
    fn v1beta1_spells_them_sidecar_overrides() {
        let mut tr = json!({"spec": {"taskRef": {"name": "t"},
            "sidecarOverrides": [{"name": "db", "resources": {"limits": {"cpu": "2"}}}]}});
        assert!(carried(
            &mut tr,
            &[declared(json!({"name": "db", "image": "p"}))],
            true
        ));
        assert!(tr["spec"].get("sidecarOverrides").is_none());
        let context =
            TaskRunContext::read(tr["metadata"]["annotations"][KEY].as_str()).expect("readable");
        assert_eq!(
            serde_json::to_value(context.resources("db")).expect("json"),
            json!({"limits": {"cpu": "2"}})
        );
    }
}
