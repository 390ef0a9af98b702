//! Hosting a Kubewarden waPC policy the way policy-server does: `wasmtime-provider`, the engine of
//! Kubewarden's policy-evaluator, with WASI, the module compiled once and every evaluation in a fresh
//! instance (`WasmtimeEngineProviderPre::rehydrate`). Shared by `kwctl-runner` (the e2e suite) and
//! `policy-bench` (`bench/driver`, the benchmarks), so that the suite and the figures run on one host.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use wapc::{WapcHost, WasiParams};
use wasmtime::{Config, Engine, Module};
use wasmtime_provider::WasmtimeEngineProviderBuilder;

/// A policy compiled for repeated evaluation.
pub use wasmtime_provider::WasmtimeEngineProviderPre as Compiled;

pub mod session;

use session::Session;

/// Compiles `module`. With `cache`, the compiled code is kept in that directory, keyed by the module's
/// bytes and this wasmtime's version, as kwctl keeps it; a benchmark of compile time passes none.
pub fn compile(module: &[u8], cache: Option<&Path>) -> Result<Compiled> {
    // policy-evaluator's configuration: wasmtime's defaults (Cranelift).
    let engine = Engine::new(&Config::new())?;
    let module = match cache {
        Some(dir) => cached(&engine, module, dir)?,
        None => Module::new(&engine, module)?,
    };
    WasmtimeEngineProviderBuilder::new()
        .engine(engine)
        .module(module)
        .wasi_params(WasiParams::default())
        .build_pre()
        .map_err(|err| anyhow!("cannot compile the policy: {err}"))
}

/// The module from the cache, compiled and stored there first if needed.
fn cached(engine: &Engine, module: &[u8], dir: &Path) -> Result<Module> {
    let key = module.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let path = dir.join(format!(
        "{key:016x}-{}-{}.cwasm",
        module.len(),
        env!("CARGO_PKG_VERSION")
    ));
    if path.exists() {
        // SAFETY: the file is one this function wrote with `Module::serialize` for these very bytes
        // (the name holds their hash and length) and this build; wasmtime also checks that the
        // compiled code matches the engine's configuration and version before using it.
        #[allow(unsafe_code)]
        if let Ok(module) = unsafe { Module::deserialize_file(engine, &path) } {
            return Ok(module);
        }
    }
    let compiled = Module::new(engine, module)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let partial = path.with_extension("partial");
    std::fs::write(&partial, compiled.serialize()?)?;
    std::fs::rename(&partial, &path)?;
    Ok(compiled)
}

/// One waPC call on a fresh instance, as policy-server makes every evaluation.
pub fn call(policy: &Compiled, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
    call_on(&instance(policy)?, operation, payload)
}

/// One waPC call on a fresh instance whose context-aware capabilities `session` answers (kwctl's
/// `--allow-context-aware --replay-host-capabilities-interactions`).
pub fn call_replaying(
    policy: &Compiled,
    operation: &str,
    payload: &[u8],
    session: Arc<Session>,
) -> Result<Vec<u8>> {
    call_on(&instance_with(policy, Some(session))?, operation, payload)
}

/// A running instance of a policy, which may be kept for many calls (what a host that reuses instances
/// pays, for the benchmarks).
pub fn instance(policy: &Compiled) -> Result<WapcHost> {
    instance_with(policy, None)
}

fn instance_with(policy: &Compiled, session: Option<Arc<Session>>) -> Result<WapcHost> {
    let engine = policy
        .rehydrate(None)
        .map_err(|err| anyhow!("cannot instantiate the policy: {err}"))?;
    let callback =
        move |id: u64, binding: &str, namespace: &str, operation: &str, payload: &[u8]| {
            host_callback(
                session.as_deref(),
                id,
                binding,
                namespace,
                operation,
                payload,
            )
        };
    WapcHost::new(Box::new(engine), Some(Box::new(callback)))
        .map_err(|err| anyhow!("cannot start the policy: {err}"))
}

/// One waPC call on an instance that already exists.
pub fn call_on(host: &WapcHost, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
    host.call(operation, payload)
        .map_err(|err| anyhow!("{err}"))
}

/// The host capabilities a policy may call. Logging is accepted and dropped (kwctl prints it on stderr,
/// which the tests discard); the cluster's are answered by a recorded `session`, when there is one; the
/// registry's do not exist offline.
fn host_callback(
    session: Option<&Session>,
    _id: u64,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, Box<dyn Error + Send + Sync>> {
    match (binding, namespace, operation, session) {
        ("kubewarden", "tracing", "log", _) => Ok(Vec::new()),
        ("kubewarden", "kubernetes", operation, Some(session)) => session
            .answer(operation, payload)
            .map_err(|e| e.to_string().into()),
        _ => Err(format!(
            "host capability {binding}/{namespace}/{operation} is not available offline"
        )
        .into()),
    }
}
