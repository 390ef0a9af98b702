//! The policy's settings: checked against `settings-schema.json` when the policy is loaded, then read with
//! the schema's defaults.
//!
//! The schema file is the single source of truth for the names, types, enums and defaults: this module
//! takes the defaults from it rather than repeating them, and the README, `questions-ui.yml` and the
//! policy metadata are tested against it. A bad setting stops a policy server, so [`load::validate`] lists
//! every violation at once, each with its path and what is allowed.
//!
//! This folder is what the platform team allows: the settings themselves, the checks run when they are
//! loaded ([`load`], [`schema`]), and the guardrails every declared sidecar must pass ([`guardrails`],
//! [`images`]). It knows Tekton's Sidecar type, and nothing of annotations, TaskRuns or Pods.

pub(crate) mod guardrails;
pub(crate) mod images;
pub mod load;
pub(crate) mod pod_level;
pub(crate) mod pod_security;
mod schema;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::support::error::{FieldError, SettingsError};
use crate::support::json::kind_of;
use crate::support::k8s_types::RESOURCE_REQUIREMENTS;
use crate::support::shape::{self, Shape, Unknown, type_message};
pub(crate) use pod_security::Level;

/// The settings schema, embedded in the module.
pub const SCHEMA: &str = include_str!("../../settings-schema.json");

/// What to do with a declared sidecar whose name a Task-defined sidecar already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum OnConflict {
    /// The declared sidecar replaces the Task's, in place.
    Override,
    /// The declaration is refused, naming the Task's sidecar.
    Reject,
}

/// Where Pod-level injection puts a sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum InjectAs {
    /// A regular container after the steps, the way Tekton adds a Task's sidecars by default.
    Container,
    /// A native sidecar (`initContainers`, `restartPolicy: Always`), as Tekton does with
    /// `enable-kubernetes-sidecar`.
    Native,
    /// What Tekton's `enable-kubernetes-sidecar` says: read from the cluster, then one of the others
    /// before anything is decided (`admission::tekton_config`).
    Tekton,
}

/// Tekton's `default-container-resource-requirements`: a `ResourceRequirements` by container name,
/// `prefix-<p>` or `default`.
pub(crate) type ContainerResources = BTreeMap<String, Map<String, Value>>;

/// Where the policy takes Tekton's `default-container-resource-requirements` from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ContainerDefaults {
    /// From config-defaults in the cluster: read, then a `Copy`, before anything is decided
    /// (`admission::config_defaults`).
    Tekton,
    /// A copy the platform team keeps in step.
    Copy(ContainerResources),
}

/// The word `tekton`, else a table: read by hand, as serde's untagged enums cost the module kilobytes.
impl<'de> Deserialize<'de> for ContainerDefaults {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = match Value::deserialize(deserializer)? {
            Value::String(word) if word == "tekton" => return Ok(ContainerDefaults::Tekton),
            Value::Object(entries) => entries,
            _ => return Err(serde::de::Error::custom("not \"tekton\" nor a table")),
        };
        // Inserted one by one: collecting into a map sorts, and a sort costs the module kilobytes.
        let mut table = ContainerResources::new();
        for (name, requirements) in entries {
            let Value::Object(requirements) = requirements else {
                return Err(serde::de::Error::custom("an entry is not requirements"));
            };
            table.insert(name, requirements);
        }
        Ok(ContainerDefaults::Copy(table))
    }
}

impl ContainerDefaults {
    /// The table; none while it is still to be read from the cluster.
    pub(crate) fn table(&self) -> &ContainerResources {
        static NONE: ContainerResources = BTreeMap::new();
        match self {
            ContainerDefaults::Copy(table) => table,
            ContainerDefaults::Tekton => &NONE,
        }
    }
}

/// A platform team's sidecar: its fields, kept as JSON so that a declaration's overrides merge over them
/// field by field, and the fields a declaration may set.
///
/// Read from the mapping by hand rather than with `#[serde(flatten)]`, which buffers every field and
/// made reading ten templates, at each admission that reads the settings, three times dearer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub(crate) struct Template {
    /// The fields the template may let a declaration override; None: the safe default set.
    pub(crate) overridable: Option<Vec<String>>,
    /// The Sidecar fields, with `name` filled in (the template's name unless it sets one).
    pub(crate) fields: Map<String, Value>,
}

impl TryFrom<Map<String, Value>> for Template {
    type Error = String;

    fn try_from(mut fields: Map<String, Value>) -> Result<Self, Self::Error> {
        let overridable = match fields.remove("overridable") {
            None | Some(Value::Null) => None,
            Some(list) => Some(
                serde_json::from_value(list)
                    .map_err(|_| "overridable: must be a list of field names".to_string())?,
            ),
        };
        Ok(Template {
            overridable,
            fields,
        })
    }
}

/// The settings, with every default filled in from the schema.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// The prefix of the declaration keys and of the marker: `<prefix>/<task>`, `<prefix>/all-tasks`.
    pub annotation_prefix: String,
    /// Named sidecars for `template:` entries.
    pub(crate) templates: BTreeMap<String, Template>,
    /// False: only `template:` entries are accepted.
    pub(crate) allow_inline_sidecars: bool,
    /// The patterns an image must match.
    pub(crate) allowed_images: Vec<String>,
    /// The Pod Security Standards level inline sidecars and template overrides are held to (the deprecated
    /// `allowPrivileged` is read into it).
    pub(crate) pod_security: Level,
    /// The most sidecars one pipeline task may be given, `all-tasks` included.
    pub(crate) max_sidecars_per_task: usize,
    /// Requests and limits for the resources a declaration leaves out (a `ResourceRequirements`).
    pub(crate) default_resources: Map<String, Value>,
    /// Tekton's `default-container-resource-requirements`, for Pod-level sidecars.
    pub(crate) default_container_resource_requirements: ContainerDefaults,
    /// What a declaration that names a Task's own sidecar does.
    pub(crate) on_conflict: OnConflict,
    /// Where Pod-level injection puts a sidecar.
    pub(crate) inject_as: InjectAs,
    /// The namespace of Tekton's ConfigMaps.
    pub(crate) tekton_namespace: String,
}

/// The defaults, for tests: at run time settings always come from [`Settings::from_value`].
#[cfg(test)]
impl Default for Settings {
    fn default() -> Self {
        // The schema's own defaults always deserialize: `defaults_are_valid_settings` proves it.
        Settings::from_value(Value::Object(Map::new()))
            .expect("the schema's defaults are valid settings")
    }
}

impl Settings {
    /// Reads settings that the policy server has already validated, filling in the schema's defaults.
    ///
    /// This runs on every request, so it does not run the schema again; an unexpected value still gets an
    /// error, never a panic.
    /// Takes the value whole: the defaults are filled into it rather than into a copy (templates can be
    /// large, and this runs on every request that declares something).
    pub(crate) fn from_value(value: Value) -> Result<Settings, Vec<SettingsError>> {
        let mut filled = match value {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return Err(vec![SettingsError(FieldError::new(
                    "",
                    format!("must be a mapping of settings, not {}", kind_of(&other)),
                ))]);
            }
        };
        match (
            filled.remove("allowPrivileged"),
            filled.contains_key("podSecurity"),
        ) {
            (None, _) => {}
            (Some(_), true) => {
                return Err(vec![SettingsError(FieldError::new(
                    "allowPrivileged",
                    "is the deprecated alias of podSecurity; give podSecurity only",
                ))]);
            }
            (Some(Value::Bool(privileged)), false) => {
                let level = if privileged { "privileged" } else { "baseline" };
                filled.insert("podSecurity".to_string(), Value::String(level.to_string()));
            }
            (Some(other), false) => {
                return Err(vec![SettingsError(FieldError::new(
                    "allowPrivileged",
                    format!("must be true or false, not {}", kind_of(&other)),
                ))]);
            }
        }
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
        // Quantities are read as Kubernetes reads them: `memory: 128` is "128".
        let resources = Shape::Struct(&RESOURCE_REQUIREMENTS);
        let mut errors = Vec::new();
        if let Some(value) = filled.get_mut("defaultResources")
            && let Err(found) = shape::read(value, &resources, Unknown::Drop)
        {
            errors.extend(found.into_iter().map(|e| e.within("defaultResources")));
        }
        if let Some(Value::Object(table)) = filled.get_mut("defaultContainerResourceRequirements") {
            for (key, value) in table.iter_mut() {
                if let Err(found) = shape::read(value, &resources, Unknown::Drop) {
                    let path = format!("defaultContainerResourceRequirements.{key}");
                    errors.extend(found.into_iter().map(|e| e.within(&path)));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors.into_iter().map(SettingsError).collect());
        }
        let filled = Value::Object(filled);
        // serde's own reading: settings that policy-server loaded have passed the schema. For any others
        // the schema says where they are wrong.
        Settings::deserialize(&filled).map_err(|error| {
            let violations = schema::violations(&filled);
            if violations.is_empty() {
                vec![SettingsError(FieldError::new(
                    "",
                    type_message(&error.to_string()),
                ))]
            } else {
                violations
            }
        })
    }

    /// The template called `name`. [`load::validate`] has checked it as a sidecar when the policy was
    /// loaded.
    pub(crate) fn template(&self, name: &str) -> Option<&Template> {
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
pub(crate) fn default_prefix() -> String {
    DEFAULT_ANNOTATION_PREFIX.to_string()
}
