//! pipelinerun-sidecars: a Kubewarden policy that lets a Tekton PipelineRun declare sidecars for its
//! pipeline tasks (TEP-0126) and injects them where Tekton will run them.
//!
//! This file is the front end: it registers the waPC functions and turns outcomes into Kubewarden
//! responses. The decisions live in modules that know nothing about waPC, so they are tested natively and
//! serve other front ends too: the browser playground (`web/playground`) builds this crate without the
//! `wapc` feature. ARCHITECTURE.md maps the folders and follows one request through them.
//!
//! The public modules are what a front end needs: [`admission`] decides, [`settings`] checks the settings
//! at load time, [`tekton`] names what Tekton creates, and [`support`] reads YAML and JSON and renders
//! errors. The rest is the policy's inside.

pub mod admission;
mod declaration;
mod inject;
pub mod settings;
pub mod support;
pub mod tekton;
mod validation;

/// The policy's version, which every front end reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Kubewarden front end: waPC registration and the SDK's response types.
#[cfg(feature = "wapc")]
mod guest {
    use super::{admission, settings, support::error};
    use kubewarden_policy_sdk::protocol_version_guest;
    use kubewarden_policy_sdk::settings::SettingsValidationResponse;
    use kubewarden_policy_sdk::wapc_guest::{self as guest, CallResult};

    /// waPC's entry point: the host finds it by its unmangled name and calls it once per instance.
    #[allow(unsafe_code)] // `no_mangle` is how a waPC guest exports `wapc_init`; nothing else is unsafe.
    #[unsafe(no_mangle)]
    pub extern "C" fn wapc_init() {
        guest::register_function("validate", validate);
        guest::register_function("validate_settings", validate_settings);
        guest::register_function("protocol_version", protocol_version_guest);
    }

    /// Admission: accept, mutate (policy-server diffs the returned object into a JSONPatch) or reject,
    /// with the warnings `kubectl` prints. The SDK's helpers take no warnings on accept and mutate, and
    /// would hold the object as a tree, so the response is written by `admission`.
    fn validate(payload: &[u8]) -> CallResult {
        let verdict = admission::verdict_reading(payload, &Host);
        Ok(admission::validation_response(verdict)?)
    }

    /// The cluster, through the host's context-aware capability `kubernetes/get_resource` (what the SDK's
    /// `get_resource` sends, without the SDK's `cluster-context` feature and the Kubernetes types it
    /// brings). The host answers only for the kinds the policy's metadata lists (`contextAwareResources`)
    /// and policy-server's service account may read.
    struct Host;

    /// The host's `GetResourceRequest`.
    #[derive(serde::Serialize)]
    struct GetResource<'a> {
        api_version: &'a str,
        kind: &'a str,
        name: &'a str,
        namespace: &'a str,
        disable_cache: bool,
    }

    impl admission::cluster::Cluster for Host {
        fn get(
            &self,
            api_version: &str,
            kind: &str,
            namespace: &str,
            name: &str,
        ) -> Result<serde_json::Value, String> {
            let request = GetResource {
                api_version,
                kind,
                name,
                namespace,
                disable_cache: false,
            };
            let payload = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
            let answer = guest::host_call("kubewarden", "kubernetes", "get_resource", &payload)
                .map_err(|e| e.to_string())?;
            serde_json::from_slice(&answer).map_err(|e| e.to_string())
        }
    }

    /// Load-time settings check. Every problem is a `valid: false` answer with a message, never a guest
    /// error, so policy-server and kwctl show the reason instead of a deserialization failure.
    fn validate_settings(payload: &[u8]) -> CallResult {
        let response = match settings::load::validate(payload) {
            Ok(_) => SettingsValidationResponse {
                valid: true,
                message: None,
            },
            Err(errors) => SettingsValidationResponse {
                valid: false,
                message: Some(error::render_settings_errors(&errors)),
            },
        };
        Ok(serde_json::to_vec(&response)?)
    }
}
