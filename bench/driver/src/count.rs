//! `policy-bench --module MODULE.wasm REQUEST.json [CALLS] [SETTINGS-JSON]`: evaluates one request in a
//! module the way policy-server does (a fresh instance for every call, the host's JSONPatch diff after
//! it), `CALLS` times, and nothing else. Run under `valgrind --tool=callgrind` with two numbers of calls,
//! the difference of the two counts divided by the difference of the calls is the instructions of one
//! request: a figure of the module itself (wasmtime's compiled code, the instantiation, the host's diff)
//! that the machine's load does not change, as the wall-clock ratios on a shared machine do. Page faults
//! and other kernel work are not in it; `make bench` times those.

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::host::{call, compile, respond};

pub fn run(module: &str, rest: &[String]) -> Result<()> {
    let request_path = rest
        .first()
        .context("usage: --module MODULE REQUEST [CALLS]")?;
    let calls: usize = rest.get(1).and_then(|n| n.parse().ok()).unwrap_or(10);
    let settings: Value = match rest.get(2) {
        Some(text) => serde_json::from_str(text).context("SETTINGS-JSON")?,
        None => json!({}),
    };
    let request: Value = serde_json::from_str(
        &std::fs::read_to_string(request_path).with_context(|| request_path.clone())?,
    )?;
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings}))?;
    let compiled = compile(&std::fs::read(module).with_context(|| module.to_string())?)?;
    let mut patch = 0;
    for _ in 0..calls {
        let answer = call(&compiled, "validate", &payload)?;
        if std::env::var_os("NO_DIFF").is_none() {
            patch = respond(&request["object"], &answer)?;
        } else {
            std::hint::black_box(answer);
        }
    }
    eprintln!("{calls} calls; a patch of {patch} bytes");
    Ok(())
}
