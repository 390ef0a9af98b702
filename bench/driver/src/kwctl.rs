//! The same cases through a real `kwctl bench` when `KWCTL` names one (the Makefile sets it when kwctl is
//! on PATH): policy-evaluator itself, with kwctl's own loop. kwctl lets only an annotated `mutating`
//! module mutate, so each module is annotated first with the project's `policy-metadata.yml`. kwctl bench
//! prints tiny-bench's report; the mean is the middle figure of the `validate` section's `elapsed` line.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs `kwctl bench` for every module on every case and prints the means and ratios, or says why not.
pub fn bench(modules: &[(&str, &str)], cases: &[(&str, &str)]) -> Result<()> {
    let Some(kwctl) = std::env::var_os("KWCTL").filter(|k| !k.is_empty()) else {
        println!("\n## kwctl bench\n\nNot run: no kwctl on PATH (set KWCTL= to name one).");
        return Ok(());
    };
    let out = Path::new("target/bench");
    std::fs::create_dir_all(out)?;
    let mut annotated = Vec::new();
    for (name, path) in modules {
        let target = out.join(format!("annotated-{}", file_name(path)));
        let status = Command::new(&kwctl)
            .args(["annotate", "-m", "policy-metadata.yml", "-o"])
            .arg(&target)
            .arg(path)
            .status()
            .context("kwctl annotate")?;
        if !status.success() {
            bail!("kwctl annotate {path} failed");
        }
        annotated.push((*name, target));
    }
    println!("\n## kwctl bench (µs, the mean tiny-bench reports for `validate`)\n");
    let names: Vec<&str> = annotated.iter().map(|(n, _)| *n).collect();
    println!(
        "| case | {} | policy / baseline | policy / floor |",
        names.join(" | ")
    );
    println!("|---|{}---:|---:|", "---:|".repeat(names.len()));
    for (case, request) in cases {
        let mut means = Vec::new();
        for (_, module) in &annotated {
            let output = Command::new(&kwctl)
                .args(["bench", "--warm-up-time", "1", "--measurement-time", "3"])
                .args(["--request-path", request, "--settings-json", "{}"])
                .arg(module)
                .output()
                .context("kwctl bench")?;
            let text = String::from_utf8_lossy(&output.stdout);
            match validate_mean(&text) {
                Some(mean) => means.push(mean),
                None => bail!(
                    "cannot read kwctl bench's report for {case}:\n{text}{}",
                    String::from_utf8_lossy(&output.stderr)
                ),
            }
        }
        let cells: Vec<String> = means.iter().map(|m| format!("{m:.0}")).collect();
        println!(
            "| {case} | {} | {:.2} | {:.2} |",
            cells.join(" | "),
            means[0] / means[1],
            means[0] / means[2]
        );
    }
    Ok(())
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |f| f.to_string_lossy().into_owned())
}

/// The mean of the `validate` benchmark in microseconds, from tiny-bench's report:
/// `validate [N iterations in T with S samples]:` then `\telapsed\t[min mean max]:\t[a b c] (...)`, with
/// ANSI colours around the figures.
fn validate_mean(report: &str) -> Option<f64> {
    let plain = strip_ansi(report);
    let mut lines = plain.lines().skip_while(|l| !l.starts_with("validate ["));
    lines.next()?;
    let elapsed = lines.find(|l| l.trim_start().starts_with("elapsed"))?;
    let figures = elapsed.split(":\t[").nth(1)?;
    let mean = figures.split(' ').nth(1)?;
    micros(mean)
}

/// tiny-bench's `fmt_time`: a number with ns, µs, ms or s.
fn micros(figure: &str) -> Option<f64> {
    let split = figure.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = figure.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit.trim_end_matches(']') {
        "ns" => 1e-3,
        "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        _ => return None,
    };
    Some(number * scale)
}

fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_validate_mean_from_a_tiny_bench_report() {
        let report = "\x1b[1;32mvalidate_settings\x1b[0m [1.2 thousand iterations in 3.00s with 100.0 samples]:\n\telapsed\t[\x1b[0;37mmin\x1b[0m mean max]:\t[\x1b[0;37m1.00µs\x1b[0m \x1b[0;97m2.00µs\x1b[0m 3.00µs] (sample data: med = 2.00µs, var = 1.00µs², stddev = 1.00µs)\n\x1b[1;32mvalidate\x1b[0m [10.0 thousand iterations in 3.00s with 100.0 samples]:\n\telapsed\t[\x1b[0;37mmin\x1b[0m \x1b[0;97mmean\x1b[0m \x1b[0;37mmax\x1b[0m]:\t[\x1b[0;37m250.10µs\x1b[0m \x1b[0;97m281.55µs\x1b[0m \x1b[0;37m1.02ms\x1b[0m] (sample data: med = 280.00µs, var = 1.00µs², stddev = 1.00µs)\n";
        assert_eq!(validate_mean(report), Some(281.55));
        assert_eq!(micros("1.50ms"), Some(1500.0));
        assert_eq!(
            validate_mean("validate_settings [x]:\n\telapsed\t[min mean max]:\t[1ns 2ns 3ns]"),
            None
        );
    }
}
