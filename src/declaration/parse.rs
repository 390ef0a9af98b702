//! Reading one annotation value: a YAML or JSON list whose entries are inline sidecars or `template:`
//! entries, each checked against Tekton's rules and the platform team's guardrails.

use std::collections::BTreeSet;

use serde_json::Value;

use super::template;
use crate::settings::guardrails::{self, Authored};
use crate::settings::{InjectAs, Settings};
use crate::support::error::{FieldError, Problem, SidecarRef};
use crate::support::json::kind_of;
use crate::support::yaml::{Budget, read_document_within};
use crate::tekton::sidecar;
use crate::tekton::sidecar::Sidecar;

/// A sidecar ready to inject, with the annotation that declared it (for messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub sidecar: Sidecar,
    pub annotation: String,
    /// The template it was made from, if it was: the platform team's, which an inline Task's author
    /// must not be able to reach into.
    pub template: Option<String>,
}

impl Declared {
    /// Whether `names` (what the marker lists as injected already) has this sidecar.
    pub fn among(&self, names: &[String]) -> bool {
        names.iter().any(|name| name == self.sidecar.name())
    }
}

/// The annotation's value read as YAML within `budget`: the list of its entries, or why it is not one.
fn list_of_sidecars(value: &str, budget: &Budget) -> Result<Vec<Value>, FieldError> {
    match read_document_within(value, budget) {
        Ok(Value::Array(items)) => Ok(items),
        Ok(Value::Null) => Err(FieldError::new("", "is empty; declare a list of sidecars")),
        Ok(Value::Object(_)) => Err(FieldError::new(
            "",
            "must be a list of sidecars, not a mapping: start each sidecar with \"- \" (YAML) or wrap it in [ ] (JSON)",
        )),
        Ok(other) => Err(FieldError::new(
            "",
            format!("must be a list of sidecars, not {}", kind_of(&other)),
        )),
        Err(message) => Err(FieldError::new("", message)),
    }
}

/// Reads one annotation value: a YAML or JSON list of sidecars or `template:` entries, drawing on the
/// `budget` of the object it is on.
pub fn parse_annotation(
    annotation: &str,
    value: &str,
    settings: &Settings,
    budget: &Budget,
) -> Result<Vec<Declared>, Vec<Problem>> {
    let whole = |error: FieldError| {
        vec![Problem {
            annotation: annotation.to_string(),
            sidecar: None,
            error,
        }]
    };
    let items = list_of_sidecars(value, budget).map_err(whole)?;
    if items.len() > settings.max_sidecars_per_task {
        return Err(whole(FieldError::new(
            "",
            format!(
                "declares {} sidecars; the policy setting maxSidecarsPerTask allows at most {}",
                items.len(),
                settings.max_sidecars_per_task
            ),
        )));
    }
    let mut sidecars = Vec::new();
    let mut problems = Vec::new();
    let mut names = BTreeSet::new();
    for (i, item) in items.into_iter().enumerate() {
        let reference = match item.get("name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => SidecarRef::Named(name.to_string()),
            _ => match item.get("template").and_then(Value::as_str) {
                Some(template) => SidecarRef::Named(template.to_string()),
                None => SidecarRef::Index(i),
            },
        };
        let report = |errors: Vec<FieldError>| {
            errors.into_iter().map(|error| Problem {
                annotation: annotation.to_string(),
                sidecar: Some(reference.clone()),
                error,
            })
        };
        match template::resolve(item, settings) {
            Ok(resolved) => {
                let sidecar = resolved.sidecar;
                let authored = match &resolved.overrides {
                    Some(overrides) => Authored::Overrides(overrides),
                    None => Authored::Whole(&sidecar),
                };
                let mut errors = sidecar::check(&sidecar);
                errors.extend(guardrails::check(&sidecar, authored, settings));
                if sidecar.text("restartPolicy") == Some("Always")
                    && settings.inject_as == InjectAs::Container
                {
                    errors.push(FieldError::new(
                        "restartPolicy",
                        "is for a native sidecar only: with the policy setting injectAs \"container\" the sidecar is a regular container, which Kubernetes refuses a restartPolicy (set injectAs to native where Tekton's enable-kubernetes-sidecar is on, or remove it)",
                    ));
                }
                if !names.insert(sidecar.name().to_string()) {
                    errors.push(FieldError::new(
                        "name",
                        format!("{:?} is declared twice in this annotation; sidecar names must be unique", sidecar.name()),
                    ));
                }
                if errors.is_empty() {
                    sidecars.push(Declared {
                        sidecar,
                        annotation: annotation.to_string(),
                        template: resolved.template,
                    });
                } else {
                    problems.extend(report(errors));
                }
            }
            Err(errors) => problems.extend(report(errors)),
        }
    }
    if problems.is_empty() {
        Ok(sidecars)
    } else {
        Err(problems)
    }
}
