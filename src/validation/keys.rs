//! The keys of a PipelineRun's declarations and the tasks they name: what is wrong with a key itself
//! (the marker, a name that is no task name, a task the inline pipeline does not have), with the nearest
//! task as a suggestion while the message will show it.

use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::declaration::{ALL_TASKS, MARKER};
use crate::support::error::{FieldError, Problem, listed, nearest, shortened};
use crate::support::json::array;
use crate::support::k8s::is_dns_label;

/// The most pipeline tasks a misspelt key is compared with for a suggestion. Each comparison is cheap,
/// but a pipeline of tens of thousands of tasks times as many keys is not.
pub(super) const MAX_SUGGESTION_CANDIDATES: usize = 500;

/// The names of the tasks and finally tasks of a pipeline, in order and as a set.
pub(super) struct PipelineTasks<'a> {
    pub(super) names: Vec<&'a str>,
    pub(super) set: BTreeSet<&'a str>,
    /// The sidecars each task's inline `taskSpec` defines.
    pub(super) sidecars: BTreeMap<&'a str, Vec<&'a str>>,
    /// The names as a message lists them, made once for all the keys that name no task.
    listing: OnceCell<String>,
}

impl<'a> PipelineTasks<'a> {
    /// The tasks of the pipeline `spec` (a PipelineRun's `pipelineSpec`, or a Pipeline's `spec`).
    pub(super) fn of(spec: &'a Value) -> Self {
        let tasks = || {
            ["tasks", "finally"]
                .iter()
                .filter_map(|list| spec.get(list).and_then(Value::as_array))
                .flatten()
        };
        let names: Vec<&str> = tasks()
            .filter_map(|task| task.get("name").and_then(Value::as_str))
            .collect();
        let set = names.iter().copied().collect();
        let sidecars = tasks()
            .filter_map(|task| {
                let name = task.get("name").and_then(Value::as_str)?;
                let own = array(task, "/taskSpec/sidecars")
                    .iter()
                    .filter_map(|s| s.get("name").and_then(Value::as_str))
                    .collect();
                Some((name, own))
            })
            .collect();
        PipelineTasks {
            names,
            set,
            sidecars,
            listing: OnceCell::new(),
        }
    }
}

/// What is wrong with a declaration key itself, if anything. Unless the message will `show` it, the
/// problem is only counted: no suggestion is searched for and no text made, for each of thousands of
/// keys. (The same bad key in two maps is then counted twice: a count can be one too high, never short.)
pub(super) fn key_problem(
    key: &str,
    suffix: &str,
    tasks: Option<&PipelineTasks<'_>>,
    show: bool,
) -> Option<Problem> {
    let problem = |message: String| Problem {
        annotation: key.to_string(),
        sidecar: None,
        error: FieldError::new("", message),
    };
    if !show {
        let wrong = suffix == MARKER
            || (suffix != ALL_TASKS
                && (!is_dns_label(suffix) || tasks.is_some_and(|t| !t.set.contains(suffix))));
        return wrong.then(|| problem(String::new()));
    }
    if suffix == MARKER {
        return Some(problem(format!(
            "is the policy's own marker of injected sidecars and cannot be set by hand; a pipeline task named {MARKER:?} cannot be given sidecars by name (use all-tasks or rename the task)"
        )));
    }
    if suffix == ALL_TASKS {
        return None;
    }
    if !is_dns_label(suffix) {
        return Some(problem(format!(
            "{:?} is not a pipeline task name (a DNS-1123 label); the key is <prefix>/<pipelineTaskName> or <prefix>/{ALL_TASKS}",
            shortened(suffix)
        )));
    }
    let tasks = tasks?;
    if tasks.set.contains(suffix) {
        return None;
    }
    let searched = tasks.names.len() <= MAX_SUGGESTION_CANDIDATES;
    let hint = match searched.then(|| nearest(suffix, &tasks.names)).flatten() {
        Some(task) => format!("did you mean {task:?}?"),
        None => format!(
            "the pipeline tasks are {}",
            tasks
                .listing
                .get_or_init(|| listed(tasks.names.iter().copied()))
        ),
    };
    Some(problem(format!("names no task of this pipeline; {hint}")))
}
