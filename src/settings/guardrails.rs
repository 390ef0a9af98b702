//! The guardrails every declared sidecar must pass: the platform team's images and privileges, and valid
//! resource quantities.
//!
//! These checks apply to every declared sidecar at every admission point and to the templates when the
//! settings are loaded, so a sidecar that would be refused in a Pod is refused as early as possible.

use serde_json::Value;

use super::Settings;
use super::images::image_problem;
use super::pod_security;
use crate::support::error::FieldError;
use crate::support::k8s::check_quantity;
use crate::tekton::sidecar::Sidecar;
use crate::tekton::variables::has_variable;

/// What of a sidecar a pipeline author wrote.
#[derive(Debug, Clone, Copy)]
pub enum Authored<'a> {
    /// An inline sidecar: all of it.
    Whole(&'a Sidecar),
    /// The overrides written over a template.
    Overrides(&'a Sidecar),
    /// Nothing: a template itself, the platform team's.
    Nothing,
}

/// The guardrail problems of one sidecar, each naming the setting that would allow it. Only what the
/// author wrote is held to the Pod Security Standards level: a template is the platform team's, so an
/// override may not set a field to what the level forbids, but the fields the level requires are the
/// template's to set.
///
/// An image with a variable is judged where the variable is resolved (`inject::variables`): here its
/// text says nothing of what will run.
pub fn check(sidecar: &Sidecar, authored: Authored<'_>, settings: &Settings) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(image) = sidecar.text("image")
        && !image.trim().is_empty()
        && !has_variable(image)
        && let Some(problem) = image_problem(image, &settings.allowed_images)
    {
        errors.push(FieldError::new("image", problem));
    }
    match authored {
        Authored::Whole(whole) => {
            errors.extend(pod_security::check(settings.pod_security, whole, true));
        }
        Authored::Overrides(overrides) => {
            errors.extend(pod_security::check(settings.pod_security, overrides, false));
        }
        Authored::Nothing => {}
    }
    let resources = sidecar.get("computeResources");
    for list in ["limits", "requests"] {
        let quantities = resources
            .and_then(|r| r.get(list))
            .and_then(Value::as_object);
        for (resource, quantity) in quantities.into_iter().flatten() {
            if let Err(problem) = check_quantity(quantity.as_str().unwrap_or_default()) {
                errors.push(FieldError::new(
                    format!("computeResources.{list}.{resource}"),
                    problem,
                ));
            }
        }
    }
    errors
}
