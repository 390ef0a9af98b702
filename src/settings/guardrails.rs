//! The guardrails every declared sidecar must pass: the platform team's images and privileges, and valid
//! resource quantities.
//!
//! These checks apply to every declared sidecar at every admission point and to the templates when the
//! settings are loaded, so a sidecar that would be refused in a Pod is refused as early as possible.

use super::Settings;
use super::images::image_problem;
use super::pod_security;
use crate::support::error::FieldError;
use crate::support::k8s::check_quantity;
use crate::tekton::sidecar::Sidecar;
use crate::tekton::variables::has_variable;

/// The guardrail problems of one sidecar, each naming the setting that would allow it. `authored` is what
/// a pipeline author wrote: the whole sidecar when it is inline, the overrides when it comes from a
/// template, nothing for a template itself. Only that is held to the Pod Security Standards level: a
/// template is the platform team's.
///
/// An image with a variable is judged where the variable is resolved (`inject::variables`): here its
/// text says nothing of what will run.
pub fn check(
    sidecar: &Sidecar,
    authored: Option<&Sidecar>,
    settings: &Settings,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(image) = &sidecar.image
        && !image.trim().is_empty()
        && !has_variable(image)
        && let Some(problem) = image_problem(image, &settings.allowed_images)
    {
        errors.push(FieldError::new("image", problem));
    }
    if let Some(authored) = authored {
        errors.extend(pod_security::check(settings.pod_security, authored));
    }
    for (list, quantities) in sidecar
        .compute_resources
        .iter()
        .flat_map(|r| [("limits", &r.limits), ("requests", &r.requests)])
    {
        for (resource, quantity) in quantities.iter().flatten() {
            if let Err(problem) = check_quantity(&quantity.0) {
                errors.push(FieldError::new(
                    format!("computeResources.{list}.{resource}"),
                    problem,
                ));
            }
        }
    }
    errors
}
