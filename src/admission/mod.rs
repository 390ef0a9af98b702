//! The request path: which row of the design's table a request falls in, and what the policy does about
//! it.
//!
//! This is the whole decision, as a pure function from the payload policy-server sends to an outcome, so
//! that it is tested natively and any front end (waPC, a CLI, a browser page) can reuse it. The folder
//! also holds the envelope the payload arrives in ([`envelope`]) and the marker annotation that records
//! what was injected ([`marker`]). It hands declarations to injection and validation, and knows nothing of
//! waPC.

pub mod cluster;
mod config_defaults;
mod envelope;
pub mod marker;
mod pipeline_ref;
mod response;
mod task_ref;
mod tekton_config;
mod verdict;

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;

use cluster::{Cluster, Unreadable};
use envelope::{Envelope, HEAD, METADATA, Metadata};
pub use response::validation_response;
use tekton_config::TektonConfigMap;
pub use verdict::{Mutated, Outcome, Verdict};

use crate::declaration::{self, Declared};
use crate::inject::context::{self, TaskRunContext};
use crate::inject::task::KnownTask;
use crate::inject::{self, pod, taskrun};
use crate::settings::{self, Settings};
use crate::support::error::{PolicyError, Problem, render_settings_errors, warning};
use crate::support::json::kind_of;
use crate::support::json_edit;
use crate::support::json_pruned::{self, Keep};
use crate::support::shape::{self, Unknown};
use crate::tekton::variables::Named;
use crate::tekton::{PIPELINE_TASK_LABEL, TASKRUN_LABEL};
use crate::validation::pipelinerun;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    PipelineRun,
    TaskRun,
    Pod,
}

/// The key of the audit annotation that lists what a mutation injected; the API server prefixes it with
/// the webhook's name.
pub const AUDIT_INJECTED: &str = "injected";

/// Evaluates one `validate` payload.
pub fn evaluate(payload: &[u8]) -> Result<Outcome, PolicyError> {
    verdict(payload).outcome
}

/// Evaluates one `validate` payload, with its warnings, reading nothing from a cluster.
pub fn verdict(payload: &[u8]) -> Verdict {
    verdict_reading(payload, &Unreadable)
}

/// Evaluates one `validate` payload, with its warnings, reading what it needs of `cluster`.
pub fn verdict_reading(payload: &[u8], cluster: &dyn Cluster) -> Verdict {
    let mut warnings = Vec::new();
    let mut audit = BTreeMap::new();
    let outcome = decide(payload, cluster, &mut warnings, &mut audit);
    Verdict {
        outcome,
        warnings,
        audit,
    }
}

fn decide(
    payload: &[u8],
    cluster: &dyn Cluster,
    warnings: &mut Vec<String>,
    audit: &mut BTreeMap<String, String>,
) -> Result<Outcome, PolicyError> {
    let envelope: Envelope = serde_json::from_slice(payload).map_err(|err| {
        PolicyError::Request(format!(
            "the payload is not {{\"request\": ..., \"settings\": ...}} ({})",
            without_position(&err)
        ))
    })?;
    let request = envelope.request;
    let target = match (request.kind.group.as_str(), request.kind.kind.as_str()) {
        ("tekton.dev", "PipelineRun") => Target::PipelineRun,
        ("tekton.dev", "TaskRun") => Target::TaskRun,
        ("", "Pod") => Target::Pod,
        _ => return Ok(Outcome::Accept),
    };
    // Pods and TaskRuns are changed on CREATE only: after that Tekton owns them (a TaskRun's spec is
    // immutable once started, and Tekton patches a Pod's sidecar images to stop them).
    match (target, request.operation.as_str()) {
        (Target::PipelineRun, "CREATE" | "UPDATE") | (Target::TaskRun | Target::Pod, "CREATE") => {}
        _ => return Ok(Outcome::Accept),
    }
    let Some(raw) = request.object else {
        return Ok(Outcome::Accept);
    };
    // A Pod or TaskRun whose text never names the annotation prefix declares nothing, and a Pod whose
    // text lacks Tekton's TaskRun label is not a TaskRun's: either is accepted without being parsed, which
    // is what nearly every Pod in a cluster is. The text is what policy-server serialized, where neither
    // (a DNS subdomain, a label key) is ever escaped.
    let prefix = match target {
        Target::PipelineRun => None,
        Target::TaskRun | Target::Pod => Some(annotation_prefix(envelope.settings)?),
    };
    let text = raw.get();
    if let Some(prefix) = &prefix
        && (!text.contains(&format!("\"{prefix}/"))
            || target == Target::Pod && !text.contains(&format!("\"{TASKRUN_LABEL}\"")))
    {
        return Ok(Outcome::Accept);
    }
    // The object is parsed once: its metadata into the policy's type, the rest into a tree of what this
    // target's path reads.
    let (metadata, object) = read_object(raw, "object", reads(target))?;
    if target == Target::Pod && !is_taskrun_pod(&metadata) {
        return Ok(Outcome::Accept);
    }
    // PipelineRuns are few and may declare only in spec.taskRunSpecs, so they are always read in full.
    if let Some(prefix) = &prefix
        && !metadata.has_prefix(prefix)
    {
        return Ok(Outcome::Accept);
    }
    let settings = read_settings(envelope.settings)?;
    let flags = TektonConfigMap::feature_flags(cluster, &settings.tekton_namespace);
    let defaults = TektonConfigMap::config_defaults(cluster, &settings.tekton_namespace);
    let settings = tekton_config::resolved(settings, &flags, warnings);
    // Only a Pod-level sidecar takes config-defaults' resources from the policy: Tekton gives a Task's
    // own.
    let settings = match target {
        Target::Pod => config_defaults::resolved(settings, &defaults, warnings),
        Target::PipelineRun | Target::TaskRun => settings,
    };
    let read = Read {
        text,
        object: &object,
        metadata: &metadata,
        settings: &settings,
        flags: &flags,
        defaults: &defaults,
    };
    match target {
        Target::PipelineRun => check_pipelinerun(&request, read, cluster, warnings),
        Target::TaskRun | Target::Pod => {
            inject_into(target, &request, read, cluster, warnings, audit)
        }
    }
}

/// What `decide` read of the request, for the step that decides.
#[derive(Clone, Copy)]
struct Read<'r> {
    /// The object's text, as the request carries it.
    text: &'r str,
    object: &'r Value,
    metadata: &'r Metadata,
    settings: &'r Settings,
    /// Tekton's feature flags, read when first asked for.
    flags: &'r TektonConfigMap<'r>,
    /// Tekton's config-defaults, read when first asked for.
    defaults: &'r TektonConfigMap<'r>,
}

/// The settings, schema defaults filled in.
fn read_settings(raw: Option<&RawValue>) -> Result<Settings, PolicyError> {
    let value: Value = match raw {
        Some(raw) => {
            serde_json::from_str(raw.get()).map_err(|err| PolicyError::Settings(err.to_string()))?
        }
        None => Value::Null,
    };
    Settings::from_value(value)
        .map_err(|errors| PolicyError::Settings(render_settings_errors(&errors)))
}

/// A PipelineRun CREATE or UPDATE: every declaration that changed is checked; nothing is mutated.
fn check_pipelinerun(
    request: &envelope::Request<'_>,
    read: Read<'_>,
    cluster: &dyn Cluster,
    warnings: &mut Vec<String>,
) -> Result<Outcome, PolicyError> {
    let Read {
        object,
        metadata,
        settings,
        ..
    } = read;
    let prefix = &settings.annotation_prefix;
    let now = pipelinerun::Declarations::of(object, &metadata.annotations, prefix);
    let old = match request.old_object.filter(|_| request.operation == "UPDATE") {
        Some(raw) => Some(read_old(raw)?),
        None => None,
    };
    let before = old
        .as_ref()
        .map(|(old, annotations)| pipelinerun::Declarations::of(old, annotations, prefix));
    // A child's keys name its parent's tasks, checked when the parent was created.
    let inherited = metadata.controlled_by_a_pipelinerun();
    let namespace = request
        .namespace
        .as_deref()
        .or(metadata.namespace.as_deref());
    let wanted = || !inherited && now.name_tasks(before.as_ref(), prefix);
    let pipeline = pipeline_ref::spec(object, namespace, cluster, wanted, warnings);
    let problems = pipelinerun::check(
        pipeline.as_deref(),
        &now,
        before.as_ref(),
        settings,
        inherited,
        warnings,
    );
    if problems.is_empty() {
        Ok(Outcome::Accept)
    } else {
        Err(PolicyError::Declarations(problems))
    }
}

/// A TaskRun or Pod CREATE: the declared sidecars injected, the marker and the audit annotation written.
fn inject_into(
    target: Target,
    request: &envelope::Request<'_>,
    read: Read<'_>,
    cluster: &dyn Cluster,
    warnings: &mut Vec<String>,
    audit: &mut BTreeMap<String, String>,
) -> Result<Outcome, PolicyError> {
    let Read {
        text,
        metadata,
        settings,
        flags,
        ..
    } = read;
    let task = metadata.labels.get(PIPELINE_TASK_LABEL).map(String::as_str);
    let marker_key = marker::key(&settings.annotation_prefix);
    let mut names = marker::names(metadata.annotations.get(&marker_key).map(String::as_str));
    let declared = declaration::for_task(&metadata.annotations, task, &names, settings)
        .map_err(PolicyError::Declarations)?;
    if declared.is_empty() {
        return Ok(Outcome::Accept);
    }
    let context_key = declaration::key(&settings.annotation_prefix, context::SUFFIX);
    let injected = match target {
        Target::TaskRun => into_taskrun(request, read, &declared, &names, &context_key, warnings),
        _ => into_pod(
            request,
            read,
            &declared,
            &names,
            &context_key,
            cluster,
            warnings,
        ),
    }
    .map_err(PolicyError::Declarations)?;
    warnings.extend(injected.warnings);
    let mut edits = injected.edits;
    if !injected.names.is_empty() {
        let from = |name: &str| {
            declared
                .iter()
                .find(|d| d.sidecar.name() == name)
                .map_or("", |d| d.annotation.as_str())
        };
        // A Pod built ready differs from the Task's own only where Tekton awaits a Task's sidecars.
        if target == Target::Pod
            && metadata.built_ready()
            && tekton_config::steps_await_sidecars(flags, warnings) != Some(false)
        {
            let ready = injected.names.iter();
            warnings.extend(ready.map(|n| warning(from(n), n, pod::READY_AT_ONCE)));
        }
        let sources: Vec<String> = injected
            .names
            .iter()
            .map(|name| format!("{name} from {}", from(name)))
            .collect();
        audit.insert(AUDIT_INJECTED.to_string(), sources.join(", "));
        names.extend(injected.names);
        edits.push(marker::write(&marker_key, &names));
    }
    if edits.is_empty() {
        return Ok(Outcome::Accept);
    }
    // The changes are made to the request's text: the rest of the object is neither rebuilt nor written
    // out again.
    json_edit::apply(text, &edits)
        .map(|text| Outcome::Mutate(Mutated::new(text)))
        .ok_or_else(|| PolicyError::Request("the object is not valid JSON".to_string()))
}

/// The TaskRun's injection, with config-defaults' binding read when a sidecar lists a workspace only it
/// binds.
fn into_taskrun(
    request: &envelope::Request<'_>,
    read: Read<'_>,
    declared: &[Declared],
    names: &[String],
    context_key: &str,
    warnings: &mut Vec<String>,
) -> Result<inject::Injected, Vec<Problem>> {
    let Read {
        object, metadata, ..
    } = read;
    let head = taskrun::Head {
        named: Named {
            name: metadata.name.as_deref(),
            namespace: metadata.namespace.as_deref(),
        },
        carrier: context::Annotation {
            key: context_key,
            present: metadata.annotations.get(context_key).map(String::as_str),
        },
    };
    let default_binding = match taskrun::leaves_to_defaults(object, declared, names) {
        true => config_defaults::workspace_binding(read.defaults, warnings),
        false => None,
    };
    let v1beta1 = request.kind.version == "v1beta1";
    let binding = default_binding.as_ref();
    taskrun::inject(
        object,
        declared,
        names,
        v1beta1,
        head,
        binding,
        read.settings,
    )
}

/// The Pod's injection, with its Task read when it matters: to a Pod with workspaces bound (by the
/// TaskRun, or by config-defaults, which the Pod's volumes show) or a sidecar with variables.
fn into_pod(
    request: &envelope::Request<'_>,
    read: Read<'_>,
    declared: &[Declared],
    names: &[String],
    context_key: &str,
    cluster: &dyn Cluster,
    warnings: &mut Vec<String>,
) -> Result<inject::Injected, Vec<Problem>> {
    let Read {
        object, metadata, ..
    } = read;
    let context = TaskRunContext::read(metadata.annotations.get(context_key).map(String::as_str));
    let namespace = request
        .namespace
        .as_deref()
        .or(metadata.namespace.as_deref());
    let bound = context.as_ref().is_some_and(|c| !c.workspaces.is_empty())
        || pod::has_workspace_volumes(object);
    let mut pending = declared.iter().filter(|d| !d.among(names));
    let task = match namespace {
        Some(namespace) if pending.any(|d| bound || d.sidecar.names_variables()) => {
            task_ref::known(metadata, namespace, cluster, read.defaults, warnings)
        }
        _ => KnownTask::default(),
    };
    pod::inject(object, declared, names, context, task, read.settings)
}

/// What of the object a target's path reads. A Pod's steps, most of its text, are left out of the tree.
fn reads(target: Target) -> &'static Keep {
    #[cfg(test)]
    if pruned_tests::WHOLE.get() {
        return &Keep::All;
    }
    match target {
        Target::Pod => &POD,
        Target::TaskRun | Target::PipelineRun => &Keep::All,
    }
}

/// What of a Pod admission and injection read: the metadata, and what injection reads of the spec.
const POD: Keep = Keep::Members(&[("metadata", METADATA), ("spec", inject::POD_SPEC_READS)]);

/// The object `raw` (the request's `what`), read once into a tree of what `keep` names (or whole, if it
/// is not of the shapes `keep` expects), and its metadata taken out of the tree.
fn read_object(raw: &RawValue, what: &str, keep: &Keep) -> Result<(Metadata, Value), PolicyError> {
    let mut tree = json_pruned::read(raw.get(), keep)
        .or_else(|_| json_pruned::read(raw.get(), &Keep::All))
        .map_err(|err| PolicyError::Request(format!("the {what} is not valid JSON ({err})")))?;
    // Only objects the API server would not send have metadata of another type: the slow path says where.
    let metadata = match tree.as_object_mut().map(|fields| fields.remove("metadata")) {
        Some(Some(metadata)) => Metadata::read(metadata),
        Some(None) => Some(Metadata::default()),
        None => None,
    };
    Ok((metadata.ok_or_else(|| unreadable_metadata(raw))?, tree))
}

/// The object an UPDATE replaces, with its annotations: what was accepted before.
fn read_old(raw: &RawValue) -> Result<(Value, BTreeMap<String, String>), PolicyError> {
    let (metadata, old) = read_object(raw, "old object", &Keep::All)?;
    Ok((old, metadata.annotations))
}

/// Why the object's metadata cannot be read, with the path of the field at fault. Reached only for objects
/// the API server would not send, so the fast path above need not track paths.
fn unreadable_metadata(object: &RawValue) -> PolicyError {
    let problem = match serde_json::from_str::<Value>(object.get()) {
        // The parts a path skips are only checked to be JSON; serde_json's tree is stricter (numbers
        // in range, escapes that are characters, 128 levels).
        Err(err) => {
            return PolicyError::Request(format!(
                "the object is not valid JSON ({})",
                without_position(&err)
            ));
        }
        Ok(mut value) => match shape::read(&mut value, &HEAD, Unknown::Drop) {
            Err(errors) => errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            Ok(_) => "cannot be read".to_string(),
        },
    };
    PolicyError::Request(format!("the object's {problem}"))
}

/// serde_json's message without " at line L column C": positions depend on how the caller serialized
/// the request (policy-server and kwctl re-serialize it), so the message names the path instead.
fn without_position(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match message.rsplit_once(" at line ") {
        Some((text, _)) => text.to_string(),
        None => message,
    }
}

/// A Pod that Tekton created for a TaskRun: it has the `tekton.dev/taskRun` label and a TaskRun as its
/// controller (taskrun.go finds its Pod by both). Any other Pod is never changed.
fn is_taskrun_pod(metadata: &Metadata) -> bool {
    metadata.labels.contains_key(TASKRUN_LABEL)
        && metadata.owner_references.iter().any(|owner| {
            owner.kind == "TaskRun"
                && owner.controller == Some(true)
                && owner.api_version.starts_with("tekton.dev/")
        })
}

/// The annotation prefix from the raw settings, without reading the rest of them (templates can be large).
fn annotation_prefix(settings: Option<&RawValue>) -> Result<String, PolicyError> {
    const PREFIX: Keep = Keep::Members(&[("annotationPrefix", Keep::All)]);
    let cannot =
        |why: String| PolicyError::Settings(format!("annotationPrefix cannot be read ({why})"));
    let given = match settings {
        Some(raw) if raw.get() != "null" => json_pruned::read(raw.get(), &PREFIX)
            .map_err(|err| cannot(err.to_string()))?
            .get_mut("annotationPrefix")
            .map(Value::take),
        _ => None,
    };
    match given {
        Some(Value::String(prefix)) => Ok(prefix),
        None | Some(Value::Null) => Ok(settings::default_prefix()),
        Some(other) => Err(cannot(format!("it is {}, not a string", kind_of(&other)))),
    }
}

#[cfg(test)]
mod pruned_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::missing(Some("{}"), Ok("pipelinerun-sidecars.io"))]
    #[case::no_settings(None, Ok("pipelinerun-sidecars.io"))]
    #[case::null_settings(Some("null"), Ok("pipelinerun-sidecars.io"))]
    #[case::null(
        Some(r#"{"annotationPrefix": null, "templates": {"x": [1]}}"#),
        Ok("pipelinerun-sidecars.io")
    )]
    #[case::given(
        Some(r#"{"maxSidecarsPerTask": 3, "annotationPrefix": "sidecars.acme.io"}"#),
        Ok("sidecars.acme.io")
    )]
    #[case::a_number(
        Some(r#"{"annotationPrefix": 5}"#),
        Err("annotationPrefix cannot be read (it is a number, not a string)")
    )]
    #[case::not_a_mapping(
        Some("[1]"),
        Err(
            "annotationPrefix cannot be read (invalid type: sequence, expected an object at line 1 column 0)"
        )
    )]
    fn the_prefix_is_read_alone_from_the_settings(
        #[case] settings: Option<&str>,
        #[case] expected: Result<&str, &str>,
    ) {
        let raw = settings.map(|text| RawValue::from_string(text.to_string()).expect("JSON"));
        let read = annotation_prefix(raw.as_deref());
        assert_eq!(
            read,
            expected
                .map(str::to_string)
                .map_err(|message| PolicyError::Settings(message.to_string()))
        );
    }

    fn payload(
        kind: (&str, &str, &str),
        operation: &str,
        object: Value,
        settings: Value,
    ) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "request": {"uid": "u", "kind": {"group": kind.0, "version": kind.1, "kind": kind.2},
                        "operation": operation, "object": object},
            "settings": settings
        }))
        .expect("json")
    }

    const POD: (&str, &str, &str) = ("", "v1", "Pod");
    const TASKRUN: (&str, &str, &str) = ("tekton.dev", "v1", "TaskRun");

    fn tekton_pod(annotations: Value) -> Value {
        json!({"metadata": {"name": "run-test-pod", "labels": {"tekton.dev/taskRun": "run-test", "tekton.dev/pipelineTask": "test"},
                            "annotations": annotations,
                            "ownerReferences": [{"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "run-test", "controller": true}]},
               "spec": {"containers": [{"name": "step-test", "image": "golang"}]}})
    }

    #[rstest::rstest]
    #[case::other_kind(("apps", "v1", "Deployment"), "CREATE", json!({"metadata": {}}))]
    #[case::pod_update(POD, "UPDATE", tekton_pod(json!({"pipelinerun-sidecars.io/test": "- {name: db, image: p}"})))]
    #[case::pod_delete(POD, "DELETE", Value::Null)]
    #[case::taskrun_update(TASKRUN, "UPDATE", json!({"metadata": {"annotations": {"pipelinerun-sidecars.io/test": "bad"}}}))]
    #[case::non_tekton_pod(POD, "CREATE", json!({"metadata": {"annotations": {"pipelinerun-sidecars.io/all-tasks": "- {name: db, image: p}"}}, "spec": {"containers": []}}))]
    #[case::tekton_pod_without_declaration(POD, "CREATE", tekton_pod(json!({"pipeline.tekton.dev/release": "v1.15.0"})))]
    #[case::object_without_metadata(TASKRUN, "CREATE", json!({"spec": {}}))]
    #[case::only_the_marker(POD, "CREATE", tekton_pod(json!({"pipelinerun-sidecars.io/injected": "db"})))]
    // Nothing in its text names the prefix: not parsed, so its odd metadata is not the policy's business.
    #[case::no_declaration_text(TASKRUN, "CREATE", json!({"metadata": "x"}))]
    fn passes_untouched(
        #[case] kind: (&str, &str, &str),
        #[case] operation: &str,
        #[case] object: Value,
    ) {
        assert_eq!(
            evaluate(&payload(kind, operation, object, json!({}))),
            Ok(Outcome::Accept)
        );
    }

    #[test]
    fn injects_into_a_tekton_pod_and_marks_it_once() {
        let pod =
            tekton_pod(json!({"pipelinerun-sidecars.io/test": "- {name: db, image: postgres}"}));
        let Ok(Outcome::Mutate(mutated)) = evaluate(&payload(POD, "CREATE", pod, json!({}))) else {
            panic!("mutation expected")
        };
        let mutated = mutated.value();
        assert_eq!(
            mutated["spec"]["containers"][1],
            json!({"name": "sidecar-db", "image": "postgres"})
        );
        assert_eq!(
            mutated["metadata"]["annotations"]["pipelinerun-sidecars.io/injected"],
            "db"
        );
        assert_eq!(
            evaluate(&payload(POD, "CREATE", mutated, json!({}))),
            Ok(Outcome::Accept)
        );
    }

    /// A payload whose object is `object_text` as written, not as serde_json would write it.
    fn raw_payload(object_text: &str) -> Vec<u8> {
        format!(
            r#"{{"request": {{"uid": "u", "kind": {{"group": "", "version": "v1", "kind": "Pod"}}, "operation": "CREATE", "object": {object_text}}}, "settings": {{}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_key_given_twice_is_read_as_its_last() {
        // As a tree reads it (and as the policy read the object before it pruned it): no rejection.
        let pod =
            tekton_pod(json!({"pipelinerun-sidecars.io/test": "- {name: db, image: postgres}"}));
        let text = pod.to_string().replacen(
            r#""labels":"#,
            r#""labels": {"tekton.dev/taskRun": "other"}, "labels":"#,
            1,
        );
        let Ok(Outcome::Mutate(mutated)) = evaluate(&raw_payload(&text)) else {
            panic!("mutation expected for {text}")
        };
        assert_eq!(
            mutated.value()["spec"]["containers"][1]["name"],
            "sidecar-db"
        );
    }

    #[test]
    fn metadata_that_cannot_be_read_beside_what_a_tree_refuses_is_called_invalid_json() {
        let text = r#"{"metadata": {"labels": {"tekton.dev/taskRun": 1}, "annotations": {"pipelinerun-sidecars.io/x": "-"}},
                       "spec": {"containers": [{"name": "step-a", "ports": [{"containerPort": 1e400}]}]}}"#;
        assert_eq!(
            evaluate(&raw_payload(text)),
            Err(PolicyError::Request(
                "the object is not valid JSON (number out of range)".to_string()
            ))
        );
    }

    #[test]
    fn a_custom_prefix_is_honoured() {
        let pod = tekton_pod(json!({"sidecars.acme.io/test": "- {name: db, image: postgres}"}));
        let settings = json!({"annotationPrefix": "sidecars.acme.io"});
        assert!(matches!(
            evaluate(&payload(POD, "CREATE", pod.clone(), settings)),
            Ok(Outcome::Mutate(_))
        ));
        assert_eq!(
            evaluate(&payload(POD, "CREATE", pod, json!({}))),
            Ok(Outcome::Accept)
        );
    }

    #[rstest::rstest]
    #[case::not_json(b"{{".to_vec(), "pipelinerun-sidecars cannot read the admission request: the payload is not {\"request\": ..., \"settings\": ...} (key must be a string)")]
    #[case::not_an_envelope(b"[1]".to_vec(), "pipelinerun-sidecars cannot read the admission request: the payload is not {\"request\": ..., \"settings\": ...} (invalid type: integer `1`, expected struct Request)")]
    #[case::metadata_not_a_mapping(payload(TASKRUN, "CREATE", json!({"metadata": "pipelinerun-sidecars.io/test"}), json!({})), "pipelinerun-sidecars cannot read the admission request: the object's metadata: is string \"pipelinerun-sidecars.io/test\", expected Metadata")]
    fn unreadable_requests_are_rejected_with_a_reason(
        #[case] payload: Vec<u8>,
        #[case] expected: &str,
    ) {
        assert_eq!(
            evaluate(&payload).expect_err("rejected").to_string(),
            expected
        );
    }
}
