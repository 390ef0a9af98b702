//! Hosting a Kubewarden waPC policy the way policy-server does: the module is compiled once, and every
//! evaluation gets a fresh instance. Shared by `kwctl-runner` (the e2e suite) and `policy-bench`
//! (`bench/driver`, the benchmarks).
//!
//! The waPC protocol is the `wapc` crate's (`WapcHost` and its `ModuleState`); the engine under it is
//! ours, on wasmtime with only the features a waPC policy needs (Cranelift and the runtime). The
//! `wasmtime-provider` crate that kwctl uses turns on wasmtime's cache, component model, GC, profiling,
//! coredumps and debug builtins, which made building this runner take most of a fresh clone's first
//! `make run`. A policy built for wasm32-wasip1 imports a handful of WASI functions (its allocator's
//! random seed, the environment, writes to stderr, exit); they are provided here as a policy-server
//! sandbox provides them (no environment, no files, output dropped), and any other import traps if it is
//! ever called.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use wapc::{ModuleState, WapcHost, WebAssemblyEngineProvider};
use wasmtime::{
    Caller, Config, Engine, Extern, InstancePre, Linker, Memory, Module, Store, format_err,
};

/// A policy compiled for repeated evaluation.
#[derive(Clone)]
pub struct Compiled {
    engine: Engine,
    pre: InstancePre<Host>,
}

/// Compiles `module`. With `cache`, the compiled code is kept in that directory, keyed by the module's
/// bytes and this wasmtime's version, as kwctl keeps it; a benchmark of compile time passes none.
pub fn compile(module: &[u8], cache: Option<&Path>) -> Result<Compiled> {
    let engine = Engine::new(&Config::new())?;
    let module = match cache {
        Some(dir) => cached(&engine, module, dir)?,
        None => Module::new(&engine, module)?,
    };
    let mut linker: Linker<Host> = Linker::new(&engine);
    add_wapc(&mut linker)?;
    add_wasi(&mut linker)?;
    linker.define_unknown_imports_as_traps(&module)?;
    let pre = linker.instantiate_pre(&module)?;
    Ok(Compiled { engine, pre })
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
    let engine = Provider {
        compiled: policy.clone(),
        store: None,
    };
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
) -> Result<Vec<u8>, Box<dyn Error + Send + Sync>> {
    match (binding, namespace, operation) {
        ("kubewarden", "tracing", "log") => Ok(Vec::new()),
        _ => Err(format!(
            "host capability {binding}/{namespace}/{operation} is not available offline"
        )
        .into()),
    }
}

/// What an instance's imports reach: the waPC state of the call under way.
#[derive(Default)]
struct Host {
    state: Option<Arc<ModuleState>>,
}

/// A `WebAssemblyEngineProvider` for `WapcHost`: one instance, made when the host initialises it.
struct Provider {
    compiled: Compiled,
    store: Option<(Store<Host>, wasmtime::Instance)>,
}

type BoxedError = Box<dyn Error + Send + Sync>;

impl WebAssemblyEngineProvider for Provider {
    fn init(&mut self, state: Arc<ModuleState>) -> Result<(), BoxedError> {
        let mut store = Store::new(&self.compiled.engine, Host { state: Some(state) });
        let instance = self.compiled.pre.instantiate(&mut store)?;
        // The guest's start functions: the WASI command's and the one that registers the waPC handlers.
        for start in ["_start", "wapc_init"] {
            if let Some(function) = instance.get_func(&mut store, start) {
                function.typed::<(), ()>(&store)?.call(&mut store, ())?;
            }
        }
        self.store = Some((store, instance));
        Ok(())
    }

    fn call(&mut self, op_length: i32, msg_length: i32) -> Result<i32, BoxedError> {
        let (store, instance) = self
            .store
            .as_mut()
            .ok_or("the policy was called before it was started")?;
        let guest_call = instance.get_typed_func::<(i32, i32), i32>(&mut *store, "__guest_call")?;
        Ok(guest_call.call(&mut *store, (op_length, msg_length))?)
    }

    fn replace(&mut self, _module: &[u8]) -> Result<(), BoxedError> {
        Err("replacing the module is not supported".into())
    }
}

/// What the host functions return to wasmtime.
type Wasm<T> = wasmtime::Result<T>;

/// The guest's exported memory.
fn memory(caller: &mut Caller<'_, Host>) -> Wasm<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => Err(format_err!("the policy exports no memory")),
    }
}

fn state(caller: &Caller<'_, Host>) -> Wasm<Arc<ModuleState>> {
    caller
        .data()
        .state
        .clone()
        .ok_or_else(|| format_err!("no call is under way"))
}

/// `len` bytes of guest memory at `ptr`.
fn read(caller: &mut Caller<'_, Host>, ptr: i32, len: i32) -> Wasm<Vec<u8>> {
    let memory = memory(caller)?;
    let start = usize::try_from(ptr)?;
    let end = start + usize::try_from(len)?;
    memory
        .data(&caller)
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format_err!("the policy pointed outside its memory"))
}

fn write(caller: &mut Caller<'_, Host>, ptr: i32, bytes: &[u8]) -> Wasm<()> {
    let memory = memory(caller)?;
    memory.write(caller, usize::try_from(ptr)?, bytes)?;
    Ok(())
}

/// The waPC host functions a guest imports from the `wapc` module.
fn add_wapc(linker: &mut Linker<Host>) -> Wasm<()> {
    linker.func_wrap(
        "wapc",
        "__guest_request",
        |mut caller: Caller<'_, Host>, op_ptr: i32, msg_ptr: i32| -> Wasm<()> {
            let invocation = state(&caller)?
                .get_guest_request()
                .ok_or_else(|| format_err!("no request for the policy"))?;
            write(&mut caller, op_ptr, invocation.operation.as_bytes())?;
            write(&mut caller, msg_ptr, &invocation.msg)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_response",
        |mut caller: Caller<'_, Host>, ptr: i32, len: i32| -> Wasm<()> {
            let response = read(&mut caller, ptr, len)?;
            state(&caller)?.set_guest_response(response);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__guest_error",
        |mut caller: Caller<'_, Host>, ptr: i32, len: i32| -> Wasm<()> {
            let error = read(&mut caller, ptr, len)?;
            state(&caller)?.set_guest_error(String::from_utf8_lossy(&error).into_owned());
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_call",
        |mut caller: Caller<'_, Host>,
         binding_ptr: i32,
         binding_len: i32,
         namespace_ptr: i32,
         namespace_len: i32,
         operation_ptr: i32,
         operation_len: i32,
         payload_ptr: i32,
         payload_len: i32|
         -> Wasm<i32> {
            let text = |caller: &mut Caller<'_, Host>, ptr: i32, len: i32| -> Wasm<String> {
                Ok(String::from_utf8_lossy(&read(caller, ptr, len)?).into_owned())
            };
            let binding = text(&mut caller, binding_ptr, binding_len)?;
            let namespace = text(&mut caller, namespace_ptr, namespace_len)?;
            let operation = text(&mut caller, operation_ptr, operation_len)?;
            let payload = read(&mut caller, payload_ptr, payload_len)?;
            state(&caller)?
                .do_host_call(&binding, &namespace, &operation, &payload)
                .map_err(|err| format_err!("{err}"))
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_response_len",
        |caller: Caller<'_, Host>| -> Wasm<i32> {
            Ok(i32::try_from(state(&caller)?.host_response_len())?)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_response",
        |mut caller: Caller<'_, Host>, ptr: i32| -> Wasm<()> {
            if let Some(response) = state(&caller)?.with_host_response(<[u8]>::to_vec) {
                write(&mut caller, ptr, &response)?;
            }
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_error_len",
        |caller: Caller<'_, Host>| -> Wasm<i32> {
            let error = state(&caller)?.get_host_error().unwrap_or_default();
            Ok(i32::try_from(error.len())?)
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__host_error",
        |mut caller: Caller<'_, Host>, ptr: i32| -> Wasm<()> {
            if let Some(error) = state(&caller)?.get_host_error() {
                write(&mut caller, ptr, error.as_bytes())?;
            }
            Ok(())
        },
    )?;
    linker.func_wrap(
        "wapc",
        "__console_log",
        |mut caller: Caller<'_, Host>, ptr: i32, len: i32| -> Wasm<()> {
            let message = read(&mut caller, ptr, len)?;
            state(&caller)?.do_console_log(&String::from_utf8_lossy(&message));
            Ok(())
        },
    )?;
    Ok(())
}

/// WASI preview 1's errno for success, and for a file descriptor that is not open.
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;

/// The WASI functions a Rust policy built for wasm32-wasip1 imports, as a sandbox without files or
/// environment provides them.
fn add_wasi(linker: &mut Linker<Host>) -> Wasm<()> {
    const WASI: &str = "wasi_snapshot_preview1";
    linker.func_wrap(
        WASI,
        "random_get",
        |mut caller: Caller<'_, Host>, ptr: i32, len: i32| -> Wasm<i32> {
            // Seeds for the guest's hash maps: the bytes need only differ from one call to the next.
            let mut bytes = vec![0_u8; usize::try_from(len)?];
            let seed = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let mut x = u64::try_from(seed % u128::from(u64::MAX)).unwrap_or(1) | 1;
            for byte in &mut bytes {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *byte = x.to_le_bytes()[0];
            }
            write(&mut caller, ptr, &bytes)?;
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "environ_sizes_get",
        |mut caller: Caller<'_, Host>, count_ptr: i32, size_ptr: i32| -> Wasm<i32> {
            write(&mut caller, count_ptr, &0_u32.to_le_bytes())?;
            write(&mut caller, size_ptr, &0_u32.to_le_bytes())?;
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "environ_get",
        |_caller: Caller<'_, Host>, _environ: i32, _buf: i32| -> i32 { ERRNO_SUCCESS },
    )?;
    linker.func_wrap(
        WASI,
        "fd_write",
        |mut caller: Caller<'_, Host>, fd: i32, iovs: i32, count: i32, written: i32| -> Wasm<i32> {
            if fd != 1 && fd != 2 {
                return Ok(ERRNO_BADF);
            }
            // Output is dropped, as policy-server drops a guest's stdout and stderr; the size written is
            // what the guest expects back.
            let mut total = 0_u32;
            for i in 0..count {
                let iov = read(&mut caller, iovs + i * 8, 8)?;
                let len = iov.get(4..8).map_or([0; 4], |b| [b[0], b[1], b[2], b[3]]);
                total += u32::from_le_bytes(len);
            }
            write(&mut caller, written, &total.to_le_bytes())?;
            Ok(ERRNO_SUCCESS)
        },
    )?;
    linker.func_wrap(
        WASI,
        "proc_exit",
        |_caller: Caller<'_, Host>, code: i32| -> Wasm<()> {
            Err(format_err!("the policy exited with code {code}"))
        },
    )?;
    Ok(())
}
