//! `template: NAME` entries: the platform team's sidecar from the settings, with the fields an author may
//! override merged over it.

use serde_json::{Map, Value};

use crate::settings::Settings;
use crate::support::error::FieldError;
use crate::support::json::kind_of;
use crate::tekton::sidecar::{self, Sidecar};

/// The fields a declaration may override on a template that does not list its own `overridable`: none of
/// them changes what the template runs or what it can reach. The name (to run a template twice), the
/// resources, how the image is pulled, the probes that only look at the sidecar from outside (an `exec`
/// probe runs a command inside it, and needs the template to list the probe), how the termination
/// message is read, and the terminal flags. Locked: the command, args, script, environment, working
/// directory, ports, lifecycle, volumes, workspaces, securityContext, image, restartPolicy, and
/// `terminationMessagePath` (the kubelet mounts a file at that path, which could hide one the image runs).
pub const DEFAULT_OVERRIDABLE: [&str; 11] = [
    "name",
    "computeResources",
    "resources",
    "imagePullPolicy",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "terminationMessagePolicy",
    "stdin",
    "stdinOnce",
    "tty",
];

/// A list entry made into a sidecar.
pub(super) struct Resolved {
    pub(super) sidecar: Sidecar,
    /// What the author wrote over a template (None: an inline sidecar, all of it the author's).
    pub(super) overrides: Option<Sidecar>,
    /// The template's name, for a sidecar made from one.
    pub(super) template: Option<String>,
}

/// One list entry as a sidecar: a template with its overrides merged in, or an inline sidecar.
pub(super) fn resolve(item: Value, settings: &Settings) -> Result<Resolved, Vec<FieldError>> {
    let Value::Object(mut fields) = item else {
        return Err(vec![FieldError::new(
            "",
            format!(
                "must be a mapping of sidecar fields, not {}",
                kind_of(&item)
            ),
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
        return sidecar::parse(Value::Object(fields)).map(|sidecar| Resolved {
            sidecar,
            overrides: None,
            template: None,
        });
    };
    let Some(name) = template.as_str() else {
        return Err(vec![FieldError::new(
            "template",
            format!("must be a template name, not {}", kind_of(template)),
        )]);
    };
    let Some(base) = settings.template(name) else {
        return Err(vec![FieldError::new(
            "template",
            format!(
                "{name:?} is not a template of this policy; the templates are: {}",
                template_names(settings)
            ),
        )]);
    };
    let listed: Vec<&str> = match &base.overridable {
        Some(fields) => fields.iter().map(String::as_str).collect(),
        None => DEFAULT_OVERRIDABLE.to_vec(),
    };
    let allowed = || listed.join(", ");
    let mut refused: Vec<FieldError> = Vec::new();
    for (key, value) in fields.iter().filter(|(key, _)| *key != "template") {
        if !sidecar::FIELDS.contains(&key.as_str()) {
            refused.push(FieldError::unknown("", key, &sidecar::FIELDS));
        } else if !listed.contains(&key.as_str()) {
            refused.push(FieldError::new(
                key.as_str(),
                format!(
                    "cannot be overridden on template {name:?}; the fields an override may set are {}",
                    allowed()
                ),
            ));
        } else if base.overridable.is_none() && value.get("exec").is_some() {
            refused.push(FieldError::new(
                format!("{key}.exec"),
                format!(
                    "cannot be overridden on template {name:?}: a probe that runs a command changes what the template runs (the template's overridable must list {key}); the fields an override may set are {}, with probes of httpGet, tcpSocket or grpc",
                    allowed()
                ),
            ));
        }
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    let name = name.to_string();
    fields.remove("template");
    let sidecar = sidecar::parse(Value::Object(merge(&base.fields, &fields)))?;
    let overrides = sidecar::parse(Value::Object(fields))?;
    Ok(Resolved {
        sidecar,
        overrides: Some(overrides),
        template: Some(name),
    })
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
