//! The policy's own code run natively, without wasm: `admission::verdict` and the answer written out
//! (`admission::validation_response`), as the waPC front end does them. It shows what the domain code
//! costs apart from the module's runtime, and is where a profiler (`perf record target/runner/policy-bench
//! ...`) sees the policy's own functions.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use pipelinerun_sidecars::admission::{self, Outcome};
use serde_json::{Value, json};

use crate::stats;

/// Median time of one evaluation of `payload` in microseconds, after a warm-up; and whether it mutated.
pub fn time(payload: &[u8], iterations: usize) -> (f64, bool) {
    let once = || {
        let verdict = admission::verdict(payload);
        let mutated = matches!(verdict.outcome, Ok(Outcome::Mutate(_)));
        std::hint::black_box(admission::validation_response(verdict).ok());
        mutated
    };
    let mut mutated = false;
    for _ in 0..iterations / 10 + 1 {
        mutated = once();
    }
    let times: Vec<Duration> = (0..iterations.max(1))
        .map(|_| {
            let start = Instant::now();
            once();
            start.elapsed()
        })
        .collect();
    (stats(times).p50, mutated)
}

/// `policy-bench --native REQUEST.json [ITERATIONS] [SETTINGS-JSON]`: evaluates one AdmissionRequest
/// natively, over and over, for a profiler or an instruction count. The step figures in BENCHMARKS.md are
/// `valgrind --tool=callgrind` counts of two runs that differ only in ITERATIONS, divided by the
/// difference.
pub fn profile(request: &str, rest: &[String]) -> Result<()> {
    let iterations: usize = rest.first().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let settings: Value = match rest.get(1) {
        Some(text) => serde_json::from_str(text).context("SETTINGS-JSON")?,
        None => json!({}),
    };
    let request: Value = serde_json::from_str(
        &std::fs::read_to_string(request).with_context(|| request.to_string())?,
    )?;
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings}))?;
    let (median, mutated) = time(&payload, iterations);
    eprintln!(
        "{median:.1} µs per evaluation (median of {iterations}); {}",
        if mutated { "mutated" } else { "not mutated" }
    );
    Ok(())
}
