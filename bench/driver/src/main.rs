//! `policy-bench`: the admission cost of the policy next to a baseline policy that only parses the
//! request envelope and accepts, evaluated the way policy-server evaluates (compiled once, a fresh
//! instance for every request). Times on a shared 2-core machine are noisy; the ratio between the two
//! modules, measured in the same run with their iterations interleaved, is what counts.
//!
//! usage: policy-bench POLICY.wasm BASELINE.wasm [NAIVE.wasm] [ITERATIONS]

mod host;
mod worst;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use host::{Compiled, call, compile};
use serde_json::{Value, json};

/// A request to evaluate, with the budget its ratio to the baseline must stay within.
struct Case {
    name: &'static str,
    operation: &'static str,
    payload: Vec<u8>,
    budget: f64,
}

fn request_payload(path: &str) -> Result<Vec<u8>> {
    let request: Value =
        serde_json::from_str(&std::fs::read_to_string(path).with_context(|| path.to_string())?)?;
    Ok(serde_json::to_vec(
        &json!({"request": request, "settings": {}}),
    )?)
}

/// The cases the issue names: (name, request file, budget as a ratio to the baseline).
const REQUESTS: [(&str, &str, f64); 5] = [
    ("non-Tekton Pod", "test_data/pod-not-tekton.json", 1.2),
    (
        "Tekton Pod, no declaration",
        "test_data/pod-tekton-no-declaration.json",
        1.2,
    ),
    (
        "Tekton Pod, 3 sidecars injected",
        "test_data/bench/pod-three-sidecars.json",
        3.0,
    ),
    (
        "inline TaskRun, 2 sidecars injected",
        "test_data/bench/taskrun-two-sidecars.json",
        3.0,
    ),
    (
        "PipelineRun, 5 tasks validated",
        "test_data/bench/pipelinerun-five-tasks.json",
        3.0,
    ),
];

fn cases() -> Result<Vec<Case>> {
    let mut cases = REQUESTS
        .iter()
        .map(|&(name, path, budget)| {
            Ok(Case {
                name,
                operation: "validate",
                payload: request_payload(path)?,
                budget,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let settings = std::fs::read("test_data/bench/settings-ten-templates.json")
        .context("settings-ten-templates.json")?;
    cases.push(Case {
        name: "validate_settings, 10 templates",
        operation: "validate_settings",
        payload: settings,
        budget: 3.0,
    });
    Ok(cases)
}

/// Mean, median and 99th percentile of a sample, in microseconds.
struct Stats {
    mean: f64,
    p50: f64,
    p99: f64,
}

fn stats(mut sample: Vec<Duration>) -> Stats {
    sample.sort_unstable();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let n = sample.len();
    Stats {
        mean: sample.iter().map(|d| micros(*d)).sum::<f64>() / n as f64,
        p50: micros(sample[n / 2]),
        p99: micros(sample[((n * 99).div_ceil(100)).saturating_sub(1)]),
    }
}

fn time_call(policy: &Compiled, case: &Case) -> Result<Duration> {
    let start = Instant::now();
    let answer = call(policy, case.operation, &case.payload)?;
    let elapsed = start.elapsed();
    std::hint::black_box(answer);
    Ok(elapsed)
}

/// Median wall time of compiling `module` with wasmtime, without any cache.
fn compile_time(module: &[u8]) -> Result<Duration> {
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        std::hint::black_box(compile(module)?);
        times.push(start.elapsed());
    }
    times.sort_unstable();
    Ok(times[1])
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (policy_path, baseline_path) = match (args.first(), args.get(1)) {
        (Some(p), Some(b)) => (p.clone(), b.clone()),
        _ => bail!("usage: policy-bench POLICY.wasm BASELINE.wasm [NAIVE.wasm] [ITERATIONS]"),
    };
    let naive_path = args.get(2).filter(|a| a.ends_with(".wasm")).cloned();
    let iterations: usize = args
        .iter()
        .skip(2)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let policy_bytes = std::fs::read(&policy_path).with_context(|| policy_path.clone())?;
    let baseline_bytes = std::fs::read(&baseline_path).with_context(|| baseline_path.clone())?;

    println!("## Size and compile time\n");
    println!("| module | size (bytes) | wasmtime compile, median of 3 |");
    println!("|---|---:|---:|");
    let mut modules = vec![
        ("policy.wasm", policy_bytes.clone()),
        ("baseline.wasm", baseline_bytes.clone()),
    ];
    if let Some(naive) = &naive_path {
        modules.push((
            "naive build (cargo's default release profile)",
            std::fs::read(naive).with_context(|| naive.clone())?,
        ));
    }
    let mut compile_ms = Vec::new();
    for (name, bytes) in &modules {
        let time = compile_time(bytes)?;
        compile_ms.push(time.as_secs_f64() * 1e3);
        println!(
            "| {name} | {} | {:.0} ms |",
            bytes.len(),
            time.as_secs_f64() * 1e3
        );
    }
    let readme = std::fs::read("README.md").map(|r| r.len()).unwrap_or(0);
    let metadata = std::fs::read("policy-metadata.yml")
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "\nannotated-policy.wasm (estimate: kwctl annotate adds a custom section with the metadata and README.md): about {} bytes",
        policy_bytes.len() + readme + metadata
    );
    if let Some(naive) = compile_ms.get(2) {
        println!(
            "compile time of policy.wasm / naive build: {:.2} (budget 0.50)",
            compile_ms[0] / naive
        );
    }

    let policy = compile(&policy_bytes)?;
    let baseline = compile(&baseline_bytes)?;
    println!(
        "\n## Evaluation ({iterations} iterations each, interleaved; µs per request, instantiation included)\n"
    );
    println!(
        "| case | policy mean | p50 | p99 | baseline mean | p50 | p99 | ratio (mean) | ratio (p50) | budget |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for case in cases()? {
        for _ in 0..iterations / 10 {
            time_call(&policy, &case)?;
            time_call(&baseline, &case)?;
        }
        let (mut ours, mut floor) = (
            Vec::with_capacity(iterations),
            Vec::with_capacity(iterations),
        );
        for _ in 0..iterations {
            ours.push(time_call(&policy, &case)?);
            floor.push(time_call(&baseline, &case)?);
        }
        let (a, b) = (stats(ours), stats(floor));
        let ratio = a.mean / b.mean;
        let verdict = if ratio <= case.budget {
            "within"
        } else {
            "OVER"
        };
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {verdict} {:.1}x |",
            case.name,
            a.mean,
            a.p50,
            a.p99,
            b.mean,
            b.p50,
            b.p99,
            ratio,
            a.p50 / b.p50,
            case.budget
        );
    }
    worst_cases(&policy, &baseline)
}

/// The most a worst case may cost in the module beyond what the do-nothing baseline takes to read the
/// same request: for the largest objects the API server lets through, reading the request alone takes the
/// baseline more than 10 ms (BENCHMARKS.md).
const WORST_BUDGET: Duration = Duration::from_millis(10);
const WORST_ITERATIONS: usize = 20;

/// Each worst case: its time, the decision (which must be the one expected, or the case measures the
/// wrong path), and the size of the message and of the patch policy-server would send.
fn worst_cases(policy: &Compiled, baseline: &Compiled) -> Result<()> {
    println!(
        "\n## Worst cases ({WORST_ITERATIONS} iterations each; ms per request, instantiation included)\n"
    );
    println!(
        "| case | request | mean | max | baseline mean | beyond the baseline | decision | message | patch | budget |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---:|---:|---|");
    for case in worst::cases() {
        let request: Value = serde_json::from_slice(&case.payload)?;
        let mut times = Vec::with_capacity(WORST_ITERATIONS);
        let mut floor = Vec::with_capacity(WORST_ITERATIONS);
        let mut answer = Vec::new();
        for _ in 0..WORST_ITERATIONS {
            let start = Instant::now();
            answer = call(policy, "validate", &case.payload)?;
            times.push(start.elapsed());
            let start = Instant::now();
            std::hint::black_box(call(baseline, "validate", &case.payload)?);
            floor.push(start.elapsed());
        }
        let response: Value = serde_json::from_slice(&answer)?;
        let accepted = response["accepted"].as_bool().unwrap_or(false);
        if accepted != case.accepted {
            bail!(
                "{}: expected {}, the policy answered {}",
                case.name,
                if case.accepted {
                    "acceptance"
                } else {
                    "rejection"
                },
                String::from_utf8_lossy(&answer)
                    .chars()
                    .take(300)
                    .collect::<String>()
            );
        }
        let message = response["message"].as_str().map_or(0, str::len);
        let patch = match response.get("mutated_object").filter(|m| !m.is_null()) {
            Some(mutated) => {
                serde_json::to_vec(&json_patch::diff(&request["request"]["object"], mutated))?.len()
            }
            None => 0,
        };
        let max = times.iter().max().copied().unwrap_or_default();
        let mean = times.iter().sum::<Duration>() / WORST_ITERATIONS as u32;
        let floor = floor.iter().sum::<Duration>() / WORST_ITERATIONS as u32;
        let beyond = mean.saturating_sub(floor);
        let verdict = if beyond <= WORST_BUDGET {
            "within"
        } else {
            "OVER"
        };
        println!(
            "| {} | {} KiB | {:.2} | {:.2} | {:.2} | {:.2} | {} | {message} B | {patch} B | {verdict} {} ms |",
            case.name,
            case.payload.len() / 1024,
            mean.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            floor.as_secs_f64() * 1e3,
            beyond.as_secs_f64() * 1e3,
            if accepted { "accepted" } else { "rejected" },
            WORST_BUDGET.as_millis()
        );
    }
    Ok(())
}
