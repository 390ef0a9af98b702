//! PipelineRun CREATE and UPDATE: every declaration is checked, so that a typo is reported when
//! `kubectl create` runs rather than when a TaskRun's Pod is refused minutes later. Nothing is mutated.
//!
//! A pipeline task sees the PipelineRun's annotations overlaid with its `spec.taskRunSpecs[].metadata`
//! annotations (Tekton's `combineTaskRunAndTaskSpecAnnotations`: the taskRunSpecs value wins), so each task
//! is checked with what its TaskRun will carry.
//!
//! On UPDATE only what changed is checked. Tekton's controller updates a running PipelineRun's metadata,
//! and people set `spec.status` to cancel it; a declaration that was accepted when the run was created
//! must not stop either after the settings were tightened.
//!
//! Every step is linear in the size of the PipelineRun: each distinct annotation value is parsed once,
//! whatever number of tasks it applies to, and a misspelt key gets a suggestion only while the message
//! will show it and the pipeline is small enough to search.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::keys::{PipelineTasks, key_problem};
use super::once::{Origin, Reader, Unique};
use super::warnings;
use crate::declaration::{self, ALL_TASKS};
use crate::settings::Settings;
use crate::support::error::{MAX_LISTED, Problem};
use crate::support::json::array;
use crate::support::k8s::is_dns_label;

/// The declarations a PipelineRun gives its tasks: its own annotations, each task's
/// `spec.taskRunSpecs[].metadata.annotations`, and the annotations of each inline task's
/// `taskSpec.metadata`.
pub struct Declarations<'a> {
    annotations: &'a BTreeMap<String, String>,
    /// Borrowed from the object: a PipelineRun may carry thousands of taskRunSpecs.
    per_task: BTreeMap<&'a str, BTreeMap<&'a str, &'a str>>,
    per_task_spec: BTreeMap<&'a str, BTreeMap<&'a str, &'a str>>,
}

impl<'a> Declarations<'a> {
    /// Reads the taskRunSpecs and inline tasks of `pipelinerun`, whose metadata annotations are
    /// `annotations`. Only the annotations a declaration is made of are kept (those under `prefix`, and
    /// the AppArmor ones): a task with none of them is one that `all-tasks` alone reaches, however many
    /// there are.
    pub fn of(
        pipelinerun: &'a Value,
        annotations: &'a BTreeMap<String, String>,
        prefix: &str,
    ) -> Self {
        let ours = |key: &str| {
            key.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
                || key.starts_with(declaration::APPARMOR_ANNOTATION_PREFIX)
        };
        let own = |metadata: Option<&'a Value>| -> BTreeMap<&'a str, &'a str> {
            metadata
                .and_then(|m| m.get("annotations"))
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter(|(key, _)| ours(key))
                .filter_map(|(key, value)| Some((key.as_str(), value.as_str()?)))
                .collect()
        };
        // Tekton takes the metadata of the last taskRunSpecs entry of a task whole (`GetTaskRunSpec`); the
        // policy reads them all, the later ones over the earlier.
        let mut per_task: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
        for spec in array(pipelinerun, "/spec/taskRunSpecs") {
            let Some(task) = spec.get("pipelineTaskName").and_then(Value::as_str) else {
                continue;
            };
            let own = own(spec.get("metadata"));
            if !own.is_empty() {
                per_task.entry(task).or_default().extend(own);
            }
        }
        let mut per_task_spec: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
        let tasks = ["/spec/pipelineSpec/tasks", "/spec/pipelineSpec/finally"]
            .into_iter()
            .flat_map(|list| array(pipelinerun, list));
        for task in tasks {
            let Some(name) = task.get("name").and_then(Value::as_str) else {
                continue;
            };
            let own = own(task.pointer("/taskSpec/metadata"));
            if !own.is_empty() {
                per_task_spec.entry(name).or_default().extend(own);
            }
        }
        Declarations {
            annotations,
            per_task,
            per_task_spec,
        }
    }

    /// The value of `key` on the TaskRun of `task` (`""`: a task with no annotations of its own), with the
    /// map it comes from, in Tekton's order (`combineTaskRunAndTaskSpecAnnotations`): the task's
    /// taskRunSpecs, the PipelineRun's annotations, the task's inline `taskSpec.metadata`. The origin
    /// names a value without comparing its text, which may be a quarter of a megabyte.
    fn value<'s>(&'s self, task: &'s str, key: &str) -> Option<(Origin<'s>, &'s str)> {
        if let Some(value) = self.per_task.get(task).and_then(|own| own.get(key)) {
            return Some((Origin::TaskRunSpecs(task), *value));
        }
        if let Some(value) = self.annotations.get(key) {
            return Some((Origin::PipelineRun, value.as_str()));
        }
        let value = self.per_task_spec.get(task).and_then(|own| own.get(key))?;
        Some((Origin::TaskSpec(task), *value))
    }

    /// The value of `key` in the annotation map `origin` names.
    fn get(&self, origin: Origin<'_>, key: &str) -> Option<&str> {
        match origin {
            Origin::PipelineRun => self.annotations.get(key).map(String::as_str),
            Origin::TaskRunSpecs(task) => self.per_task.get(task)?.get(key).copied(),
            Origin::TaskSpec(task) => self.per_task_spec.get(task)?.get(key).copied(),
        }
    }

    /// Every annotation, the PipelineRun's first, with the map it is in.
    fn entries(&self) -> impl Iterator<Item = (Origin<'_>, &str, &str)> {
        let own = self
            .annotations
            .iter()
            .map(|(key, value)| (Origin::PipelineRun, key.as_str(), value.as_str()));
        let per_task = self.per_task.iter().flat_map(|(task, annotations)| {
            annotations
                .iter()
                .map(|(key, value)| (Origin::TaskRunSpecs(task), *key, *value))
        });
        let per_task_spec = self.per_task_spec.iter().flat_map(|(task, annotations)| {
            annotations
                .iter()
                .map(|(key, value)| (Origin::TaskSpec(task), *key, *value))
        });
        own.chain(per_task).chain(per_task_spec)
    }

    /// Whether a key that differs from `before` (every key, without it) names a pipeline task rather than
    /// all of them: only then does the pipeline's list of tasks matter.
    pub fn name_tasks(&self, before: Option<&Declarations<'_>>, prefix: &str) -> bool {
        self.changed(before, prefix)
            .any(|(_, suffix)| suffix != ALL_TASKS && is_dns_label(suffix))
    }

    /// The keys under `prefix` whose value differs from `before` (every one, without it), each with what
    /// follows the prefix: what an UPDATE checks.
    fn changed<'s, 'b, 'c, 'p>(
        &'s self,
        before: Option<&'b Declarations<'c>>,
        prefix: &'p str,
    ) -> impl Iterator<Item = (&'s str, &'s str)> + use<'s, 'a, 'b, 'c, 'p> {
        self.entries().filter_map(move |(origin, key, value)| {
            let suffix = key.strip_prefix(prefix)?.strip_prefix('/')?;
            let same = before.is_some_and(|old| old.get(origin, key) == Some(value));
            (!same).then_some((key, suffix))
        })
    }

    /// The tasks with annotations of their own.
    fn tasks_with_their_own(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.per_task
            .keys()
            .chain(self.per_task_spec.keys())
            .copied()
    }
}

/// Every problem with the declarations of a PipelineRun (empty: it is fine), and the warnings about those
/// that are valid but risky. `pipeline` is the spec of the pipeline it runs, when it is known (inline, or
/// read from the cluster): keys must name its tasks. With `before` (an UPDATE), only the declarations that
/// differ from it are checked. `inherited`: the annotations are a parent PipelineRun's, so a key may name a
/// task of the parent's pipeline rather than of this one.
pub fn check(
    pipeline: Option<&Value>,
    now: &Declarations<'_>,
    before: Option<&Declarations<'_>>,
    settings: &Settings,
    inherited: bool,
    warnings: &mut Vec<String>,
) -> Vec<Problem> {
    let mut warned = Warned::new(warnings);
    let mut warn = |line: String| warned.push(line);
    let prefix = &settings.annotation_prefix;
    let tasks = pipeline.map(PipelineTasks::of);
    let mut problems = Unique::default();
    let own_tasks = tasks.as_ref().filter(|_| !inherited);
    let mut named = checked_keys(now, before, own_tasks, prefix, &mut problems);
    // Each task is checked with the annotations its TaskRun will carry; a task without a declaration of its
    // own still gets the all-tasks ones, which are checked once through the "" task.
    named.extend(now.tasks_with_their_own());
    named.insert("");
    let known = |origin: Origin<'_>, key: &str, value: &str| {
        before.is_some_and(|old| old.get(origin, key) == Some(value))
    };
    let mut reader = Reader::new(settings);
    let mut same: BTreeMap<(Origin<'_>, Origin<'_>, String), bool> = BTreeMap::new();
    for task in named {
        let wanted = (!task.is_empty()).then_some(task);
        let values: Vec<(String, Origin<'_>, &str)> = declaration::task_keys(prefix, wanted)
            .into_iter()
            .filter_map(|key| {
                let (origin, value) = now.value(task, &key)?;
                Some((key, origin, value))
            })
            .collect();
        let changed = before.is_none_or(|old| {
            values
                .iter()
                .any(|(key, origin, value)| match old.value(task, key) {
                    // The same two places are compared once, however many tasks share them: an
                    // all-tasks value may be long, and a PipelineRun may have thousands of tasks.
                    Some((was, before)) => !*same
                        .entry((*origin, was, key.clone()))
                        .or_insert_with(|| before == *value),
                    None => true,
                })
                || declaration::task_keys(prefix, wanted)
                    .iter()
                    .any(|key| now.value(task, key).is_none() && old.value(task, key).is_some())
        });
        if !changed {
            continue;
        }
        // A value's own problems are reported where it is first met; on UPDATE not at all when the same
        // map had it before: they were accepted then. It is still read for the count of its task's sidecars.
        let mut indices = Vec::new();
        for (key, origin, value) in &values {
            let (index, first) = reader.read(*origin, key, value);
            if first && !known(*origin, key, value) {
                problems.extend(reader.problems(index, key));
                reader.warnings(index, key).into_iter().for_each(&mut warn);
            }
            indices.push(index);
        }
        let lists: Option<Vec<Vec<&str>>> =
            indices.iter().map(|index| reader.names(*index)).collect();
        let Some(lists) = lists else {
            continue;
        };
        let Some((last, _, _)) = values.last() else {
            continue;
        };
        // A name the task's own inline taskSpec gives a sidecar too: the declaration replaces it.
        let own = tasks
            .as_ref()
            .and_then(|t| t.sidecars.get(task))
            .map(Vec::as_slice)
            .unwrap_or_default();
        for ((key, _, _), names) in values.iter().zip(&lists) {
            for name in names.iter().filter(|name| own.contains(name)) {
                warn(warnings::line(key, name, warnings::REPLACES));
            }
        }
        let names: BTreeSet<&str> = lists.iter().flatten().copied().collect();
        if let Some(problem) = declaration::limit_problem(last, names.len(), 0, settings) {
            problems.push(problem);
        }
        for name in &names {
            let key = declaration::apparmor_key(name);
            if let Some((_, value)) = now.value(task, &key)
                && let Some(problem) = declaration::apparmor_problem(&key, value, name, settings)
            {
                problems.push(problem);
            }
        }
    }
    warned.finish();
    problems.list
}

/// The keys of the declarations that changed, checked: each problem into `problems`; the tasks they name.
fn checked_keys<'d>(
    now: &'d Declarations<'_>,
    before: Option<&Declarations<'_>>,
    tasks: Option<&PipelineTasks<'_>>,
    prefix: &str,
    problems: &mut Unique,
) -> BTreeSet<&'d str> {
    let mut named = BTreeSet::new();
    for (key, suffix) in now.changed(before, prefix) {
        let show = problems.list.len() < MAX_LISTED;
        if let Some(problem) = key_problem(key, suffix, tasks, show) {
            problems.push(problem);
        } else if suffix != ALL_TASKS {
            named.insert(suffix);
        }
    }
    named
}

/// The warnings of one check, as many as a rejection lists problems: a PipelineRun of thousands of tasks
/// could otherwise return a warning for each.
struct Warned<'w> {
    warnings: &'w mut Vec<String>,
    seen: BTreeSet<String>,
    left_out: bool,
}

impl<'w> Warned<'w> {
    fn new(warnings: &'w mut Vec<String>) -> Self {
        Warned {
            warnings,
            seen: BTreeSet::new(),
            left_out: false,
        }
    }

    fn push(&mut self, line: String) {
        if self.seen.len() >= MAX_LISTED {
            self.left_out |= !self.seen.contains(&line);
        } else if self.seen.insert(line.clone()) {
            self.warnings.push(line);
        }
    }

    /// Says so when some were left out.
    fn finish(self) {
        if self.left_out {
            self.warnings.push(format!(
                "more warnings are left out: only the first {MAX_LISTED} are shown"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::keys::MAX_SUGGESTION_CANDIDATES;
    use serde_json::json;

    fn annotations(object: &Value) -> BTreeMap<String, String> {
        object
            .pointer("/metadata/annotations")
            .and_then(|a| serde_json::from_value(a.clone()).ok())
            .unwrap_or_default()
    }

    /// The problems and the warnings of a PipelineRun, on UPDATE from `old`.
    fn verdict(pipelinerun: &Value, old: Option<&Value>) -> (Vec<String>, Vec<String>) {
        verdict_of(pipelinerun, old, false)
    }

    fn verdict_of(
        pipelinerun: &Value,
        old: Option<&Value>,
        inherited: bool,
    ) -> (Vec<String>, Vec<String>) {
        let now_annotations = annotations(pipelinerun);
        let now = Declarations::of(pipelinerun, &now_annotations, "pipelinerun-sidecars.io");
        let old_annotations = old.map(annotations).unwrap_or_default();
        let before =
            old.map(|old| Declarations::of(old, &old_annotations, "pipelinerun-sidecars.io"));
        let mut warnings = Vec::new();
        let problems = check(
            pipelinerun.pointer("/spec/pipelineSpec"),
            &now,
            before.as_ref(),
            &Settings::default(),
            inherited,
            &mut warnings,
        );
        (problems.iter().map(ToString::to_string).collect(), warnings)
    }

    #[test]
    fn a_child_pipelinerun_takes_its_parent_s_keys_and_checks_their_values() {
        // Tekton copies a parent's annotations onto a Pipelines-in-Pipelines child
        // (createChildResourceAnnotations): `integration` is a task of the parent's pipeline.
        let child = |value: &str| {
            json!({"metadata": {"annotations": {"pipelinerun-sidecars.io/integration": value}},
                   "spec": {"pipelineSpec": {"tasks": [{"name": "unit", "taskRef": {"name": "go-test"}}]}}})
        };
        let valid =
            child("- {name: db, image: 'postgres:16', readinessProbe: {tcpSocket: {port: 5432}}}");
        let (problems, _) = verdict_of(&valid, None, false);
        assert_eq!(
            problems.len(),
            1,
            "a key naming no task of its own: {problems:?}"
        );
        let (problems, _) = verdict_of(&valid, None, true);
        assert!(problems.is_empty(), "{problems:?}");
        let (problems, _) = verdict_of(&child("- {name: db, imgae: postgres}"), None, true);
        assert_eq!(
            problems.len(),
            1,
            "the value is still checked: {problems:?}"
        );
    }

    fn problems_on_update(pipelinerun: &Value, old: Option<&Value>) -> Vec<String> {
        verdict(pipelinerun, old).0
    }

    #[test]
    fn valid_but_risky_declarations_are_warned_about_once() {
        let pipelinerun = json!({
            "metadata": {"annotations": {
                "pipelinerun-sidecars.io/all-tasks": "- {name: db, image: postgres}",
                "pipelinerun-sidecars.io/build": "- {name: proxy, image: 'envoy:1.31', readinessProbe: {tcpSocket: {port: 9901}}}"}},
            "spec": {"pipelineSpec": {"tasks": [
                {"name": "build", "taskSpec": {"steps": [{"image": "golang"}], "sidecars": [{"name": "proxy", "image": "envoy:1.30"}]}},
                {"name": "test", "taskRef": {"name": "go-test"}}]}}
        });
        let (problems, warnings) = verdict(&pipelinerun, None);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            warnings,
            vec![
                "annotation \"pipelinerun-sidecars.io/all-tasks\", sidecar \"db\": no readinessProbe: the steps may start before it serves",
                "annotation \"pipelinerun-sidecars.io/all-tasks\", sidecar \"db\": image :latest can change between runs; pin a tag",
                "annotation \"pipelinerun-sidecars.io/build\", sidecar \"proxy\": replaces the Task's own sidecar of this name",
            ]
        );
        let (_, again) = verdict(&pipelinerun, Some(&pipelinerun));
        assert!(
            again.is_empty(),
            "an UPDATE that changes nothing warns of nothing: {again:?}"
        );
    }

    fn problems(pipelinerun: &Value) -> Vec<String> {
        problems_on_update(pipelinerun, None)
    }

    /// Tekton gives a TaskRun the annotations of its inline `taskSpec.metadata` too, under those of the
    /// PipelineRun and its taskRunSpecs (`combineTaskRunAndTaskSpecAnnotations`).
    #[test]
    fn an_inline_task_s_own_metadata_is_checked_under_the_pipelinerun_s() {
        let pipelinerun = |own: &str| {
            json!({
                "metadata": {"annotations": {"pipelinerun-sidecars.io/lint": "- {name: db, image: postgres}"}},
                "spec": {"pipelineSpec": {"tasks": [
                    {"name": "build", "taskSpec": {"metadata": {"annotations": {"pipelinerun-sidecars.io/build": own}},
                                                   "steps": [{"image": "golang"}]}},
                    {"name": "lint", "taskSpec": {"metadata": {"annotations": {"pipelinerun-sidecars.io/lint": own}},
                                                  "steps": [{"image": "golang"}]}}]}}
            })
        };
        assert_eq!(
            problems(&pipelinerun("- {name: db, imgae: postgres}")),
            vec![
                "annotation \"pipelinerun-sidecars.io/build\", sidecar \"db\": imgae: unknown field; did you mean \"image\"?"
            ]
        );
        assert!(problems(&pipelinerun("- {name: db, image: postgres}")).is_empty());
    }

    #[test]
    fn a_valid_pipelinerun_has_no_problems() {
        assert!(
            problems(&json!({"metadata": {"annotations": {
                "pipelinerun-sidecars.io/test": "- {name: db, image: postgres}",
                "pipelinerun-sidecars.io/all-tasks": "- {name: cache, image: redis}",
                "other.io/x": "not ours"
            }}}))
            .is_empty()
        );
    }

    #[test]
    fn reports_every_problem_once_with_its_key() {
        let found = problems(&json!({
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

    fn pipeline(tasks: usize) -> Value {
        let tasks: Vec<Value> = (0..tasks)
            .map(|i| json!({"name": format!("task-{i:05}")}))
            .collect();
        json!({"pipelineSpec": {"tasks": tasks}})
    }

    #[test]
    fn suggestions_stop_where_the_message_stops_and_lists_are_cut() {
        let mut keys = serde_json::Map::new();
        for i in 0..30 {
            keys.insert(
                format!("pipelinerun-sidecars.io/task-{i:05}x"),
                json!("- {name: db, image: postgres}"),
            );
        }
        let found = problems(&json!({"metadata": {"annotations": keys}, "spec": pipeline(40)}));
        assert_eq!(found.len(), 30);
        assert!(
            found[0].ends_with("did you mean \"task-00000\"?"),
            "{}",
            found[0]
        );
        assert!(
            found[19].ends_with("did you mean \"task-00019\"?"),
            "{}",
            found[19]
        );
        // Past what the message shows, a problem is counted but not described.
        assert_eq!(
            found[20],
            "annotation \"pipelinerun-sidecars.io/task-00020x\": "
        );
    }

    #[test]
    fn a_huge_pipeline_gets_no_suggestion() {
        let found = problems(&json!({
            "metadata": {"annotations": {"pipelinerun-sidecars.io/task-00001x": "- {name: db, image: p}"}},
            "spec": pipeline(MAX_SUGGESTION_CANDIDATES + 1)
        }));
        assert!(
            found[0].contains("the pipeline tasks are task-00000,"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn an_update_checks_only_what_changed() {
        let bad = "- {name: db, imgae: postgres}";
        let old = json!({"metadata": {"annotations": {"pipelinerun-sidecars.io/test": bad, "pipelinerun-sidecars.io/injected": "x"}},
                         "spec": {"taskRunSpecs": [{"pipelineTaskName": "build", "metadata": {"annotations": {"pipelinerun-sidecars.io/build": bad}}}]}});
        let mut cancelled = old.clone();
        cancelled["spec"]["status"] = json!("Cancelled");
        cancelled["metadata"]["annotations"]["tekton.dev/pipeline"] = json!("p");
        assert!(problems_on_update(&cancelled, Some(&old)).is_empty());
        let mut edited = cancelled.clone();
        edited["metadata"]["annotations"]["pipelinerun-sidecars.io/all-tasks"] =
            json!("- {name: x}");
        assert_eq!(
            problems_on_update(&edited, Some(&old)),
            vec![
                "annotation \"pipelinerun-sidecars.io/all-tasks\", sidecar \"x\": image: is required"
            ]
        );
    }
}
