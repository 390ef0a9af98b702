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

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::workspaces::Mounts;
use super::{Container, surroundings};
use crate::declaration::Declared;
use crate::settings::Settings;
use crate::settings::images::image_problem;
use crate::settings::pod_level::{self, Surroundings};
use crate::support::error::{FieldError, listed};
use crate::support::json::{array, by_name};
use crate::tekton::WORKSPACE_DIR;
use crate::tekton::safe_for_template;
use crate::tekton::sidecar::{Sidecar, internal_volume_problem, text};
use crate::tekton::variables::{
    Ambiguous, MAX_PARAMS, Unresolved, Variables, has_variable, only_params, with_own_paths,
};
use crate::tekton::workspaces::declared_mount_path;

/// What an inline Task declares and its TaskRun binds, for the sidecars that join it.
pub(super) struct InlineTask<'a> {
    /// `spec.taskSpec.workspaces`.
    declarations: &'a [Value],
    /// Those by name, and `spec.workspaces` by name: the first of a name is the one a search finds (a
    /// list rather than one, for a map type the module has already).
    declared: BTreeMap<&'a str, Vec<&'a Value>>,
    bindings: BTreeMap<&'a str, Vec<&'a Value>>,
    /// config-defaults' binding, which Tekton gives every required workspace left unbound, if known.
    default_binding: Option<&'a Value>,
    /// The workspaces a step or a sidecar of the Task lists: Tekton mounts the others into every sidecar.
    listed: BTreeSet<&'a str>,
    /// The TaskRun's `podTemplate` and the Task's volumes.
    around: Surroundings<'a>,
}

impl<'a> InlineTask<'a> {
    /// The inline Task of `taskrun`, with config-defaults' `default_binding`, if known.
    pub(super) fn of(taskrun: &'a Value, default_binding: Option<&'a Value>) -> Self {
        let spec = taskrun.pointer("/spec/taskSpec").unwrap_or(&Value::Null);
        let listed = array(spec, "/steps")
            .iter()
            .chain(array(spec, "/sidecars"))
            .flat_map(|container| array(container, "/workspaces"))
            .filter_map(|usage| usage.get("name").and_then(Value::as_str))
            .collect();
        InlineTask {
            declarations: array(spec, "/workspaces"),
            declared: by_name(array(spec, "/workspaces")),
            bindings: by_name(array(taskrun, "/spec/workspaces")),
            default_binding,
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
        let safe = safe_for_template(&paths);
        shared
            .iter()
            .zip(safe)
            .filter(|((_, path), safe)| has_variable(path) || !safe)
            .map(|((name, path), _)| {
                FieldError::new(
                    "template",
                    format!(
                        "the inline Task shares the workspace {name:?} at {path:?}, and Tekton mounts a shared workspace into every sidecar: over the files of template {template:?} there; a template joins an inline Task only if its shared workspaces are mounted at plain paths under {WORKSPACE_DIR}/, none inside another"
                    ),
                )
            })
            .collect()
    }

    /// The sidecar as it joins the Task, in place of `replaced` (the Task's sidecar of that name, if any):
    /// listed workspaces made into mounts, guarded fields judged as Tekton will substitute them there.
    /// With the warnings for what it leaves out, or why it cannot join.
    pub(super) fn prepare(
        &self,
        entry: &Declared,
        replaced: Option<&Value>,
        variables: &Variables,
        settings: &Settings,
    ) -> Result<(Container, Vec<String>), Vec<FieldError>> {
        let declared = &entry.sidecar;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        if let Some(template) = &entry.template {
            errors.extend(self.over_template(template));
        }
        let mounts = self.workspace_mounts(declared.list("workspaces"), &mut errors, &mut warnings);
        let sidecar = joined(declared, mounts, replaced, |w| self.path_applies(w));
        let mounted = judge(declared, &sidecar, variables, settings, &mut errors);
        let mounted: Vec<&str> = mounted.iter().map(String::as_str).collect();
        errors.extend(pod_level::problems(
            settings.pod_security,
            &self.around,
            declared.get("securityContext"),
            &mounted,
        ));
        if !errors.is_empty() {
            return Err(errors);
        }
        if array_of(&sidecar, "volumeMounts").len() > declared.list("volumeMounts").len() {
            warnings.push(super::LISTING_SHARES.to_string());
        }
        Ok((sidecar, warnings))
    }

    /// Whether Tekton gives workspace `name` a path (`applyWorkspaceMountPath`): not when it is optional
    /// and unbound, where `$(workspaces.<name>.path)` is empty (`ApplyWorkspaces`). A required one left
    /// unbound is bound by config-defaults, or the TaskRun does not run.
    fn path_applies(&self, name: &str) -> bool {
        let undeclared = !self.declared.contains_key(name);
        self.bindings.contains_key(name) || undeclared || self.required(name)
    }

    /// The binding of workspace `name`: the TaskRun's, else, for a required one, config-defaults'.
    fn binding(&self, name: &str) -> Option<&'a Value> {
        let own = self.bindings.get(name).and_then(|all| all.first()).copied();
        own.or_else(|| self.default_binding.filter(|_| self.required(name)))
    }

    /// Whether the Task declares workspace `name` and not as `optional`.
    fn required(&self, name: &str) -> bool {
        let declaration = self.declared.get(name).and_then(|all| all.first());
        declaration.is_some_and(|d| d.get("optional") != Some(&Value::Bool(true)))
    }

    /// Whether a sidecar of `pending` lists a required workspace the TaskRun leaves unbound: one only
    /// config-defaults' binding gives a mount.
    pub(super) fn leaves_to_defaults<'d>(
        &self,
        mut pending: impl Iterator<Item = &'d Declared>,
    ) -> bool {
        pending.any(|entry| {
            let listed = entry.sidecar.list("workspaces").iter();
            listed
                .map(|usage| text(usage, "name"))
                .any(|name| self.required(name) && !self.bindings.contains_key(name))
        })
    }

    /// The mounts that stand for the workspaces the sidecar lists (`usages`): the volume named by
    /// `$(workspaces.<w>.volume)`, the path it lists or the Task's, the binding's `subPath`, `readOnly`.
    fn workspace_mounts(
        &self,
        usages: &[Value],
        errors: &mut Vec<FieldError>,
        warnings: &mut Vec<String>,
    ) -> Vec<Value> {
        let mut mounts = Vec::new();
        for (i, usage) in usages.iter().enumerate() {
            let name = text(usage, "name");
            let Some(declaration) = self.declared.get(name).and_then(|all| all.first()) else {
                errors.push(self.undeclared(i, name));
                continue;
            };
            let Some(binding) = self.binding(name) else {
                warnings.push(format!("workspace {name:?} is not bound: no mount for it"));
                continue;
            };
            let sub_path = binding.get("subPath").and_then(Value::as_str);
            if sub_path.is_some_and(|p| !only_params(p)) {
                warnings.push(format!(
                    "workspace {name:?}: subPath not substituted for steps: no mount"
                ));
                continue;
            }
            let own_path = text(usage, "mountPath");
            let mount_path = if own_path.is_empty() {
                declared_mount_path(declaration, name)
            } else {
                own_path.to_string()
            };
            let mut mount = Map::new();
            mount.insert(
                "name".to_string(),
                Value::String(format!("$(workspaces.{name}.volume)")),
            );
            mount.insert("mountPath".to_string(), Value::String(mount_path));
            if let Some(sub_path) = sub_path.filter(|p| !p.is_empty()) {
                mount.insert("subPath".to_string(), Value::from(sub_path));
            }
            if declaration.get("readOnly") == Some(&Value::Bool(true)) {
                mount.insert("readOnly".to_string(), Value::Bool(true));
            }
            mounts.push(Value::Object(mount));
        }
        mounts
    }

    /// The refusal of the `i`th listed workspace, `name`, which the inline Task does not declare.
    fn undeclared(&self, i: usize, name: &str) -> FieldError {
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
        FieldError::new(
            format!("workspaces[{i}].name"),
            format!(
                "the inline Task declares no workspace {name:?}, and Tekton refuses a sidecar that uses one it does not declare; {hint}"
            ),
        )
    }
}

/// The declared sidecar as it stands in the Task: its listed workspaces replaced by `mounts` (after its
/// own volume mounts, none at a path one of them has), `$(workspaces.<w>.path)` made the path it listed
/// where Tekton gives `<w>` a path (`path_applies`), and the workspaces `replaced` lists kept: those are
/// isolated to that sidecar (`workspace.Apply`), and replacing it must not hand them to the steps or to
/// other sidecars.
fn joined(
    declared: &Sidecar,
    mounts: Vec<Value>,
    replaced: Option<&Value>,
    path_applies: impl Fn(&str) -> bool,
) -> Container {
    let own_paths: Vec<(&str, &str)> = declared
        .list("workspaces")
        .iter()
        .map(|w| (text(w, "name"), text(w, "mountPath")))
        .filter(|(name, path)| !path.is_empty() && path_applies(name))
        .collect();
    let mut all = Mounts::new(declared.list("volumeMounts").to_vec());
    for mount in mounts {
        all.add(mount);
    }
    let all = all.list;
    let mut sidecar = declared.fields().clone();
    sidecar.remove("workspaces");
    sidecar.remove("volumeMounts");
    if !all.is_empty() {
        sidecar.insert("volumeMounts".to_string(), Value::Array(all));
    }
    substitute_own_paths(&mut sidecar, &own_paths);
    if let Some(listed) = replaced.and_then(|r| r.get("workspaces")) {
        sidecar.insert("workspaces".to_string(), listed.clone());
    }
    sidecar
}

/// Judges what a guardrail reads of `sidecar` (what `declared` became in the Task) as Tekton will
/// substitute it, where the declaration wrote a variable: its image against `allowedImages`, and the
/// names of the volume mounts it declared against Tekton's internal volumes. Returns those names as
/// resolved. A path the declaration listed is written in already, so the text may hold no variable.
fn judge(
    declared: &Sidecar,
    sidecar: &Container,
    variables: &Variables,
    settings: &Settings,
    errors: &mut Vec<FieldError>,
) -> Vec<String> {
    let own_paths: Vec<(&str, &str)> = array_of(sidecar, "workspaces")
        .iter()
        .map(|w| (text(w, "name"), text(w, "mountPath")))
        .filter(|(_, path)| !path.is_empty())
        .collect();
    let variables = variables.for_sidecar(&own_paths);
    if let Some(written) = declared.text("image").filter(|i| has_variable(i)) {
        let image = sidecar
            .get("image")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match variables.resolve(image) {
            Err(why) => errors.push(unresolved("image", written, &why)),
            Ok(resolved) => {
                if let Some(problem) = image_problem(&resolved, &settings.allowed_images) {
                    errors.push(FieldError::new(
                        "image",
                        format!("{written:?} is {resolved:?} in this TaskRun, and {problem}"),
                    ));
                }
            }
        }
    }
    let mut mounted = Vec::new();
    let mounts = declared
        .list("volumeMounts")
        .iter()
        .zip(array_of(sidecar, "volumeMounts"));
    for (i, (mount, made)) in mounts.enumerate() {
        let written = text(mount, "name");
        if !has_variable(written) {
            mounted.push(written.to_string());
            continue;
        }
        let path = format!("volumeMounts[{i}].name");
        match variables.resolve(text(made, "name")) {
            Err(why) => errors.push(unresolved(&path, written, &why)),
            Ok(resolved) => {
                if let Some(problem) = internal_volume_problem(&resolved) {
                    errors.push(FieldError::new(
                        path,
                        format!("{written:?} is {resolved:?} in this TaskRun: {problem}"),
                    ));
                }
                mounted.push(resolved);
            }
        }
    }
    mounted
}

/// The list `field` of `container`, or none.
fn array_of<'c>(container: &'c Container, field: &str) -> &'c [Value] {
    match container.get(field) {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}

/// The fields of a sidecar Tekton substitutes (`ApplySidecarReplacements` and `applyContainerReplacements`
/// in `pkg/container`): top-level strings, lists of strings, and strings in the entries of lists.
const SUBSTITUTED: [&str; 5] = ["name", "image", "imagePullPolicy", "workingDir", "script"];
const SUBSTITUTED_LISTS: [&str; 2] = ["command", "args"];
const SUBSTITUTED_IN_ENTRIES: [(&str, &[&str]); 3] = [
    (
        "env",
        &[
            "/value",
            "/valueFrom/secretKeyRef/name",
            "/valueFrom/secretKeyRef/key",
            "/valueFrom/configMapKeyRef/name",
            "/valueFrom/configMapKeyRef/key",
        ],
    ),
    (
        "envFrom",
        &["/prefix", "/configMapRef/name", "/secretRef/name"],
    ),
    ("volumeMounts", &["/name", "/mountPath", "/subPath"]),
];

/// `$(workspaces.<w>.path)` made the path the sidecar listed `<w>` at (`own` holds only those), in every
/// field Tekton substitutes, as Tekton's path pass would make it: once the sidecar no longer lists the
/// workspace, Tekton would make it the Task's path instead.
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
    for field in SUBSTITUTED {
        sidecar.get_mut(field).into_iter().for_each(own);
    }
    for list in SUBSTITUTED_LISTS {
        if let Some(Value::Array(items)) = sidecar.get_mut(list) {
            items.iter_mut().for_each(own);
        }
    }
    for (list, pointers) in SUBSTITUTED_IN_ENTRIES {
        if let Some(Value::Array(items)) = sidecar.get_mut(list) {
            for item in items {
                for pointer in pointers {
                    item.pointer_mut(pointer).into_iter().for_each(own);
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
        Unresolved::Ambiguous(Ambiguous { key }) => format!(
            "{value:?}: the variable $({key}) holds a \")\", so which variable Tekton replaces here depends on the order of a Go map; rename the key"
        ),
        Unresolved::OddWorkspace(name) => format!(
            "{value:?}: this TaskRun has a workspace named {name:?}, and a name holding \"$(\" or \")\" lets Tekton's passes over workspace paths read a variable otherwise than it is written; rename the workspace"
        ),
        Unresolved::TooManyParams => format!(
            "{value:?}: this TaskRun and its Task have more than {MAX_PARAMS} params, more than the policy works out variables for; write the value"
        ),
    };
    FieldError::new(path, message)
}
