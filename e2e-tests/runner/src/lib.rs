//! Hosting a Kubewarden waPC policy the way policy-server does: the module is compiled once, and every
//! evaluation gets a fresh instance (`WasmtimeEngineProviderPre::rehydrate`). Shared by `kwctl-runner`
//! (the e2e suite) and `policy-bench` (`bench/driver`, the benchmarks).

use std::path::Path;

use anyhow::{Result, anyhow};
use wapc::{WapcHost, WasiParams};
use wasmtime_provider::WasmtimeEngineProviderBuilder;

/// A compiled policy, ready to be instantiated for each call.
pub use wasmtime_provider::WasmtimeEngineProviderPre;

/// Compiles `module` for repeated evaluation, with wasmtime's cache in `cache` when given (kwctl caches by
/// default; a benchmark of compile time must not).
pub fn compile(module: &[u8], cache: Option<&Path>) -> Result<WasmtimeEngineProviderPre> {
    let mut builder = WasmtimeEngineProviderBuilder::new()
        .module_bytes(module)
        .wasi_params(WasiParams::default());
    if let Some(cache) = cache {
        builder = builder.enable_cache(Some(cache));
    }
    builder
        .build_pre()
        .map_err(|err| anyhow!("cannot compile the policy: {err}"))
}

/// One waPC call on a fresh instance, as policy-server makes every evaluation.
pub fn call(
    policy: &WasmtimeEngineProviderPre,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>> {
    let engine = policy
        .rehydrate(None)
        .map_err(|err| anyhow!("cannot instantiate the policy: {err}"))?;
    let host = WapcHost::new(Box::new(engine), Some(Box::new(host_callback)))
        .map_err(|err| anyhow!("cannot start the policy: {err}"))?;
    host.call(operation, payload)
        .map_err(|err| anyhow!("{err}"))
}

/// The host capabilities a policy may call. Logging is accepted and dropped (kwctl prints it on stderr,
/// which the tests discard); the cluster and registry capabilities do not exist offline.
fn host_callback(
    _id: u64,
    binding: &str,
    namespace: &str,
    operation: &str,
    _payload: &[u8],
) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    match (binding, namespace, operation) {
        ("kubewarden", "tracing", "log") => Ok(Vec::new()),
        _ => Err(format!(
            "host capability {binding}/{namespace}/{operation} is not available offline"
        )
        .into()),
    }
}
