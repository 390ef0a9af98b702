//! The policy's settings: checked against `settings-schema.json` when the policy is loaded, then read with
//! the schema's defaults.
//!
//! The schema file is the single source of truth for the names, types, enums and defaults: this module
//! takes the defaults from it rather than repeating them, and the README, `questions-ui.yml` and the
//! policy metadata are tested against it. A bad setting stops a policy server, so `validate` lists every
//! violation at once, each with its path and what is allowed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::ResourceRequirements;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{FieldError, SettingsError};
use crate::guardrails;
use crate::sidecar;
use crate::strict;

/// The settings schema, embedded in the module.
pub const SCHEMA: &str = include_str!("../settings-schema.json");

/// What to do with a declared sidecar whose name a Task-defined sidecar already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnConflict {
    Override,
    Reject,
}

/// Where Pod-level injection puts a sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InjectAs {
    /// A regular container after the steps, the way Tekton adds a Task's sidecars by default.
    Container,
    /// A native sidecar (`initContainers`, `restartPolicy: Always`), as Tekton does with
    /// `enable-kubernetes-sidecar`.
    Native,
}

/// The settings, with every default filled in from the schema.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    pub annotation_prefix: String,
    /// Named sidecars, kept as JSON so that a declaration's overrides merge over them field by field.
    /// Each one has its `name` filled in (the template's name unless it sets one).
    pub templates: BTreeMap<String, Value>,
    pub allow_inline_sidecars: bool,
    pub allowed_images: Vec<String>,
    pub allow_privileged: bool,
    pub max_sidecars_per_task: usize,
    pub default_resources: ResourceRequirements,
    pub on_conflict: OnConflict,
    pub inject_as: InjectAs,
}

impl Default for Settings {
    fn default() -> Self {
        // The schema's own defaults always deserialize: `defaults_are_valid_settings` proves it.
        Settings::from_value(&Value::Object(Map::new()))
            .unwrap_or_else(|_| unreachable!("schema defaults")) // ok: tested
    }
}

impl Settings {
    /// Reads settings that the policy server has already validated, filling in the schema's defaults.
    ///
    /// This runs on every request, so it does not run the schema again; an unexpected value still gets an
    /// error, never a panic.
    pub fn from_value(value: &Value) -> Result<Settings, Vec<SettingsError>> {
        let mut filled = match value {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            other => {
                return Err(vec![SettingsError(FieldError::new(
                    "",
                    format!(
                        "must be a mapping of settings, not {}",
                        sidecar::kind_of(other)
                    ),
                ))]);
            }
        };
        for (key, default) in defaults() {
            filled.entry(key).or_insert(default);
        }
        if let Some(Value::Object(templates)) = filled.get_mut("templates") {
            for (name, template) in templates.iter_mut() {
                if let Value::Object(fields) = template {
                    fields
                        .entry("name")
                        .or_insert_with(|| Value::String(name.clone()));
                }
            }
        }
        let filled = Value::Object(filled);
        strict::from_value(&filled)
            .map_err(|errors| errors.into_iter().map(SettingsError).collect())
    }

    /// The template called `name`, as the JSON a declaration's overrides merge over. [`validate`] has
    /// checked it as a sidecar when the policy was loaded.
    pub fn template(&self, name: &str) -> Option<&Value> {
        self.templates.get(name)
    }
}

// DEFAULTS and DEFAULT_ANNOTATION_PREFIX, taken from the schema by build.rs.
include!(concat!(env!("OUT_DIR"), "/schema_defaults.rs"));

/// The `default` of every top-level property of the schema.
fn defaults() -> Map<String, Value> {
    serde_json::from_str(DEFAULTS).unwrap_or_default()
}

/// The default `annotationPrefix`, from the schema.
pub fn default_prefix() -> String {
    DEFAULT_ANNOTATION_PREFIX.to_string()
}

/// The validator of `settings-schema.json`, generated at build time. The formats are Kubernetes' name
/// rules, checked by our functions rather than by regular expressions, which would add two regex engines
/// and their Unicode tables (about 1 MB) to the module.
#[jsonschema::validator(
    path = "settings-schema.json",
    validate_formats = true,
    formats = {
        "dns-subdomain" => crate::settings::is_dns_subdomain,
        "dns-label" => crate::sidecar::is_dns_label,
    }
)]
struct SettingsSchema;

/// A DNS-1123 subdomain (what Kubernetes requires of an annotation key's prefix): dot-separated labels,
/// at most 253 characters.
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(sidecar::is_dns_label)
}

/// The parsed schema, for the hints of a violation's message (only when the settings are wrong).
pub fn schema() -> &'static Value {
    static PARSED: OnceLock<Value> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(SCHEMA).unwrap_or(Value::Null))
}

/// Checks settings as `validate_settings` receives them: first against the schema (every violation, with
/// its path and what is allowed), then what a schema cannot say (glob syntax, each template being a valid
/// sidecar that the guardrails allow, quantities).
pub fn validate(payload: &[u8]) -> Result<Settings, Vec<SettingsError>> {
    let value: Value = serde_json::from_slice(payload).map_err(|err| {
        vec![SettingsError(FieldError::new(
            "",
            format!("are not valid JSON: {err}"),
        ))]
    })?;
    let schema_errors = schema_violations(&value);
    if !schema_errors.is_empty() {
        return Err(schema_errors);
    }
    let settings = Settings::from_value(&value)?;
    let mut errors = Vec::new();
    for (i, pattern) in settings.allowed_images.iter().enumerate() {
        if let Err(problem) = guardrails::check_pattern(pattern) {
            errors.push(FieldError::new(format!("allowedImages[{i}]"), problem));
        }
    }
    for (list, quantities) in [
        ("requests", &settings.default_resources.requests),
        ("limits", &settings.default_resources.limits),
    ] {
        for (resource, quantity) in quantities.iter().flatten() {
            if let Err(problem) = guardrails::check_quantity(&quantity.0) {
                errors.push(FieldError::new(
                    format!("defaultResources.{list}.{resource}"),
                    problem,
                ));
            }
        }
    }
    for (name, template) in &settings.templates {
        let path = format!("templates.{name}");
        match sidecar::parse(template) {
            Ok(sidecar) => {
                let problems = sidecar::check(&sidecar)
                    .into_iter()
                    .chain(guardrails::check(&sidecar, &settings));
                errors.extend(problems.map(|e| e.within(&path)));
            }
            Err(problems) => errors.extend(problems.into_iter().map(|e| e.within(&path))),
        }
    }
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors.into_iter().map(SettingsError).collect())
    }
}

/// Every way `value` breaks the schema.
fn schema_violations(value: &Value) -> Vec<SettingsError> {
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
            path.push_str(&format!("[{segment}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(segment);
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn messages(payload: Value) -> Vec<String> {
        let bytes = serde_json::to_vec(&payload).expect("serializes");
        validate(&bytes)
            .expect_err("must be invalid")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn defaults_are_valid_settings() {
        let settings = validate(b"{}").expect("empty settings are valid");
        assert_eq!(settings, Settings::default());
        assert_eq!(settings.annotation_prefix, "pipelinerun-sidecars.io");
        assert_eq!(settings.allowed_images, vec!["*"]);
        assert!(settings.allow_inline_sidecars);
        assert!(!settings.allow_privileged);
        assert_eq!(settings.max_sidecars_per_task, 8);
        assert_eq!(settings.on_conflict, OnConflict::Override);
        assert_eq!(settings.inject_as, InjectAs::Container);
        assert!(settings.templates.is_empty());
    }

    #[test]
    fn a_full_valid_configuration_is_read() {
        let settings = validate(
            json!({
                "annotationPrefix": "sidecars.example.com",
                "templates": {"redis": {"image": "redis:7", "ports": [{"containerPort": 6379}]}},
                "allowInlineSidecars": false,
                "allowedImages": ["docker.io/library/*", "ghcr.io/acme/*"],
                "allowPrivileged": true,
                "maxSidecarsPerTask": 3,
                "defaultResources": {"requests": {"cpu": "100m", "memory": 128}},
                "onConflict": "reject",
                "injectAs": "native"
            })
            .to_string()
            .as_bytes(),
        )
        .expect("valid");
        assert_eq!(settings.templates["redis"]["name"], "redis");
        assert_eq!(settings.inject_as, InjectAs::Native);
        assert_eq!(
            settings.default_resources.requests.expect("requests")["memory"].0,
            "128"
        );
    }

    #[rstest]
    #[case::unknown_key(json!({"onConflit": "reject"}), vec!["settings.onConflit: unknown field; did you mean \"onConflict\"?"])]
    #[case::unknown_key_no_hint(json!({"zzz": 1}), vec!["settings.zzz: unknown field; the fields allowed here are allowInlineSidecars, allowPrivileged, allowedImages, annotationPrefix, defaultResources, injectAs, maxSidecarsPerTask, onConflict, templates"])]
    #[case::wrong_type(json!({"allowPrivileged": "yes"}), vec!["settings.allowPrivileged: \"yes\" is not of type \"boolean\""])]
    #[case::out_of_range(json!({"maxSidecarsPerTask": 0}), vec!["settings.maxSidecarsPerTask: 0 is less than the minimum of 1"])]
    #[case::too_big(json!({"maxSidecarsPerTask": 1000}), vec!["settings.maxSidecarsPerTask: 1000 is greater than the maximum of 64"])]
    #[case::bad_enum(json!({"injectAs": "sidecar"}), vec!["settings.injectAs: is \"sidecar\"; allowed values are \"container\", \"native\""])]
    #[case::empty_image_list(json!({"allowedImages": []}), vec!["settings.allowedImages: [] is not allowed: list at least one pattern; [\"*\"] allows any image"])]
    #[case::bad_prefix(json!({"annotationPrefix": "Sidecars_IO"}), vec!["settings.annotationPrefix: \"Sidecars_IO\" is not allowed: the prefix must be a DNS subdomain such as pipelinerun-sidecars.io (lowercase letters, digits, '-' and '.')"])]
    #[case::several_at_once(json!({"allowPrivileged": 1, "onConflict": "merge"}), vec![
        "settings.allowPrivileged: 1 is not of type \"boolean\"",
        "settings.onConflict: is \"merge\"; allowed values are \"override\", \"reject\"",
    ])]
    #[case::bad_glob(json!({"allowedImages": ["ghcr.io/[acme]/*"]}), vec!["settings.allowedImages[0]: \"ghcr.io/[acme]/*\" is not a valid pattern: '[' cannot appear in an image reference; use '*' for any run of characters and '?' for one character"])]
    #[case::template_unknown_field(json!({"templates": {"redis": {"image": "redis", "prots": []}}}), vec!["settings.templates.redis.prots: unknown field; did you mean \"ports\"?"])]
    #[case::template_nested_field(json!({"templates": {"redis": {"image": "redis", "ports": [{"containerPort": 6379, "protcol": "TCP"}]}}}), vec!["settings.templates.redis.ports[0].protcol: unknown field; did you mean \"protocol\"?"])]
    #[case::template_without_image(json!({"templates": {"redis": {"ports": []}}}), vec!["settings.templates.redis.image: is required"])]
    #[case::template_bad_name(json!({"templates": {"Redis": {"image": "redis"}}}), vec!["settings.templates: \"Redis\" is not allowed: a template name is a DNS-1123 label of at most 55 characters (lowercase letters, digits and '-')"])]
    #[case::template_privileged(json!({"templates": {"dind": {"image": "docker:dind", "securityContext": {"privileged": true}}}}), vec!["settings.templates.dind.securityContext.privileged: a privileged sidecar is not allowed; set the policy setting allowPrivileged to true to allow it"])]
    #[case::template_image_not_allowed(json!({"allowedImages": ["ghcr.io/acme/*"], "templates": {"redis": {"image": "redis:7"}}}), vec!["settings.templates.redis.image: \"redis:7\" (docker.io/library/redis:7) matches none of the allowedImages patterns: ghcr.io/acme/*"])]
    #[case::bad_quantity(json!({"defaultResources": {"limits": {"memory": "lots"}}}), vec!["settings.defaultResources.limits.memory: \"lots\" is not a Kubernetes quantity such as 500m, 2, 128Mi or 1Gi"])]
    #[case::not_an_object(json!(["x"]), vec!["settings: [\"x\"] is not of type \"object\""])]
    fn invalid_settings_are_reported_with_path_and_hint(
        #[case] payload: Value,
        #[case] expected: Vec<&str>,
    ) {
        assert_eq!(messages(payload), expected);
    }

    #[test]
    fn malformed_json_is_reported() {
        let errors = validate(b"{not json").expect_err("invalid");
        assert_eq!(
            errors[0].to_string(),
            "settings: are not valid JSON: key must be a string at line 1 column 2"
        );
    }
}
