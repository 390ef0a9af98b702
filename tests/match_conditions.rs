//! The mutating policies' `matchConditions` (deploy/*/inject-taskruns-and-pods.yaml), evaluated by a CEL
//! interpreter on every request of `test_data/`: the API server skips the policy where they are false, so
//! they must be false only where the policy would have accepted the request untouched anyway, and true for
//! every TaskRun and TaskRun Pod that declares sidecars.

// Test code: a failed expectation is the test failing, not a trapped module.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use cel::{Context, Program};
use pipelinerun_sidecars::admission::{Outcome, evaluate};
use serde_json::{Value, json};

mod common;

use common::json_files;

const MANIFESTS: [&str; 2] = [
    "deploy/cluster/inject-taskruns-and-pods.yaml",
    "deploy/namespaced/inject-taskruns-and-pods.yaml",
];

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The conditions of a manifest, compiled.
fn conditions(manifest: &Value, prefix: Option<&str>) -> Vec<(String, Program)> {
    manifest["spec"]["matchConditions"]
        .as_array()
        .expect("matchConditions")
        .iter()
        .map(|condition| {
            let mut expression = condition["expression"]
                .as_str()
                .expect("expression")
                .to_string();
            if let Some(prefix) = prefix {
                expression =
                    expression.replace("'pipelinerun-sidecars.io/'", &format!("'{prefix}/'"));
            }
            let program =
                Program::compile(&expression).unwrap_or_else(|e| panic!("{expression}: {e:?}"));
            (
                condition["name"].as_str().expect("name").to_string(),
                program,
            )
        })
        .collect()
}

/// Whether the API server sends `request` to the policy: all conditions hold.
fn matched(conditions: &[(String, Program)], request: &Value) -> bool {
    let mut context = Context::default();
    for (name, value) in [
        ("request", request.clone()),
        ("object", request["object"].clone()),
        (
            "oldObject",
            request.get("oldObject").cloned().unwrap_or(Value::Null),
        ),
    ] {
        context
            .add_variable(name, cel::to_value(value).expect("a CEL value"))
            .expect("variable");
    }
    conditions
        .iter()
        .all(|(name, program)| match program.execute(&context) {
            Ok(cel::Value::Bool(result)) => result,
            other => panic!("condition {name} gave {other:?}"),
        })
}

/// Whether the manifest's rules send `request` at all (CREATE of TaskRuns and Pods), and the API server
/// could (its labels and annotations are maps of strings, as it requires; the corpus holds a few that are
/// not, for the policy's sake).
fn ruled(request: &Value) -> bool {
    let strings = |field: &str| {
        let map = &request["object"]["metadata"][field];
        map.is_null()
            || map
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string))
    };
    request["operation"] == "CREATE"
        && matches!(
            request["resource"]["resource"].as_str(),
            Some("taskruns" | "pods")
        )
        && strings("labels")
        && strings("annotations")
}

/// Every request in test_data/ with its settings: the fixtures (default settings) and the bad corpus.
fn requests() -> Vec<(String, Value, Value)> {
    let mut found = Vec::new();
    for dir in ["test_data", "test_data/bad"] {
        for (path, value) in json_files(dir) {
            let name = path.display().to_string();
            match value.get("request") {
                Some(request) => found.push((name, request.clone(), value["settings"].clone())),
                None => found.push((name, value, json!({}))),
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn decision(request: &Value, settings: &Value) -> Result<Outcome, String> {
    let payload =
        serde_json::to_vec(&json!({"request": request, "settings": settings})).expect("json");
    evaluate(&payload).map_err(|e| e.to_string())
}

fn has_declaration(request: &Value, prefix: &str) -> bool {
    request["object"]["metadata"]["annotations"]
        .as_object()
        .is_some_and(|a| a.keys().any(|k| k.starts_with(&format!("{prefix}/"))))
}

#[test]
fn a_request_the_conditions_skip_is_one_the_policy_accepts_untouched() {
    for manifest in MANIFESTS {
        let conditions = conditions(&yaml(manifest), None);
        let (mut skipped, mut sent) = (0, 0);
        for (name, request, settings) in requests().into_iter().filter(|(_, r, _)| ruled(r)) {
            if matched(&conditions, &request) {
                sent += 1;
                continue;
            }
            skipped += 1;
            assert_eq!(
                decision(&request, &settings),
                Ok(Outcome::Accept),
                "{manifest}: {name}"
            );
        }
        // The fixtures hold both kinds: a test of nothing would pass.
        assert!(
            skipped >= 2 && sent >= 100,
            "{manifest}: {skipped} skipped, {sent} sent"
        );
    }
}

#[test]
fn every_taskrun_and_taskrun_pod_that_declares_sidecars_is_sent_and_no_other_pod() {
    for manifest in MANIFESTS {
        let conditions = conditions(&yaml(manifest), None);
        for (name, request, _) in requests().into_iter().filter(|(_, r, _)| ruled(r)) {
            let taskrun_pod = request["object"]["metadata"]["labels"]
                .get("tekton.dev/taskRun")
                .is_some();
            let expected = has_declaration(&request, "pipelinerun-sidecars.io")
                && (request["resource"]["resource"] == "taskruns" || taskrun_pod);
            assert_eq!(
                matched(&conditions, &request),
                expected,
                "{manifest}: {name}"
            );
        }
    }
}

#[test]
fn a_custom_prefix_is_followed_by_the_rendered_conditions() {
    let prefix = "sidecars.example.com";
    let conditions = conditions(&yaml(MANIFESTS[0]), Some(prefix));
    let original: Value = serde_json::from_str(
        &std::fs::read_to_string("test_data/pod-tep-hub.json").expect("fixture"),
    )
    .expect("json");
    assert!(
        !matched(&conditions, &original),
        "the default prefix is not the custom one"
    );
    let mut renamed = original.clone();
    let annotations = renamed["object"]["metadata"]["annotations"]
        .as_object_mut()
        .expect("annotations");
    let keys: Vec<String> = annotations.keys().cloned().collect();
    for key in keys {
        if let Some(task) = key.strip_prefix("pipelinerun-sidecars.io/") {
            let value = annotations.remove(&key).expect("value");
            annotations.insert(format!("{prefix}/{task}"), value);
        }
    }
    assert!(matched(&conditions, &renamed));
    let settings = json!({"annotationPrefix": prefix});
    assert!(matches!(
        decision(&renamed, &settings),
        Ok(Outcome::Mutate(_))
    ));
    assert_eq!(decision(&original, &settings), Ok(Outcome::Accept));
}
