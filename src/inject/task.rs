//! What the Task of a Pod, read from the cluster at Pod CREATE, tells a Pod-level sidecar. Its workspace
//! declarations: with them, the sidecar gets the workspaces `workspace.Apply` (`pkg/workspace/apply.go`)
//! gives a Task's own sidecar, where the Pod alone shows only what the steps got: which workspaces are
//! shared (no step or sidecar of the Task lists them), at the path and with the `readOnly` the Task
//! declares. And its params, with the TaskRun's values: the variables Tekton substitutes in a Task's
//! sidecar before the Pod exists, which the policy then substitutes itself.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::context::Binding;
use crate::support::json::array;
use crate::tekton::variables::{Variables, has_variable};
use crate::tekton::workspaces::declared_mount_path;

/// What is known of a Pod's Task: nothing, when it was not read.
#[derive(Default)]
pub struct KnownTask {
    /// Its workspace declarations, when they do not depend on what Tekton substitutes.
    pub(crate) workspaces: Option<TaskWorkspaces>,
    /// What Tekton substitutes in its sidecars, with the TaskRun's params, name and bindings.
    pub(crate) variables: Option<Variables>,
    /// The bindings of the TaskRun read from the cluster, which stand in for the ones carried on the
    /// `taskrun.json` annotation: whoever creates a TaskRun can write that.
    pub(crate) bindings: Option<Vec<Binding>>,
}

/// A Task's workspace declarations, and the workspaces its steps and sidecars list.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(crate) struct TaskWorkspaces {
    /// Path and `readOnly` by name, the first declaration of a name (`getDeclaredWorkspace`).
    declared: BTreeMap<String, (String, bool)>,
    /// What a step or a sidecar of the Task lists: Tekton mounts it only where it is listed
    /// (`mountAsIsolatedWorkspace`), every other one into every sidecar (`mountAsSharedWorkspace`).
    isolated: BTreeSet<String>,
    /// The workspaces that are not `optional`.
    required: BTreeSet<String>,
}

impl TaskWorkspaces {
    /// Reads a Task's `spec`; none when a declared `mountPath` holds a Tekton variable, which the
    /// reconciler substitutes before `Apply` (`ApplyReplacements` in
    /// `pkg/reconciler/taskrun/resources/apply.go`) and the Pod is then read as without the Task.
    pub(crate) fn of(spec: &Value) -> Option<TaskWorkspaces> {
        let (mut declared, mut required) = (BTreeMap::new(), BTreeSet::new());
        for declaration in array(spec, "/workspaces") {
            let Some(name) = declaration.get("name").and_then(Value::as_str) else {
                continue;
            };
            let path = declared_mount_path(declaration, name);
            if has_variable(&path) {
                return None;
            }
            let read_only = declaration.get("readOnly").and_then(Value::as_bool) == Some(true);
            if declaration.get("optional").and_then(Value::as_bool) != Some(true) {
                required.insert(name.to_string());
            }
            declared
                .entry(name.to_string())
                .or_insert((path, read_only));
        }
        let isolated = array(spec, "/steps")
            .iter()
            .chain(array(spec, "/sidecars"))
            .flat_map(|container| array(container, "/workspaces"))
            .filter_map(|usage| usage.get("name").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        Some(TaskWorkspaces {
            declared,
            isolated,
            required,
        })
    }

    /// Whether `bindings` bind every workspace the Task requires. A TaskRun that leaves one unbound
    /// runs only when config-defaults' `default-task-run-workspace-binding` binds it, in the reconciler
    /// after admission (`updateTaskRunWithDefaultWorkspaces` in `pkg/reconciler/taskrun/taskrun.go`): the
    /// bindings the policy carried are then not all of them.
    pub(super) fn all_bound(&self, bindings: &[Binding]) -> bool {
        let mut unbound = self.unbound(bindings.iter().map(|b| b.name.as_str()));
        unbound.next().is_none()
    }

    /// The required workspaces none of `bound` names, in name order: the ones config-defaults binds.
    pub(crate) fn unbound<'s, 'b>(
        &'s self,
        bound: impl Iterator<Item = &'b str>,
    ) -> impl Iterator<Item = &'s str> {
        let bound: BTreeSet<&str> = bound.collect();
        let unbound = self.required.iter().map(String::as_str);
        unbound.filter(move |name| !bound.contains(name))
    }

    /// Whether Tekton mounts workspace `name` into every sidecar of the Task.
    pub(super) fn is_shared(&self, name: &str) -> bool {
        !self.isolated.contains(name)
    }

    /// The mount Tekton makes of `binding` (whose volume is `binding.volume`), at `listed_at`, a listing's
    /// own path, when it gives one. A binding the Task does not declare is declared by Tekton, at its
    /// default path ("Propagate missing Workspaces" in `Apply`).
    pub(super) fn mount(&self, binding: &Binding, listed_at: Option<&str>) -> Value {
        let (path, read_only) = match self.declared.get(&binding.name) {
            Some((path, read_only)) => (path.clone(), *read_only),
            None => (declared_mount_path(&Value::Null, &binding.name), false),
        };
        let path = listed_at.map_or(path, str::to_string);
        let mut mount = Map::new();
        mount.insert("name".to_string(), Value::String(binding.volume.clone()));
        mount.insert("mountPath".to_string(), Value::String(path));
        if !binding.sub_path.is_empty() {
            mount.insert(
                "subPath".to_string(),
                Value::String(binding.sub_path.clone()),
            );
        }
        if read_only {
            mount.insert("readOnly".to_string(), Value::Bool(true));
        }
        Value::Object(mount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn binding(name: &str, sub_path: &str) -> Binding {
        Binding {
            name: name.to_string(),
            volume: "ws-1bcf2".to_string(),
            sub_path: sub_path.to_string(),
        }
    }

    #[rstest]
    #[case::default_path(json!({"workspaces": [{"name": "src"}]}), binding("src", ""),
        json!({"name": "ws-1bcf2", "mountPath": "/workspace/src"}))]
    #[case::declared_path_read_only(
        json!({"workspaces": [{"name": "src", "mountPath": "/go/src", "readOnly": true}]}),
        binding("src", "a/b"),
        json!({"name": "ws-1bcf2", "mountPath": "/go/src", "subPath": "a/b", "readOnly": true}))]
    #[case::first_declaration_of_a_name(
        json!({"workspaces": [{"name": "src", "mountPath": "/one"}, {"name": "src", "mountPath": "/two"}]}),
        binding("src", ""),
        json!({"name": "ws-1bcf2", "mountPath": "/one"}))]
    #[case::undeclared_binding_propagated(json!({"workspaces": [{"name": "other", "readOnly": true}]}),
        binding("src", ""),
        json!({"name": "ws-1bcf2", "mountPath": "/workspace/src"}))]
    #[case::read_only_not_a_boolean(json!({"workspaces": [{"name": "src", "readOnly": "true"}]}),
        binding("src", ""),
        json!({"name": "ws-1bcf2", "mountPath": "/workspace/src"}))]
    fn mounts_as_the_task_declares(
        #[case] spec: Value,
        #[case] binding: Binding,
        #[case] expected: Value,
    ) {
        let task = TaskWorkspaces::of(&spec).expect("usable");
        assert_eq!(task.mount(&binding, None), expected);
        let listed = task.mount(&binding, Some("/db"));
        assert_eq!(listed.get("mountPath"), Some(&json!("/db")));
    }

    #[test]
    fn a_workspace_a_step_or_a_sidecar_lists_is_isolated() {
        let spec = json!({
            "workspaces": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
            "steps": [{"name": "s", "workspaces": [{"name": "a"}]}],
            "sidecars": [{"name": "t", "workspaces": [{"name": "b", "mountPath": "/b"}]}]
        });
        let task = TaskWorkspaces::of(&spec).expect("usable");
        assert_eq!(
            ["a", "b", "c", "undeclared"].map(|w| task.is_shared(w)),
            [false, false, true, true]
        );
    }

    #[rstest]
    #[case::all(&["a", "b"], true)]
    #[case::an_optional_one_left(&["a"], true)]
    #[case::a_required_one_left(&["b"], false)]
    fn every_required_workspace_bound(#[case] bound: &[&str], #[case] expected: bool) {
        let spec = json!({"workspaces": [{"name": "a"}, {"name": "b", "optional": true}]});
        let bindings: Vec<Binding> = bound.iter().map(|name| binding(name, "")).collect();
        let task = TaskWorkspaces::of(&spec).expect("usable");
        assert_eq!(task.all_bound(&bindings), expected);
    }

    #[test]
    fn a_mount_path_tekton_substitutes_makes_the_task_unusable() {
        let spec = json!({"workspaces": [{"name": "a", "mountPath": "/src/$(params.dir)"}]});
        assert_eq!(TaskWorkspaces::of(&spec), None);
    }
}
