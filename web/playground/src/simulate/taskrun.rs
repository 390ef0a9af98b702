//! A pipeline task's TaskRun, as the PipelineRun reconciler creates it, through the policy; then, for a
//! referenced Task, its Pod.

use pipelinerun_sidecars::admission::marker;
use pipelinerun_sidecars::support::json::array;
use pipelinerun_sidecars::tekton::{PIPELINE_TASK_LABEL, workspace_volume};
use serde_json::{Map, Value, json};

use super::pod::pod;
use super::{
    POD_LISTS, RESERVED_ANNOTATION_PREFIX, TASKRUN_LISTS, TaskResult, admit, api_version, entries,
    first_wins, str_at, string_map,
};

/// One pipeline task on its way to a TaskRun and a Pod.
pub(super) struct TaskContext<'a> {
    pub(super) pipelinerun: &'a Value,
    pub(super) pipeline_task: &'a Value,
    pub(super) name: &'a str,
    pub(super) member_of: &'static str,
    pub(super) settings: &'a Value,
    /// Where the policy lists what it injected, under the settings' prefix.
    pub(super) marker_key: &'a str,
}

impl TaskContext<'_> {
    pub(super) fn simulate(&self, task: Option<&Value>) -> TaskResult {
        let inline = self.pipeline_task.get("taskSpec").is_some();
        let mut result = TaskResult {
            name: self.name.to_string(),
            member_of: self.member_of,
            shown: if inline { "TaskRun" } else { "Pod" },
            rejection: None,
            injected: Vec::new(),
            entries: Vec::new(),
            object: Value::Null,
        };
        let before = self.taskrun();
        let version = api_version(self.pipelinerun);
        let (before, after, lists) =
            match admit(("tekton.dev", version, "TaskRun"), &before, self.settings) {
                Err(message) => return result.rejected("TaskRun", message, before),
                Ok(taskrun) if inline => (before, taskrun, TASKRUN_LISTS),
                Ok(taskrun) => {
                    let pod = pod(&taskrun, task);
                    match admit(("", "v1", "Pod"), &pod, self.settings) {
                        Err(message) => return result.rejected("Pod", message, pod),
                        Ok(after) => (pod, after, POD_LISTS),
                    }
                }
            };
        result.entries = entries(&before, &after, lists);
        result.injected = self.injected(&after);
        result.object = after;
        result
    }

    fn injected(&self, object: &Value) -> Vec<String> {
        marker::names(
            object
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(self.marker_key))
                .and_then(Value::as_str),
        )
    }

    /// The TaskRun the PipelineRun reconciler creates (`createTaskRun`): labels and annotations by
    /// `addMetadataByPrecedence` (taskRunSpecs metadata, then the PipelineRun's, then the inline task's), the
    /// PipelineRun as controller, the original `taskRef` or the inline spec.
    fn taskrun(&self) -> Value {
        let pr = self.pipelinerun;
        let pr_name = str_at(pr, "/metadata/name");
        let pr_uid = str_at(pr, "/metadata/uid");
        let run_spec = array(pr, "/spec/taskRunSpecs")
            .iter()
            .find(|spec| spec.get("pipelineTaskName").and_then(Value::as_str) == Some(self.name));
        let embedded_meta = |field: &str| {
            self.pipeline_task
                .pointer(&format!("/taskSpec/metadata/{field}"))
        };
        let run_spec_meta =
            |field: &str| run_spec.and_then(|s| s.pointer(&format!("/metadata/{field}")));

        let mut child_labels = string_map(pr.pointer("/metadata/labels"));
        for (key, value) in [
            ("tekton.dev/pipelineRun", pr_name),
            ("tekton.dev/pipelineRunUID", pr_uid),
            (PIPELINE_TASK_LABEL, self.name),
            ("tekton.dev/memberOf", self.member_of),
        ] {
            child_labels.insert(key.to_string(), value.to_string());
        }
        let mut labels = first_wins([
            string_map(run_spec_meta("labels")),
            child_labels,
            string_map(embedded_meta("labels")),
        ]);
        // Tekton's defaulting webhook (`TaskRun.SetDefaults`).
        labels
            .entry("app.kubernetes.io/managed-by".to_string())
            .or_insert_with(|| "tekton-pipelines".to_string());
        let mut child_annotations = string_map(pr.pointer("/metadata/annotations"));
        child_annotations.retain(|key, _| !key.starts_with(RESERVED_ANNOTATION_PREFIX));
        let annotations = first_wins([
            string_map(run_spec_meta("annotations")),
            child_annotations,
            string_map(embedded_meta("annotations")),
        ]);

        let mut spec = Map::new();
        if let Some(params) = self.pipeline_task.get("params") {
            spec.insert("params".to_string(), params.clone());
        }
        let service_account = run_spec
            .and_then(|s| s.get("serviceAccountName"))
            .or_else(|| pr.pointer("/spec/taskRunTemplate/serviceAccountName"))
            .cloned()
            .unwrap_or_else(|| json!("default"));
        spec.insert("serviceAccountName".to_string(), service_account);
        match (
            self.pipeline_task.get("taskRef"),
            self.pipeline_task.get("taskSpec"),
        ) {
            (_, Some(Value::Object(embedded))) => {
                let mut task_spec = embedded.clone();
                for field in ["metadata", "apiVersion", "kind", "spec"] {
                    task_spec.remove(field);
                }
                spec.insert("taskSpec".to_string(), Value::Object(task_spec));
            }
            (Some(task_ref), _) => {
                spec.insert("taskRef".to_string(), task_ref.clone());
            }
            _ => {}
        }
        let bindings = self.workspace_bindings();
        if !bindings.is_empty() {
            spec.insert("workspaces".to_string(), Value::Array(bindings));
        }
        json!({
            "apiVersion": str_at(pr, "/apiVersion"),
            "kind": "TaskRun",
            "metadata": {
                "name": format!("{pr_name}-{}", self.name),
                "namespace": str_at(pr, "/metadata/namespace"),
                "uid": format!("{pr_uid}-{}", self.name),
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [{
                    "apiVersion": str_at(pr, "/apiVersion"),
                    "kind": "PipelineRun",
                    "name": pr_name,
                    "uid": pr_uid,
                    "controller": true,
                    "blockOwnerDeletion": true,
                }],
            },
            "spec": spec,
        })
    }

    /// The pipeline task's workspaces, bound to what the PipelineRun provides for them; a
    /// `volumeClaimTemplate` becomes the claim Tekton creates from it.
    fn workspace_bindings(&self) -> Vec<Value> {
        let provided = array(self.pipelinerun, "/spec/workspaces");
        array(self.pipeline_task, "/workspaces")
            .iter()
            .filter_map(|binding| {
                let name = binding.get("name")?.as_str()?;
                let source = binding
                    .get("workspace")
                    .and_then(Value::as_str)
                    .unwrap_or(name);
                let mut bound = provided
                    .iter()
                    .find(|w| w.get("name").and_then(Value::as_str) == Some(source))
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                if bound.remove("volumeClaimTemplate").is_some() {
                    let volume = workspace_volume(source);
                    let claim = format!("pvc-{}", volume.trim_start_matches("ws-"));
                    bound.insert(
                        "persistentVolumeClaim".to_string(),
                        json!({"claimName": claim}),
                    );
                }
                bound.insert("name".to_string(), json!(name));
                if let Some(sub_path) = binding.get("subPath") {
                    bound.insert("subPath".to_string(), sub_path.clone());
                }
                Some(Value::Object(bound))
            })
            .collect()
    }
}
