//! The growth curves: how the cost moves with the number of declared sidecars and with the size of the
//! Pod they go into. The sidecars are added to Tekton's TEP example Pod (`test_data/pod-tep-hub.json`),
//! each a one-line flow mapping with an env var and an exec readinessProbe; the steps are those of
//! `worst::taskrun_pod`, receiving the three sidecars of `test_data/bench/pod-three-sidecars.json`.

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::worst::{PREFIX, admission, payload, taskrun_pod};

/// A generated request, with the object policy-evaluator diffs the answer against.
pub struct Point {
    pub label: String,
    pub payload: Vec<u8>,
    pub object: Value,
}

pub const SIDECARS: [usize; 4] = [1, 4, 16, 64];
pub const STEPS: [usize; 3] = [4, 16, 64];

fn read(path: &str) -> Result<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).with_context(|| path.to_string())?)
        .with_context(|| path.to_string())
}

/// `n` sidecars declared for the TEP example Pod's task.
pub fn sidecars() -> Result<Vec<Point>> {
    let request = read("test_data/pod-tep-hub.json")?;
    let settings = json!({"maxSidecarsPerTask": 64});
    Ok(SIDECARS
        .iter()
        .map(|&n| {
            let declaration: String = (0..n)
                .map(|i| {
                    let port = 5432 + i;
                    format!(
                        "- {{name: db-{i}, image: postgres:14, env: [{{name: PGPORT, value: \"{port}\"}}], readinessProbe: {{exec: {{command: [pg_isready, -p, \"{port}\"]}}}}}}\n"
                    )
                })
                .collect();
            let mut request = request.clone();
            request["object"]["metadata"]["annotations"][format!("{PREFIX}/test")] =
                Value::String(declaration);
            Point {
                label: format!("{n} sidecar{}", if n == 1 { "" } else { "s" }),
                payload: payload(&request, &settings),
                object: request["object"].clone(),
            }
        })
        .collect())
}

/// The bench's three sidecars declared for Pods of 4, 16 and 64 steps.
pub fn steps() -> Result<Vec<Point>> {
    let three = read("test_data/bench/pod-three-sidecars.json")?;
    let declaration = three["object"]["metadata"]["annotations"][format!("{PREFIX}/test")].clone();
    Ok(STEPS
        .iter()
        .map(|&steps| {
            let pod = taskrun_pod(steps, 0, json!({format!("{PREFIX}/test"): declaration}));
            let request = admission("Pod", "CREATE", pod.clone(), None);
            Point {
                label: format!("{steps} steps, 3 sidecars"),
                payload: payload(&request, &json!({})),
                object: pod,
            }
        })
        .collect())
}
