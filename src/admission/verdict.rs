//! What the policy answers to one request, before any front end writes it out.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::error::PolicyError;

/// What the policy answers.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// Accept the object as it is.
    Accept,
    /// Accept it with these changes: the whole object, which policy-server turns into a JSONPatch.
    Mutate(Mutated),
}

/// The object as the policy changes it: the request's own text with the changes made to it
/// (`support::json_edit`), everything else in it as the API server sent it.
#[derive(Debug, PartialEq)]
pub struct Mutated(String);

impl Mutated {
    /// The object whose JSON text is `text`.
    pub(super) fn new(text: String) -> Self {
        Self(text)
    }

    /// The object's JSON text, which a response embeds as it is, without reading it again.
    pub fn text(&self) -> &str {
        &self.0
    }

    /// The object as a JSON tree.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or_default()
    }
}

/// The answer to one `validate` payload, with the warnings a person should see whatever it is
/// (Kubernetes admission warnings, which `kubectl` prints).
#[derive(Debug, PartialEq)]
pub struct Verdict {
    /// Accept, mutate, or reject with the reason.
    pub outcome: Result<Outcome, PolicyError>,
    /// One line each.
    pub warnings: Vec<String>,
    /// For the API server's audit log: `injected`, what a mutation injected and from which annotation.
    pub audit: BTreeMap<String, String>,
}
