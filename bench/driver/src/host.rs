//! What the benchmarks add to the policy host they share with the e2e runner (`kwctl_runner`, in
//! `e2e-tests/runner`: wasmtime with Cranelift, the module compiled once and every evaluation in a fresh
//! instance, as policy-server evaluates): the host's work on the answer, and the page faults.

use anyhow::Result;
use base64::Engine;
use serde_json::Value;

pub use kwctl_runner::{Compiled, call, call_on, instance};

/// Compiles `module` for repeated evaluation, without a cache: the compile time is measured too.
pub fn compile(module: &[u8]) -> Result<Compiled> {
    kwctl_runner::compile(module, None)
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
