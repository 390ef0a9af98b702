//! The playground's entry point: the policy's domain code, called from the page's JavaScript.
//!
//! Nothing is decided here. [`simulate`] hands the inputs to [`simulate::run`], which runs every object
//! through the same `admission::evaluate` as the waPC module, so the page and the admission policy cannot
//! disagree. The simulation of Tekton ([`simulate`]) and the YAML writer ([`yaml_writer`]) live in this
//! crate, not in the policy's: the policy module has no use for them.

pub mod simulate;
pub mod yaml_writer;

use serde_json::json;
use wasm_bindgen::prelude::wasm_bindgen;

/// What the policy does to a PipelineRun's tasks, as JSON text (a `Simulation`, camelCase): JSON keeps the
/// boundary to one string each way, with no serializer crate in the module.
#[wasm_bindgen]
pub fn simulate(pipelinerun: &str, tasks: &str, settings: &str) -> String {
    let simulation = simulate::run(simulate::Inputs {
        pipelinerun,
        tasks,
        settings,
    });
    serde_json::to_string(&simulation).unwrap_or_else(|err| {
        json!({"inputErrors": [format!("the simulation cannot be shown: {err}")]}).to_string()
    })
}

/// The policy version the page runs, to show beside the results.
#[wasm_bindgen]
pub fn policy_version() -> String {
    pipelinerun_sidecars::VERSION.to_string()
}
