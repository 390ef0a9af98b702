//! Hosting a Kubewarden waPC policy the way policy-server does: `wasmtime-provider`, the engine of
//! Kubewarden's policy-evaluator, with WASI, the module compiled once and every evaluation in a fresh
//! instance (`WasmtimeEngineProviderPre::rehydrate`). The e2e runner has a host of its own, lighter to
//! build (`e2e-tests/runner/src/lib.rs`); the figures here are measured on the one policy-server uses.

use std::error::Error;

use anyhow::{Result, anyhow};
use base64::Engine;
use serde_json::Value;
use wapc::{WapcHost, WasiParams};
use wasmtime_provider::WasmtimeEngineProviderBuilder;

/// A compiled policy, ready to be instantiated for each call.
pub use wasmtime_provider::WasmtimeEngineProviderPre as Compiled;

/// Compiles `module` for repeated evaluation, without a cache: the compile time is measured too.
pub fn compile(module: &[u8]) -> Result<Compiled> {
    WasmtimeEngineProviderBuilder::new()
        .module_bytes(module)
        .wasi_params(WasiParams::default())
        .build_pre()
        .map_err(|err| anyhow!("cannot compile the policy: {err}"))
}

/// A running instance of a policy, kept for many calls: what a host that reuses instances pays.
pub fn instance(policy: &Compiled) -> Result<WapcHost> {
    let engine = policy
        .rehydrate(None)
        .map_err(|err| anyhow!("cannot instantiate the policy: {err}"))?;
    WapcHost::new(Box::new(engine), Some(Box::new(host_callback)))
        .map_err(|err| anyhow!("cannot start the policy: {err}"))
}

/// One waPC call on a fresh instance, as policy-server makes every evaluation.
pub fn call(policy: &Compiled, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
    call_on(&instance(policy)?, operation, payload)
}

/// One waPC call on an instance that already exists.
pub fn call_on(host: &WapcHost, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
    host.call(operation, payload)
        .map_err(|err| anyhow!("{err}"))
}

/// What policy-evaluator does with a `validate` answer before policy-server sends it
/// (`AdmissionResponse::from_policy_validation_response`): read it, diff a returned object against the
/// request's into a JSONPatch, serialize the patch and encode it in base64. A mutating policy pays this on
/// the host, so it is part of every figure. Returns the size of the patch in bytes, 0 when there is none.
pub fn respond(request_object: &Value, answer: &[u8]) -> Result<usize> {
    let mut response: Value = serde_json::from_slice(answer)?;
    match response.get_mut("mutated_object").map(Value::take) {
        Some(mutated) if !mutated.is_null() => {
            let patch = serde_json::to_string(&json_patch::diff(request_object, &mutated))?;
            std::hint::black_box(base64::engine::general_purpose::STANDARD.encode(&patch));
            Ok(patch.len())
        }
        _ => Ok(0),
    }
}

/// The minor page faults of this process so far (Linux's `/proc/self/stat`, 0 elsewhere): a fresh
/// instance's memory is untouched, so what a call costs beyond its instructions is mostly the pages it
/// touches for the first time.
pub fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces: minflt is the 10th
    // field of the line, the 8th after it.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(7))
        .and_then(|field| field.parse().ok())
        .unwrap_or(0)
}

/// The host capabilities a policy may call: logging is dropped; nothing else exists offline.
fn host_callback(
    _id: u64,
    binding: &str,
    namespace: &str,
    operation: &str,
    _payload: &[u8],
) -> Result<Vec<u8>, Box<dyn Error + Send + Sync>> {
    match (binding, namespace, operation) {
        ("kubewarden", "tracing", "log") => Ok(Vec::new()),
        _ => Err(
            format!("host capability {binding}/{namespace}/{operation} is not available").into(),
        ),
    }
}
