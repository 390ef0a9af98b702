//! What a PipelineRun's tasks will get, without a cluster: the engine of the browser playground.
//!
//! The simulation plays Tekton's part and the API server's, and leaves every decision to the policy.
//! Tekton's part, in outline: the PipelineRun reconciler's `createTaskRun`, the TaskRun reconciler's
//! `storeTaskSpecAndMergeMeta`, and `pod.Build`. The API server's part: each object goes through
//! [`admission::evaluate`] as the AdmissionRequest policy-server would hand the policy. So what is
//! injected, and every message, is the policy's own; only the objects around them are made up here.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::admission::{self, Outcome, PIPELINE_TASK_LABEL, TASKRUN_LABEL};
use crate::declaration::{self, read_yaml};
use crate::error::render_settings_errors;
use crate::json::{array, string_entries};
use crate::pod::workspace_volume;
use crate::settings;
use crate::sidecar::CONTAINER_PREFIX;

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
    pub name: String,
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
        match read_yaml(inputs.settings).map_err(|message| format!("settings: {message}")) {
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
    let marker_key = match settings::validate(&to_bytes(&settings)) {
        Ok(valid) => declaration::key(&valid.annotation_prefix, declaration::MARKER),
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
            if let Some(i) = referenced {
                used[i] = true;
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
                .push(context.simulate(referenced.map(|i| &pasted.tasks[i])));
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

/// One pipeline task on its way to a TaskRun and a Pod.
struct TaskContext<'a> {
    pipelinerun: &'a Value,
    pipeline_task: &'a Value,
    name: &'a str,
    member_of: &'static str,
    settings: &'a Value,
    /// Where the policy lists what it injected, under the settings' prefix.
    marker_key: &'a str,
}

impl TaskContext<'_> {
    fn simulate(&self, task: Option<&Value>) -> TaskResult {
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
        crate::marker::names(
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
                    let claim = format!("pvc-{}", &workspace_volume(source)[3..]);
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

/// The Pod `pod.Build` makes for a TaskRun of a referenced Task, in outline: the TaskRun's labels and
/// annotations (with the Task's merged in, as `storeTaskSpecAndMergeMeta` does before the Pod is built),
/// the TaskRun as controller, Tekton's internal volumes, one volume per workspace, the steps as `step-*`
/// containers with their workspace mounts, and the Task's own sidecars as `sidecar-*` containers.
fn pod(taskrun: &Value, task: Option<&Value>) -> Value {
    let tr_name = str_at(taskrun, "/metadata/name");
    let tr_uid = str_at(taskrun, "/metadata/uid");
    let (labels, annotations) = pod_metadata(taskrun, task);
    let (workspace_volumes, mounts) = workspaces(taskrun, task);
    let volumes: Vec<Value> = INTERNAL_VOLUMES
        .iter()
        .map(|(name, _)| json!({"name": name, "emptyDir": {}}))
        .chain(workspace_volumes)
        .collect();
    let step_mounts: Vec<Value> = INTERNAL_VOLUMES
        .iter()
        .filter(|(_, path)| !path.is_empty())
        .map(|(name, path)| json!({"name": name, "mountPath": path}))
        .chain(mounts.iter().cloned())
        .collect();

    let unknown_steps =
        [json!({"name": "from-the-task", "image": "(the Task's steps are not known here)"})];
    let steps = match task {
        Some(task) => array(task, "/spec/steps"),
        None => &unknown_steps[..],
    };
    let step_containers = steps.iter().enumerate().map(|(i, step)| {
        let name = step
            .get("name")
            .and_then(Value::as_str)
            .map_or_else(|| format!("unnamed-{i}"), str::to_string);
        let mut container: Map<String, Value> =
            ["image", "workingDir", "env", "envFrom", "securityContext"]
                .into_iter()
                .filter_map(|field| Some((field.to_string(), step.get(field)?.clone())))
                .collect();
        container.insert("name".to_string(), json!(format!("step-{name}")));
        with_mounts(container, &step_mounts, step)
    });
    // The Task's own sidecars, which Tekton shares every workspace with.
    let sidecars = task
        .map(|t| array(t, "/spec/sidecars"))
        .unwrap_or_default()
        .iter()
        .filter_map(|sidecar| {
            let mut container = sidecar.as_object()?.clone();
            let name = container
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("unnamed");
            container.insert(
                "name".to_string(),
                json!(format!("{CONTAINER_PREFIX}{name}")),
            );
            for tekton_only in ["script", "workspaces"] {
                container.remove(tekton_only);
            }
            if let Some(resources) = container.remove("computeResources") {
                container.insert("resources".to_string(), resources);
            }
            Some(with_mounts(container, &mounts, sidecar))
        });
    let containers: Vec<Value> = step_containers.chain(sidecars).collect();

    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("{tr_name}-pod"),
            "namespace": str_at(taskrun, "/metadata/namespace"),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "tekton.dev/v1",
                "kind": "TaskRun",
                "name": tr_name,
                "uid": tr_uid,
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": {
            "volumes": volumes,
            "initContainers": [{
                "name": "prepare",
                "image": format!("ghcr.io/tektoncd/pipeline/entrypoint:{TEKTON_RELEASE}"),
                "command": ["/ko-app/entrypoint", "init", "/ko-app/entrypoint", "/tekton/bin/entrypoint"],
                "volumeMounts": [{"name": "tekton-internal-bin", "mountPath": "/tekton/bin"}],
            }],
            "containers": containers,
            "restartPolicy": "Never",
            "serviceAccountName": taskrun.pointer("/spec/serviceAccountName").cloned().unwrap_or(Value::Null),
        },
    })
}

/// Tekton's internal volumes, and where steps mount them (an empty path: not mounted by steps).
const INTERNAL_VOLUMES: [(&str, &str); 6] = [
    ("tekton-internal-workspace", "/workspace"),
    ("tekton-internal-home", "/tekton/home"),
    ("tekton-internal-results", "/tekton/results"),
    ("tekton-internal-steps", ""),
    ("tekton-internal-scripts", ""),
    ("tekton-internal-bin", "/tekton/bin"),
];

/// The Pod's labels and annotations: the TaskRun's over the Task's, and what `pod.Build` adds.
fn pod_metadata(
    taskrun: &Value,
    task: Option<&Value>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut labels = string_map(task.and_then(|t| t.pointer("/metadata/labels")));
    labels.extend(string_entries(taskrun.pointer("/metadata/labels")));
    let task_name = task
        .map(|t| str_at(t, "/metadata/name").to_string())
        .or_else(|| {
            referenced_names(taskrun.pointer("/spec/taskRef"))
                .into_iter()
                .next()
        });
    if let Some(task_name) = task_name {
        labels.insert("tekton.dev/task".to_string(), task_name);
    }
    for (key, value) in [
        (TASKRUN_LABEL, str_at(taskrun, "/metadata/name")),
        ("tekton.dev/taskRunUID", str_at(taskrun, "/metadata/uid")),
        ("app.kubernetes.io/managed-by", "tekton-pipelines"),
    ] {
        labels.insert(key.to_string(), value.to_string());
    }
    let mut annotations = string_map(task.and_then(|t| t.pointer("/metadata/annotations")));
    annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    annotations.extend(string_entries(taskrun.pointer("/metadata/annotations")));
    annotations.remove("app.kubernetes.io/managed-by");
    annotations.insert(
        "pipeline.tekton.dev/release".to_string(),
        TEKTON_RELEASE.to_string(),
    );
    (labels, annotations)
}

/// A volume per workspace the TaskRun binds and the Task declares, named as `workspace.CreateVolumes`
/// names it, and its mount at the Task's `mountPath` (Tekton's default `/workspace/<name>`). A Task that
/// is not given is taken to declare every bound workspace at the default path.
fn workspaces(taskrun: &Value, task: Option<&Value>) -> (Vec<Value>, Vec<Value>) {
    let declared = task.map(|t| array(t, "/spec/workspaces"));
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for binding in array(taskrun, "/spec/workspaces") {
        let Some(name) = binding.get("name").and_then(Value::as_str) else {
            continue;
        };
        let declaration = declared.map(|list| {
            list.iter()
                .find(|w| w.get("name").and_then(Value::as_str) == Some(name))
        });
        if declaration == Some(None) {
            continue;
        }
        let declaration = declaration.flatten();
        let volume = workspace_volume(name);
        let mut source = binding.as_object().cloned().unwrap_or_default();
        source.remove("name");
        let sub_path = source.remove("subPath");
        source.insert("name".to_string(), json!(volume));
        volumes.push(Value::Object(source));
        let mount_path = declaration
            .and_then(|d| d.get("mountPath"))
            .and_then(Value::as_str)
            .map_or_else(|| format!("/workspace/{name}"), str::to_string);
        let mut mount = json!({"name": volume, "mountPath": mount_path});
        if let Some(sub_path) = sub_path {
            mount["subPath"] = sub_path;
        }
        if declaration.and_then(|d| d.get("readOnly")) == Some(&Value::Bool(true)) {
            mount["readOnly"] = json!(true);
        }
        mounts.push(mount);
    }
    (volumes, mounts)
}

/// `container` with `mounts` and then the `volumeMounts` its Task entry declares.
fn with_mounts(mut container: Map<String, Value>, mounts: &[Value], entry: &Value) -> Value {
    let own = array(entry, "/volumeMounts");
    let all: Vec<Value> = mounts.iter().chain(own).cloned().collect();
    container.insert("volumeMounts".to_string(), Value::Array(all));
    Value::Object(container)
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
                yaml: crate::yaml::write(value),
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
        Ok(Outcome::Mutate(after)) => Ok(after),
        Err(error) => Err(error.to_string()),
    }
}

fn to_bytes(value: &Value) -> Vec<u8> {
    // A Value always serializes (its keys are strings); an empty payload would be refused, not trusted.
    serde_json::to_vec(value).unwrap_or_default()
}

/// The Tekton objects pasted into the inputs, by kind.
#[derive(Default)]
struct Pasted {
    pipelineruns: Vec<Value>,
    pipelines: Vec<Value>,
    tasks: Vec<Value>,
}

impl Pasted {
    /// Sorts the documents of `text` by kind; what is not YAML, or not a Tekton object the simulation
    /// uses, is reported under the input's name (and the document's number when there are several).
    fn read(&mut self, input: &str, text: &str, errors: &mut Vec<String>) {
        let documents = documents(text);
        let several = documents.len() > 1;
        for (n, document) in documents.iter().enumerate() {
            let value = match read_yaml(document) {
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
                        _ => crate::sidecar::kind_of(&value).to_string(),
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
fn documents(text: &str) -> Vec<String> {
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
fn pipeline_spec(
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
fn name_it(pipelinerun: &mut Value, notes: &mut Vec<String>) {
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

/// A task that Tekton runs as a CustomRun: a `taskRef` or embedded spec of another apiVersion than Tekton's.
fn is_custom_task(pipeline_task: &Value) -> bool {
    ["/taskRef/apiVersion", "/taskSpec/apiVersion"]
        .iter()
        .filter_map(|pointer| pipeline_task.pointer(pointer).and_then(Value::as_str))
        .any(|api_version| !api_version.starts_with("tekton.dev/"))
}

/// The names a `taskRef` may resolve to: its `name`, or the `name` param of the hub, cluster and bundles
/// resolvers.
fn referenced_names(task_ref: Option<&Value>) -> Vec<String> {
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

fn references(pipeline_task: &Value, task: &Value) -> bool {
    let name = str_at(task, "/metadata/name");
    !name.is_empty()
        && pipeline_task.get("taskSpec").is_none()
        && referenced_names(pipeline_task.get("taskRef"))
            .iter()
            .any(|n| n == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// A PipelineRun with two referenced tasks (`unit`, `it`), a finally task, and the given annotations
    /// and taskRunSpecs.
    fn pipelinerun(annotations: &str, task_run_specs: &str) -> String {
        format!(
            "apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: pr
  annotations: {annotations}
spec:
  taskRunSpecs: {task_run_specs}
  pipelineSpec:
    tasks:
      - {{name: unit, taskRef: {{name: go-test}}, workspaces: [{{name: source, workspace: ws}}]}}
      - {{name: it, taskRef: {{name: go-test}}}}
    finally:
      - {{name: report, taskSpec: {{steps: [{{name: send, image: curl}}]}}}}
"
        )
    }

    const TASK: &str = "apiVersion: tekton.dev/v1
kind: Task
metadata: {name: go-test}
spec:
  workspaces: [{name: source, mountPath: /src}]
  steps: [{name: test, image: golang}]
  sidecars: [{name: db, image: mysql}]
";

    fn simulate(pipelinerun: &str, tasks: &str, settings: &str) -> Simulation {
        run(Inputs {
            pipelinerun,
            tasks,
            settings,
        })
    }

    fn task<'a>(simulation: &'a Simulation, name: &str) -> &'a TaskResult {
        simulation
            .task(name)
            .unwrap_or_else(|| panic!("no task {name}: {simulation:?}"))
    }

    fn changed(result: &TaskResult) -> Vec<(&str, &str, Change)> {
        result
            .entries
            .iter()
            .filter(|e| e.change != Change::Unchanged)
            .map(|e| (e.list, e.name.as_str(), e.change))
            .collect()
    }

    #[rstest]
    #[case::not_yaml(
        "kind: [",
        "",
        "",
        "PipelineRun: is not valid YAML or JSON: line 1 column 7: unclosed bracket '['"
    )]
    #[case::only_a_task(
        TASK,
        "",
        "",
        "PipelineRun: 0 PipelineRuns are given; paste one (apiVersion tekton.dev/v1 or tekton.dev/v1beta1, kind PipelineRun)"
    )]
    #[case::two_pipelineruns(
        "kind: PipelineRun\napiVersion: tekton.dev/v1\n---\nkind: PipelineRun\napiVersion: tekton.dev/v1\n",
        "",
        "",
        "PipelineRun: 2 PipelineRuns are given; paste one (apiVersion tekton.dev/v1 or tekton.dev/v1beta1, kind PipelineRun)"
    )]
    #[case::a_list(
        "- a",
        "",
        "",
        "PipelineRun: is a list; expected a PipelineRun, a Pipeline or a Task of tekton.dev/v1 or tekton.dev/v1beta1"
    )]
    #[case::a_config_map(
        "kind: PipelineRun\napiVersion: tekton.dev/v1\n",
        "---\nkind: Task\napiVersion: tekton.dev/v1\n---\n# a comment\nkind: ConfigMap\napiVersion: v1\n",
        "",
        "Tasks, document 2: is a ConfigMap of v1; expected a PipelineRun, a Pipeline or a Task of tekton.dev/v1 or tekton.dev/v1beta1"
    )]
    #[case::an_unversioned_task(
        "kind: PipelineRun\napiVersion: tekton.dev/v1\n",
        "name: x",
        "",
        "Tasks: is a mapping without apiVersion and kind; expected a PipelineRun, a Pipeline or a Task of tekton.dev/v1 or tekton.dev/v1beta1"
    )]
    #[case::lines_count_across_documents(
        "kind: PipelineRun\napiVersion: tekton.dev/v1\n---\nkind: [Task\n",
        "",
        "",
        "PipelineRun: is not valid YAML or JSON: line 4 column 7: unclosed bracket '['"
    )]
    #[case::settings_not_yaml(
        "kind: PipelineRun\napiVersion: tekton.dev/v1\n",
        "",
        "a: b: c",
        "settings: is not valid YAML or JSON: line 1 column 5: mapping values are not allowed in this context"
    )]
    fn unusable_inputs_are_named(
        #[case] pipelinerun: &str,
        #[case] task: &str,
        #[case] settings: &str,
        #[case] expected: &str,
    ) {
        let simulation = simulate(pipelinerun, task, settings);
        assert_eq!(simulation.input_errors, [expected]);
        assert!(simulation.tasks.is_empty());
    }

    #[test]
    fn wrong_settings_get_the_message_of_validate_settings() {
        let simulation = simulate(
            &pipelinerun("{}", "[]"),
            "",
            "{onConflict: maybe, maxSidecarsPerTask: 0}",
        );
        let expected = settings::validate(br#"{"onConflict": "maybe", "maxSidecarsPerTask": 0}"#)
            .expect_err("invalid");
        assert_eq!(
            simulation.settings_error,
            Some(render_settings_errors(&expected))
        );
        assert!(
            simulation
                .settings_error
                .as_deref()
                .is_some_and(|m| m.contains("settings.onConflict"))
        );
        assert!(simulation.tasks.is_empty());
    }

    #[test]
    fn a_referenced_task_gets_the_sidecar_in_its_pod_and_an_inline_one_in_its_taskrun() {
        let all = "{pipelinerun-sidecars.io/all-tasks: '- {name: cache, image: redis}'}";
        let simulation = simulate(&pipelinerun(all, "[]"), TASK, "");
        assert_eq!(simulation.pipelinerun_rejection, None);
        let unit = task(&simulation, "unit");
        assert_eq!((unit.shown, unit.member_of), ("Pod", "tasks"));
        assert_eq!(
            changed(unit),
            [("containers", "sidecar-cache", Change::Added)]
        );
        let cache = &unit.entries.last().expect("entry").value;
        // The Task's workspace, at the Task's mountPath, shared as Tekton shares it with its sidecars.
        assert_eq!(
            cache["volumeMounts"],
            json!([{"name": "ws-1bcf2", "mountPath": "/src"}])
        );
        assert_eq!(
            unit.object["metadata"]["labels"]["tekton.dev/task"],
            "go-test"
        );
        let report = task(&simulation, "report");
        assert_eq!((report.shown, report.member_of), ("TaskRun", "finally"));
        assert_eq!(changed(report), [("sidecars", "cache", Change::Added)]);
        assert_eq!(report.injected, ["cache"]);
    }

    #[test]
    fn task_run_specs_declare_for_one_task_and_win_over_the_pipelinerun() {
        let annotations = "{pipelinerun-sidecars.io/it: '- {name: cache, image: redis:6}'}";
        let specs = "[{pipelineTaskName: it, metadata: {annotations: {pipelinerun-sidecars.io/it: '- {name: cache, image: redis:7}'}}}]";
        let simulation = simulate(&pipelinerun(annotations, specs), TASK, "");
        let it = task(&simulation, "it");
        assert_eq!(
            changed(it),
            [("containers", "sidecar-cache", Change::Added)]
        );
        assert_eq!(it.entries.last().expect("entry").value["image"], "redis:7");
        assert!(changed(task(&simulation, "unit")).is_empty());
        assert!(changed(task(&simulation, "report")).is_empty());
    }

    #[rstest]
    #[case::override_in_place("", Ok(vec![("containers", "sidecar-db", Change::Replaced)]))]
    #[case::native("injectAs: native", Ok(vec![("containers", "sidecar-db", Change::Replaced)]))]
    #[case::reject(
        "onConflict: reject",
        Err(
            "pipelinerun-sidecars: annotation \"pipelinerun-sidecars.io/unit\", sidecar \"db\": name: the Task already defines a sidecar named \"db\", and the policy setting onConflict is \"reject\"; choose another name"
        )
    )]
    fn a_declaration_that_names_a_task_sidecar(
        #[case] settings: &str,
        #[case] expected: Result<Vec<(&str, &str, Change)>, &str>,
    ) {
        let annotations = "{pipelinerun-sidecars.io/unit: '- {name: db, image: postgres}'}";
        let simulation = simulate(&pipelinerun(annotations, "[]"), TASK, settings);
        // The PipelineRun cannot know the Task's sidecars: the conflict shows on the Pod.
        assert_eq!(simulation.pipelinerun_rejection, None);
        let unit = task(&simulation, "unit");
        match expected {
            Ok(entries) => assert_eq!(changed(unit), entries),
            Err(message) => {
                let rejection = unit.rejection.as_ref().expect("rejected");
                assert_eq!(
                    (rejection.kind, rejection.message.as_str()),
                    ("Pod", message)
                );
            }
        }
    }

    #[test]
    fn a_custom_prefix_declares_and_marks() {
        let annotations = "{sidecars.acme.io/unit: '- {name: cache, image: redis}'}";
        let simulation = simulate(
            &pipelinerun(annotations, "[]"),
            TASK,
            "annotationPrefix: sidecars.acme.io",
        );
        let unit = task(&simulation, "unit");
        assert_eq!(unit.injected, ["cache"]);
        assert_eq!(
            unit.object["metadata"]["annotations"]["sidecars.acme.io/injected"],
            "cache"
        );
    }

    #[test]
    fn native_mode_adds_an_init_container() {
        let annotations = "{pipelinerun-sidecars.io/unit: '- {name: cache, image: redis}'}";
        let simulation = simulate(&pipelinerun(annotations, "[]"), TASK, "injectAs: native");
        let unit = task(&simulation, "unit");
        assert_eq!(
            changed(unit),
            [("initContainers", "sidecar-cache", Change::Added)]
        );
        let added = unit
            .entries
            .iter()
            .find(|e| e.change == Change::Added)
            .expect("added");
        assert_eq!(added.value["restartPolicy"], "Always");
    }

    #[test]
    fn a_bad_declaration_stops_at_the_pipelinerun_with_the_policy_message() {
        let annotations = "{pipelinerun-sidecars.io/unti: '- {name: cache, image: redis}'}";
        let simulation = simulate(&pipelinerun(annotations, "[]"), TASK, "");
        let message = simulation.pipelinerun_rejection.expect("rejected");
        assert!(message.contains("did you mean \"unit\"?"), "{message}");
        assert!(simulation.tasks.is_empty());
    }

    #[test]
    fn what_cannot_be_simulated_is_said() {
        let simulation = simulate(
            "apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata: {generateName: nightly-}
spec: {pipelineRef: {name: nightly}}
",
            "",
            "",
        );
        assert!(simulation.tasks.is_empty());
        assert_eq!(simulation.notes.len(), 2, "{:?}", simulation.notes);
        assert!(simulation.notes[0].contains("\"nightly-p1ay9\""));
        assert!(
            simulation.notes[1].starts_with("The PipelineRun's Pipeline \"nightly\" is not given"),
            "{}",
            simulation.notes[1]
        );

        let custom = "apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: pr}
spec:
  pipelineSpec:
    tasks:
      - {name: wait, taskRef: {apiVersion: custom.tekton.dev/v1alpha1, kind: Wait}}
      - {name: lint, taskRef: {resolver: hub, params: [{name: name, value: golangci-lint}]}}
";
        let simulation = simulate(custom, TASK, "");
        let names: Vec<&str> = simulation.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["lint"]);
        let notes = simulation.notes.join("\n");
        assert!(notes.contains("\"wait\" is a custom task"), "{notes}");
        assert!(
            notes.contains("\"lint\" references a Task that is not given (golangci-lint)"),
            "{notes}"
        );
        assert!(
            notes.contains("No pipeline task references the Task \"go-test\""),
            "{notes}"
        );
    }

    #[test]
    fn a_pasted_pipeline_resolves_the_pipeline_ref_and_its_annotations_reach_the_pods() {
        let pipelinerun = "apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: nightly-1
  annotations: {pipelinerun-sidecars.io/lint: '- {name: cache, image: redis:7}'}
spec: {pipelineRef: {name: nightly}}
";
        // A Pipeline, and two Tasks of which one is used, pasted as one multi-document text.
        let pasted = format!(
            "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: nightly
  annotations:
    pipelinerun-sidecars.io/lint: '- {{name: cache, image: redis:6}}'
    pipelinerun-sidecars.io/unit: '- {{name: db, image: postgres}}'
spec:
  tasks:
    - {{name: unit, taskRef: {{name: go-test}}}}
    - {{name: lint, taskRef: {{name: go-test}}}}
---
{TASK}---
apiVersion: tekton.dev/v1
kind: Task
metadata: {{name: unused}}
"
        );
        let simulation = simulate(pipelinerun, &pasted, "");
        assert!(simulation.input_errors.is_empty(), "{simulation:?}");
        let unit = task(&simulation, "unit");
        // The Pipeline's declaration for unit reaches its Pod, overriding the Task's own db sidecar.
        assert_eq!(
            changed(unit),
            [("containers", "sidecar-db", Change::Replaced)]
        );
        assert_eq!(
            unit.object["metadata"]["labels"]["tekton.dev/pipeline"],
            "nightly"
        );
        // For lint, the PipelineRun's annotation wins over the Pipeline's.
        let lint = task(&simulation, "lint");
        let cache = lint
            .entries
            .iter()
            .find(|e| e.name == "sidecar-cache")
            .expect("cache");
        assert_eq!(cache.value["image"], "redis:7");
        assert_eq!(
            simulation.notes[..1],
            [
                "No pipeline task references the Task \"unused\" (by taskRef.name, or the resolver's \"name\" param), so it was not used."
            ]
        );
    }

    #[test]
    fn a_v1beta1_inline_task_gets_resources_as_that_version_spells_them() {
        let simulation = simulate(
            "apiVersion: tekton.dev/v1beta1
kind: PipelineRun
metadata:
  name: pr
  annotations:
    pipelinerun-sidecars.io/build: '- {name: cache, image: redis, computeResources: {limits: {memory: 1Gi}}}'
spec:
  pipelineSpec:
    tasks: [{name: build, taskSpec: {steps: [{name: make, image: gcc}]}}]
",
            "",
            "",
        );
        let build = task(&simulation, "build");
        assert_eq!(build.object["apiVersion"], "tekton.dev/v1beta1");
        let sidecar = &build.entries[0].value;
        assert_eq!(sidecar["resources"], json!({"limits": {"memory": "1Gi"}}));
        assert_eq!(sidecar.get("computeResources"), None);
    }
}
