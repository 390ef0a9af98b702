//! TaskRun CREATE. With an inline `spec.taskSpec` the declared sidecars join `spec.taskSpec.sidecars`:
//! there Tekton treats them as the Task's own, and `script`, `$(params.*)` substitution, the readiness
//! wait, the stop and `status.sidecars` all work natively. A TaskRun built from a `taskRef` carries no
//! spec to merge into (Tekton refuses `taskRef` with `taskSpec`): its Pod gets the sidecars, and the
//! TaskRun carries what the Pod will need ([`super::context`]).
//!
//! What Tekton will make of a declared sidecar in the inline Task is judged before it joins
//! ([`super::inline`]); an override of a Task's sidecar keeps that sidecar's resources where it declares
//! none.

use std::collections::BTreeSet;

use serde_json::Value;

use super::context::{self, Annotation};
use super::inline::InlineTask;
use super::resources::{self, Resources};
use super::{Container, Injected, conflict, reported};
use crate::declaration::Declared;
use crate::settings::{OnConflict, Settings};
use crate::support::error::{FieldError, Problem, warning};
use crate::support::json::array;
use crate::support::json_edit::{Edit, path};
use crate::tekton::sidecar::text;
use crate::tekton::variables::{Named, Variables, has_variable, sidecar_container_name};

/// What injection needs of a TaskRun's metadata, which admission has read: its name and namespace
/// (Tekton's `context.taskRun.*` variables) and the annotation that carries its context to the Pod.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub(crate) named: Named<'a>,
    pub(crate) carrier: Annotation<'a>,
}

/// Whether a sidecar still to be injected into the TaskRun's inline Task lists a required workspace the
/// TaskRun leaves unbound, which only config-defaults' `default-task-run-workspace-binding` binds.
pub fn leaves_to_defaults(taskrun: &Value, declared: &[Declared], already: &[String]) -> bool {
    let inline = taskrun
        .pointer("/spec/taskSpec")
        .is_some_and(Value::is_object);
    let listing = |d: &&Declared| !d.among(already) && !d.sidecar.list("workspaces").is_empty();
    let mut pending = declared.iter().filter(listing).peekable();
    // The Task is indexed only when a sidecar lists a workspace: most list none.
    inline && pending.peek().is_some() && InlineTask::of(taskrun, None).leaves_to_defaults(pending)
}

/// Merges `declared` into the TaskRun's inline `spec.taskSpec.sidecars`, or, for a referenced Task,
/// carries the bindings and `sidecarSpecs` its Pod will need on the annotation `head.carrier`.
///
/// `already` is the marker's list: those were injected by an earlier evaluation and are left as they
/// are. `v1beta1` spells `computeResources` as `resources`, as that API version does.
/// `default_binding` is config-defaults' binding, when it was read ([`leaves_to_defaults`]).
pub fn inject(
    taskrun: &Value,
    declared: &[Declared],
    already: &[String],
    v1beta1: bool,
    head: Head<'_>,
    default_binding: Option<&Value>,
    settings: &Settings,
) -> Result<Injected, Vec<Problem>> {
    if let Some(problem) = bound_twice(taskrun, declared) {
        return Err(vec![problem]);
    }
    let inline = taskrun
        .pointer("/spec/taskSpec")
        .is_some_and(Value::is_object);
    if !inline {
        let edits = if taskrun.pointer("/spec/taskRef").is_some() {
            context::carry(taskrun, head.carrier, declared, v1beta1)
        } else {
            Vec::new()
        };
        return Ok(Injected {
            edits,
            ..Injected::default()
        });
    }
    let variables = variables(taskrun, declared, head.named);
    let task = InlineTask::of(taskrun, default_binding);
    let mut problems = Vec::new();
    let mut injected = Injected::default();
    let mut sidecars = array(taskrun, "/spec/taskSpec/sidecars").to_vec();
    for entry in declared.iter().filter(|d| !d.among(already)) {
        let name = entry.sidecar.name();
        let existing = sidecars
            .iter()
            .position(|s| s.get("name").and_then(Value::as_str) == Some(name));
        if existing.is_some() && settings.on_conflict == OnConflict::Reject {
            problems.push(conflict(entry));
            continue;
        }
        let report = |errors: Vec<FieldError>| reported(entry, errors);
        if let Some(problem) = twin(&sidecars, existing, name) {
            problems.extend(report(vec![problem]));
            continue;
        }
        let slot = existing.and_then(|i| sidecars.get(i));
        let (sidecar, warnings) = match task.prepare(entry, slot, &variables, settings) {
            Ok(prepared) => prepared,
            Err(errors) => {
                problems.extend(report(errors));
                continue;
            }
        };
        let replaced = slot
            .and_then(|s| s.get("computeResources").or_else(|| s.get("resources")))
            .and_then(resources::read);
        let json = Value::Object(with_resources(sidecar, replaced, v1beta1, settings));
        match existing.and_then(|i| sidecars.get_mut(i)) {
            Some(slot) => *slot = json,
            None => sidecars.push(json),
        }
        injected.warnings.extend(
            warnings
                .into_iter()
                .map(|w| warning(&entry.annotation, name, &w)),
        );
        injected.names.push(name.to_string());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if !injected.names.is_empty() {
        injected.edits.push(Edit::Set(
            path(&["spec", "taskSpec", "sidecars"]),
            Value::Array(sidecars),
        ));
    }
    Ok(injected)
}

/// The refusal of a TaskRun that binds a workspace name twice, which Tekton's validation refuses after
/// this admission (`ValidateWorkspaceBindings`): its volumes could not be named as Tekton names them,
/// and injecting would only make a large object larger.
fn bound_twice(taskrun: &Value, declared: &[Declared]) -> Option<Problem> {
    let mut seen = BTreeSet::new();
    let name = array(taskrun, "/spec/workspaces")
        .iter()
        .filter_map(|binding| binding.get("name").and_then(Value::as_str))
        .find(|name| !seen.insert(*name))?;
    Some(Problem {
        annotation: declared
            .first()
            .map(|d| d.annotation.clone())
            .unwrap_or_default(),
        sidecar: None,
        error: FieldError::new(
            "",
            format!(
                "the TaskRun binds the workspace {name:?} twice, which Tekton refuses; bind it once"
            ),
        ),
    })
}

/// What Tekton will substitute in the inline Task, worked out only when a guarded field holds a variable:
/// a TaskRun may carry a thousand params.
fn variables(taskrun: &Value, declared: &[Declared], named: Named<'_>) -> Variables {
    let needs_variables = declared.iter().any(|d| {
        d.sidecar.text("image").is_some_and(has_variable)
            || d.sidecar
                .list("volumeMounts")
                .iter()
                .any(|m| has_variable(text(m, "name")))
    });
    if needs_variables {
        Variables::for_inline_taskrun(taskrun, named)
    } else {
        Variables::default()
    }
}

/// The refusal of sidecar `name` when another of the Task's sidecars than the one it replaces (at
/// `existing`) becomes the same container.
fn twin(sidecars: &[Value], existing: Option<usize>, name: &str) -> Option<FieldError> {
    let container = sidecar_container_name(name);
    let twin = sidecars.iter().enumerate().any(|(i, s)| {
        Some(i) != existing
            && s.get("name")
                .and_then(Value::as_str)
                .is_some_and(|other| sidecar_container_name(other) == container)
    });
    twin.then(|| {
        FieldError::new(
            "name",
            format!(
                "becomes the container {container:?}, as another sidecar of this Task does: Tekton cuts container names to 63 characters; shorten the name"
            ),
        )
    })
}

/// `sidecar` with its resources: its own over those of the sidecar it replaces, then the settings'
/// defaults, spelt as the TaskRun's API version spells them.
fn with_resources(
    mut sidecar: Container,
    replaced: Option<Resources>,
    v1beta1: bool,
    settings: &Settings,
) -> Container {
    let own = match sidecar.remove("computeResources") {
        Some(Value::Object(own)) => Some(own),
        _ => None,
    };
    let declared = resources::merged(replaced, own.as_ref());
    if let Some(resources) = resources::with_defaults(declared, &settings.default_resources) {
        let spelling = if v1beta1 {
            "resources"
        } else {
            "computeResources"
        };
        sidecar.insert(spelling.to_string(), Value::Object(resources));
    }
    sidecar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::tests::{declared, inject_taskrun as inject};
    use serde_json::json;

    const KEY: &str = "p.io/taskrun.json";

    fn taskrun(sidecars: Value) -> Value {
        json!({"metadata": {"name": "run-build"}, "spec": {
            "params": [{"name": "image", "value": "postgres:16"}, {"name": "volume", "value": "tekton-internal-bin"}],
            "workspaces": [{"name": "source", "emptyDir": {}, "subPath": "src"}],
            "taskSpec": {
                "workspaces": [{"name": "source", "readOnly": true}, {"name": "maybe", "optional": true}],
                "steps": [{"name": "s", "image": "alpine"}], "sidecars": sidecars}}})
    }

    fn inject_into(
        tr: &mut Value,
        decl: &[Declared],
        settings: &Settings,
    ) -> Result<Injected, Vec<String>> {
        inject(tr, decl, &[], false, KEY, settings)
            .map_err(|problems| problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn an_override_keeps_the_workspaces_the_task_s_sidecar_isolated() {
        let mut tr = taskrun(
            json!([{"name": "proxy", "image": "old", "workspaces": [{"name": "source", "mountPath": "/src"}]}]),
        );
        let decl = [declared(json!({"name": "proxy", "image": "new"}))];
        inject_into(&mut tr, &decl, &Settings::default()).expect("ok");
        assert_eq!(
            tr["spec"]["taskSpec"]["sidecars"][0]["workspaces"],
            json!([{"name": "source", "mountPath": "/src"}]),
            "without it Tekton would share the workspace with the steps"
        );
    }

    #[test]
    fn appends_new_and_overrides_same_name_in_place_keeping_resources() {
        let mut tr = taskrun(
            json!([{"name": "cache", "image": "old", "computeResources": {"requests": {"cpu": "1"}}}, {"name": "other", "image": "x"}]),
        );
        let decl = [
            declared(json!({"name": "cache", "image": "new"})),
            declared(
                json!({"name": "db", "image": "postgres", "computeResources": {"limits": {"cpu": "1"}}}),
            ),
        ];
        let injected = inject_into(&mut tr, &decl, &Settings::default()).expect("ok");
        assert_eq!(injected.names, vec!["cache", "db"]);
        assert_eq!(
            tr["spec"]["taskSpec"]["sidecars"],
            json!([
                {"name": "cache", "image": "new", "computeResources": {"requests": {"cpu": "1"}}},
                {"name": "other", "image": "x"},
                {"name": "db", "image": "postgres", "computeResources": {"limits": {"cpu": "1"}}}
            ])
        );
    }

    #[test]
    fn v1beta1_uses_resources() {
        let mut tr = taskrun(Value::Null);
        let decl = [declared(
            json!({"name": "db", "image": "p", "computeResources": {"limits": {"cpu": "1"}}}),
        )];
        inject(&mut tr, &decl, &[], true, KEY, &Settings::default()).expect("ok");
        assert_eq!(
            tr["spec"]["taskSpec"]["sidecars"],
            json!([{"name": "db", "image": "p", "resources": {"limits": {"cpu": "1"}}}])
        );
    }

    #[test]
    fn a_listed_workspace_becomes_a_mount_and_isolates_nothing() {
        let mut tr = taskrun(Value::Null);
        let decl = [declared(
            json!({"name": "db", "image": "p", "script": "ls $(workspaces.source.path) $(workspaces.maybe.path)",
            "workspaces": [{"name": "source", "mountPath": "/data"}, {"name": "maybe", "mountPath": "/m"}]}),
        )];
        let injected = inject_into(&mut tr, &decl, &Settings::default()).expect("ok");
        assert_eq!(
            tr["spec"]["taskSpec"]["sidecars"],
            // Tekton makes the path of an optional workspace left unbound empty (`ApplyWorkspaces`).
            json!([{"name": "db", "image": "p", "script": "ls /data $(workspaces.maybe.path)",
                    "volumeMounts": [{"name": "$(workspaces.source.volume)", "mountPath": "/data", "subPath": "src", "readOnly": true}]}])
        );
        assert_eq!(
            injected.warnings,
            vec![
                "annotation \"p.io/test\", sidecar \"db\": workspace \"maybe\" is not bound: no mount for it",
                "annotation \"p.io/test\", sidecar \"db\": a listed workspace stays shared with the steps"
            ]
        );
    }

    #[test]
    fn guarded_fields_are_judged_after_substitution() {
        let settings = Settings {
            allowed_images: vec!["docker.io/library/redis:*".to_string()],
            ..Settings::default()
        };
        let decl = [declared(json!({"name": "db", "image": "$(params.image)",
            "volumeMounts": [{"name": "$(params.volume)", "mountPath": "/v"}, {"name": "$(params.nope)", "mountPath": "/n"}]}))];
        let problems =
            inject_into(&mut taskrun(Value::Null), &decl, &settings).expect_err("refused");
        assert_eq!(
            problems,
            vec![
                "annotation \"p.io/test\", sidecar \"db\": image: \"$(params.image)\" is \"postgres:16\" in this TaskRun, and \"postgres:16\" (docker.io/library/postgres:16) matches none of the allowedImages patterns: docker.io/library/redis:*",
                "annotation \"p.io/test\", sidecar \"db\": volumeMounts[0].name: \"$(params.volume)\" is \"tekton-internal-bin\" in this TaskRun: volume \"tekton-internal-bin\" is internal to Tekton: volumes named tekton-internal-* are only mounted into steps",
                "annotation \"p.io/test\", sidecar \"db\": volumeMounts[1].name: \"$(params.nope)\": Tekton cannot resolve $(params.nope) in this TaskRun (from its params and their defaults, context.taskRun.name and namespace, context.task.name, workspaces, results, steps or credentials.path) and would use it as written; pass the param, or write the value",
            ]
        );
    }

    /// A workspace path in the image is judged as Tekton will make it in the sidecar that joins the Task
    /// (here the allowed images are `docker.io/library/*`): the path the declaration lists, written in;
    /// the path a replaced Task sidecar lists, which it keeps; or else the Task's.
    #[rstest::rstest]
    #[case::own_listing(json!(null), json!([{"name": "source", "mountPath": "/library/postgres"}]), Ok("docker.io/library/postgres:16"))]
    #[case::own_listing_refused(json!(null), json!([{"name": "source", "mountPath": "/evil/miner"}]), Err("\"docker.io$(workspaces.source.path):16\" is \"docker.io/evil/miner:16\" in this TaskRun"))]
    #[case::kept_listing(json!([{"name": "db", "image": "x", "workspaces": [{"name": "source", "mountPath": "/library/postgres"}]}]),
        json!([]), Ok("docker.io$(workspaces.source.path):16"))]
    #[case::task_path(json!(null), json!([]), Err("\"docker.io$(workspaces.source.path):16\" is \"docker.io/workspace/source:16\" in this TaskRun"))]
    fn a_workspace_path_in_the_image_is_judged_where_tekton_resolves_it(
        #[case] task_sidecars: Value,
        #[case] listing: Value,
        #[case] expected: Result<&str, &str>,
    ) {
        let settings = Settings {
            allowed_images: vec!["docker.io/library/*".to_string()],
            ..Settings::default()
        };
        let mut tr = taskrun(task_sidecars);
        let decl = [declared(
            json!({"name": "db", "image": "docker.io$(workspaces.source.path):16", "workspaces": listing}),
        )];
        match (inject_into(&mut tr, &decl, &settings), expected) {
            (Ok(_), Ok(image)) => {
                let sidecars = tr["spec"]["taskSpec"]["sidecars"]
                    .as_array()
                    .expect("sidecars");
                assert_eq!(sidecars.last().map(|s| &s["image"]), Some(&json!(image)));
            }
            (Err(problems), Err(message)) => {
                assert!(
                    problems.len() == 1 && problems[0].contains(message),
                    "{problems:?}"
                );
            }
            (outcome, expected) => panic!("{outcome:?} where {expected:?} was expected"),
        }
    }

    #[test]
    fn a_workspace_the_task_does_not_declare_is_refused_as_tekton_refuses_it() {
        let decl = [declared(
            json!({"name": "db", "image": "p", "workspaces": [{"name": "output"}]}),
        )];
        assert_eq!(
            inject_into(&mut taskrun(Value::Null), &decl, &Settings::default())
                .expect_err("refused"),
            vec![
                "annotation \"p.io/test\", sidecar \"db\": workspaces[0].name: the inline Task declares no workspace \"output\", and Tekton refuses a sidecar that uses one it does not declare; it declares source, maybe"
            ]
        );
    }

    #[test]
    fn a_workspace_bound_twice_is_refused_as_tekton_refuses_it() {
        let mut by_ref = json!({"spec": {"taskRef": {"name": "golang-test"},
            "workspaces": [{"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]}});
        let decl = [declared(json!({"name": "db", "image": "p"}))];
        assert_eq!(
            inject_into(&mut by_ref, &decl, &Settings::default()).expect_err("refused"),
            vec![
                "annotation \"p.io/test\": the TaskRun binds the workspace \"a\" twice, which Tekton refuses; bind it once"
            ]
        );
    }

    #[test]
    fn marker_names_are_left_alone_and_a_referenced_task_carries_its_bindings() {
        let mut tr = taskrun(json!([{"name": "db", "image": "p"}]));
        let before = tr.clone();
        let decl = [declared(json!({"name": "db", "image": "p"}))];
        let settings = Settings {
            on_conflict: OnConflict::Reject,
            ..Settings::default()
        };
        let again = inject(&mut tr, &decl, &["db".into()], false, KEY, &settings).expect("ok");
        assert!(again.names.is_empty());
        assert_eq!(tr, before);
        let mut by_ref = json!({"spec": {"taskRef": {"name": "golang-test"}, "workspaces": [{"name": "source", "emptyDir": {}}]}});
        let carried = inject(&mut by_ref, &decl, &[], false, KEY, &settings).expect("ok");
        assert!(!carried.edits.is_empty() && carried.names.is_empty());
        assert_eq!(
            by_ref["metadata"]["annotations"][KEY],
            "{\"workspaces\":[{\"name\":\"source\",\"volume\":\"ws-1bcf2\"}]}"
        );
    }

    #[test]
    fn conflicts_are_rejected_when_configured() {
        let mut tr = taskrun(json!([{"name": "db", "image": "p"}]));
        let settings = Settings {
            on_conflict: OnConflict::Reject,
            ..Settings::default()
        };
        assert_eq!(
            inject_into(
                &mut tr,
                &[declared(json!({"name": "db", "image": "q"}))],
                &settings
            )
            .expect_err("conflict"),
            vec![
                "annotation \"p.io/test\", sidecar \"db\": name: the Task already defines a sidecar named \"db\", and the policy setting onConflict is \"reject\"; choose another name"
            ]
        );
    }
}
