//! The policies' `matchConditions` (deploy/*/*.yaml), evaluated by a CEL interpreter on every request of
//! `test_data/`: the API server skips the policy where they are false, so they must be false only where
//! the policy would have accepted the request untouched (and, for PipelineRuns, without a warning)
//! anyway, and true for every TaskRun and TaskRun Pod that declares sidecars, and every PipelineRun that
//! carries a declaration anywhere.

// Test code: a failed expectation is the test failing, not a trapped module.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use cel::{Context, Program};
use pipelinerun_sidecars::admission::{Outcome, evaluate, verdict};
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

const VALIDATING: [&str; 2] = [
    "deploy/cluster/validate-pipelineruns.yaml",
    "deploy/namespaced/validate-pipelineruns.yaml",
];

/// Whether the validating manifests' rules send `request`: PipelineRun CREATE and UPDATE.
fn ruled_pipelinerun(request: &Value) -> bool {
    matches!(request["operation"].as_str(), Some("CREATE" | "UPDATE"))
        && request["resource"]["resource"] == "pipelineruns"
        && request["object"]["metadata"]["annotations"]
            .as_object()
            .is_none_or(|m| m.values().all(Value::is_string))
}

/// The annotation maps a PipelineRun's declarations are in: its own, its taskRunSpecs' and its inline
/// tasks' `taskSpec.metadata`.
fn declaration_maps(object: &mut Value) -> Vec<&mut serde_json::Map<String, Value>> {
    // The metadata objects that hold them: the PipelineRun's, each taskRunSpecs entry's, and each inline
    // task's taskSpec's.
    let mut metadata: Vec<&mut Value> = Vec::new();
    let Some(fields) = object.as_object_mut() else {
        return Vec::new();
    };
    for (field, value) in fields.iter_mut() {
        match field.as_str() {
            "metadata" => metadata.push(value),
            "spec" => {
                for (part, inner) in value.as_object_mut().into_iter().flatten() {
                    let entries: Vec<&mut Value> = match part.as_str() {
                        "taskRunSpecs" => inner.as_array_mut().into_iter().flatten().collect(),
                        "pipelineSpec" => inner
                            .as_object_mut()
                            .into_iter()
                            .flatten()
                            .filter(|(list, _)| *list == "tasks" || *list == "finally")
                            .filter_map(|(_, list)| list.as_array_mut())
                            .flatten()
                            .filter_map(|task| task.get_mut("taskSpec"))
                            .collect(),
                        _ => Vec::new(),
                    };
                    metadata.extend(entries.into_iter().filter_map(|e| e.get_mut("metadata")));
                }
            }
            _ => {}
        }
    }
    metadata
        .into_iter()
        .filter_map(|m| m.get_mut("annotations")?.as_object_mut())
        .collect()
}

fn declares_anywhere(request: &Value) -> bool {
    let mut object = request["object"].clone();
    declaration_maps(&mut object).iter().any(|map| {
        map.keys()
            .any(|k| k.starts_with("pipelinerun-sidecars.io/"))
    })
}

#[test]
fn the_validating_policy_sees_every_pipelinerun_that_declares_and_no_other() {
    for manifest in VALIDATING {
        let conditions = conditions(&yaml(manifest), None);
        let (mut stripped, mut sent) = (0, 0);
        for (name, request, settings) in requests()
            .into_iter()
            .filter(|(_, r, _)| ruled_pipelinerun(r))
        {
            assert_eq!(
                matched(&conditions, &request),
                declares_anywhere(&request),
                "{manifest}: {name}"
            );
            sent += usize::from(matched(&conditions, &request));
            // The same PipelineRun without its declarations is skipped, and the policy would have
            // accepted it untouched and without a word.
            let mut without = request.clone();
            for map in declaration_maps(&mut without["object"]) {
                map.retain(|k, _| !k.starts_with("pipelinerun-sidecars.io/"));
            }
            if let Some(old) = without.get_mut("oldObject") {
                for map in declaration_maps(old) {
                    map.retain(|k, _| !k.starts_with("pipelinerun-sidecars.io/"));
                }
            }
            assert!(!matched(&conditions, &without), "{manifest}: {name}");
            let payload = serde_json::to_vec(&json!({"request": without, "settings": settings}))
                .expect("json");
            let answer = verdict(&payload);
            assert_eq!(
                answer.outcome.map_err(|e| e.to_string()),
                Ok(Outcome::Accept),
                "{name}"
            );
            assert!(answer.warnings.is_empty(), "{name}: {:?}", answer.warnings);
            stripped += 1;
        }
        assert!(
            sent >= 20 && stripped >= 20,
            "{manifest}: {sent} sent, {stripped} stripped"
        );
    }
}
