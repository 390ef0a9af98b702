//! The guardrails every declared sidecar must pass: the platform team's images and privileges, and valid
//! resource quantities.
//!
//! These checks apply to every declared sidecar at every admission point and to the templates when the
//! settings are loaded, so a sidecar that would be refused in a Pod is refused as early as possible.

use super::Settings;
use super::images::{image_allowed, normalize_image};
use crate::support::error::FieldError;
use crate::support::k8s::check_quantity;
use crate::tekton::sidecar::Sidecar;

/// The guardrail problems of one sidecar, each naming the setting that would allow it.
pub fn check(sidecar: &Sidecar, settings: &Settings) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(image) = &sidecar.image
        && !image.trim().is_empty()
        && !image_allowed(image, &settings.allowed_images)
    {
        let normalized = normalize_image(image);
        let shown = if normalized == *image {
            format!("{image:?}")
        } else {
            format!("{image:?} ({normalized})")
        };
        errors.push(FieldError::new(
            "image",
            format!(
                "{shown} matches none of the allowedImages patterns: {}",
                settings.allowed_images.join(", ")
            ),
        ));
    }
    if !settings.allow_privileged {
        errors.extend(privilege_problems(sidecar));
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

/// A sidecar that is privileged, may escalate privileges or adds capabilities gets more of the node than a
/// platform team has granted by default.
fn privilege_problems(sidecar: &Sidecar) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(context) = &sidecar.security_context else {
        return errors;
    };
    const HINT: &str = "set the policy setting allowPrivileged to true to allow it";
    if context.privileged == Some(true) {
        errors.push(FieldError::new(
            "securityContext.privileged",
            format!("a privileged sidecar is not allowed; {HINT}"),
        ));
    }
    if context.allow_privilege_escalation == Some(true) {
        errors.push(FieldError::new(
            "securityContext.allowPrivilegeEscalation",
            format!("privilege escalation is not allowed; {HINT}"),
        ));
    }
    if let Some(added) = context
        .capabilities
        .as_ref()
        .and_then(|c| c.add.as_ref())
        .filter(|a| !a.is_empty())
    {
        errors.push(FieldError::new(
            "securityContext.capabilities.add",
            format!(
                "adding capabilities ({}) is not allowed; {HINT}",
                added.join(", ")
            ),
        ));
    }
    errors
}
