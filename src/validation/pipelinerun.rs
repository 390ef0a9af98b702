//! PipelineRun CREATE and UPDATE: every declaration is checked, so that a typo is reported when
//! `kubectl create` runs rather than when a TaskRun's Pod is refused minutes later. Nothing is mutated.
//!
//! A pipeline task sees the PipelineRun's annotations overlaid with its `spec.taskRunSpecs[].metadata`
//! annotations (Tekton's `combineTaskRunAndTaskSpecAnnotations`: the taskRunSpecs value wins), so each task
//! is checked with what its TaskRun will carry.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::declaration::{self, ALL_TASKS, MARKER};
use crate::settings::Settings;
use crate::support::error::{FieldError, Problem, nearest};
use crate::support::json::{array, string_entries};
use crate::support::k8s::is_dns_label;
use crate::tekton::sidecar::Sidecar;

/// Every problem with the declarations of a PipelineRun (empty: it is fine).
pub fn check(
    pipelinerun: &Value,
    annotations: &BTreeMap<String, String>,
    settings: &Settings,
) -> Vec<Problem> {
    let prefix = &settings.annotation_prefix;
    let mut per_task: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for spec in array(pipelinerun, "/spec/taskRunSpecs") {
        let Some(task) = spec.get("pipelineTaskName").and_then(Value::as_str) else {
            continue;
        };
        per_task
            .entry(task.to_string())
            .or_default()
            .extend(string_entries(spec.pointer("/metadata/annotations")));
    }
    let tasks = pipeline_tasks(pipelinerun);
    let mut problems = Vec::new();
    let sources = std::iter::once(annotations).chain(per_task.values());
    let mut named: Vec<String> = Vec::new();
    for source in sources {
        for key in source.keys() {
            let Some(suffix) = key
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
            else {
                continue;
            };
            if let Some(problem) = key_problem(key, suffix, tasks.as_deref()) {
                problems.push(problem);
            } else if suffix != ALL_TASKS {
                named.push(suffix.to_string());
            }
        }
    }
    // Each task is checked with the annotations its TaskRun will carry; a task without a declaration of its
    // own still gets the all-tasks ones, which are checked once through the "" task.
    named.extend(per_task.keys().cloned());
    named.push(String::new());
    named.sort();
    named.dedup();
    // An annotation applies to many tasks (all-tasks to every one): each distinct one is parsed once.
    let mut parsed: BTreeMap<(String, String), Result<Vec<Sidecar>, Vec<Problem>>> =
        BTreeMap::new();
    for task in named {
        let own = per_task.get(&task);
        let task = (!task.is_empty()).then_some(task.as_str());
        let mut lists = Vec::new();
        let mut failed = false;
        for key in declaration::task_keys(prefix, task) {
            let Some(value) = own
                .and_then(|o| o.get(&key))
                .or_else(|| annotations.get(&key))
            else {
                continue;
            };
            let result = parsed
                .entry((key.clone(), value.clone()))
                .or_insert_with(|| declaration::parse_annotation(&key, value, settings));
            match result {
                Ok(sidecars) => lists.push((key, sidecars.clone())),
                Err(found) => {
                    problems.extend(found.iter().cloned());
                    failed = true;
                }
            }
        }
        if !failed && let Err(problem) = declaration::merge_lists(lists, settings) {
            problems.push(problem);
        }
    }
    let mut unique = Vec::new();
    for problem in problems {
        if !unique.contains(&problem) {
            unique.push(problem);
        }
    }
    unique
}

/// What is wrong with a declaration key itself, if anything.
fn key_problem(key: &str, suffix: &str, tasks: Option<&[String]>) -> Option<Problem> {
    let problem = |message: String| Problem {
        annotation: key.to_string(),
        sidecar: None,
        error: FieldError::new("", message),
    };
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
            "{suffix:?} is not a pipeline task name (a DNS-1123 label); the key is <prefix>/<pipelineTaskName> or <prefix>/{ALL_TASKS}"
        )));
    }
    let tasks = tasks?;
    if tasks.iter().any(|t| t == suffix) {
        return None;
    }
    let candidates: Vec<&str> = tasks.iter().map(String::as_str).collect();
    let hint = match nearest(suffix, &candidates) {
        Some(task) => format!("did you mean {task:?}?"),
        None => format!("the pipeline tasks are {}", candidates.join(", ")),
    };
    Some(problem(format!("names no task of this pipeline; {hint}")))
}

/// The names of the tasks and finally tasks of an inline `spec.pipelineSpec`; None with a `pipelineRef`,
/// whose tasks are not known at admission.
fn pipeline_tasks(pipelinerun: &Value) -> Option<Vec<String>> {
    let spec = pipelinerun.pointer("/spec/pipelineSpec")?;
    let names = ["tasks", "finally"]
        .iter()
        .filter_map(|list| spec.get(list).and_then(Value::as_array))
        .flatten()
        .filter_map(|task| task.get("name").and_then(Value::as_str).map(str::to_string))
        .collect();
    Some(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(pipelinerun: Value) -> Vec<String> {
        let annotations: BTreeMap<String, String> = pipelinerun
            .pointer("/metadata/annotations")
            .and_then(|a| serde_json::from_value(a.clone()).ok())
            .unwrap_or_default();
        check(&pipelinerun, &annotations, &Settings::default())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_valid_pipelinerun_has_no_problems() {
        assert!(
            problems(json!({"metadata": {"annotations": {
                "pipelinerun-sidecars.io/test": "- {name: db, image: postgres}",
                "pipelinerun-sidecars.io/all-tasks": "- {name: cache, image: redis}",
                "other.io/x": "not ours"
            }}}))
            .is_empty()
        );
    }

    #[test]
    fn reports_every_problem_once_with_its_key() {
        let found = problems(json!({
            "metadata": {"annotations": {
                "pipelinerun-sidecars.io/tset": "- {name: db, image: postgres}",
                "pipelinerun-sidecars.io/injected": "db",
                "pipelinerun-sidecars.io/all-tasks": "- {name: cache, imgae: redis}"
            }},
            "spec": {
                "pipelineSpec": {"tasks": [{"name": "build"}, {"name": "test"}], "finally": [{"name": "report"}]},
                "taskRunSpecs": [{"pipelineTaskName": "build", "metadata": {"annotations": {
                    "pipelinerun-sidecars.io/build": "- {name: db}"
                }}}]
            }
        }));
        assert_eq!(
            found,
            vec![
                "annotation \"pipelinerun-sidecars.io/injected\": is the policy's own marker of injected sidecars and cannot be set by hand; a pipeline task named \"injected\" cannot be given sidecars by name (use all-tasks or rename the task)",
                "annotation \"pipelinerun-sidecars.io/tset\": names no task of this pipeline; did you mean \"test\"?",
                "annotation \"pipelinerun-sidecars.io/all-tasks\", sidecar \"cache\": imgae: unknown field; did you mean \"image\"?",
                "annotation \"pipelinerun-sidecars.io/build\", sidecar \"db\": image: is required",
            ]
        );
    }
}
