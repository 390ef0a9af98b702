//! Bounded fuzzing of the module's entry points (the functions the waPC `validate` and
//! `validate_settings` call). A panic here is a trap in the wasm module, which would block every TaskRun
//! in the cluster, so each property asserts that every input gets an answer, and that an answer that
//! mutates is one the policy may give: only the sidecar lists and the marker change, and a second
//! evaluation changes nothing.
//!
//! CI runs a short pass (`PROPTEST_CASES`, default 256 per property). A longer run:
//! `PROPTEST_CASES=100000 cargo test --release --test fuzz`.

// Test code: a failed expectation is the test failing, not a trapped module. clippy.toml allows this
// inside #[test] functions; the helpers here are outside them.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::string_slice
)]

use pipelinerun_sidecars::admission::{Outcome, evaluate};
use pipelinerun_sidecars::settings;
use proptest::prelude::*;
use serde_json::{Value, json};

mod common;

use common::MUTABLE_PATHS;
use common::strategies::{config, declaration, mutated_declaration, settings_value};

const TASKS: &[&str] = &["test", "build", "all-tasks", "injected", "Test_1", ""];

/// A Pod, TaskRun or PipelineRun shaped like Tekton's, carrying `annotation` for `task`.
fn request(kind: u8, operation: &str, task: &str, key_suffix: &str, annotation: &str) -> Value {
    let key = format!("pipelinerun-sidecars.io/{key_suffix}");
    let labels = json!({"tekton.dev/taskRun": "run-test", "tekton.dev/pipelineTask": task});
    let (gvk, object) = match kind % 3 {
        0 => (
            json!({"group": "", "version": "v1", "kind": "Pod"}),
            json!({"metadata": {"name": "run-test-pod", "labels": labels, "annotations": {key: annotation},
                                "ownerReferences": [{"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "run-test", "controller": true}]},
                   "spec": {"initContainers": [{"name": "prepare", "image": "e"}],
                            "containers": [{"name": "step-a", "image": "i", "volumeMounts": [{"name": "ws-1bcf2", "mountPath": "/workspace/source"}]},
                                           {"name": "sidecar-db", "image": "mysql"}],
                            "volumes": [{"name": "ws-1bcf2", "emptyDir": {}}]}}),
        ),
        1 => (
            json!({"group": "tekton.dev", "version": "v1", "kind": "TaskRun"}),
            json!({"metadata": {"name": "run-test", "labels": labels, "annotations": {key: annotation}},
                   "spec": {"taskSpec": {"steps": [{"name": "a", "image": "i"}], "sidecars": [{"name": "db", "image": "mysql"}]}}}),
        ),
        _ => (
            json!({"group": "tekton.dev", "version": "v1beta1", "kind": "PipelineRun"}),
            json!({"metadata": {"name": "run", "annotations": {key.clone(): annotation}},
                   "spec": {"pipelineSpec": {"tasks": [{"name": "test"}, {"name": "build"}]},
                            "taskRunSpecs": [{"pipelineTaskName": task, "metadata": {"annotations": {key.clone(): annotation}}}]}}),
        ),
    };
    json!({"uid": "u", "kind": gvk, "operation": operation, "object": object})
}

/// The properties every answer must have.
fn check_answer(request: &Value, settings: &Value) -> Result<(), TestCaseError> {
    let payload =
        serde_json::to_vec(&json!({"request": request, "settings": settings})).expect("payload");
    match evaluate(&payload) {
        Ok(Outcome::Accept) => {}
        Err(error) => prop_assert!(
            error.to_string().starts_with("pipelinerun-sidecars"),
            "{}",
            error
        ),
        Ok(Outcome::Mutate(object)) => {
            let object = object.value();
            for operation in &json_patch::diff(&request["object"], &object).0 {
                let path = operation.path().to_string();
                prop_assert!(
                    MUTABLE_PATHS.iter().any(|a| path.starts_with(a)),
                    "mutation touches {}",
                    path
                );
            }
            let mut again = request.clone();
            again["object"] = object;
            let payload = serde_json::to_vec(&json!({"request": again, "settings": settings}))
                .expect("payload");
            prop_assert_eq!(
                evaluate(&payload),
                Ok(Outcome::Accept),
                "a second evaluation changed the object again"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_get_an_answer(payload in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = evaluate(&payload);
        let _ = settings::load::validate(&payload);
    }

    #[test]
    fn generated_declarations_get_an_answer(
        kind in 0u8..3,
        operation in prop::sample::select(&["CREATE", "UPDATE", "DELETE"][..]),
        task in prop::sample::select(TASKS),
        own_key in any::<bool>(),
        annotation in prop_oneof![declaration(), mutated_declaration()],
        settings in settings_value(),
    ) {
        let suffix = if own_key { task } else { "all-tasks" };
        check_answer(&request(kind, operation, task, suffix, &annotation), &settings)?;
    }

    #[test]
    fn arbitrary_settings_get_an_answer(value in arbitrary_json(4)) {
        let bytes = serde_json::to_vec(&value).expect("json");
        let _ = settings::load::validate(&bytes);
        let mut object = serde_json::Map::new();
        object.insert("templates".into(), json!({"t": value.clone()}));
        let _ = settings::load::validate(&serde_json::to_vec(&object).expect("json"));
    }
}

/// JSON trees whose keys are mostly the settings' and a sidecar's own, so that validation goes deep.
fn arbitrary_json(depth: u32) -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(
        &[
            "annotationPrefix",
            "templates",
            "allowedImages",
            "maxSidecarsPerTask",
            "defaultResources",
            "injectAs",
            "tektonNamespace",
            "onConflict",
            "image",
            "name",
            "env",
            "securityContext",
            "privileged",
            "limits",
            "requests",
            "x",
        ][..],
    );
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "[a-z*?/\\[:. ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|map| Value::Object(
                map.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}
