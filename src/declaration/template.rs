//! `template: NAME` entries: the platform team's sidecar from the settings, with the fields an author may
//! override merged over it.

use serde_json::{Map, Value};

use crate::settings::Settings;
use crate::support::error::FieldError;
use crate::support::json::kind_of;
use crate::tekton::sidecar::{self, Sidecar};

/// The fields a template override may not set: those that decide what the sidecar may reach stay as the
/// platform team wrote them. Every other Sidecar field may be overridden.
pub const LOCKED: [&str; 5] = [
    "image",
    "securityContext",
    "volumeMounts",
    "volumeDevices",
    "restartPolicy",
];

/// The fields a declaration may override on a template, in the order of [`sidecar::FIELDS`].
pub fn overridable() -> Vec<&'static str> {
    sidecar::FIELDS
        .iter()
        .copied()
        .filter(|f| *f != "template" && !LOCKED.contains(f))
        .collect()
}

/// One list entry as a sidecar: a template with its overrides merged in, or an inline sidecar.
pub(super) fn resolve(item: &Value, settings: &Settings) -> Result<Sidecar, Vec<FieldError>> {
    let Value::Object(fields) = item else {
        return Err(vec![FieldError::new(
            "",
            format!("must be a mapping of sidecar fields, not {}", kind_of(item)),
        )]);
    };
    let Some(template) = fields.get("template") else {
        if !settings.allow_inline_sidecars {
            return Err(vec![FieldError::new(
                "",
                format!(
                    "inline sidecars are not allowed by the policy setting allowInlineSidecars; use `template: NAME` with one of the templates: {}",
                    template_names(settings)
                ),
            )]);
        }
        return sidecar::parse(item);
    };
    let Some(name) = template.as_str() else {
        return Err(vec![FieldError::new(
            "template",
            format!("must be a template name, not {}", kind_of(template)),
        )]);
    };
    let Some(Value::Object(base)) = settings.template(name) else {
        return Err(vec![FieldError::new(
            "template",
            format!(
                "{name:?} is not a template of this policy; the templates are: {}",
                template_names(settings)
            ),
        )]);
    };
    let allowed = overridable();
    let refused: Vec<FieldError> = fields
        .keys()
        .filter(|key| *key != "template" && !allowed.contains(&key.as_str()))
        .map(|key| {
            if sidecar::FIELDS.contains(&key.as_str()) {
                FieldError::new(
                    key.as_str(),
                    format!("cannot be overridden on template {name:?}; the fields an override may set are {}", allowed.join(", ")),
                )
            } else {
                FieldError::unknown("", key, &allowed)
            }
        })
        .collect();
    if !refused.is_empty() {
        return Err(refused);
    }
    sidecar::parse(&Value::Object(merge(base, fields)))
}

/// The template's fields with the overrides on top. `env` merges by variable name, so that an override can
/// set one variable without repeating the others; every other field is replaced whole.
fn merge(base: &Map<String, Value>, overrides: &Map<String, Value>) -> Map<String, Value> {
    let mut merged = base.clone();
    for (key, value) in overrides {
        match (key.as_str(), merged.get_mut("env"), value) {
            ("template", _, _) => {}
            ("env", Some(Value::Array(env)), Value::Array(more)) => {
                for var in more {
                    let name = var.get("name");
                    match env
                        .iter_mut()
                        .find(|existing| name.is_some() && existing.get("name") == name)
                    {
                        Some(existing) => *existing = var.clone(),
                        None => env.push(var.clone()),
                    }
                }
            }
            ("resources" | "computeResources", _, _) => {
                merged.remove("resources");
                merged.remove("computeResources");
                merged.insert(key.clone(), value.clone());
            }
            _ => {
                merged.insert(key.clone(), value.clone());
            }
        }
    }
    merged
}

fn template_names(settings: &Settings) -> String {
    if settings.templates.is_empty() {
        "none are configured".to_string()
    } else {
        settings
            .templates
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    }
}
