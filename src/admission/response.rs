//! The answer to `validate` as policy-server reads it: the Kubewarden SDK's `ValidationResponse`, written
//! here so that a mutated object goes into it as the text the policy made of the request's.
//!
//! The SDK's type holds the mutated object as a `serde_json::Value`: the policy would build the whole
//! object as a tree only for it to be written out again. Here the object is the request's own text with
//! the policy's changes made to it (`support::json_edit`), and it is copied into the answer as it is.

use std::collections::BTreeMap;

use serde::Serialize;

use super::verdict::{Outcome, Verdict};

/// The SDK's `ValidationResponse`, field for field, but for `mutated_object`, which
/// [`validation_response`] writes itself.
#[derive(Serialize)]
struct Response {
    accepted: bool,
    message: Option<String>,
    code: Option<u16>,
    audit_annotations: Option<BTreeMap<String, String>>,
    warnings: Option<Vec<String>>,
}

/// The JSON policy-server reads from `validate`: accepted, rejected with the message, or accepted with the
/// changed object (which policy-server diffs into a JSONPatch), with the warnings `kubectl` prints and the
/// audit annotations.
pub fn validation_response(verdict: Verdict) -> Result<Vec<u8>, serde_json::Error> {
    let (accepted, message, mutated) = match verdict.outcome {
        Ok(Outcome::Accept) => (true, None, None),
        Ok(Outcome::Mutate(object)) => (true, None, Some(object)),
        Err(error) => (false, Some(error.to_string()), None),
    };
    let response = serde_json::to_vec(&Response {
        accepted,
        message,
        code: None,
        audit_annotations: (!verdict.audit.is_empty()).then_some(verdict.audit),
        warnings: (!verdict.warnings.is_empty()).then_some(verdict.warnings),
    })?;
    let Some(object) = mutated else {
        return Ok(response);
    };
    // `response` is an object with at least `accepted`: the member goes in first, after its brace.
    const KEY: &[u8] = b"{\"mutated_object\":";
    let rest = response.get(1..).unwrap_or_default();
    let mut out = Vec::with_capacity(KEY.len() + object.text().len() + 1 + rest.len());
    out.extend_from_slice(KEY);
    out.extend_from_slice(object.text().as_bytes());
    out.push(b',');
    out.extend_from_slice(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::Mutated;
    use crate::support::error::PolicyError;
    use rstest::rstest;
    use serde_json::{Value, json};

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
