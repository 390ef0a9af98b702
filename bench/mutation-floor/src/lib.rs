//! The mutation floor: the cheapest policy that changes what it is sent. Any mutating Kubewarden policy
//! pays for parsing the request, building the object and returning it whole (policy-evaluator diffs it
//! into the JSONPatch); this one does only that, appending one fixed container where this project's
//! policy injects sidecars: a Pod's `spec.containers`, an inline TaskRun's `spec.taskSpec.sidecars`.
//! Anything else is accepted, like the do-nothing baseline.

use kubewarden_policy_sdk::request::ValidationRequest;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use kubewarden_policy_sdk::{accept_request, mutate_request, protocol_version_guest};
use serde_json::{Value, json};

/// waPC's entry point, registering the three functions every Kubewarden policy exports.
#[allow(unsafe_code)] // `no_mangle` is how a waPC guest exports `wapc_init`.
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function("protocol_version", protocol_version_guest);
}

fn validate(payload: &[u8]) -> CallResult {
    let request = ValidationRequest::<Value>::new(payload)?;
    let mut object = request.request.object;
    let (parent, list) = match request.request.kind.kind.as_str() {
        "Pod" => ("/spec", "containers"),
        "TaskRun" => ("/spec/taskSpec", "sidecars"),
        _ => return accept_request(),
    };
    let containers = object
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .map(|parent| parent.entry(list).or_insert_with(|| json!([])))
        .and_then(Value::as_array_mut);
    match containers {
        Some(containers) => {
            containers.push(json!({"name": "sidecar-floor", "image": "busybox:1.36"}));
            mutate_request(object)
        }
        None => accept_request(),
    }
}

fn validate_settings(payload: &[u8]) -> CallResult {
    let _settings: Value = serde_json::from_slice(payload)?;
    Ok(serde_json::to_vec(&SettingsValidationResponse {
        valid: true,
        message: None,
    })?)
}
