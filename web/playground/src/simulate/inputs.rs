//! The pasted inputs: YAML documents read into Tekton objects, and the pipeline they describe.

use pipelinerun_sidecars::support::json::{array, kind_of, string_entries};
use pipelinerun_sidecars::support::yaml::read_document;
use serde_json::{Value, json};

use super::{str_at, string_map};

/// The Tekton objects pasted into the inputs, by kind.
#[derive(Default)]
pub(super) struct Pasted {
    pub(super) pipelineruns: Vec<Value>,
    pub(super) pipelines: Vec<Value>,
    pub(super) tasks: Vec<Value>,
}

impl Pasted {
    /// Sorts the documents of `text` by kind; what is not YAML, or not a Tekton object the simulation
    /// uses, is reported under the input's name (and the document's number when there are several).
    pub(super) fn read(&mut self, input: &str, text: &str, errors: &mut Vec<String>) {
        let documents = documents(text);
        let several = documents.len() > 1;
        for (n, document) in documents.iter().enumerate() {
            let value = match read_document(document) {
                Ok(Value::Null) => continue,
                Ok(value) => value,
                Err(message) => {
                    errors.push(format!("{input}: {message}"));
                    continue;
                }
            };
            let at = if several {
                format!("{input}, document {}", n + 1)
            } else {
                input.to_string()
            };
            let api_version = value.get("apiVersion").and_then(Value::as_str);
            let kind = value.get("kind").and_then(Value::as_str);
            let tekton = matches!(api_version, Some("tekton.dev/v1" | "tekton.dev/v1beta1"));
            let list = match kind.filter(|_| tekton) {
                Some("PipelineRun") => &mut self.pipelineruns,
                Some("Pipeline") => &mut self.pipelines,
                Some("Task") => &mut self.tasks,
                _ => {
                    let found = match (api_version, kind) {
                        (Some(v), Some(k)) => format!("a {k} of {v}"),
                        _ if value.is_object() => {
                            "a mapping without apiVersion and kind".to_string()
                        }
                        _ => kind_of(&value).to_string(),
                    };
                    errors.push(format!(
                        "{at}: is {found}; expected a PipelineRun, a Pipeline or a Task of tekton.dev/v1 or tekton.dev/v1beta1"
                    ));
                    continue;
                }
            };
            list.push(value);
        }
    }
}

/// The documents of a YAML text, split at its `---` lines. Each is padded with the empty lines before it,
/// so that a parse error gives the line in the whole text.
pub(super) fn documents(text: &str) -> Vec<String> {
    let mut documents = vec![String::new()];
    for (i, line) in text.lines().enumerate() {
        if line.trim_end() == "---" {
            documents.push("\n".repeat(i + 1));
        } else if let Some(document) = documents.last_mut() {
            document.push_str(line);
            document.push('\n');
        }
    }
    documents.retain(|d| !d.trim().is_empty());
    documents
}

/// The spec of the PipelineRun's pipeline: inline, or that of the pasted Pipeline its `pipelineRef`
/// names. As `storePipelineSpecAndMergeMeta` does, the Pipeline's labels and annotations join the
/// PipelineRun's (the PipelineRun's win) and `tekton.dev/pipeline` names the pipeline, so that they
/// reach the TaskRuns.
pub(super) fn pipeline_spec(
    pipelinerun: &mut Value,
    pipelines: &[Value],
    notes: &mut Vec<String>,
) -> Option<Value> {
    let (spec, name, metadata) = match pipelinerun
        .pointer("/spec/pipelineSpec")
        .filter(|spec| spec.is_object())
    {
        Some(spec) => (
            spec.clone(),
            str_at(pipelinerun, "/metadata/name").to_string(),
            None,
        ),
        None => {
            let wanted = referenced_names(pipelinerun.pointer("/spec/pipelineRef"));
            let Some(pipeline) = pipelines
                .iter()
                .find(|p| wanted.iter().any(|w| w == str_at(p, "/metadata/name")))
            else {
                notes.push(format!(
                    "The PipelineRun's Pipeline{} is not given: paste it in the Tasks input (or inline it as spec.pipelineSpec) to see its tasks.",
                    wanted.first().map(|w| format!(" {w:?}")).unwrap_or_default()
                ));
                return None;
            };
            let spec = pipeline.get("spec").filter(|s| s.is_object())?.clone();
            let name = str_at(pipeline, "/metadata/name").to_string();
            (spec, name, pipeline.get("metadata"))
        }
    };
    let own = pipelinerun
        .pointer_mut("/metadata")
        .and_then(Value::as_object_mut)?;
    for field in ["labels", "annotations"] {
        let mut merged = string_map(metadata.and_then(|m| m.get(field)));
        merged.remove("kubectl.kubernetes.io/last-applied-configuration");
        merged.extend(string_entries(own.get(field)));
        if field == "labels" {
            merged.insert("tekton.dev/pipeline".to_string(), name.clone());
        }
        own.insert(field.to_string(), json!(merged));
    }
    Some(spec)
}

/// A PipelineRun the author wrote with `generateName`, or with no namespace, gets what the API server
/// would give it.
pub(super) fn name_it(pipelinerun: &mut Value, notes: &mut Vec<String>) {
    let Some(metadata) = pipelinerun
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if metadata.get("name").and_then(Value::as_str).is_none() {
        let base = metadata
            .get("generateName")
            .and_then(Value::as_str)
            .unwrap_or("pipelinerun-");
        let name = format!("{base}p1ay9");
        notes.push(format!(
            "metadata.name is not set: the PipelineRun is simulated as {name:?}, as the API server would generate it."
        ));
        metadata.insert("name".to_string(), json!(name));
    }
    metadata
        .entry("namespace")
        .or_insert_with(|| json!("default"));
    metadata
        .entry("uid")
        .or_insert_with(|| json!("00000000-0000-4000-8000-000000000001"));
}

/// A task that Tekton runs as a CustomRun: a `taskRef` or embedded spec of another apiVersion than Tekton's.
pub(super) fn is_custom_task(pipeline_task: &Value) -> bool {
    ["/taskRef/apiVersion", "/taskSpec/apiVersion"]
        .iter()
        .filter_map(|pointer| pipeline_task.pointer(pointer).and_then(Value::as_str))
        .any(|api_version| !api_version.starts_with("tekton.dev/"))
}

/// The names a `taskRef` may resolve to: its `name`, or the `name` param of the hub, cluster and bundles
/// resolvers.
pub(super) fn referenced_names(task_ref: Option<&Value>) -> Vec<String> {
    let Some(task_ref) = task_ref else {
        return Vec::new();
    };
    let by_param = array(task_ref, "/params")
        .iter()
        .filter(|p| p.get("name").and_then(Value::as_str) == Some("name"))
        .filter_map(|p| p.get("value").and_then(Value::as_str));
    task_ref
        .get("name")
        .and_then(Value::as_str)
        .into_iter()
        .chain(by_param)
        .map(str::to_string)
        .collect()
}

pub(super) fn references(pipeline_task: &Value, task: &Value) -> bool {
    let name = str_at(task, "/metadata/name");
    !name.is_empty()
        && pipeline_task.get("taskSpec").is_none()
        && referenced_names(pipeline_task.get("taskRef"))
            .iter()
            .any(|n| n == name)
}
