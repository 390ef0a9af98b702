//! The hostile-input corpus (test_data/bad) natively, and the inputs that cannot even reach a policy
//! through kwctl (which parses the request itself): bytes that are not UTF-8, JSON that is not an
//! AdmissionRequest. Each one gets a rejection with its reason, never a panic (a panic traps the module).

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
use serde_json::{Value, json};

mod common;

use common::json_files;

fn corpus() -> Vec<(String, Value)> {
    json_files("test_data/bad")
        .into_iter()
        .map(|(path, case)| (path.display().to_string(), case))
        .collect()
}

#[test]
fn every_corpus_case_is_rejected_with_its_message() {
    let cases = corpus();
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());
    for (name, case) in cases {
        let payload =
            serde_json::to_vec(&json!({"request": case["request"], "settings": case["settings"]}))
                .expect("payload");
        let message = evaluate(&payload).expect_err(&name).to_string();
        assert_eq!(
            message,
            case["expected"].as_str().expect("expected message"),
            "{name}"
        );
    }
}

fn rejection(payload: &[u8]) -> String {
    evaluate(payload).expect_err("rejected").to_string()
}

#[test]
fn bytes_that_are_not_an_admission_request_are_rejected_with_a_reason() {
    let prefix = "pipelinerun-sidecars cannot read the admission request: the payload is not {\"request\": ..., \"settings\": ...}";
    let cases: [(&[u8], &str); 6] = [
        (b"", "EOF while parsing a value"),
        (b"\xff\xfe{\"request\": 1}", "expected value"),
        (
            b"{\"request\": {\"kind\": {\"kind\": \"Pod\"}, \"operation\": \"CREATE\\ud800\"}}",
            "unexpected end of hex escape",
        ),
        (b"null", "invalid type: null, expected struct Envelope"),
        (b"{\"settings\": {}}", "missing field `request`"),
        (
            b"{\"request\": {\"operation\": 7}}",
            "invalid type: integer `7`, expected a string",
        ),
    ];
    for (payload, reason) in cases {
        assert_eq!(
            rejection(payload),
            format!("{prefix} ({reason})"),
            "{:?}",
            String::from_utf8_lossy(payload)
        );
    }
}

#[test]
fn invalid_utf8_inside_an_annotation_is_rejected() {
    let mut payload = br#"{"request": {"kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "object": {"metadata": {"labels": {"tekton.dev/taskRun": "x"}, "annotations": {"pipelinerun-sidecars.io/all-tasks": "- name: "#.to_vec();
    payload.extend_from_slice(b"\xc3\x28");
    payload.extend_from_slice(br#""}}}}}"#);
    assert!(
        rejection(&payload).contains("invalid unicode code point"),
        "{}",
        rejection(&payload)
    );
}

#[test]
fn json_nested_past_serde_jsons_limit_is_rejected_not_overflowed() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let payload = format!(
        r#"{{"request": {{"kind": {{"group": "tekton.dev", "version": "v1", "kind": "PipelineRun"}}, "operation": "CREATE", "object": {{"metadata": {{}}, "spec": {deep}}}}}}}"#
    );
    assert!(
        rejection(payload.as_bytes()).contains("recursion limit exceeded"),
        "{}",
        rejection(payload.as_bytes())
    );
}

#[test]
fn objects_without_metadata_or_with_nulls_pass_through() {
    for object in [
        json!({}),
        json!({"metadata": null}),
        json!({"metadata": {"labels": null, "annotations": null}}),
        json!("a string"),
    ] {
        let kind = json!({"group": "", "version": "v1", "kind": "Pod"});
        let payload = serde_json::to_vec(
            &json!({"request": {"kind": kind, "operation": "CREATE", "object": object}}),
        )
        .expect("payload");
        match evaluate(&payload) {
            Ok(Outcome::Accept) => {}
            Err(error) => assert!(
                error
                    .to_string()
                    .starts_with("pipelinerun-sidecars cannot read"),
                "{error}"
            ),
            Ok(other) => panic!("{object}: {other:?}"),
        }
    }
}
