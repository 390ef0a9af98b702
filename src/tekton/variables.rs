//! Tekton's variable substitution into a Task's sidecars, as the TaskRun reconciler applies it
//! (`applyParamsContextsResultsAndWorkspaces` in `pkg/reconciler/taskrun/taskrun.go`, the `Apply*`
//! functions of `pkg/reconciler/taskrun/resources/apply.go`, `ApplySidecarReplacements` in
//! `pkg/container`).
//!
//! Tekton substitutes in passes, each one pass of plain replacements over what the passes before made
//! (`substitution.ApplyReplacements`, a `strings.Replacer`): params, then context, task results, step
//! exit-code paths, each bound workspace's path, the workspaces' other variables, and last, when the Pod
//! is built, `credentials.path`. A param's value can hold a variable of a later pass, and Tekton then
//! substitutes that too; a key Tekton does not know stays in the text as written.
//!
//! The policy needs it to judge what will run rather than what was written: a declaration's
//! `image: $(params.image)` in an inline Task becomes whatever the TaskRun's param says.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;

use serde_json::Value;

use super::params::{go_quoted, params};
pub(crate) use super::replacements::Ambiguous;
use super::replacements::{Replacements, replace_once};
use super::workspaces::{create_volumes, declared_mount_path};
use super::{CONTAINER_PREFIX, STEP_PREFIX};
use crate::support::error::FieldError;
use crate::support::json::array;

/// Where Tekton writes a Task's results (`pipeline.DefaultResultPath`).
const RESULTS_DIR: &str = "/tekton/results";
/// Where the steps' exit codes are (`pipeline.StepsDir`).
const STEPS_DIR: &str = "/tekton/steps";
/// `$(credentials.path)` (`pipeline.CredsDir`).
const CREDS_DIR: &str = "/tekton/creds";
/// The most params (the TaskRun's and the Task's defaults, each) whose variables the policy works out.
/// Each costs a few map entries; a Task with more would be refused at its first variable.
pub(crate) const MAX_PARAMS: usize = 1000;

/// The roots of the variables Tekton substitutes in a Task (`pkg/reconciler/taskrun/resources/apply.go`
/// and `pkg/substitution`); `$(NAME)` alone is Kubernetes' own reference to an env var, kept as written.
const TEKTON_ROOTS: [&str; 7] = [
    "params",
    "context",
    "workspaces",
    "results",
    "steps",
    "credentials",
    "artifacts",
];

/// Whether a string anywhere in `value` names a variable Tekton would substitute in a Task's sidecar.
/// Tekton replaces `$(<key>)` exactly (`ApplyReplacements` in `pkg/substitution/replacements.go`), so
/// `$( params.x)` is no variable of its.
pub(crate) fn names_tekton_variable(value: &Value) -> bool {
    match value {
        Value::String(text) => references(text).any(|rest| {
            TEKTON_ROOTS.iter().any(|root| {
                rest.strip_prefix(root)
                    .is_some_and(|after| after.starts_with(['.', '[']))
            })
        }),
        Value::Array(items) => items.iter().any(names_tekton_variable),
        Value::Object(members) => members.values().any(names_tekton_variable),
        _ => false,
    }
}

/// What follows each `$(` in `text`: the references it holds, each to the end of the text.
fn references(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("$(")
        .filter_map(|(at, _)| text.get(at + 2..))
}

/// Whether every reference in `text` is to a param: what Tekton substitutes in a binding's `subPath` for
/// the steps (`ApplyParametersToWorkspaceBindings`) as in a sidecar's volume mount, where it also
/// substitutes the context.
pub(crate) fn only_params(text: &str) -> bool {
    references(text).all(|rest| rest.starts_with("params."))
}

/// Whether `text` holds a variable reference.
pub(crate) fn has_variable(text: &str) -> bool {
    text.contains("$(")
}

/// What Tekton will substitute in the sidecars of an inline Task, pass by pass.
#[derive(Debug, Default)]
pub(crate) struct Variables {
    passes: Vec<Pass>,
    /// More params than [`MAX_PARAMS`]: nothing is worked out.
    too_many_params: bool,
    /// A workspace name holding `$(` or `)`: nothing is worked out.
    odd_workspace: Option<String>,
}

impl Variables {
    /// What Tekton will substitute in the sidecars of `taskrun`'s inline `spec.taskSpec` at its first
    /// reconcile. The TaskRun's name is not known when it is created with `generateName`, nor its uid
    /// (the API server sets both after the mutating admission), nor the retry count of a later attempt:
    /// those are not resolvable. `named` is the TaskRun's metadata, which admission has read.
    pub(crate) fn for_inline_taskrun(taskrun: &Value, named: Named<'_>) -> Variables {
        let spec = taskrun.pointer("/spec/taskSpec").unwrap_or(&Value::Null);
        let context = context(named, named.name, None);
        Variables::for_taskrun(taskrun, spec, context)
    }

    /// What Tekton substitutes in the sidecars of `spec`, the Task `task` that `taskrun` (read from the
    /// cluster, so with its name and uid) runs, when it builds the TaskRun's first Pod. The retry count is
    /// left out: a retry's Pod may be judged on a TaskRun read before the retry.
    pub(crate) fn for_referenced_task(taskrun: &Value, spec: &Value, task: &str) -> Variables {
        let text = |pointer: &str| taskrun.pointer(pointer).and_then(Value::as_str);
        let named = Named {
            name: text("/metadata/name"),
            namespace: text("/metadata/namespace"),
        };
        let context = context(named, Some(task), text("/metadata/uid"));
        Variables::for_taskrun(taskrun, spec, context)
    }

    fn for_taskrun(taskrun: &Value, spec: &Value, context: Replacements) -> Variables {
        let defaults = array(spec, "/params");
        let given = array(taskrun, "/spec/params");
        if defaults.len() > MAX_PARAMS || given.len() > MAX_PARAMS {
            return Variables {
                too_many_params: true,
                ..Variables::default()
            };
        }
        let mut variables = Variables::default();
        variables.passes.push(params(defaults, given).into());
        variables.passes.push(context.into());
        let mut results = Replacements::default();
        for result in array(spec, "/results") {
            if let Some(name) = result.get("name").and_then(Value::as_str) {
                let path = format!("{RESULTS_DIR}/{name}");
                let keys = [
                    Some(format!("results.{name}.path")),
                    go_quoted(name).map(|quoted| format!("results[{quoted}].path")),
                    Some(format!("results['{name}'].path")),
                ];
                for key in keys.into_iter().flatten() {
                    results.insert(key, path.clone());
                }
            }
        }
        variables.passes.push(results.into());
        let mut exit_codes = Replacements::default();
        for (i, step) in array(spec, "/steps").iter().enumerate() {
            let container = match step.get("name").and_then(Value::as_str) {
                Some(name) if !name.is_empty() => format!("{STEP_PREFIX}{name}"),
                _ => format!("{STEP_PREFIX}unnamed-{i}"),
            };
            exit_codes.insert(
                format!("steps.{container}.exitCode.path"),
                format!("{STEPS_DIR}/{container}/exitCode"),
            );
        }
        variables.passes.push(exit_codes.into());
        variables.workspaces(spec, taskrun);
        let credentials = [("credentials.path".to_string(), CREDS_DIR.to_string())];
        variables
            .passes
            .push(Replacements::from(credentials).into());
        variables
    }

    /// `ApplyWorkspaces`: for each declared workspace (and each binding the Task does not declare), in
    /// the Task's order, a pass for its path; then one for `bound`, `volume` and `claim`.
    fn workspaces<'a>(&mut self, spec: &'a Value, taskrun: &'a Value) {
        let bindings = array(taskrun, "/spec/workspaces");
        let volumes = create_volumes(bindings);
        // Inserted one by one: collecting would sort, and a sort is kilobytes of module per type.
        let names = |list: &'a [Value]| -> BTreeSet<&'a str> {
            let mut names = BTreeSet::new();
            for name in list
                .iter()
                .filter_map(|item| item.get("name").and_then(Value::as_str))
            {
                names.insert(name);
            }
            names
        };
        let bound = names(bindings);
        let declarations = array(spec, "/workspaces");
        let declared = names(declarations);
        // Tekton checks no workspace name: one holding `$(` or `)` makes keys that nest or extend one
        // another, which Tekton's pass per workspace reads otherwise than one scan.
        self.odd_workspace = bound
            .iter()
            .chain(&declared)
            .find(|name| name.contains("$(") || name.contains(')'))
            .map(ToString::to_string);
        let undeclared = bindings.iter().filter(|b| {
            b.get("name")
                .and_then(Value::as_str)
                .is_none_or(|n| !declared.contains(n))
        });
        let mut paths = Replacements::default();
        let mut last = Replacements::default();
        for declaration in declarations.iter().chain(undeclared) {
            let Some(name) = declaration.get("name").and_then(Value::as_str) else {
                continue;
            };
            let optional = declaration.get("optional") == Some(&Value::Bool(true));
            let prefix = format!("workspaces.{name}");
            if optional && !bound.contains(name) {
                last.insert(format!("{prefix}.bound"), "false".to_string());
                last.insert(format!("{prefix}.path"), String::new());
            } else {
                last.insert(format!("{prefix}.bound"), "true".to_string());
                // The passes before rewrite a declared mountPath too (`ApplyReplacements` over
                // `spec.workspaces`); a path still holding a variable is left unknown.
                let path = self.substitute(&declared_mount_path(declaration, name));
                if let Some(path) = path.filter(|path| !has_variable(path)) {
                    paths.insert(format!("{prefix}.path"), path);
                }
            }
        }
        self.passes.push(Pass::Paths(paths));
        for (name, volume) in &volumes {
            last.insert(format!("workspaces.{name}.volume"), volume.name.clone());
        }
        for binding in bindings {
            let Some(name) = binding.get("name").and_then(Value::as_str) else {
                continue;
            };
            // A volumeClaimTemplate's claim is named from the TaskRun's uid, after admission.
            if binding
                .get("volumeClaimTemplate")
                .is_some_and(|t| !t.is_null())
            {
                continue;
            }
            let claim = binding
                .pointer("/persistentVolumeClaim/claimName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            last.insert(format!("workspaces.{name}.claim"), claim.to_string());
        }
        self.passes.push(last.into());
    }

    /// `text` after the passes made so far, or `None` where one is ambiguous.
    fn substitute(&self, text: &str) -> Option<String> {
        self.for_sidecar(&[]).substitute(text).ok()
    }

    /// These variables for a sidecar that lists workspaces with its own `mountPath`: `(workspace, path)`.
    pub(crate) fn for_sidecar<'a>(&'a self, own: &[(&'a str, &'a str)]) -> ForSidecar<'a> {
        let mut first = BTreeMap::new();
        for (workspace, path) in own {
            first.entry(*workspace).or_insert(*path);
        }
        ForSidecar {
            variables: self,
            own: first,
        }
    }
}

/// One of Tekton's passes.
#[derive(Debug)]
enum Pass {
    Plain(Replacements),
    /// The workspaces' paths. Tekton makes one pass per workspace (`applyWorkspaceMountPath`), in the
    /// Task's order; they are one here, so that a text is scanned once however many workspaces there
    /// are. The two differ only where a path holds a `$(` of another's, which one scan leaves in the
    /// text: unresolved, and refused. A sidecar that lists a workspace with its own `mountPath` sees that
    /// path instead.
    Paths(Replacements),
}

impl From<Replacements> for Pass {
    fn from(replacements: Replacements) -> Self {
        Pass::Plain(replacements)
    }
}

/// [`Variables`] as one sidecar sees them.
pub(crate) struct ForSidecar<'a> {
    variables: &'a Variables,
    /// Workspace to path; the first listing of a workspace is Tekton's (`applyWorkspaceMountPath` makes
    /// its replacement before a later one could find the variable).
    own: BTreeMap<&'a str, &'a str>,
}

impl ForSidecar<'_> {
    /// `text` after every pass Tekton makes; a variable none of them knows stays as written.
    fn substitute(&self, text: &str) -> Result<String, Ambiguous> {
        let mut text = text.to_string();
        for pass in &self.variables.passes {
            if !has_variable(&text) {
                break;
            }
            text = match pass {
                Pass::Plain(replacements) => replacements.apply(&text)?,
                Pass::Paths(paths) => paths.apply_with(&text, |key| self.own_path(key))?,
            };
        }
        Ok(text)
    }

    /// The path the sidecar lists for the workspace whose path is `key`, if it lists one.
    fn own_path(&self, key: &str) -> Option<&str> {
        let workspace = key.strip_prefix("workspaces.")?.strip_suffix(".path")?;
        self.own.get(workspace).copied()
    }

    /// `text` as Tekton will make it, a variable none of its passes knows left as written; none where that
    /// cannot be known.
    pub(crate) fn made(&self, text: &str) -> Option<String> {
        let known = !self.variables.too_many_params && self.variables.odd_workspace.is_none();
        known.then(|| self.substitute(text).ok()).flatten()
    }

    /// `text` as Tekton will make it, or why it cannot be known.
    pub(crate) fn resolve(&self, text: &str) -> Result<String, Unresolved> {
        if self.variables.too_many_params {
            return Err(Unresolved::TooManyParams);
        }
        if let Some(name) = &self.variables.odd_workspace {
            return Err(Unresolved::OddWorkspace(name.clone()));
        }
        let resolved = self.substitute(text).map_err(Unresolved::Ambiguous)?;
        match first_variable(&resolved) {
            Some(reference) => Err(Unresolved::Left(reference)),
            None => Ok(resolved),
        }
    }
}

/// Why a text's value after Tekton's substitution is not known.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unresolved {
    /// The first variable Tekton leaves in the text (also one a param's value brought in), which
    /// Kubernetes would then be given as written.
    Left(String),
    /// The TaskRun or its Task has more than [`MAX_PARAMS`] params.
    TooManyParams,
    /// A key Tekton may or may not replace there, as its map's order falls.
    Ambiguous(Ambiguous),
    /// A workspace of this name, which holds `$(` or `)`.
    OddWorkspace(String),
}

/// A TaskRun's name and namespace, as its metadata gives them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Named<'a> {
    pub(crate) name: Option<&'a str>,
    pub(crate) namespace: Option<&'a str>,
}

/// `getContextReplacements`, with what is known of it; for an inline spec the task's name is the
/// TaskRun's.
fn context(named: Named<'_>, task: Option<&str>, uid: Option<&str>) -> Replacements {
    let known = [
        ("context.taskRun.name", named.name),
        ("context.task.name", task),
        ("context.taskRun.namespace", named.namespace),
        ("context.taskRun.uid", uid),
    ];
    known
        .into_iter()
        .filter_map(|(key, value)| {
            let value = value.filter(|v| !v.is_empty())?;
            Some((key.to_string(), value.to_string()))
        })
        .collect()
}

/// `text` with `$(workspaces.<w>.path)` replaced by `path` for each `(w, path)` of `own`, and nothing
/// else: what Tekton's path pass gives a sidecar that lists those workspaces with its own `mountPath`.
pub(crate) fn with_own_paths(text: &str, own: &[(&str, &str)]) -> String {
    let own_path = |key: &str| -> Result<Option<&str>, Infallible> {
        let Some(workspace) = key
            .strip_prefix("workspaces.")
            .and_then(|rest| rest.strip_suffix(".path"))
        else {
            return Ok(None);
        };
        Ok(own
            .iter()
            .find(|(name, _)| *name == workspace)
            .map(|(_, path)| *path))
    };
    let Ok(text) = replace_once(text, own_path);
    text
}

/// The first `$(...)` in `text`, up to its `)` (or the end).
fn first_variable(text: &str) -> Option<String> {
    let from = text.get(text.find("$(")?..)?;
    let end = from.find(')').map_or(from.len(), |end| end + 1);
    Some(from.get(..end).unwrap_or(from).to_string())
}

/// The refusal of a variable in a field Tekton would substitute in a Task's sidecar, but never in a
/// container added to its Pod.
pub(crate) fn pod_level_variable(path: &str, value: &str) -> FieldError {
    FieldError::new(
        path,
        format!(
            "{value:?} holds a $(...) variable, and Tekton substitutes nothing in a sidecar injected into the Pod (only an inline taskSpec's sidecars get its variables): write the value"
        ),
    )
}

/// What a sidecar injected into the Pod, where nothing is substituted any more, warns of when it names a
/// Tekton variable outside the fields that refuse one.
pub(crate) const LITERAL_AT_POD_LEVEL: &str =
    "Tekton variables stay literal in a Pod-level sidecar";

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

    #[rstest::rstest]
    #[case::param(json!("$(params.tag)"), true)]
    #[case::param_brackets(json!(["-x", "$(params['tag'])"]), true)]
    #[case::context_in_env(json!([{"name": "RUN", "value": "$(context.taskRun.name)"}]), true)]
    #[case::blank_after_the_parenthesis(json!("$( context.taskRun.name)"), false)]
    #[case::workspace_path(json!({"command": ["ls", "$(workspaces.source.path)"]}), true)]
    #[case::kubernetes_env_reference(json!(["$(POSTGRES_DB)"]), false)]
    #[case::root_as_a_prefix_only(json!("$(paramsx.tag)"), false)]
    #[case::no_variable(json!({"port": 5432}), false)]
    fn what_names_a_tekton_variable(#[case] value: Value, #[case] expected: bool) {
        assert_eq!(names_tekton_variable(&value), expected);
    }

    /// The metadata of [`taskrun`].
    fn named() -> Named<'static> {
        Named {
            name: Some("run-build"),
            namespace: Some("team-a"),
        }
    }

    fn taskrun() -> Value {
        json!({
            "spec": {
                "params": [{"name": "image", "value": "postgres:16"}, {"name": "list", "value": ["a", "b"]},
                           {"name": "obj", "value": {"tag": "16"}}, {"name": "later", "value": "$(context.taskRun.name)"},
                           {"name": "claim", "value": "$(workspaces.cache.claim)"}, {"name": "again", "value": "$(params.image)"},
                           {"name": "mixed", "value": ["docker.io/library/redis:7", 1]}],
                "workspaces": [{"name": "source", "persistentVolumeClaim": {"claimName": "src"}},
                               {"name": "cache", "persistentVolumeClaim": {"claimName": "src"}, "subPath": "c"}],
                "taskSpec": {
                    "params": [{"name": "image", "default": "postgres:14"}, {"name": "registry", "default": "docker.io"},
                               {"name": "full", "default": "$(params.registry)/library/redis"},
                               {"name": "two", "default": "$(params.registry)/$(params.image)"},
                               {"name": "mixed", "type": "array", "default": ["evil.example.com/miner:1"]}],
                    "workspaces": [{"name": "source", "mountPath": "/src"}, {"name": "maybe", "optional": true}],
                    "results": [{"name": "digest"}],
                    "steps": [{"name": "build", "image": "golang"}, {"image": "alpine"}]
                }
            }
        })
    }

    fn left(reference: &str) -> Result<&str, Unresolved> {
        Err(Unresolved::Left(reference.to_string()))
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
    #[case("no variable", Ok("no variable"))]
    // The API server sets the uid after the mutating admission; a retry counts up.
    #[case("$(context.taskRun.uid)", left("$(context.taskRun.uid)"))]
    #[case("$(context.task.retry-count)", left("$(context.task.retry-count)"))]
    #[case("x$(params.nope)y", left("$(params.nope)"))]
    #[case("$(context.pipelineRun.name)", left("$(context.pipelineRun.name)"))]
    #[case("$(params.list)", left("$(params.list)"))]
    #[case("$(unclosed", left("$(unclosed"))]
    // A param's value passes through the later passes: context, then workspaces.
    #[case("$(params.later)", Ok("run-build"))]
    #[case("$(params.claim)", Ok("src"))]
    // ... but not through the params pass again.
    #[case("$(params.again)", left("$(params.image)"))]
    // The inner reference of a nested one is replaced, as strings.Replacer replaces it.
    #[case("$($(params.registry))", left("$(docker.io)"))]
    // A TaskRun value Tekton reads as a string (an array of something else than strings) leaves the
    // array default's elements in place.
    #[case("$(params.mixed[0])", Ok("evil.example.com/miner:1"))]
    // The defaults' second pass keeps the last reference it resolved, from the original text.
    #[case("$(params.two)", left("$(params.registry)"))]
    fn resolves_what_tekton_resolves(
        #[case] text: &str,
        #[case] expected: Result<&str, Unresolved>,
    ) {
        let variables = Variables::for_inline_taskrun(&taskrun(), named());
        assert_eq!(
            variables.for_sidecar(&[]).resolve(text),
            expected.map(str::to_string)
        );
    }

    #[test]
    fn a_sidecar_s_own_mount_path_replaces_only_its_workspace_path() {
        let own = [("source", "/mine")];
        assert_eq!(
            with_own_paths("$(workspaces.source.path):$(workspaces.cache.path)", &own),
            "/mine:$(workspaces.cache.path)"
        );
    }

    /// Tekton's earlier passes rewrite a declared mountPath (`ApplyReplacements` over `spec.workspaces`)
    /// before the workspace paths are made of them; what still holds a variable is not known.
    #[test]
    fn a_declared_mount_path_is_substituted_before_it_is_a_path() {
        let mut taskrun = taskrun();
        taskrun["spec"]["taskSpec"]["workspaces"] = json!([
            {"name": "source", "mountPath": "/w/$(params.registry)"},
            {"name": "cache", "mountPath": "/w/$(params.nope)"}]);
        let variables = Variables::for_inline_taskrun(&taskrun, named());
        let resolve = |text: &str| variables.for_sidecar(&[]).resolve(text);
        assert_eq!(
            resolve("$(workspaces.source.path)"),
            Ok("/w/docker.io".to_string())
        );
        assert_eq!(
            resolve("$(workspaces.cache.path)"),
            left("$(workspaces.cache.path)").map(str::to_string)
        );
    }

    #[test]
    fn a_workspace_name_holding_a_variable_leaves_nothing_known() {
        let mut taskrun = taskrun();
        taskrun["spec"]["workspaces"][1]["name"] = json!("c$(params.image");
        let variables = Variables::for_inline_taskrun(&taskrun, named());
        assert_eq!(
            variables.for_sidecar(&[]).resolve("$(params.image)"),
            Err(Unresolved::OddWorkspace("c$(params.image".to_string()))
        );
    }

    #[test]
    fn an_object_key_holding_a_parenthesis_is_not_guessed() {
        let mut taskrun = taskrun();
        taskrun["spec"]["params"] =
            json!([{"name": "obj", "value": {"a": "ok", "b": "x", "a)$(params.obj.b": "evil"}}]);
        let variables = Variables::for_inline_taskrun(&taskrun, named());
        assert_eq!(
            variables
                .for_sidecar(&[])
                .resolve("$(params.obj.a)$(params.obj.b)"),
            Err(Unresolved::Ambiguous(Ambiguous {
                key: "params.obj.a)$(params.obj.b".to_string()
            }))
        );
        assert_eq!(
            variables.for_sidecar(&[]).resolve("$(params.obj.b)"),
            Ok("x".to_string())
        );
    }

    #[test]
    fn more_params_than_the_policy_works_out_are_not_resolved() {
        let mut taskrun = taskrun();
        taskrun["spec"]["params"] = (0..=MAX_PARAMS)
            .map(|i| json!({"name": format!("p{i}"), "value": "x"}))
            .collect();
        let variables = Variables::for_inline_taskrun(&taskrun, named());
        assert_eq!(
            variables.for_sidecar(&[]).resolve("$(params.p1)"),
            Err(Unresolved::TooManyParams)
        );
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
