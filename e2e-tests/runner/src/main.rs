//! `kwctl-runner run`: evaluates a Kubewarden waPC policy the way `kwctl run` does, and prints what it
//! prints, so that the bats suite runs hermetically here and unchanged with a real kwctl on PATH.
//!
//! What it reproduces (from kubewarden's policy-evaluator and kwctl): the policy is compiled once and every
//! call gets a fresh instance, as policy-server does (`src/lib.rs`); settings are
//! validated first, and invalid ones print nothing on stdout, `Error: Provided settings are not valid: M`
//! on stderr (M as the policy wrote it: kwctl's `anyhow!` error, printed by its `main` with `{err:?}`, has
//! no cause chain), and exit 1; the request file is read into policy-evaluator's `AdmissionRequest`, with
//! kwctl's errors, and `validate` receives it written out again, as `{"request": ..., "settings": ...}`;
//! a mutated object becomes a JSONPatch against the request's object
//! (`json_patch::diff`, base64), and the AdmissionResponse is printed as one line of JSON.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use kwctl_runner::session::Session;
use kwctl_runner::{call, call_replaying, compile};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod request;

const USAGE: &str = "usage: kwctl-runner run [--request-path FILE] [--settings-json JSON | --settings-path FILE] [--allow-context-aware --replay-host-capabilities-interactions FILE] POLICY.wasm\n       kwctl-runner request MANIFEST.yaml (prints the AdmissionRequest that creates it)";

/// What a policy's `validate` returns (kubewarden-policy-sdk's `ValidationResponse`).
#[derive(Deserialize)]
struct ValidationResponse {
    accepted: bool,
    message: Option<String>,
    code: Option<u16>,
    mutated_object: Option<Value>,
    audit_annotations: Option<HashMap<String, String>>,
    warnings: Option<Vec<String>>,
}

/// What a policy's `validate_settings` returns.
#[derive(Deserialize, Serialize)]
struct SettingsValidationResponse {
    valid: bool,
    message: Option<String>,
}

/// Kubernetes' admission/v1 AdmissionResponse, with policy-evaluator's field order and omissions.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionResponse {
    uid: String,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    audit_annotations: Option<HashMap<String, String>>,
    warnings: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Status {
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
}

/// policy-evaluator's `AdmissionRequest` (`src/admission_request.rs`), which kwctl reads a request into and
/// sends the policy written out again: a request without `uid`, `kind`, `resource`, `operation` or
/// `userInfo` is refused, and the fields it does not name never reach the policy.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct AdmissionRequest {
    uid: String,
    kind: GroupVersionKind,
    resource: GroupVersionResource,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_kind: Option<GroupVersionKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_resource: Option<GroupVersionResource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_sub_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    operation: String,
    user_info: UserInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    old_object: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dry_run: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Value>,
}

#[derive(Deserialize, Serialize)]
struct GroupVersionKind {
    group: String,
    version: String,
    kind: String,
}

#[derive(Deserialize, Serialize)]
struct GroupVersionResource {
    group: String,
    version: String,
    resource: String,
}

/// k8s-openapi's `authentication/v1` `UserInfo`: every field optional, written out only when given.
#[derive(Deserialize, Serialize)]
struct UserInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<std::collections::BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
}

struct Args {
    request_path: Option<String>,
    /// kwctl's `--allow-context-aware`: without it the policy reads nothing of the cluster.
    context_aware: bool,
    /// A session kwctl recorded, which answers what the policy reads of the cluster.
    replay: Option<String>,
    settings: Value,
    policy: String,
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(argv: Vec<String>) -> Result<ExitCode> {
    if let [command, manifest] = argv.as_slice()
        && command == "request"
    {
        println!("{:#}", request::for_file(manifest)?);
        return Ok(ExitCode::SUCCESS);
    }
    let args = parse_args(argv)?;
    let module = std::fs::read(&args.policy)
        .with_context(|| format!("cannot read policy {}", args.policy))?;
    // Like kwctl, keep compiled modules in wasmtime's cache, here beside the runner (in the build tree), so
    // that a suite of a hundred runs compiles the module once.
    let cache = std::env::current_exe()?.with_file_name("wasmtime-cache");
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create {}", cache.display()))?;
    let policy =
        compile(&module, Some(&cache)).with_context(|| format!("policy {}", args.policy))?;

    let settings = serde_json::to_vec(&args.settings)?;
    let validation = match call(&policy, "validate_settings", &settings) {
        Ok(bytes) => serde_json::from_slice::<SettingsValidationResponse>(&bytes).context(
            "validate_settings returned something that is not a SettingsValidationResponse",
        )?,
        Err(err) => SettingsValidationResponse {
            valid: false,
            message: Some(format!(
                "Error invoking settings validation callback: {err}"
            )),
        },
    };
    if !validation.valid {
        eprintln!(
            "Error: Provided settings are not valid: {}",
            validation.message.unwrap_or_default()
        );
        return Ok(ExitCode::FAILURE);
    }

    let Some(request_path) = args.request_path else {
        return Ok(ExitCode::SUCCESS);
    };
    let text = std::fs::read_to_string(&request_path)
        .with_context(|| format!("cannot read {request_path}"))?;
    let given: Value =
        serde_json::from_str(&text).with_context(|| format!("{request_path} is not JSON"))?;
    let request = admission_request(given)?;
    let uid = request.uid.clone();
    let request = serde_json::to_value(request)?;
    let payload = serde_json::to_vec(&json!({"request": request, "settings": args.settings}))?;
    let answer = match (args.context_aware, &args.replay) {
        (true, Some(path)) => call_replaying(
            &policy,
            "validate",
            &payload,
            Arc::new(Session::read(path)?),
        ),
        _ => call(&policy, "validate", &payload),
    };
    let response = match answer {
        Ok(bytes) => {
            let answer: ValidationResponse = serde_json::from_slice(&bytes)
                .context("validate returned something that is not a ValidationResponse")?;
            admission_response(uid, request.get("object"), answer)?
        }
        Err(err) => AdmissionResponse {
            uid,
            allowed: false,
            patch_type: None,
            patch: None,
            status: Some(Status {
                message: Some(format!("internal server error: {err}")),
                code: Some(500),
            }),
            audit_annotations: None,
            warnings: None,
        },
    };
    println!("{}", serde_json::to_string(&response)?);
    Ok(ExitCode::SUCCESS)
}

/// The request a file holds, as kwctl's `build_validate_request` reads it (`src/command/run/evaluator.rs`):
/// an object, the `request` of an AdmissionReview, read into policy-evaluator's `AdmissionRequest`.
fn admission_request(given: Value) -> Result<AdmissionRequest> {
    if !given.is_object() {
        bail!("Invalid request object");
    }
    let request = if given.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
        given
            .get("request")
            .cloned()
            .ok_or_else(|| anyhow!("invalid AdmissionReview object"))?
    } else {
        given
    };
    serde_json::from_value(request)
        .map_err(|e| anyhow!("cannot build AdmissionRequest object from given input: {e}"))
}

/// policy-evaluator's `AdmissionResponse::from_policy_validation_response`.
fn admission_response(
    uid: String,
    object: Option<&Value>,
    answer: ValidationResponse,
) -> Result<AdmissionResponse> {
    if answer.mutated_object.is_some() && object.is_none() {
        return Ok(AdmissionResponse {
            uid,
            allowed: false,
            patch_type: None,
            patch: None,
            status: Some(Status {
                message: Some("Incoming object is null, which happens only with DELETE operations, but the policy is attempting a mutation. This is not allowed".into()),
                code: None,
            }),
            audit_annotations: None,
            warnings: None,
        });
    }
    let patch = match (&answer.mutated_object, object) {
        (Some(mutated), Some(original)) => {
            let diff = json_patch::diff(original, mutated);
            if diff.0.is_empty() {
                None
            } else {
                Some(
                    base64::engine::general_purpose::STANDARD.encode(serde_json::to_string(&diff)?),
                )
            }
        }
        _ => None,
    };
    let status = (answer.message.is_some() || answer.code.is_some()).then(|| Status {
        message: answer.message.clone(),
        code: answer.code,
    });
    Ok(AdmissionResponse {
        uid,
        allowed: answer.accepted,
        patch_type: patch.as_ref().map(|_| "JSONPatch".to_string()),
        patch,
        status,
        audit_annotations: answer.audit_annotations,
        warnings: answer.warnings,
    })
}

fn parse_args(argv: Vec<String>) -> Result<Args> {
    let mut argv = argv.into_iter();
    match argv.next().as_deref() {
        Some("run") => {}
        _ => bail!("{USAGE}"),
    }
    let mut request_path = None;
    let mut context_aware = false;
    let mut replay = None;
    let mut settings = Value::Object(Default::default());
    let mut policy = None;
    while let Some(arg) = argv.next() {
        let mut value = |name: &str| {
            argv.next()
                .ok_or_else(|| anyhow!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--request-path" | "-r" => request_path = Some(value(&arg)?),
            "--allow-context-aware" => context_aware = true,
            "--replay-host-capabilities-interactions" => replay = Some(value(&arg)?),
            "--settings-json" => {
                let text = value(&arg)?;
                settings = serde_json::from_str(&text)
                    .with_context(|| format!("--settings-json is not JSON: {text}"))?;
            }
            "--settings-path" | "-s" => {
                let path = value(&arg)?;
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {path}"))?;
                // kwctl reads a settings file as YAML, of which JSON is a part.
                settings = serde_saphyr::from_str::<Value>(&text)
                    .with_context(|| format!("{path} is not YAML"))?;
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}\n{USAGE}"),
            path => policy = Some(path.to_string()),
        }
    }
    let policy = policy.ok_or_else(|| anyhow!("no policy given\n{USAGE}"))?;
    Ok(Args {
        request_path,
        context_aware,
        replay,
        settings,
        policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(
        accepted: bool,
        mutated_object: Option<Value>,
        message: Option<&str>,
    ) -> ValidationResponse {
        ValidationResponse {
            accepted,
            message: message.map(str::to_string),
            code: None,
            mutated_object,
            audit_annotations: None,
            warnings: None,
        }
    }

    fn printed(response: &AdmissionResponse) -> String {
        serde_json::to_string(response).expect("serializes")
    }

    fn request() -> Value {
        json!({"uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
               "resource": {"group": "", "version": "v1", "resource": "pods"},
               "operation": "CREATE", "userInfo": {"username": "alice"}, "object": {"kind": "Pod"}})
    }

    /// A request is read as kwctl reads it, and reaches the policy as kwctl writes it out again.
    #[test]
    fn a_request_is_read_as_kwctl_reads_it() {
        let mut extra = request();
        extra["somethingElse"] = json!(1);
        extra["oldObject"] = Value::Null;
        let read = serde_json::to_value(admission_request(extra).expect("read")).expect("written");
        assert_eq!(read, request());
        let review = json!({"kind": "AdmissionReview", "request": request()});
        let read = serde_json::to_value(admission_request(review).expect("read")).expect("written");
        assert_eq!(read, request());
        for (field, refused) in [
            ("userInfo", "missing field `userInfo`"),
            ("resource", "missing field `resource`"),
            ("uid", "missing field `uid`"),
        ] {
            let mut without = request();
            without.as_object_mut().expect("object").remove(field);
            let error = admission_request(without)
                .err()
                .expect("refused")
                .to_string();
            assert_eq!(
                error,
                format!("cannot build AdmissionRequest object from given input: {refused}")
            );
        }
        let error = admission_request(json!([1]))
            .err()
            .expect("refused")
            .to_string();
        assert_eq!(error, "Invalid request object");
    }

    #[test]
    fn a_mutation_becomes_a_base64_json_patch_in_kwctls_field_order() {
        let original = json!({"spec": {"containers": [{"name": "step-a"}]}});
        let mutated = json!({"spec": {"containers": [{"name": "step-a"}, {"name": "sidecar-db"}]}});
        let response = admission_response(
            "u1".into(),
            Some(&original),
            answer(true, Some(mutated), None),
        )
        .expect("ok");
        let patch = base64::engine::general_purpose::STANDARD
            .encode(r#"[{"op":"add","path":"/spec/containers/1","value":{"name":"sidecar-db"}}]"#);
        assert_eq!(
            printed(&response),
            format!(
                r#"{{"uid":"u1","allowed":true,"patchType":"JSONPatch","patch":"{patch}","auditAnnotations":null,"warnings":null}}"#
            )
        );
    }

    #[test]
    fn an_unchanged_object_gives_no_patch() {
        let original = json!({"a": 1});
        let response = admission_response(
            "u".into(),
            Some(&original),
            answer(true, Some(original.clone()), None),
        )
        .expect("ok");
        assert_eq!(
            printed(&response),
            r#"{"uid":"u","allowed":true,"auditAnnotations":null,"warnings":null}"#
        );
    }

    #[test]
    fn a_rejection_carries_its_message_in_status() {
        let response = admission_response(
            "u".into(),
            Some(&json!({})),
            answer(false, None, Some("no")),
        )
        .expect("ok");
        assert_eq!(
            printed(&response),
            r#"{"uid":"u","allowed":false,"status":{"message":"no"},"auditAnnotations":null,"warnings":null}"#
        );
    }

    #[test]
    fn mutating_a_deleted_object_is_refused_as_policy_evaluator_does() {
        let response =
            admission_response("u".into(), None, answer(true, Some(json!({})), None)).expect("ok");
        assert!(!response.allowed);
        assert!(printed(&response).contains("Incoming object is null"));
    }

    #[test]
    fn arguments_follow_kwctl_run() {
        let args = parse_args(
            [
                "run",
                "-r",
                "req.json",
                "--settings-json",
                r#"{"injectAs":"native"}"#,
                "policy.wasm",
            ]
            .map(String::from)
            .to_vec(),
        )
        .expect("valid");
        assert_eq!(args.request_path.as_deref(), Some("req.json"));
        assert_eq!(args.settings, json!({"injectAs": "native"}));
        assert_eq!(args.policy, "policy.wasm");
        assert!(parse_args(vec!["bench".into()]).is_err());
        assert!(parse_args(["run", "--unknown", "p.wasm"].map(String::from).to_vec()).is_err());
    }
}
