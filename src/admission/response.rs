//! The answer to `validate` as policy-server reads it: the Kubewarden SDK's `ValidationResponse`, written
//! here so that a mutated object goes into it as the text the policy made of the request's.
//!
//! The SDK's type holds the mutated object as a `serde_json::Value`: the policy would build the whole
//! object as a tree only for it to be written out again. Here the object is the request's own text with
//! the policy's changes made to it (`support::json_edit`), and it is copied into the answer as it is.

use super::verdict::{Outcome, Verdict};

/// The JSON policy-server reads from `validate`, the SDK's `ValidationResponse` field for field:
/// accepted, rejected with the message, or accepted with the changed object (which policy-server diffs
/// into a JSONPatch), with the warnings `kubectl` prints and the audit annotations. It is written here, in
/// one buffer, so that the object goes in as the text it is.
pub fn validation_response(verdict: Verdict) -> Result<Vec<u8>, serde_json::Error> {
    let (accepted, message, mutated) = match verdict.outcome {
        Ok(Outcome::Accept) => (true, None, None),
        Ok(Outcome::Mutate(object)) => (true, None, Some(object)),
        Err(error) => (false, Some(error.to_string()), None),
    };
    let audit = (!verdict.audit.is_empty()).then_some(verdict.audit);
    let warnings = (!verdict.warnings.is_empty()).then_some(verdict.warnings);
    let mut out = Vec::with_capacity(mutated.as_ref().map_or(0, |o| o.text().len()) + 256);
    out.push(b'{');
    if let Some(object) = &mutated {
        out.extend_from_slice(b"\"mutated_object\":");
        out.extend_from_slice(object.text().as_bytes());
        out.push(b',');
    }
    out.extend_from_slice(b"\"accepted\":");
    out.extend_from_slice(if accepted { b"true" } else { b"false" });
    out.extend_from_slice(b",\"message\":");
    serde_json::to_writer(&mut out, &message)?;
    out.extend_from_slice(b",\"code\":null,\"audit_annotations\":");
    serde_json::to_writer(&mut out, &audit)?;
    out.extend_from_slice(b",\"warnings\":");
    serde_json::to_writer(&mut out, &warnings)?;
    out.push(b'}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::Mutated;
    use crate::support::error::PolicyError;
    use rstest::rstest;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    fn verdict(outcome: Result<Outcome, PolicyError>, warnings: &[&str]) -> Verdict {
        Verdict {
            outcome,
            warnings: warnings.iter().map(ToString::to_string).collect(),
            audit: BTreeMap::from([("injected".to_string(), "db from p.io/test".to_string())]),
        }
    }

    #[rstest]
    #[case::accept(Ok(Outcome::Accept), &[], json!({"accepted": true, "message": null, "code": null,
        "audit_annotations": {"injected": "db from p.io/test"}, "warnings": null}))]
    #[case::reject(Err(PolicyError::Request("no".into())), &["w"], json!({"accepted": false,
        "message": "pipelinerun-sidecars cannot read the admission request: no", "code": null,
        "audit_annotations": {"injected": "db from p.io/test"}, "warnings": ["w"]}))]
    #[case::mutate(Ok(Outcome::Mutate(Mutated::new("{\"a\": [1, 2.50]}".to_string()))), &["w"],
        json!({"accepted": true, "message": null, "code": null, "mutated_object": {"a": [1, 2.50]},
        "audit_annotations": {"injected": "db from p.io/test"}, "warnings": ["w"]}))]
    fn reads_as_the_sdk_s_response(
        #[case] outcome: Result<Outcome, PolicyError>,
        #[case] warnings: &[&str],
        #[case] expected: Value,
    ) {
        let bytes = validation_response(verdict(outcome, warnings)).expect("written");
        let read: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(read, expected);
        // What policy-evaluator deserializes it into.
        let sdk: kubewarden_policy_sdk::response::ValidationResponse =
            serde_json::from_slice(&bytes).expect("the SDK's type");
        assert_eq!(sdk.mutated_object, expected.get("mutated_object").cloned());
    }
}
