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

use serde_json::{Map, Value};

use super::{Container, surroundings};
use crate::declaration::Declared;
use crate::settings::Settings;
use crate::settings::images::image_problem;
use crate::settings::pod_level::{self, Surroundings};
use crate::support::error::{FieldError, listed};
use crate::support::json::array;
use crate::tekton::WORKSPACE_DIR;
use crate::tekton::safe_for_template;
use crate::tekton::sidecar::{internal_volume_problem, text};
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
    ) -> Result<(Container, Vec<String>), Vec<FieldError>> {
        let declared = &entry.sidecar;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        if let Some(template) = &entry.template {
            errors.extend(self.over_template(template));
        }
        let mut mounted: Vec<String> = Vec::new();
        let own_paths: Vec<(&str, &str)> = declared
            .list("workspaces")
            .iter()
            .map(|w| (text(w, "name"), text(w, "mountPath")))
            .filter(|(_, path)| !path.is_empty())
            .collect();
        let variables = variables.for_sidecar(&own_paths);
        if let Some(image) = declared.text("image").filter(|i| has_variable(i)) {
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
        for (i, mount) in declared.list("volumeMounts").iter().enumerate() {
            let name = text(mount, "name");
            if !has_variable(name) {
                mounted.push(name.to_string());
                continue;
            }
            let path = format!("volumeMounts[{i}].name");
            match variables.resolve(name) {
                Err(why) => errors.push(unresolved(&path, name, &why)),
                Ok(resolved) => {
                    if let Some(problem) = internal_volume_problem(&resolved) {
                        errors.push(FieldError::new(
                            path,
                            format!("{name:?} is {resolved:?} in this TaskRun: {problem}"),
                        ));
                    }
                    mounted.push(resolved);
                }
            }
        }
        let mounted: Vec<&str> = mounted.iter().map(String::as_str).collect();
        errors.extend(pod_level::problems(
            settings.pod_security,
            &self.around,
            declared.get("securityContext"),
            &mounted,
        ));
        let mut mounts: Vec<Value> = declared.list("volumeMounts").to_vec();
        for (i, usage) in declared.list("workspaces").iter().enumerate() {
            let name = text(usage, "name");
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
            let own_path = text(usage, "mountPath");
            let mount_path = if own_path.is_empty() {
                declared_mount_path(&declaration, name)
            } else {
                own_path.to_string()
            };
            if mounts.iter().any(|m| text(m, "mountPath") == mount_path) {
                continue;
            }
            let mut mount = Map::new();
            mount.insert(
                "name".to_string(),
                Value::String(format!("$(workspaces.{name}.volume)")),
            );
            mount.insert("mountPath".to_string(), Value::String(mount_path));
            if let Some(sub_path) = binding
                .get("subPath")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
            {
                mount.insert("subPath".to_string(), Value::from(sub_path));
            }
            if declaration.get("readOnly") == Some(&Value::Bool(true)) {
                mount.insert("readOnly".to_string(), Value::Bool(true));
            }
            mounts.push(Value::Object(mount));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if mounts.len() > declared.list("volumeMounts").len() {
            warnings.push(super::LISTING_SHARES.to_string());
        }
        let mut sidecar = declared.fields().clone();
        sidecar.remove("workspaces");
        sidecar.remove("volumeMounts");
        if !mounts.is_empty() {
            sidecar.insert("volumeMounts".to_string(), Value::Array(mounts));
        }
        substitute_own_paths(&mut sidecar, &own_paths);
        Ok((sidecar, warnings))
    }
}

/// `$(workspaces.<w>.path)` made the path the sidecar listed `<w>` at (`own` holds only those), in the
/// fields Tekton substitutes: once the sidecar no longer lists the workspace, Tekton would make it the
/// Task's path instead.
fn substitute_own_paths(sidecar: &mut Map<String, Value>, own: &[(&str, &str)]) {
    if own.is_empty() {
        return;
    }
    let own = |value: &mut Value| {
        if let Value::String(text) = value
            && text.contains("$(workspaces.")
        {
            *text = with_own_paths(text, own);
        }
    };
    for field in ["script", "workingDir"] {
        sidecar.get_mut(field).into_iter().for_each(own);
    }
    for list in ["command", "args"] {
        if let Some(Value::Array(items)) = sidecar.get_mut(list) {
            items.iter_mut().for_each(own);
        }
    }
    let nested = [
        ("env", &["value"][..]),
        ("volumeMounts", &["mountPath", "subPath"][..]),
    ];
    for (list, fields) in nested {
        if let Some(Value::Array(items)) = sidecar.get_mut(list) {
            for item in items {
                for field in fields {
                    item.get_mut(field).into_iter().for_each(own);
                }
            }
        }
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
