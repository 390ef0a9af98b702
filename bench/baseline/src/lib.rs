//! The benchmark baseline: what any Kubewarden policy pays before it decides anything. It parses the
//! payload the way the SDK's `ValidationRequest::new` does (the whole request into JSON values) and
//! accepts; `validate_settings` parses the settings and says they are valid.

use kubewarden_policy_sdk::request::ValidationRequest;
use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};
use kubewarden_policy_sdk::{accept_request, protocol_version_guest};
use serde_json::Value;

/// waPC's entry point, registering the three functions every Kubewarden policy exports.
#[allow(unsafe_code)] // `no_mangle` is how a waPC guest exports `wapc_init`.
#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function("protocol_version", protocol_version_guest);
}

fn validate(payload: &[u8]) -> CallResult {
    let _request = ValidationRequest::<Value>::new(payload)?;
    accept_request()
}

fn validate_settings(payload: &[u8]) -> CallResult {
    let _settings: Value = serde_json::from_slice(payload)?;
    Ok(serde_json::to_vec(&SettingsValidationResponse {
        valid: true,
        message: None,
    })?)
}
