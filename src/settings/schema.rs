//! The settings schema at load time: the validator generated from `settings-schema.json`, and the message
//! each violation becomes (its path, what is allowed, and the schema's `x-hint` advice).

use std::sync::OnceLock;

use serde_json::Value;

use super::SCHEMA;
use crate::support::error::{FieldError, SettingsError};

/// The validator of `settings-schema.json`, generated at build time. The formats are Kubernetes' name
/// rules, checked by our functions rather than by regular expressions, which would add two regex engines
/// and their Unicode tables (about 1 MB) to the module.
#[jsonschema::validator(
    path = "settings-schema.json",
    validate_formats = true,
    formats = {
        "dns-subdomain" => crate::support::k8s::is_dns_subdomain,
        "dns-label" => crate::support::k8s::is_dns_label,
    }
)]
struct SettingsSchema;
/// The parsed schema, for the hints of a violation's message (only when the settings are wrong).
fn schema() -> &'static Value {
    static PARSED: OnceLock<Value> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(SCHEMA).unwrap_or(Value::Null))
}
/// Every way `value` breaks the schema.
pub(super) fn violations(value: &Value) -> Vec<SettingsError> {
    let mut errors = Vec::new();
    for error in SettingsSchema::iter_errors(value) {
        let segments = pointer_segments(error.instance_path().as_str());
        let path = dotted(&segments);
        let schema_node = pointer_parent(schema(), error.schema_path().as_str());
        match error.kind() {
            jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed = allowed_keys(&segments);
                errors.extend(
                    unexpected
                        .iter()
                        .map(|key| SettingsError(FieldError::unknown(&path, key, &allowed))),
                );
            }
            jsonschema::error::ValidationErrorKind::Enum { options } => {
                let options = options
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(Value::to_string)
                    .collect::<Vec<_>>();
                let message = format!(
                    "is {}; allowed values are {}",
                    error.instance(),
                    options.join(", ")
                );
                errors.push(SettingsError(FieldError::new(path, message)));
            }
            _ => {
                let hint = schema_node
                    .and_then(|node| node.get("x-hint"))
                    .and_then(Value::as_str);
                // A hint replaces the validator's wording, which for a pattern is the raw regex.
                // propertyNames reports the whole object; the offending value is the key in its inner error.
                let offending = match error.kind() {
                    jsonschema::error::ValidationErrorKind::PropertyNames { error } => {
                        error.instance().to_string()
                    }
                    _ => error.instance().to_string(),
                };
                let message = match hint {
                    Some(hint) => format!("{offending} is not allowed: {hint}"),
                    None => error.to_string(),
                };
                errors.push(SettingsError(FieldError::new(path, message)));
            }
        }
    }
    errors
}

/// The schema object that holds the keyword a schema path points at.
fn pointer_parent<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
    let parent = pointer.rsplit_once('/').map_or("", |(parent, _)| parent);
    root.pointer(parent)
}

/// The property names the schema allows for the object at `segments` of the settings.
fn allowed_keys(segments: &[String]) -> Vec<&'static str> {
    let mut node = schema();
    for segment in segments {
        node = resolve(node);
        // A setting that is a word or an object holds the object's schema in its `else`.
        node = node.get("else").unwrap_or(node);
        node = match node.get("properties").and_then(|p| p.get(segment)) {
            Some(property) => property,
            None => match node.get("additionalProperties") {
                Some(additional) if additional.is_object() => additional,
                _ => return Vec::new(),
            },
        };
    }
    let node = resolve(node);
    node.get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .collect()
}

/// Follows a local `$ref` (`#/$defs/...`).
fn resolve(node: &'static Value) -> &'static Value {
    match node
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
    {
        Some(pointer) => schema().pointer(pointer).unwrap_or(node),
        None => node,
    }
}

fn pointer_segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// `["allowedImages", "0"]` as `allowedImages[0]`.
fn dotted(segments: &[String]) -> String {
    let mut path = String::new();
    for segment in segments {
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push('[');
            path.push_str(segment);
            path.push(']');
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(segment);
        }
    }
    path
}
