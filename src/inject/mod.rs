//! Injection: the declared sidecars put where Tekton will run them. An inline `taskSpec` gets them in its
//! `sidecars` at TaskRun CREATE ([`taskrun`]); any other TaskRun's Pod gets containers built the way
//! Tekton's Pod builder builds a Task's sidecar ([`pod`], with its [`workspaces`] and [`script`]).
//!
//! Injection edits the object's raw JSON and adds or replaces only the sidecars (and, on a TaskRun whose
//! Task is referenced, carries what its Pod will need: [`context`]); it never reads the declarations'
//! annotations itself (admission hands it the declarations) and knows nothing of waPC.

pub(crate) mod context;
pub(crate) mod pod;
mod resources;
mod script;
pub(crate) mod taskrun;
mod workspaces;

use crate::declaration::Declared;
use crate::support::error::{FieldError, Problem, SidecarRef};

/// What an injection did: the sidecars it added (for the marker), and what a person should know about it.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Injected {
    pub(crate) names: Vec<String>,
    pub(crate) warnings: Vec<String>,
    /// Whether the object changed besides the sidecars (a TaskRun carrying its bindings to the Pod).
    pub(crate) changed: bool,
}

/// A declared sidecar that has the name of one the Task defines, when the settings forbid overriding.
fn conflict(entry: &Declared) -> Problem {
    Problem {
        annotation: entry.annotation.clone(),
        sidecar: Some(SidecarRef::Named(entry.sidecar.name.clone())),
        error: FieldError::new(
            "name",
            format!(
                "the Task already defines a sidecar named {:?}, and the policy setting onConflict is \"reject\"; choose another name",
                entry.sidecar.name
            ),
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::tekton::sidecar;
    use serde_json::Value;

    /// A declared sidecar from its JSON, as if the annotation `p.io/test` had declared it.
    pub(crate) fn declared(value: Value) -> Declared {
        Declared {
            sidecar: sidecar::parse(&value).expect("valid"),
            annotation: "p.io/test".into(),
        }
    }
}
