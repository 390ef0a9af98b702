//! TaskRun CREATE. With an inline `spec.taskSpec` the declared sidecars join `spec.taskSpec.sidecars`:
//! there Tekton treats them as the Task's own, and `script`, `$(params.*)` substitution, the readiness
//! wait, the stop and `status.sidecars` all work natively. A TaskRun built from a `taskRef` carries no
//! spec to merge into (Tekton refuses `taskRef` with `taskSpec`): its Pod gets the sidecars, and the
//! TaskRun carries what the Pod will need ([`super::context`]).
//!
//! Three things are done for Tekton here rather than left to it:
//!
//! * Variables in the fields a guardrail judges (the image, volume names) are resolved the way the
//!   TaskRun reconciler will resolve them, and the result is judged: `image: $(params.image)` is what the
//!   TaskRun's param says. A variable Tekton cannot resolve is refused, naming it.
//! * A sidecar's `workspaces` list becomes volume mounts (the volume named by `$(workspaces.<w>.volume)`,
//!   Tekton's path, `subPath` and `readOnly`): listed in `workspaces`, a workspace would be isolated and
//!   the steps that do not list it would lose it (`workspace.Apply` in `pkg/workspace/apply.go`).
//!   `$(workspaces.<w>.path)` in the sidecar becomes the path it lists, as Tekton would make it.
//! * An override of a Task's sidecar keeps that sidecar's resources where it declares none.

use k8s_openapi::api::core::v1::{ResourceRequirements, VolumeMount};
use serde_json::Value;

use super::{Injected, conflict, context, resources};
use crate::declaration::Declared;
use crate::settings::images::image_problem;
use crate::settings::{OnConflict, Settings};
use crate::support::error::{FieldError, Problem, SidecarRef, listed};
use crate::support::json::array;
use crate::support::strict;
use crate::tekton::WORKSPACE_DIR;
use crate::tekton::sidecar::{Sidecar, internal_volume_problem};
use crate::tekton::variables::{Variables, has_variable, sidecar_container_name};

/// Merges `declared` into the TaskRun's inline `spec.taskSpec.sidecars`, or, for a referenced Task,
/// carries the bindings and `sidecarSpecs` its Pod will need on the annotation `context_key`.
///
/// `already` is the marker's list: those were injected by an earlier evaluation and are left as they
/// are. `v1beta1` spells `computeResources` as `resources`, as that API version does.
pub fn inject(
    taskrun: &mut Value,
    declared: &[Declared],
    already: &[String],
    v1beta1: bool,
    context_key: &str,
    settings: &Settings,
) -> Result<Injected, Vec<Problem>> {
    let inline = taskrun
        .pointer("/spec/taskSpec")
        .is_some_and(Value::is_object);
    if !inline {
        let changed = taskrun.pointer("/spec/taskRef").is_some()
            && context::carry(taskrun, context_key, declared, v1beta1);
        return Ok(Injected {
            changed,
            ..Injected::default()
        });
    }
    let variables = Variables::for_inline_taskrun(taskrun);
    let task = InlineTask::of(taskrun);
    let mut problems = Vec::new();
    let mut injected = Injected::default();
    let mut sidecars = array(taskrun, "/spec/taskSpec/sidecars").to_vec();
    for entry in declared
        .iter()
        .filter(|d| !already.contains(&d.sidecar.name))
    {
        let name = &entry.sidecar.name;
        let existing = sidecars
            .iter()
            .position(|s| s.get("name").and_then(Value::as_str) == Some(name));
        if existing.is_some() && settings.on_conflict == OnConflict::Reject {
            problems.push(conflict(entry));
            continue;
        }
        let replaced = existing
            .and_then(|i| sidecars.get(i))
            .and_then(|s| s.get("computeResources").or_else(|| s.get("resources")))
            .and_then(strict::read::<ResourceRequirements>);
        let report = |errors: Vec<FieldError>| {
            errors.into_iter().map(|error| Problem {
                annotation: entry.annotation.clone(),
                sidecar: Some(SidecarRef::Named(name.clone())),
                error,
            })
        };
        let twin = sidecars.iter().enumerate().find(|(i, s)| {
            Some(*i) != existing
                && s.get("name").and_then(Value::as_str).is_some_and(|other| {
                    sidecar_container_name(other) == sidecar_container_name(name)
                })
        });
        if twin.is_some() {
            problems.extend(report(vec![FieldError::new(
                "name",
                format!(
                    "becomes the container {:?}, as another sidecar of this Task does: Tekton cuts container names to 63 characters; shorten the name",
                    sidecar_container_name(name)
                ),
            )]));
            continue;
        }
        let (sidecar, warnings) = match task.prepare(&entry.sidecar, &variables, settings) {
            Ok(prepared) => prepared,
            Err(errors) => {
                problems.extend(report(errors));
                continue;
            }
        };
        let mut sidecar = sidecar;
        let declared_resources = resources::merged(replaced, sidecar.compute_resources.as_ref());
        sidecar.compute_resources =
            resources::with_defaults(declared_resources, &settings.default_resources);
        let Ok(mut json) = serde_json::to_value(&sidecar) else {
            continue;
        };
        if v1beta1
            && let Some(fields) = json.as_object_mut()
            && let Some(resources) = fields.remove("computeResources")
        {
            fields.insert("resources".to_string(), resources);
        }
        match existing.and_then(|i| sidecars.get_mut(i)) {
            Some(slot) => *slot = json,
            None => sidecars.push(json),
        }
        injected.warnings.extend(
            warnings
                .into_iter()
                .map(|w| format!("annotation {:?}, sidecar {name:?}: {w}", entry.annotation)),
        );
        injected.names.push(name.clone());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if let (false, Some(spec)) = (
        injected.names.is_empty(),
        taskrun
            .pointer_mut("/spec/taskSpec")
            .and_then(Value::as_object_mut),
    ) {
        spec.insert("sidecars".to_string(), Value::Array(sidecars));
    }
    Ok(injected)
}

/// What an inline Task declares and its TaskRun binds, for the sidecars that join it.
struct InlineTask<'a> {
    /// `spec.taskSpec.workspaces`.
    declarations: &'a [Value],
    /// `spec.workspaces`.
    bindings: &'a [Value],
}

impl<'a> InlineTask<'a> {
    fn of(taskrun: &'a Value) -> Self {
        InlineTask {
            declarations: array(taskrun, "/spec/taskSpec/workspaces"),
            bindings: array(taskrun, "/spec/workspaces"),
        }
    }

    /// The sidecar as it joins the Task: guarded fields judged after substitution, listed workspaces made
    /// into mounts. With the warnings for what it leaves out, or why it cannot join.
    fn prepare(
        &self,
        declared: &Sidecar,
        variables: &Variables,
        settings: &Settings,
    ) -> Result<(Sidecar, Vec<String>), Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let own_paths: Vec<(&str, &str)> = declared
            .workspaces
            .iter()
            .flatten()
            .filter(|w| !w.mount_path.is_empty())
            .map(|w| (w.name.as_str(), w.mount_path.as_str()))
            .collect();
        let own = Variables::default().with_paths(own_paths.iter().copied());
        let variables = variables.with_paths(own_paths.iter().copied());
        if let Some(image) = declared.image.as_deref().filter(|i| has_variable(i)) {
            match variables.resolve(image) {
                Err(reference) => errors.push(unresolved("image", image, &reference)),
                Ok(resolved) => {
                    if let Some(problem) = image_problem(&resolved, &settings.allowed_images) {
                        errors.push(FieldError::new(
                            "image",
                            format!("{image:?} is {resolved:?} in this TaskRun, and {problem}"),
                        ));
                    }
                }
            }
        }
        for (i, mount) in declared.volume_mounts.iter().flatten().enumerate() {
            if !has_variable(&mount.name) {
                continue;
            }
            let path = format!("volumeMounts[{i}].name");
            match variables.resolve(&mount.name) {
                Err(reference) => errors.push(unresolved(&path, &mount.name, &reference)),
                Ok(resolved) => {
                    if let Some(problem) = internal_volume_problem(&resolved) {
                        errors.push(FieldError::new(
                            path,
                            format!(
                                "{:?} is {resolved:?} in this TaskRun: {problem}",
                                mount.name
                            ),
                        ));
                    }
                }
            }
        }
        let mut sidecar = declared.clone();
        let mut mounts = sidecar.volume_mounts.take().unwrap_or_default();
        for (i, usage) in declared.workspaces.iter().flatten().enumerate() {
            let name = usage.name.as_str();
            let named = |list: &[Value]| {
                list.iter()
                    .find(|w| w.get("name").and_then(Value::as_str) == Some(name))
                    .cloned()
            };
            let Some(declaration) = named(self.declarations) else {
                let declared: Vec<&str> = self
                    .declarations
                    .iter()
                    .filter_map(|w| w.get("name").and_then(Value::as_str))
                    .collect();
                let hint = if declared.is_empty() {
                    "it declares none".to_string()
                } else {
                    format!("it declares {}", listed(declared.into_iter()))
                };
                errors.push(FieldError::new(
                    format!("workspaces[{i}].name"),
                    format!("the inline Task declares no workspace {name:?}, and Tekton refuses a sidecar that uses one it does not declare; {hint}"),
                ));
                continue;
            };
            let Some(binding) = named(self.bindings) else {
                warnings.push(format!("workspace {name:?} is not bound: no mount for it"));
                continue;
            };
            let text = |value: &Value, field: &str| {
                value
                    .get(field)
                    .and_then(Value::as_str)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            };
            let mount_path = Some(usage.mount_path.clone())
                .filter(|p| !p.is_empty())
                .or_else(|| text(&declaration, "mountPath"))
                .unwrap_or_else(|| format!("{WORKSPACE_DIR}/{name}"));
            let mount = VolumeMount {
                name: format!("$(workspaces.{name}.volume)"),
                mount_path,
                sub_path: text(&binding, "subPath"),
                read_only: (declaration.get("readOnly") == Some(&Value::Bool(true)))
                    .then_some(true),
                ..VolumeMount::default()
            };
            if !mounts.iter().any(|m| m.mount_path == mount.mount_path) {
                mounts.push(mount);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        sidecar.volume_mounts = (!mounts.is_empty()).then_some(mounts);
        sidecar.workspaces = None;
        with_own_paths(&mut sidecar, &own);
        Ok((sidecar, warnings))
    }
}

/// `$(workspaces.<w>.path)` made the path the sidecar listed `<w>` at (`own` holds only those), in the
/// fields Tekton substitutes: once the sidecar no longer lists the workspace, Tekton would make it the
/// Task's path instead.
fn with_own_paths(sidecar: &mut Sidecar, own: &Variables) {
    let own = |text: &mut String| {
        if text.contains("$(workspaces.") {
            *text = own.substitute(text);
        }
    };
    sidecar.script.iter_mut().for_each(own);
    sidecar.working_dir.iter_mut().for_each(own);
    for list in [&mut sidecar.command, &mut sidecar.args] {
        list.iter_mut().flatten().for_each(own);
    }
    for var in sidecar.env.iter_mut().flatten() {
        var.value.iter_mut().for_each(own);
    }
    for mount in sidecar.volume_mounts.iter_mut().flatten() {
        own(&mut mount.mount_path);
        mount.sub_path.iter_mut().for_each(own);
    }
}

/// The refusal of a variable Tekton leaves in the text of a guarded field.
fn unresolved(path: &str, value: &str, reference: &str) -> FieldError {
    FieldError::new(
        path,
        format!(
            "{value:?}: Tekton cannot resolve {reference} in this TaskRun (from its params and their defaults, context.taskRun, context.task, workspaces, results, steps or credentials.path) and would use it as written; pass the param, or write the value"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inject::tests::declared;
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
            json!({"name": "db", "image": "p", "script": "ls $(workspaces.source.path)",
            "workspaces": [{"name": "source", "mountPath": "/data"}, {"name": "maybe"}]}),
        )];
        let injected = inject_into(&mut tr, &decl, &Settings::default()).expect("ok");
        assert_eq!(
            tr["spec"]["taskSpec"]["sidecars"],
            json!([{"name": "db", "image": "p", "script": "ls /data",
                    "volumeMounts": [{"name": "$(workspaces.source.volume)", "mountPath": "/data", "subPath": "src", "readOnly": true}]}])
        );
        assert_eq!(
            injected.warnings,
            vec![
                "annotation \"p.io/test\", sidecar \"db\": workspace \"maybe\" is not bound: no mount for it"
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
                "annotation \"p.io/test\", sidecar \"db\": volumeMounts[1].name: \"$(params.nope)\": Tekton cannot resolve $(params.nope) in this TaskRun (from its params and their defaults, context.taskRun, context.task, workspaces, results, steps or credentials.path) and would use it as written; pass the param, or write the value",
            ]
        );
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
        assert!(carried.changed && carried.names.is_empty());
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
