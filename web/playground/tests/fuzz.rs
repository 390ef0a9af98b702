//! Bounded fuzzing of the playground's engine: it runs the same evaluation in the browser, where a panic is
//! a trap too, and every entry it shows must read back as the value it stands for.
//!
//! `PROPTEST_CASES=100000 cargo test --release -p pipelinerun-sidecars-playground --test fuzz` for a long run.

// Test code: a failed expectation is the test failing, not a trapped module. clippy.toml allows this
// inside #[test] functions; the helpers here are outside them.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::string_slice
)]

use pipelinerun_sidecars::support::yaml;
use pipelinerun_sidecars_playground::simulate::{Inputs, run};
use proptest::prelude::*;

#[path = "../../../tests/common/strategies.rs"]
mod strategies;

use strategies::{config, declaration, mutated_declaration, settings_value};

proptest! {
    #![proptest_config(config())]

    #[test]
    fn playground_simulations_get_an_answer(
        annotation in prop_oneof![
            1 => declaration(),
            2 => mutated_declaration(),
            1 => Just("- {name: db, image: postgres}\n- {name: cache, image: redis}\n".to_string()),
        ],
        task in prop::sample::select(&["test", "build", "all-tasks"][..]),
        inline in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<char>()), 0..2),
        settings in settings_value(),
    ) {
        let body = if inline { "taskSpec: {steps: [{name: s, image: i}]}" } else { "taskRef: {name: t}" };
        let block: String = annotation.lines().map(|line| format!("      {line}\n")).collect();
        let mut pipelinerun = format!(
            "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: pr\n  annotations:\n    pipelinerun-sidecars.io/{task}: |\n{block}spec:\n  pipelineSpec:\n    tasks: [{{name: build, {body}, workspaces: [{{name: w}}]}}, {{name: test, taskRef: {{name: t}}}}]\n"
        );
        for (at, c) in edits {
            let i = at.index(pipelinerun.len());
            if pipelinerun.is_char_boundary(i) {
                pipelinerun.insert(i, c);
            }
        }
        let task_yaml = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {steps: [{name: s, image: i}], sidecars: [{name: db, image: p}]}\n";
        let settings = settings.to_string();
        let simulation = run(Inputs { pipelinerun: &pipelinerun, tasks: task_yaml, settings: &settings });
        for entry in simulation.tasks.iter().flat_map(|t| &t.entries) {
            prop_assert_eq!(yaml::read(&entry.yaml), Ok(entry.value.clone()), "{}", entry.yaml);
        }
    }
}
