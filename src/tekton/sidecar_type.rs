//! The Tekton v1 `Sidecar` type: the fields of `type Sidecar struct` in
//! `pkg/apis/pipeline/v1/container_types.go`, the Kubernetes parts with the shapes of their Kubernetes
//! types (`support::k8s_types`), so that they mean exactly what the API server will make of them; the
//! Tekton-only parts (`script`, `workspaces`) are Tekton's own. Reading one and Tekton's rules for it are
//! in `sidecar.rs`.

use serde_json::{Map, Value};

use crate::support::k8s_types::{
    CONTAINER_PORT, ENV_FROM_SOURCE, ENV_VAR, LIFECYCLE, PROBE, RESOURCE_REQUIREMENTS,
    SECURITY_CONTEXT, VOLUME_DEVICE, VOLUME_MOUNT,
};
use crate::support::shape::{Field, Presence, Shape, Struct, field};

/// A Tekton v1 Sidecar, read and checked: its fields as the JSON it will be written as, each of its type
/// (`null` fields gone, quantities as strings, `computeResources` under its v1 name).
///
/// Kept as JSON rather than typed: the policy judges a few fields and writes the rest as they are into a
/// Pod or a Task, and a typed round trip cost more than all of that (and most of the module's size).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sidecar(pub(super) Map<String, Value>);

impl Sidecar {
    /// Its name (empty only for one that `check` refuses).
    pub fn name(&self) -> &str {
        self.text("name").unwrap_or_default()
    }

    /// The string field `field`, if it is given.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.0.get(field).and_then(Value::as_str)
    }

    /// The list field `field`, or an empty list.
    pub fn list(&self, field: &str) -> &[Value] {
        self.0
            .get(field)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// The field `field`, if it is given.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// Every field given.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// Tekton's `WorkspaceUsage`: a sidecar asks for a Task workspace, optionally at its own path.
const WORKSPACE_USAGE: Struct = Struct {
    name: "WorkspaceUsage",
    fields: &[
        Field {
            name: "name",
            shape: Shape::String,
            presence: Presence::Required,
        },
        Field {
            name: "mountPath",
            shape: Shape::String,
            presence: Presence::NotNull,
        },
    ],
};

/// The shape of a Sidecar's fields (`computeResources` also under its v1beta1 name `resources`).
pub(super) const SIDECAR: Shape = Shape::Struct(&Struct {
    name: "Sidecar",
    fields: &[
        // Not null: a missing name is reported by `check` like an empty one, in the same words.
        Field {
            name: "name",
            shape: Shape::String,
            presence: Presence::NotNull,
        },
        field("image", Shape::String),
        field("command", Shape::List(&Shape::String)),
        field("args", Shape::List(&Shape::String)),
        field("workingDir", Shape::String),
        field("ports", Shape::List(&Shape::Struct(&CONTAINER_PORT))),
        field("envFrom", Shape::List(&Shape::Struct(&ENV_FROM_SOURCE))),
        field("env", Shape::List(&Shape::Struct(&ENV_VAR))),
        field("computeResources", Shape::Struct(&RESOURCE_REQUIREMENTS)),
        field("resources", Shape::Struct(&RESOURCE_REQUIREMENTS)),
        field("volumeMounts", Shape::List(&Shape::Struct(&VOLUME_MOUNT))),
        field("volumeDevices", Shape::List(&Shape::Struct(&VOLUME_DEVICE))),
        field("livenessProbe", Shape::Struct(&PROBE)),
        field("readinessProbe", Shape::Struct(&PROBE)),
        field("startupProbe", Shape::Struct(&PROBE)),
        field("lifecycle", Shape::Struct(&LIFECYCLE)),
        field("terminationMessagePath", Shape::String),
        field("terminationMessagePolicy", Shape::String),
        field("imagePullPolicy", Shape::String),
        field("securityContext", Shape::Struct(&SECURITY_CONTEXT)),
        field("stdin", Shape::Bool),
        field("stdinOnce", Shape::Bool),
        field("tty", Shape::Bool),
        field("script", Shape::String),
        field("workspaces", Shape::List(&Shape::Struct(&WORKSPACE_USAGE))),
        field("restartPolicy", Shape::String),
    ],
});

/// Every field name a Sidecar accepts, for "did you mean" hints and for the settings schema test.
pub const FIELDS: [&str; 27] = [
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "computeResources",
    "resources",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
    "script",
    "workspaces",
    "restartPolicy",
    // Not a Sidecar field: an entry naming a template from the settings. Listed so that a typo such as
    // `tempate` gets a hint, and refused by `parse` itself.
    "template",
];
