//! Hosting a Kubewarden waPC policy the way policy-server does: `wasmtime-provider`, the engine of
//! Kubewarden's policy-evaluator, with WASI, the module compiled once and every evaluation in a fresh
//! instance (`WasmtimeEngineProviderPre::rehydrate`). The e2e runner has a host of its own, lighter to
//! build (`e2e-tests/runner/src/lib.rs`); the figures here are measured on the one policy-server uses.

use std::error::Error;

use anyhow::{Result, anyhow};
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

/// One waPC call on a fresh instance, as policy-server makes every evaluation.
pub fn call(policy: &Compiled, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
    let engine = policy
        .rehydrate(None)
        .map_err(|err| anyhow!("cannot instantiate the policy: {err}"))?;
    let host = WapcHost::new(Box::new(engine), Some(Box::new(host_callback)))
        .map_err(|err| anyhow!("cannot start the policy: {err}"))?;
    host.call(operation, payload)
        .map_err(|err| anyhow!("{err}"))
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
