//! Preparing a declared sidecar to join an inline `taskSpec`: what Tekton will make of it there, judged
//! before it joins.
//!
//! * The fields a guardrail judges (the image, volume names) are resolved the way the TaskRun reconciler
//!   will resolve them (`tekton::variables`), and the result is judged.
//! * A sidecar's `workspaces` list becomes volume mounts (the volume named by `$(workspaces.<w>.volume)`,
//!   Tekton's path, `subPath` and `readOnly`): listed in `workspaces`, a workspace would be isolated and
//!   the steps that do not list it would lose it (`workspace.Apply` in `pkg/workspace/apply.go`).
//!   `$(workspaces.<w>.path)` in the sidecar becomes the path it lists, as Tekton would make it.
//! * The sidecar is held to `podSecurity` with what the TaskRun's `podTemplate` and the Task's volumes
//!   would give it, and a template is kept from the workspaces Tekton would mount over its files.

use k8s_openapi::api::core::v1::VolumeMount;
use serde_json::Value;

use super::surroundings;
use crate::declaration::Declared;
use crate::settings::Settings;
use crate::settings::images::image_problem;
use crate::settings::pod_level::{self, Surroundings};
use crate::support::error::{FieldError, listed};
use crate::support::json::array;
use crate::tekton::WORKSPACE_DIR;
use crate::tekton::safe_for_template;
use crate::tekton::sidecar::{Sidecar, internal_volume_problem};
use crate::tekton::variables::{MAX_PARAMS, Unresolved, Variables, has_variable, with_own_paths};
use crate::tekton::workspaces::declared_mount_path;

/// What an inline Task declares and its TaskRun binds, for the sidecars that join it.
pub(super) struct InlineTask<'a> {
    /// `spec.taskSpec.workspaces`.
    declarations: &'a [Value],
    /// `spec.workspaces`.
    bindings: &'a [Value],
    /// The workspaces a step or a sidecar of the Task lists: Tekton mounts the others into every sidecar.
    listed: Vec<&'a str>,
    /// The TaskRun's `podTemplate` and the Task's volumes.
    around: Surroundings<'a>,
}

impl<'a> InlineTask<'a> {
    pub(super) fn of(taskrun: &'a Value) -> Self {
        let spec = taskrun.pointer("/spec/taskSpec").unwrap_or(&Value::Null);
        let listed = array(spec, "/steps")
            .iter()
            .chain(array(spec, "/sidecars"))
            .flat_map(|container| array(container, "/workspaces"))
            .filter_map(|usage| usage.get("name").and_then(Value::as_str))
            .collect();
        InlineTask {
            declarations: array(spec, "/workspaces"),
            bindings: array(taskrun, "/spec/workspaces"),
            listed,
            around: surroundings(
                taskrun.pointer("/spec/podTemplate").unwrap_or(&Value::Null),
                array(spec, "/volumes"),
            ),
        }
    }

    /// The shared workspaces Tekton would mount into a template's sidecar where they could cover the files
    /// it runs: the inline Task's author is not the template's.
    fn over_template(&self, template: &str) -> Vec<FieldError> {
        let shared: Vec<(&str, String)> = self
            .declarations
            .iter()
            .filter_map(|declaration| {
                let name = declaration.get("name").and_then(Value::as_str)?;
                if self.listed.contains(&name) {
                    return None;
                }
                let path = declared_mount_path(declaration, name);
                Some((name, path))
            })
            .collect();
        let paths: Vec<&str> = shared.iter().map(|(_, path)| path.as_str()).collect();
        shared
            .iter()
            .filter(|(_, path)| has_variable(path) || !safe_for_template(path, &paths))
            .map(|(name, path)| {
                FieldError::new(
                    "template",
                    format!(
                        "the inline Task shares the workspace {name:?} at {path:?}, and Tekton mounts a shared workspace into every sidecar: over the files of template {template:?} there; a template joins an inline Task only if its shared workspaces are mounted at plain paths under {WORKSPACE_DIR}/, none inside another"
                    ),
                )
            })
            .collect()
    }

    /// The sidecar as it joins the Task: guarded fields judged after substitution, listed workspaces made
    /// into mounts. With the warnings for what it leaves out, or why it cannot join.
    pub(super) fn prepare(
        &self,
        entry: &Declared,
        variables: &Variables,
        settings: &Settings,
    ) -> Result<(Sidecar, Vec<String>), Vec<FieldError>> {
        let declared = &entry.sidecar;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        if let Some(template) = &entry.template {
            errors.extend(self.over_template(template));
        }
        let mut mounted: Vec<String> = Vec::new();
        let own_paths: Vec<(&str, &str)> = declared
            .workspaces
            .iter()
            .flatten()
            .filter(|w| !w.mount_path.is_empty())
            .map(|w| (w.name.as_str(), w.mount_path.as_str()))
            .collect();
        let variables = variables.for_sidecar(&own_paths);
        if let Some(image) = declared.image.as_deref().filter(|i| has_variable(i)) {
            match variables.resolve(image) {
                Err(why) => errors.push(unresolved("image", image, &why)),
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
                mounted.push(mount.name.clone());
                continue;
            }
            let path = format!("volumeMounts[{i}].name");
            match variables.resolve(&mount.name) {
                Err(why) => errors.push(unresolved(&path, &mount.name, &why)),
                Ok(resolved) => {
                    mounted.push(resolved.clone());
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
        let mounted: Vec<&str> = mounted.iter().map(String::as_str).collect();
        errors.extend(pod_level::problems(
            settings.pod_security,
            &self.around,
            declared.security_context.as_ref(),
            &mounted,
        ));
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
                .unwrap_or_else(|| declared_mount_path(&declaration, name));
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
        substitute_own_paths(&mut sidecar, &own_paths);
        Ok((sidecar, warnings))
    }
}

/// `$(workspaces.<w>.path)` made the path the sidecar listed `<w>` at (`own` holds only those), in the
/// fields Tekton substitutes: once the sidecar no longer lists the workspace, Tekton would make it the
/// Task's path instead.
fn substitute_own_paths(sidecar: &mut Sidecar, own: &[(&str, &str)]) {
    let own = |text: &mut String| {
        if text.contains("$(workspaces.") {
            *text = with_own_paths(text, own);
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

/// The refusal of a guarded field whose value after Tekton's substitution is not known.
fn unresolved(path: &str, value: &str, why: &Unresolved) -> FieldError {
    let message = match why {
        Unresolved::Left(reference) => format!(
            "{value:?}: Tekton cannot resolve {reference} in this TaskRun (from its params and their defaults, context.taskRun.name and namespace, context.task.name, workspaces, results, steps or credentials.path) and would use it as written; pass the param, or write the value"
        ),
        Unresolved::TooManyParams => format!(
            "{value:?}: this TaskRun and its Task have more than {MAX_PARAMS} params, more than the policy works out variables for; write the value"
        ),
    };
    FieldError::new(path, message)
}
