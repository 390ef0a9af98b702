//! Tekton's variable substitution into a Task's sidecars, as the TaskRun reconciler applies it
//! (`applyParamsContextsResultsAndWorkspaces` in `pkg/reconciler/taskrun/taskrun.go`, the `Apply*`
//! functions of `pkg/reconciler/taskrun/resources/apply.go`, `ApplySidecarReplacements` in
//! `pkg/container`): plain text, one pass, `$(key)` replaced by its value; a key Tekton does not know
//! stays in the text as written.
//!
//! The policy needs it to judge what will run rather than what was written: a declaration's
//! `image: $(params.image)` in an inline Task becomes whatever the TaskRun's param says.

use std::collections::BTreeMap;

use serde_json::Value;

use super::workspaces::create_volumes;
use super::{CONTAINER_PREFIX, STEP_PREFIX, WORKSPACE_DIR};
use crate::support::json::array;

/// Where Tekton writes a Task's results (`pipeline.DefaultResultPath`).
const RESULTS_DIR: &str = "/tekton/results";
/// Where the steps' exit codes are (`pipeline.StepsDir`).
const STEPS_DIR: &str = "/tekton/steps";
/// `$(credentials.path)` (`pipeline.CredsDir`).
const CREDS_DIR: &str = "/tekton/creds";

/// Whether `text` holds a variable reference.
pub(crate) fn has_variable(text: &str) -> bool {
    text.contains("$(")
}

/// The string replacements Tekton makes in an inline Task's sidecars, keyed without `$( )`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Variables {
    values: BTreeMap<String, String>,
}

impl Variables {
    /// What Tekton will substitute in the sidecars of `taskrun`'s inline `spec.taskSpec` at its first
    /// reconcile: params (the TaskRun's values over the Task's defaults), context, workspaces, results,
    /// step exit-code paths and the credentials path. The TaskRun's name and uid are not known when it is
    /// created with `generateName`, and so not resolvable.
    pub(crate) fn for_inline_taskrun(taskrun: &Value) -> Variables {
        let mut variables = Variables::default();
        let spec = taskrun.pointer("/spec/taskSpec").unwrap_or(&Value::Null);
        variables.params(spec, taskrun);
        variables.context(taskrun);
        variables.workspaces(spec, taskrun);
        for result in array(spec, "/results") {
            if let Some(name) = result.get("name").and_then(Value::as_str) {
                let path = format!("{RESULTS_DIR}/{name}");
                for key in [
                    format!("results.{name}.path"),
                    format!("results[{name:?}].path"),
                    format!("results['{name}'].path"),
                ] {
                    variables.values.insert(key, path.clone());
                }
            }
        }
        for (i, step) in array(spec, "/steps").iter().enumerate() {
            let container = match step.get("name").and_then(Value::as_str) {
                Some(name) if !name.is_empty() => format!("{STEP_PREFIX}{name}"),
                _ => format!("{STEP_PREFIX}unnamed-{i}"),
            };
            variables.values.insert(
                format!("steps.{container}.exitCode.path"),
                format!("{STEPS_DIR}/{container}/exitCode"),
            );
        }
        variables
            .values
            .insert("credentials.path".to_string(), CREDS_DIR.to_string());
        variables
    }

    /// `getTaskParameters`: the Task's defaults (whose own `$(params.*)` are resolved against the other
    /// defaults), then every TaskRun param over them, declared or not.
    fn params(&mut self, spec: &Value, taskrun: &Value) {
        let mut defaults = Variables::default();
        for param in array(spec, "/params") {
            if let (Some(name), Some(value)) = (
                param.get("name").and_then(Value::as_str),
                param.get("default"),
            ) {
                defaults.param(name, value);
            }
        }
        let resolved: Vec<(String, String)> = defaults
            .values
            .iter()
            .map(|(key, value)| (key.clone(), defaults.substitute(value)))
            .collect();
        self.values.extend(resolved);
        for param in array(taskrun, "/spec/params") {
            if let (Some(name), Some(value)) = (
                param.get("name").and_then(Value::as_str),
                param.get("value"),
            ) {
                self.param(name, value);
            }
        }
    }

    /// The keys of one param (`replacementsFromParams`): `params.X`, `params["X"]`, `params['X']` and
    /// `inputs.params.X`; `[i]` for each element of an array; `params.X.key` for each key of an object.
    fn param(&mut self, name: &str, value: &Value) {
        let prefixes = [
            format!("params.{name}"),
            format!("params[{name:?}]"),
            format!("params['{name}']"),
            format!("inputs.params.{name}"),
        ];
        match value {
            Value::String(text) => {
                for prefix in prefixes {
                    self.values.insert(prefix, text.clone());
                }
            }
            Value::Array(items) => {
                for prefix in &prefixes {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(text) = item.as_str() {
                            self.values
                                .insert(format!("{prefix}[{i}]"), text.to_string());
                        }
                    }
                }
            }
            Value::Object(fields) => {
                for (key, item) in fields {
                    if let Some(text) = item.as_str() {
                        self.values
                            .insert(format!("params.{name}.{key}"), text.to_string());
                    }
                }
            }
            _ => {}
        }
    }

    /// `getContextReplacements`; for an inline spec the task's name is the TaskRun's.
    fn context(&mut self, taskrun: &Value) {
        let meta = |field: &str| {
            taskrun
                .pointer(&format!("/metadata/{field}"))
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let known = [
            ("context.taskRun.name", meta("name")),
            ("context.task.name", meta("name")),
            ("context.taskRun.namespace", meta("namespace")),
            ("context.taskRun.uid", meta("uid")),
            ("context.task.retry-count", Some("0")),
        ];
        for (key, value) in known {
            if let Some(value) = value {
                self.values.insert(key.to_string(), value.to_string());
            }
        }
    }

    /// `ApplyWorkspaces`: for each declared workspace (and each binding the Task does not declare),
    /// `bound`, `path`, `volume` and `claim`.
    fn workspaces(&mut self, spec: &Value, taskrun: &Value) {
        let bindings = array(taskrun, "/spec/workspaces");
        let volumes = create_volumes(bindings);
        let bound = |name: &str| {
            bindings
                .iter()
                .any(|b| b.get("name").and_then(Value::as_str) == Some(name))
        };
        let declarations = array(spec, "/workspaces");
        let undeclared = bindings.iter().filter(|b| {
            let name = b.get("name").and_then(Value::as_str);
            !declarations
                .iter()
                .any(|d| d.get("name").and_then(Value::as_str) == name)
        });
        for declaration in declarations.iter().chain(undeclared) {
            let Some(name) = declaration.get("name").and_then(Value::as_str) else {
                continue;
            };
            let optional = declaration.get("optional") == Some(&Value::Bool(true));
            let prefix = format!("workspaces.{name}");
            if optional && !bound(name) {
                self.values
                    .insert(format!("{prefix}.bound"), "false".to_string());
                self.values.insert(format!("{prefix}.path"), String::new());
            } else {
                let path = declaration
                    .get("mountPath")
                    .and_then(Value::as_str)
                    .filter(|p| !p.is_empty())
                    .map_or_else(|| format!("{WORKSPACE_DIR}/{name}"), str::to_string);
                self.values
                    .insert(format!("{prefix}.bound"), "true".to_string());
                self.values.insert(format!("{prefix}.path"), path);
            }
        }
        for binding in bindings {
            let Some(name) = binding.get("name").and_then(Value::as_str) else {
                continue;
            };
            if let Some(volume) = volumes.get(name) {
                self.values
                    .insert(format!("workspaces.{name}.volume"), volume.name.clone());
            }
            let claim = binding
                .pointer("/persistentVolumeClaim/claimName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            self.values
                .insert(format!("workspaces.{name}.claim"), claim.to_string());
        }
    }

    /// These variables with `workspaces.<w>.path` set to `path` for the workspaces a sidecar lists with
    /// its own `mountPath` (`applyWorkspaceMountPath`).
    pub(crate) fn with_paths<'a>(
        &self,
        own: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Variables {
        let mut variables = self.clone();
        for (workspace, path) in own {
            variables
                .values
                .insert(format!("workspaces.{workspace}.path"), path.to_string());
        }
        variables
    }

    /// `text` with every known variable replaced, in one pass; unknown ones stay as written.
    pub(crate) fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("$(") {
            let (before, from) = rest.split_at(start);
            out.push_str(before);
            let Some(end) = from.find(')') else {
                out.push_str(from);
                return out;
            };
            let (reference, after) = from.split_at(end + 1);
            match reference.get(2..end).and_then(|key| self.values.get(key)) {
                Some(value) => out.push_str(value),
                None => out.push_str(reference),
            }
            rest = after;
        }
        out.push_str(rest);
        out
    }

    /// `text` as Tekton will make it, or the first variable Tekton leaves as written.
    pub(crate) fn resolve(&self, text: &str) -> Result<String, String> {
        let resolved = self.substitute(text);
        match unresolved(text, self) {
            Some(reference) => Err(reference),
            None => Ok(resolved),
        }
    }
}

/// The first `$(...)` of `text` that `variables` does not know.
fn unresolved(text: &str, variables: &Variables) -> Option<String> {
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        let from = rest.get(start..).unwrap_or_default();
        let end = from.find(')').unwrap_or(from.len().saturating_sub(1));
        let reference = from.get(..=end).unwrap_or(from);
        let key = reference.get(2..end).unwrap_or_default();
        if !variables.values.contains_key(key) {
            return Some(reference.to_string());
        }
        rest = from.get(end + 1..).unwrap_or_default();
    }
    None
}

/// The container name Tekton gives a sidecar: `names.SimpleNameGenerator.RestrictLength("sidecar-" +
/// name)`, the first 63 bytes without trailing characters that are not letters or digits.
pub(crate) fn sidecar_container_name(name: &str) -> String {
    let mut container = format!("{CONTAINER_PREFIX}{name}");
    let mut end = container.len().min(63);
    while !container.is_char_boundary(end) {
        end -= 1;
    }
    container.truncate(end);
    let kept = container
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
        .len();
    container.truncate(kept);
    container
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn taskrun() -> Value {
        json!({
            "metadata": {"name": "run-build", "namespace": "team-a"},
            "spec": {
                "params": [{"name": "image", "value": "postgres:16"}, {"name": "list", "value": ["a", "b"]},
                           {"name": "obj", "value": {"tag": "16"}}],
                "workspaces": [{"name": "source", "persistentVolumeClaim": {"claimName": "src"}},
                               {"name": "cache", "persistentVolumeClaim": {"claimName": "src"}, "subPath": "c"}],
                "taskSpec": {
                    "params": [{"name": "image", "default": "postgres:14"}, {"name": "registry", "default": "docker.io"},
                               {"name": "full", "default": "$(params.registry)/library/redis"}],
                    "workspaces": [{"name": "source", "mountPath": "/src"}, {"name": "maybe", "optional": true}],
                    "results": [{"name": "digest"}],
                    "steps": [{"name": "build", "image": "golang"}, {"image": "alpine"}]
                }
            }
        })
    }

    #[rstest::rstest]
    #[case("$(params.image)", Ok("postgres:16"))]
    #[case("$(params[\"image\"])", Ok("postgres:16"))]
    #[case("$(params['image'])", Ok("postgres:16"))]
    #[case("$(inputs.params.image)", Ok("postgres:16"))]
    #[case("$(params.registry)/x", Ok("docker.io/x"))]
    #[case("$(params.full)", Ok("docker.io/library/redis"))]
    #[case("$(params.list[1])", Ok("b"))]
    #[case("postgres:$(params.obj.tag)", Ok("postgres:16"))]
    #[case(
        "$(context.taskRun.name)-$(context.task.name)",
        Ok("run-build-run-build")
    )]
    #[case("$(context.taskRun.namespace)", Ok("team-a"))]
    #[case("$(workspaces.source.path)", Ok("/src"))]
    #[case("$(workspaces.cache.path)", Ok("/workspace/cache"))]
    #[case("$(workspaces.maybe.bound)$(workspaces.maybe.path)", Ok("false"))]
    #[case("$(workspaces.cache.volume)", Ok("ws-1bcf2"))]
    #[case("$(workspaces.cache.claim)", Ok("src"))]
    #[case("$(results.digest.path)", Ok("/tekton/results/digest"))]
    #[case(
        "$(steps.step-unnamed-1.exitCode.path)",
        Ok("/tekton/steps/step-unnamed-1/exitCode")
    )]
    #[case("$(credentials.path)", Ok("/tekton/creds"))]
    #[case("$(context.taskRun.uid)", Err("$(context.taskRun.uid)"))]
    #[case("x$(params.nope)y", Err("$(params.nope)"))]
    #[case("$(context.pipelineRun.name)", Err("$(context.pipelineRun.name)"))]
    #[case("$(params.list)", Err("$(params.list)"))]
    #[case("no variable", Ok("no variable"))]
    #[case("$(unclosed", Err("$(unclosed"))]
    fn resolves_what_tekton_resolves(#[case] text: &str, #[case] expected: Result<&str, &str>) {
        let variables = Variables::for_inline_taskrun(&taskrun());
        assert_eq!(
            variables.resolve(text),
            expected.map(str::to_string).map_err(str::to_string)
        );
    }

    #[test]
    fn one_pass_only() {
        let mut taskrun = taskrun();
        taskrun["spec"]["params"][0]["value"] = json!("$(params.registry)");
        let variables = Variables::for_inline_taskrun(&taskrun);
        assert_eq!(
            variables.substitute("$(params.image)"),
            "$(params.registry)"
        );
    }

    #[test]
    fn a_sidecar_s_own_mount_path_is_its_workspace_path() {
        let variables = Variables::for_inline_taskrun(&taskrun());
        let own = variables.with_paths([("source", "/mine")].into_iter());
        assert_eq!(own.substitute("$(workspaces.source.path)"), "/mine");
    }

    #[rstest::rstest]
    #[case("db", "sidecar-db")]
    #[case(&"a".repeat(55), &format!("sidecar-{}", "a".repeat(55)))]
    #[case(&"a".repeat(63), &format!("sidecar-{}", "a".repeat(55)))]
    #[case(&format!("{}-b", "a".repeat(54)), &format!("sidecar-{}", "a".repeat(54)))]
    fn container_names_are_cut_as_tekton_cuts_them(#[case] name: &str, #[case] expected: &str) {
        assert_eq!(sidecar_container_name(name), expected);
    }
}
