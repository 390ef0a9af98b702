//! `policy-bench`: the admission cost of the policy next to two floors, evaluated the way policy-server
//! evaluates (compiled once, a fresh instance for every request) and with one instance reused:
//! - the do-nothing baseline (`bench/baseline`), which parses the request and accepts;
//! - the mutation floor (`bench/mutation-floor`), which parses the object, appends one fixed container
//!   and returns it: the least any mutating policy pays.
//!
//! Every call includes what policy-evaluator does with the answer (the JSONPatch diff, `host::respond`).
//! Times on a shared 2-core machine are noisy; the ratios between modules, measured in the same run with
//! their iterations interleaved, are what counts.
//!
//! usage: policy-bench POLICY.wasm BASELINE.wasm FLOOR.wasm [NAIVE.wasm] [ITERATIONS]
//!        policy-bench --native REQUEST.json [ITERATIONS] [SETTINGS-JSON]   (for a profiler)

mod growth;
mod host;
mod kwctl;
mod native;
mod worst;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use host::{Compiled, call, call_on, compile, instance, minor_faults, respond};
use serde_json::{Value, json};
use wapc::WapcHost;

/// Which floor a budget is measured against.
#[derive(Clone, Copy, PartialEq)]
enum Floor {
    Baseline,
    Mutation,
}

/// A request to evaluate, with the budget its ratio to a floor must stay within.
struct Case {
    name: &'static str,
    operation: &'static str,
    payload: Vec<u8>,
    /// The object policy-evaluator diffs a returned object against.
    object: Value,
    budget: (Floor, f64),
    /// The request file, for `kwctl bench`.
    path: Option<&'static str>,
}

/// The cases the issues name: (name, request file, budget).
const REQUESTS: [(&str, &str, (Floor, f64)); 5] = [
    (
        "non-Tekton Pod",
        "test_data/pod-not-tekton.json",
        (Floor::Baseline, 1.2),
    ),
    (
        "Tekton Pod, no declaration",
        "test_data/pod-tekton-no-declaration.json",
        (Floor::Baseline, 1.1),
    ),
    (
        "Tekton Pod, 3 sidecars injected",
        "test_data/bench/pod-three-sidecars.json",
        (Floor::Mutation, 1.3),
    ),
    (
        "inline TaskRun, 2 sidecars injected",
        "test_data/bench/taskrun-two-sidecars.json",
        (Floor::Mutation, 1.3),
    ),
    (
        "PipelineRun, 5 tasks validated",
        "test_data/bench/pipelinerun-five-tasks.json",
        (Floor::Baseline, 2.0),
    ),
];

fn cases() -> Result<Vec<Case>> {
    let mut cases = REQUESTS
        .iter()
        .map(|&(name, path, budget)| {
            let request: Value =
                serde_json::from_str(&std::fs::read_to_string(path).with_context(|| path)?)?;
            Ok(Case {
                name,
                operation: "validate",
                payload: serde_json::to_vec(&json!({"request": request, "settings": {}}))?,
                object: request["object"].clone(),
                budget,
                path: Some(path),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let settings = std::fs::read("test_data/bench/settings-ten-templates.json")
        .context("settings-ten-templates.json")?;
    cases.push(Case {
        name: "validate_settings, 10 templates",
        operation: "validate_settings",
        payload: settings,
        object: Value::Null,
        budget: (Floor::Baseline, 3.0),
        path: None,
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

/// How a module is run: policy-server's way, or on one instance kept across calls.
enum Runner<'a> {
    Fresh(&'a Compiled),
    Reused(WapcHost),
}

impl Runner<'_> {
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        match self {
            Runner::Fresh(policy) => call(policy, operation, payload),
            Runner::Reused(host) => call_on(host, operation, payload),
        }
    }

    /// One evaluation, timed with the host's handling of the answer.
    fn time(&self, operation: &str, payload: &[u8], object: &Value) -> Result<Duration> {
        let start = Instant::now();
        let answer = self.call(operation, payload)?;
        std::hint::black_box(respond(object, &answer)?);
        Ok(start.elapsed())
    }
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

struct Modules {
    policy: Compiled,
    baseline: Compiled,
    floor: Compiled,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, request, rest @ ..] = args.as_slice()
        && flag == "--native"
    {
        return native::profile(request, rest);
    }
    let wasm: Vec<&String> = args.iter().filter(|a| a.ends_with(".wasm")).collect();
    if args.first().is_some_and(|a| a == "--worst")
        && let [policy, baseline, ..] = wasm.as_slice()
    {
        let read = |path: &String| std::fs::read(path).with_context(|| path.clone());
        return worst_cases(&compile(&read(policy)?)?, &compile(&read(baseline)?)?);
    }
    let (policy_path, baseline_path, floor_path) = match wasm.as_slice() {
        [p, b, f, ..] => ((*p).clone(), (*b).clone(), (*f).clone()),
        _ => bail!(
            "usage: policy-bench POLICY.wasm BASELINE.wasm FLOOR.wasm [NAIVE.wasm] [ITERATIONS]\n       policy-bench --worst POLICY.wasm BASELINE.wasm (the worst cases only)"
        ),
    };
    let naive_path = wasm.get(3).map(|p| (*p).clone());
    let iterations: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(1000);
    let read = |path: &String| std::fs::read(path).with_context(|| path.clone());
    let mut modules = vec![
        ("policy.wasm", read(&policy_path)?),
        ("baseline.wasm (do-nothing baseline)", read(&baseline_path)?),
        ("mutation-floor.wasm (mutation floor)", read(&floor_path)?),
    ];
    if let Some(naive) = &naive_path {
        modules.push((
            "naive build (cargo's default release profile)",
            read(naive)?,
        ));
    }

    println!("## Size and compile time\n");
    println!("| module | size (bytes) | wasmtime compile, median of 3 |");
    println!("|---|---:|---:|");
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
    if let Some(naive) = compile_ms.get(3) {
        println!(
            "\ncompile time of policy.wasm / naive build: {:.2}",
            compile_ms[0] / naive
        );
    }

    let compiled = Modules {
        policy: compile(&modules[0].1)?,
        baseline: compile(&modules[1].1)?,
        floor: compile(&modules[2].1)?,
    };
    let cases = cases()?;
    println!(
        "\n## Evaluation, policy-server's way: a fresh instance per request ({iterations} iterations each, interleaved; µs)\n"
    );
    evaluation(&cases, iterations, || {
        Ok([
            Runner::Fresh(&compiled.policy),
            Runner::Fresh(&compiled.baseline),
            Runner::Fresh(&compiled.floor),
        ])
    })?;
    println!(
        "\n## Evaluation, one instance reused for every request ({iterations} iterations each, interleaved; µs)\n"
    );
    evaluation(&cases, iterations, || {
        Ok([
            Runner::Reused(instance(&compiled.policy)?),
            Runner::Reused(instance(&compiled.baseline)?),
            Runner::Reused(instance(&compiled.floor)?),
        ])
    })?;
    breakdown(&compiled, &cases, iterations / 4)?;
    growth_curves(&compiled, iterations)?;
    native_cases(&cases, iterations);
    worst_cases(&compiled.policy, &compiled.baseline)?;
    kwctl::bench(
        &[
            ("policy.wasm", policy_path.as_str()),
            ("baseline", baseline_path.as_str()),
            ("mutation floor", floor_path.as_str()),
        ],
        &cases
            .iter()
            .filter_map(|c| c.path.map(|p| (c.name, p)))
            .collect::<Vec<_>>(),
    )
}

/// One table: each case on the policy and both floors, their ratios and the budget's verdict.
fn evaluation<'a>(
    cases: &[Case],
    iterations: usize,
    runners: impl Fn() -> Result<[Runner<'a>; 3]>,
) -> Result<()> {
    println!(
        "| case | policy mean | p50 | p99 | baseline mean | mutation floor mean | policy / baseline | policy / floor | budget |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for case in cases {
        let runners = runners()?;
        let mut samples: [Vec<Duration>; 3] = Default::default();
        for round in 0..iterations + iterations / 10 {
            for (runner, sample) in runners.iter().zip(samples.iter_mut()) {
                let time = runner.time(case.operation, &case.payload, &case.object)?;
                if round >= iterations / 10 {
                    sample.push(time);
                }
            }
        }
        let [ours, baseline, floor] = samples.map(stats);
        let (to_baseline, to_floor) = (ours.mean / baseline.mean, ours.mean / floor.mean);
        let (against, limit) = case.budget;
        let (ratio, floor_name) = match against {
            Floor::Baseline => (to_baseline, "baseline"),
            Floor::Mutation => (to_floor, "floor"),
        };
        let verdict = if ratio <= limit { "within" } else { "OVER" };
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.2} | {verdict} {limit:.1}x {floor_name} |",
            case.name,
            ours.mean,
            ours.p50,
            ours.p99,
            baseline.mean,
            floor.mean,
            to_baseline,
            to_floor,
        );
    }
    Ok(())
}

/// Where a request's time goes in policy-server's mode, for the policy and the mutation floor: creating
/// the instance, the guest's first call on it (which also pays for the memory it touches first), the same
/// call again on that instance, and the host's handling of the answer (`respond`).
fn breakdown(modules: &Modules, cases: &[Case], iterations: usize) -> Result<()> {
    println!(
        "\n## Where the time goes, fresh instance ({iterations} iterations each; µs, policy / mutation floor)\n"
    );
    println!(
        "| case | instantiate | first call | same call again | host's diff and encoding | page faults of the first call |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for case in cases.iter().filter(|c| c.operation == "validate") {
        let mut cells = [[Duration::ZERO; 2]; 4];
        let mut faults = [0u64; 2];
        for _ in 0..iterations {
            for (m, module) in [&modules.policy, &modules.floor].into_iter().enumerate() {
                let start = Instant::now();
                let host = instance(module)?;
                cells[0][m] += start.elapsed();
                let (before, start) = (minor_faults(), Instant::now());
                std::hint::black_box(call_on(&host, case.operation, &case.payload)?);
                cells[1][m] += start.elapsed();
                faults[m] += minor_faults().saturating_sub(before);
                let start = Instant::now();
                let answer = call_on(&host, case.operation, &case.payload)?;
                cells[2][m] += start.elapsed();
                let start = Instant::now();
                std::hint::black_box(respond(&case.object, &answer)?);
                cells[3][m] += start.elapsed();
            }
        }
        let n = iterations as f64;
        let cell = |[ours, floor]: [Duration; 2]| {
            format!(
                "{:.0} / {:.0}",
                ours.as_secs_f64() * 1e6 / n,
                floor.as_secs_f64() * 1e6 / n
            )
        };
        let per_call = |f: u64| f as f64 / n;
        println!(
            "| {} | {} | {} | {} | {} | {:.0} / {:.0} |",
            case.name,
            cell(cells[0]),
            cell(cells[1]),
            cell(cells[2]),
            cell(cells[3]),
            per_call(faults[0]),
            per_call(faults[1])
        );
    }
    Ok(())
}

/// The growth curves, in the module (policy-server's way) and natively, with the marginal cost of a
/// sidecar between the two largest points.
fn growth_curves(modules: &Modules, iterations: usize) -> Result<()> {
    println!(
        "\n## Growth ({} iterations each; µs, module with a fresh instance and the host's diff; native: median of `admission::verdict` and the answer's serialization)\n",
        iterations / 4
    );
    println!("| request | module mean | mutation floor mean | policy / floor | native p50 |");
    println!("|---|---:|---:|---:|---:|");
    let sidecars = growth::sidecars()?;
    let steps = growth::steps()?;
    let mut module_sidecars = Vec::new();
    let mut native_sidecars = Vec::new();
    for (i, point) in sidecars.iter().chain(&steps).enumerate() {
        let runners = [
            Runner::Fresh(&modules.policy),
            Runner::Fresh(&modules.floor),
        ];
        let mut samples: [Vec<Duration>; 2] = Default::default();
        for _ in 0..iterations / 4 {
            for (runner, sample) in runners.iter().zip(samples.iter_mut()) {
                sample.push(runner.time("validate", &point.payload, &point.object)?);
            }
        }
        let [ours, floor] = samples.map(stats);
        let (native_us, mutated) = native::time(&point.payload, iterations / 4);
        if !mutated {
            bail!("{}: the policy did not inject", point.label);
        }
        if i < sidecars.len() {
            module_sidecars.push(ours.mean);
            native_sidecars.push(native_us);
        }
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.1} |",
            point.label,
            ours.mean,
            floor.mean,
            ours.mean / floor.mean,
            native_us
        );
    }
    let n = growth::SIDECARS;
    if let (Some(first), Some(last)) = (n.get(n.len() - 2), n.last()) {
        let span = (last - first) as f64;
        let slope = |t: &[f64]| (t[t.len() - 1] - t[t.len() - 2]) / span;
        println!(
            "\nmarginal cost of a sidecar ({first} to {last} sidecars): {:.1} µs in the module, {:.1} µs natively",
            slope(&module_sidecars),
            slope(&native_sidecars)
        );
    }
    Ok(())
}

/// The cases natively: what the domain code costs without the module's runtime.
fn native_cases(cases: &[Case], iterations: usize) {
    println!("\n## Native ({iterations} iterations each; µs, median)\n");
    println!("| case | native p50 |");
    println!("|---|---:|");
    for case in cases.iter().filter(|c| c.operation == "validate") {
        let (time, _) = native::time(&case.payload, iterations);
        println!("| {} | {time:.1} |", case.name);
    }
}

/// The most a worst case may cost in the module beyond what the do-nothing baseline takes to read the
/// same request (for the largest objects the API server lets through, reading the request alone takes the
/// baseline more than 10 ms): 50 ms, a fortieth of policy-server's 2 s timeout (BENCHMARKS.md).
const WORST_BUDGET: Duration = Duration::from_millis(50);
const WORST_ITERATIONS: usize = 20;

/// Each worst case: its time, the decision (which must be the one expected, or the case measures the
/// wrong path), and the size of the message and of the patch policy-server would send.
fn worst_cases(policy: &Compiled, baseline: &Compiled) -> Result<()> {
    println!(
        "\n## Worst cases ({WORST_ITERATIONS} iterations each; ms per request, instantiation included)\n"
    );
    println!(
        "| case | request | mean | max | baseline mean | beyond the baseline | of which the host's diff | decision | message | patch | budget |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|");
    for case in worst::cases() {
        let request: Value = serde_json::from_slice(&case.payload)?;
        let object = &request["request"]["object"];
        let mut times = Vec::with_capacity(WORST_ITERATIONS);
        let mut floor = Vec::with_capacity(WORST_ITERATIONS);
        let mut diffs = Vec::with_capacity(WORST_ITERATIONS);
        let (mut answer, mut patch) = (Vec::new(), 0);
        for _ in 0..WORST_ITERATIONS {
            let start = Instant::now();
            answer = call(policy, "validate", &case.payload)?;
            let answered = Instant::now();
            patch = respond(object, &answer)?;
            diffs.push(answered.elapsed());
            times.push(start.elapsed());
            let start = Instant::now();
            let floor_answer = call(baseline, "validate", &case.payload)?;
            std::hint::black_box(respond(object, &floor_answer)?);
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
        let max = times.iter().max().copied().unwrap_or_default();
        let mean = times.iter().sum::<Duration>() / WORST_ITERATIONS as u32;
        let floor = floor.iter().sum::<Duration>() / WORST_ITERATIONS as u32;
        let diff = diffs.iter().sum::<Duration>() / WORST_ITERATIONS as u32;
        let beyond = mean.saturating_sub(floor);
        let verdict = if beyond <= WORST_BUDGET {
            "within"
        } else {
            "OVER"
        };
        let bytes = |n: usize| {
            if n == 0 {
                String::new()
            } else {
                format!("{n} B")
            }
        };
        println!(
            "| {} | {} KiB | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {verdict} {} ms |",
            case.name,
            case.payload.len() / 1024,
            mean.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3,
            floor.as_secs_f64() * 1e3,
            beyond.as_secs_f64() * 1e3,
            diff.as_secs_f64() * 1e3,
            if accepted { "accepted" } else { "rejected" },
            bytes(message),
            bytes(patch),
            WORST_BUDGET.as_millis()
        );
    }
    Ok(())
}
