//! The playground's examples (web/examples/) are the e2e suite's fixtures, and the simulation of each gives
//! what the policy gives for them: the same sidecar container for the TEP example as the Pod fixture's
//! expected patch, and the same message for the misspelled field.

// Test code: a failed expectation is the test failing, not a trapped module. clippy.toml allows this
// inside #[test] functions; the helpers here are outside them.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::string_slice
)]

use std::fs;

use std::path::PathBuf;

use pipelinerun_sidecars::admission::evaluate;
use pipelinerun_sidecars::support::yaml;
use pipelinerun_sidecars_playground::simulate::{Change, Inputs, Simulation, TaskResult, run};
use serde_json::{Value, json};

/// The examples and fixtures are named from the repository's root, two levels above this crate.
fn from_root(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn text(path: &str) -> String {
    fs::read_to_string(from_root(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn yaml_file(path: &str) -> Value {
    yaml::read(&text(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn json_file(path: &str) -> Value {
    serde_json::from_str(&text(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn example(name: &str) -> Simulation {
    let file = |part: &str| {
        fs::read_to_string(from_root(&format!("web/examples/{name}/{part}.yaml")))
            .unwrap_or_default()
    };
    run(Inputs {
        pipelinerun: &file("pipelinerun"),
        tasks: &file("tasks"),
        settings: &file("settings"),
    })
}

fn task<'a>(simulation: &'a Simulation, name: &str) -> &'a TaskResult {
    simulation
        .task(name)
        .unwrap_or_else(|| panic!("no task {name} in {simulation:?}"))
}

#[test]
fn the_examples_are_the_fixtures_the_e2e_suite_uses() {
    for (example, fixture) in [
        (
            "web/examples/tep-golang-test/pipelinerun.yaml",
            "test_data/pipelinerun-tep-create.json",
        ),
        (
            "web/examples/misspelled-field/pipelinerun.yaml",
            "test_data/pipelinerun-typo.json",
        ),
    ] {
        assert_eq!(
            yaml_file(example),
            json_file(fixture)["object"],
            "{example} differs from {fixture}"
        );
    }
    assert_eq!(
        yaml_file("web/examples/dind-template/settings.yaml"),
        yaml_file("test_data/settings-dind-template.yaml")
    );
}

#[test]
fn the_tep_example_gets_the_container_the_compiled_policy_gives_the_pod_fixture() {
    let simulation = example("tep-golang-test");
    assert!(simulation.input_errors.is_empty(), "{simulation:?}");
    assert_eq!(simulation.pipelinerun_rejection, None);
    let expected_patch = json_file("test_data/expected/pod-tep-hub.patch.json");
    let expected = expected_patch
        .as_array()
        .and_then(|ops| ops.iter().find(|op| op["path"] == "/spec/containers/1"))
        .map(|op| op["value"].clone())
        .expect("the e2e patch adds the sidecar container");

    let test = task(&simulation, "test");
    assert_eq!(test.shown, "Pod");
    assert_eq!(test.injected, ["postgres"]);
    let added: Vec<_> = test
        .entries
        .iter()
        .filter(|e| e.change != Change::Unchanged)
        .collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0].change, Change::Added);
    assert_eq!(added[0].list, "containers");
    assert_eq!(added[0].value, expected);
    assert_eq!(yaml::read(&added[0].yaml), Ok(expected));
    let steps: Vec<&str> = test.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(steps, ["prepare", "step-unit-test", "sidecar-postgres"]);

    let fetch = task(&simulation, "fetch");
    assert!(fetch.injected.is_empty() && fetch.rejection.is_none());
    assert!(fetch.entries.iter().all(|e| e.change == Change::Unchanged));
}

#[test]
fn the_simulated_objects_carry_what_tekton_gives_the_fixtures() {
    let simulation = example("tep-golang-test");
    let pod = &task(&simulation, "test").object;
    let fixture_pod = &json_file("test_data/pod-tep-hub.json")["object"];
    let task = yaml_file("web/examples/tep-golang-test/tasks.yaml");
    for field in ["annotations", "labels"] {
        let ours = pod["metadata"][field].as_object().expect("map");
        // The fixture's Task is not shown, so its Pod lacks the Task's own metadata, which Tekton merges
        // in before it builds the Pod (`storeTaskSpecAndMergeMeta`).
        let expected = fixture_pod["metadata"][field]
            .as_object()
            .into_iter()
            .flatten()
            .chain(task["metadata"][field].as_object().into_iter().flatten());
        for (key, _) in expected {
            assert!(ours.contains_key(key), "Pod {field} lack {key}: {ours:?}");
        }
    }
    for label in [
        "tekton.dev/pipelineTask",
        "tekton.dev/memberOf",
        "tekton.dev/task",
        "tekton.dev/taskRun",
    ] {
        assert_eq!(
            pod["metadata"]["labels"][label], fixture_pod["metadata"]["labels"][label],
            "{label}"
        );
    }
    assert_eq!(
        pod["metadata"]["ownerReferences"][0]["name"],
        fixture_pod["metadata"]["ownerReferences"][0]["name"]
    );
    let volumes = |p: &Value| -> Vec<Value> {
        p["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["name"].as_str().is_some_and(|n| n.starts_with("ws-")))
            .map(|v| v["name"].clone())
            .collect()
    };
    assert_eq!(volumes(pod), volumes(fixture_pod));
}

#[test]
fn the_misspelled_field_gets_the_message_the_policy_gives_the_fixture() {
    let simulation = example("misspelled-field");
    let mut request = json_file("test_data/pipelinerun-typo.json");
    let payload = json!({"request": request.take(), "settings": {}});
    let expected = evaluate(&serde_json::to_vec(&payload).expect("payload"))
        .expect_err("the fixture is rejected")
        .to_string();
    assert_eq!(simulation.pipelinerun_rejection, Some(expected.clone()));
    assert!(
        expected.contains("imgae: unknown field; did you mean \"image\"?"),
        "{expected}"
    );
    assert!(simulation.tasks.is_empty());
}

#[test]
fn the_dind_example_puts_the_template_in_the_inline_task() {
    let simulation = example("dind-template");
    assert!(simulation.input_errors.is_empty(), "{simulation:?}");
    assert_eq!(simulation.settings_error, None);
    let build = task(&simulation, "build");
    assert_eq!(build.shown, "TaskRun");
    assert_eq!(build.injected, ["dind"]);
    let [entry] = &build.entries[..] else {
        panic!("one sidecar expected: {:?}", build.entries)
    };
    assert_eq!((entry.list, entry.change), ("sidecars", Change::Added));
    let template = &yaml_file("test_data/settings-dind-template.yaml")["templates"]["dind"];
    let mut expected = template.clone();
    expected["name"] = json!("dind");
    assert_eq!(entry.value, expected);
    assert_eq!(build.object["spec"]["taskSpec"]["sidecars"][0], expected);
}
