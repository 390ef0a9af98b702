//! Every request in test_data/, through the same `evaluate` the waPC module runs: a mutation changes only
//! what it means to change, and evaluating the policy's own output changes nothing more.

// Test code: a failed expectation is the test failing, not a trapped module. clippy.toml allows this
// inside #[test] functions; the helpers here are outside them.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::string_slice
)]

use std::path::Path;

use pipelinerun_sidecars::admission::{Outcome, evaluate};
use serde_json::{Value, json};

mod common;

use common::{MUTABLE_PATHS, json_files};

fn settings_for(name: &str) -> Value {
    let file = match name {
        "pod-template-dind.json" => "settings-dind-template.yaml",
        _ => return json!({}),
    };
    let text = std::fs::read_to_string(Path::new("test_data").join(file)).expect("settings file");
    serde_saphyr::from_str(&text).expect("settings YAML")
}

fn requests() -> Vec<(String, Value)> {
    json_files("test_data")
        .into_iter()
        .filter_map(|(path, request)| {
            let name = path.file_name()?.to_str()?.to_string();
            (!name.starts_with("settings")).then_some((name, request))
        })
        .collect()
}

fn payload(request: &Value, settings: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings})).expect("payload")
}

#[test]
fn mutations_touch_only_sidecars_and_the_marker_and_are_idempotent() {
    let mut mutated = 0;
    for settings in [json!({}), json!({"injectAs": "native"})] {
        for (name, request) in requests() {
            let settings = if settings == json!({}) {
                settings_for(&name)
            } else {
                settings.clone()
            };
            let Ok(Outcome::Mutate(object)) = evaluate(&payload(&request, &settings)) else {
                continue;
            };
            let object = object.value();
            mutated += 1;
            let original = &request["object"];
            let patch = json_patch::diff(original, &object);
            for operation in &patch.0 {
                let path = operation.path().to_string();
                assert!(
                    MUTABLE_PATHS
                        .iter()
                        .any(|allowed| path.starts_with(allowed)),
                    "{name}: patch touches {path}"
                );
            }
            let mut again = request.clone();
            again["object"] = object;
            assert_eq!(
                evaluate(&payload(&again, &settings)),
                Ok(Outcome::Accept),
                "{name}: not idempotent"
            );
        }
    }
    // Twenty-one fixtures change with their own settings (seven of them TaskRuns of referenced Tasks,
    // which carry their bindings to the Pod) and twenty in native mode (the dind Pod has no template
    // there): a fixture that stopped changing would make this test vacuous.
    assert_eq!(mutated, 41);
}

#[test]
fn no_fixture_makes_the_module_fail_to_answer() {
    for (name, request) in requests() {
        let outcome = evaluate(&payload(&request, &settings_for(&name)));
        if let Err(error) = outcome {
            assert!(
                error.to_string().starts_with("pipelinerun-sidecars"),
                "{name}: {error}"
            );
        }
    }
}

/// A JSON file of `test_data/upgrade/`.
fn upgrade(name: &str) -> Value {
    let path = Path::new("test_data/upgrade").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON")
}

#[test]
fn what_an_earlier_release_or_call_injected_is_not_injected_again() {
    // The objects as release 0.1.0 left them (its fixture with its own patch applied), and as this
    // version leaves them: a Pod or TaskRun evaluated again after an upgrade or a webhook reinvocation.
    let cases = [
        (
            "pod-tep-hub.after-v0.1.0.json",
            Some((
                "pod-tep-hub.v0.1.0.json",
                "upgrade/pod-tep-hub.v0.1.0.patch.json",
            )),
        ),
        (
            "taskrun-inline.after-v0.1.0.json",
            Some((
                "taskrun-inline.v0.1.0.json",
                "upgrade/taskrun-inline.v0.1.0.patch.json",
            )),
        ),
        (
            "pod-script-workspaces.after-v0.1.0.json",
            Some((
                "pod-script-workspaces.v0.1.0.json",
                "upgrade/pod-script-workspaces.v0.1.0.patch.json",
            )),
        ),
        ("pod-tep-hub.reinvoked.json", None),
        ("taskrun-inline.reinvoked.json", None),
    ];
    for (after, derived_from) in cases {
        let request = upgrade(after);
        let (base, patch) = match derived_from {
            Some((base, patch)) => (upgrade(base), patch.to_string()),
            None => {
                let name = after.trim_end_matches(".reinvoked.json");
                let base: Value = serde_json::from_str(
                    &std::fs::read_to_string(format!("test_data/{name}.json")).expect("fixture"),
                )
                .expect("JSON");
                (base, format!("expected/{name}.patch.json"))
            }
        };
        let patch: json_patch::Patch = serde_json::from_str(
            &std::fs::read_to_string(Path::new("test_data").join(&patch)).expect("patch"),
        )
        .expect("a JSONPatch");
        let mut object = base["object"].clone();
        json_patch::patch(&mut object, &patch).expect("applies");
        assert_eq!(
            request["object"], object,
            "{after} is not its base with its patch"
        );
        assert_eq!(
            evaluate(&payload(&request, &json!({}))),
            Ok(Outcome::Accept),
            "{after}: injected again"
        );
    }
}
