//! What a PipelineRun's tasks will get, without a cluster: the engine of the browser playground.
//!
//! The simulation plays Tekton's part and the API server's, and leaves every decision to the policy.
//! Tekton's part, in outline: the PipelineRun reconciler's `createTaskRun`, the TaskRun reconciler's
//! `storeTaskSpecAndMergeMeta`, and `pod.Build`. The API server's part: each object goes through
//! [`admission::evaluate`] as the AdmissionRequest policy-server would hand the policy. So what is
//! injected, and every message, is the policy's own; only the objects around them are made up here.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use pipelinerun_sidecars::admission::{self, Outcome, marker};
use pipelinerun_sidecars::settings;
use pipelinerun_sidecars::support::error::render_settings_errors;
use pipelinerun_sidecars::support::json::{array, string_entries};
use pipelinerun_sidecars::support::yaml::read_document;

use crate::yaml_writer;
use inputs::{Pasted, is_custom_task, name_it, pipeline_spec, referenced_names, references};
use taskrun::TaskContext;

mod inputs;
mod pod;
mod taskrun;
#[cfg(test)]
mod tests;

/// The Tekton release the simulated Pods claim to come from (`pipeline.tekton.dev/release`).
pub const TEKTON_RELEASE: &str = "v1.15.0";

/// Annotations Tekton never copies from a PipelineRun to its TaskRuns (`TektonReservedAnnotationExpr`).
const RESERVED_ANNOTATION_PREFIX: &str = "chains.tekton.dev/";

/// What the author pastes: YAML (or JSON) text, each of which may hold several documents (`---`);
/// `tasks` and `settings` may be empty.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The PipelineRun, as it would be created.
    pub pipelinerun: &'a str,
    /// Tasks that the pipeline tasks reference (to know their steps and workspaces), and the Pipeline a
    /// `pipelineRef` names.
    pub tasks: &'a str,
    /// The policy settings; empty means the defaults.
    pub settings: &'a str,
}

/// Everything the page shows.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Simulation {
    /// Why an input cannot be used at all (not YAML, not a PipelineRun): nothing else was simulated.
    pub input_errors: Vec<String>,
    /// What `validate_settings` answers when the settings are wrong: the policy would not load.
    pub settings_error: Option<String>,
    /// The message the PipelineRun's admission gives when the policy rejects it.
    pub pipelinerun_rejection: Option<String>,
    /// One per pipeline task, `tasks` then `finally`.
    pub tasks: Vec<TaskResult>,
    /// What the simulation could not know or left out.
    pub notes: Vec<String>,
}

impl Simulation {
    /// The result of pipeline task `name`.
    pub fn task(&self, name: &str) -> Option<&TaskResult> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

/// What one pipeline task gets.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    /// The pipeline task's name.
    pub name: String,
    /// `tasks` or `finally`, as Tekton's `tekton.dev/memberOf` label says.
    pub member_of: &'static str,
    /// The object whose lists are shown: `TaskRun` for an inline task (the sidecars join
    /// `spec.taskSpec.sidecars`), `Pod` for a referenced one (they join the Pod's containers).
    pub shown: &'static str,
    /// Set when the policy rejects the TaskRun or the Pod: the kind and the message, as the policy gives it.
    pub rejection: Option<Rejection>,
    /// The sidecars the policy injected (the names its marker annotation lists).
    pub injected: Vec<String>,
    /// The entries of the lists the sidecars join, after the policy ran.
    pub entries: Vec<Entry>,
    /// The whole TaskRun or Pod, after the policy ran.
    pub object: Value,
}

impl TaskResult {
    fn rejected(mut self, kind: &'static str, message: String, object: Value) -> Self {
        self.rejection = Some(Rejection { kind, message });
        self.object = object;
        self
    }
}

/// The lists a TaskRun's and a Pod's sidecars join, by name and JSON pointer.
const TASKRUN_LISTS: &[(&str, &str)] = &[("sidecars", "/spec/taskSpec/sidecars")];
const POD_LISTS: &[(&str, &str)] = &[
    ("initContainers", "/spec/initContainers"),
    ("containers", "/spec/containers"),
];

/// A refused TaskRun or Pod: what Tekton would report on the TaskRun.
#[derive(Debug, Serialize)]
pub struct Rejection {
    /// `TaskRun` or `Pod`: the admission that refused.
    pub kind: &'static str,
    /// The policy's message, word for word.
    pub message: String,
}

/// One container or sidecar, and whether the policy added it, replaced it or left it alone.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// `sidecars` (TaskRun), `initContainers` or `containers` (Pod).
    pub list: &'static str,
    /// The container's or sidecar's name.
    pub name: String,
    /// What the policy did to it.
    pub change: Change,
    /// The entry as the author would write it, for the page to show.
    pub yaml: String,
    /// The entry as JSON, for anything that compares it.
    pub value: Value,
}

/// What the policy did to an entry, compared by name with the object before it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// A sidecar the policy added.
    Added,
    /// A sidecar of the Task that a declaration of the same name replaced (`onConflict: override`).
    Replaced,
    /// What Tekton put there.
    Unchanged,
}

/// Runs the PipelineRun, its TaskRuns and their Pods through the policy.
pub fn run(inputs: Inputs<'_>) -> Simulation {
    let mut simulation = Simulation::default();
    let settings =
        match read_document(inputs.settings).map_err(|message| format!("settings: {message}")) {
            Ok(Value::Null) => json!({}),
            Ok(value) => value,
            Err(error) => {
                simulation.input_errors.push(error);
                Value::Null
            }
        };
    let mut pasted = Pasted::default();
    pasted.read(
        "PipelineRun",
        inputs.pipelinerun,
        &mut simulation.input_errors,
    );
    pasted.read("Tasks", inputs.tasks, &mut simulation.input_errors);
    if simulation.input_errors.is_empty() && pasted.pipelineruns.len() != 1 {
        simulation.input_errors.push(format!(
            "PipelineRun: {} PipelineRuns are given; paste one (apiVersion tekton.dev/v1 or tekton.dev/v1beta1, kind PipelineRun)",
            pasted.pipelineruns.len()
        ));
    }
    let (Some(mut pipelinerun), true) = (
        pasted.pipelineruns.pop(),
        simulation.input_errors.is_empty(),
    ) else {
        return simulation;
    };
    let marker_key = match settings::load::validate(&to_bytes(&settings)) {
        Ok(valid) => marker::key(&valid.annotation_prefix),
        Err(errors) => {
            simulation.settings_error = Some(render_settings_errors(&errors));
            return simulation;
        }
    };
    name_it(&mut pipelinerun, &mut simulation.notes);
    let version = api_version(&pipelinerun);
    if let Err(message) = admit(
        ("tekton.dev", version, "PipelineRun"),
        &pipelinerun,
        &settings,
    ) {
        simulation.pipelinerun_rejection = Some(message);
        return simulation;
    }
    let Some(pipeline) = pipeline_spec(&mut pipelinerun, &pasted.pipelines, &mut simulation.notes)
    else {
        return simulation;
    };
    let mut used = vec![false; pasted.tasks.len()];
    for member_of in ["tasks", "finally"] {
        for pipeline_task in array(&pipeline, &format!("/{member_of}")) {
            let Some(name) = pipeline_task.get("name").and_then(Value::as_str) else {
                continue;
            };
            if is_custom_task(pipeline_task) {
                simulation.notes.push(format!(
                    "Pipeline task {name:?} is a custom task: Tekton runs it as a CustomRun, without a Pod, so it gets no sidecars."
                ));
                continue;
            }
            let referenced = pasted
                .tasks
                .iter()
                .position(|task| references(pipeline_task, task));
            if let Some(flag) = referenced.and_then(|i| used.get_mut(i)) {
                *flag = true;
            }
            if referenced.is_none() && pipeline_task.get("taskSpec").is_none() {
                let wanted = referenced_names(pipeline_task.get("taskRef")).join(" or ");
                let wanted = if wanted.is_empty() {
                    wanted
                } else {
                    format!(" ({wanted})")
                };
                simulation.notes.push(format!(
                    "Pipeline task {name:?} references a Task that is not given{wanted}: its Pod has a placeholder step, which mounts the task's workspaces at Tekton's default /workspace/<name>."
                ));
            }
            let context = TaskContext {
                pipelinerun: &pipelinerun,
                pipeline_task,
                name,
                member_of,
                settings: &settings,
                marker_key: &marker_key,
            };
            simulation
                .tasks
                .push(context.simulate(referenced.and_then(|i| pasted.tasks.get(i))));
        }
    }
    for (task, _) in pasted.tasks.iter().zip(used).filter(|(_, used)| !used) {
        simulation.notes.push(format!(
            "No pipeline task references the Task {:?} (by taskRef.name, or the resolver's \"name\" param), so it was not used.",
            str_at(task, "/metadata/name")
        ));
    }
    if simulation.tasks.iter().any(|t| t.shown == "Pod") {
        simulation.notes.push(
            "Pods are built in outline: steps keep their image, env and workspace mounts, and Tekton's \
             entrypoint wiring and $(params.*) substitution are left out. Sidecar containers are exactly \
             what the policy returns."
                .to_string(),
        );
    }
    simulation
}

/// Each entry of the lists at `pointers` in `after`, compared by name with `before`.
fn entries(before: &Value, after: &Value, pointers: &[(&'static str, &str)]) -> Vec<Entry> {
    let mut found = Vec::new();
    for (name_of_list, pointer) in pointers {
        let old = array(before, pointer);
        for value in array(after, pointer) {
            let name = value
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let previous = old
                .iter()
                .find(|v| v.get("name").and_then(Value::as_str) == Some(name));
            let change = match previous {
                None => Change::Added,
                Some(previous) if previous != value => Change::Replaced,
                Some(_) => Change::Unchanged,
            };
            found.push(Entry {
                list: name_of_list,
                name: name.to_string(),
                change,
                yaml: yaml_writer::write(value),
                value: value.clone(),
            });
        }
    }
    found
}

/// Runs one object through the policy as a CREATE, the way policy-server calls `validate`: the object as
/// the policy leaves it, or the policy's message.
fn admit(kind: (&str, &str, &str), object: &Value, settings: &Value) -> Result<Value, String> {
    let (group, version, kind) = kind;
    let payload = json!({
        "request": {
            "uid": "playground",
            "kind": {"group": group, "version": version, "kind": kind},
            "operation": "CREATE",
            "object": object,
        },
        "settings": settings,
    });
    match admission::evaluate(&to_bytes(&payload)) {
        Ok(Outcome::Accept) => Ok(object.clone()),
        Ok(Outcome::Mutate(after)) => Ok(after.value()),
        Err(error) => Err(error.to_string()),
    }
}

fn to_bytes(value: &Value) -> Vec<u8> {
    // A Value always serializes (its keys are strings); an empty payload would be refused, not trusted.
    serde_json::to_vec(value).unwrap_or_default()
}

fn api_version(object: &Value) -> &str {
    match str_at(object, "/apiVersion") {
        "tekton.dev/v1beta1" => "v1beta1",
        _ => "v1",
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A labels or annotations mapping's string entries, as a map.
fn string_map(map: Option<&Value>) -> BTreeMap<String, String> {
    string_entries(map).collect()
}

/// Tekton's `addMetadataByPrecedence`: a key keeps the value of the first map that has it.
fn first_wins<const N: usize>(maps: [BTreeMap<String, String>; N]) -> BTreeMap<String, String> {
    let mut merged = BTreeMap::new();
    for map in maps {
        for (key, value) in map {
            merged.entry(key).or_insert(value);
        }
    }
    merged
}
