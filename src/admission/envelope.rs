//! The payload policy-server sends to `validate`, read lazily.
//!
//! The policy sits in front of every Pod and TaskRun that its rules match, and most of them carry no
//! declaration. So the object stays raw JSON until a path needs it: routing reads only the request's kind
//! and operation, and a Pod or TaskRun whose text never names the annotation prefix is accepted without
//! being parsed; any other object is parsed once into a tree, its metadata taken out of it into
//! [`Metadata`].

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::support::json_pruned::Keep;
use crate::support::shape::{Shape, Struct, field};
use crate::tekton::READY_ANNOTATION;

/// `{"request": AdmissionRequest, "settings": {...}}`, as policy-evaluator builds it.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    #[serde(borrow)]
    pub request: Request<'a>,
    #[serde(default, borrow)]
    pub settings: Option<&'a RawValue>,
}

/// The parts of a Kubernetes AdmissionRequest that the policy reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request<'a> {
    #[serde(default, deserialize_with = "nullable")]
    pub kind: GroupVersionKind,
    #[serde(default, deserialize_with = "nullable")]
    pub operation: String,
    /// The namespace of a namespaced object, which the object's own metadata may leave out on CREATE.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Null on DELETE.
    #[serde(default, borrow)]
    pub object: Option<&'a RawValue>,
    /// The object before an UPDATE.
    #[serde(default, borrow)]
    pub old_object: Option<&'a RawValue>,
}

/// `request.kind`.
#[derive(Debug, Default, Deserialize)]
pub struct GroupVersionKind {
    #[serde(default, deserialize_with = "nullable")]
    pub group: String,
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
    #[serde(default, deserialize_with = "nullable")]
    pub kind: String,
}

/// The object's `metadata`, without the fields the policy never reads: all that routing and the fast path
/// need ([`METADATA`] keeps just these when the object is read, and [`Metadata::read`] takes them).
#[derive(Debug, Default)]
pub struct Metadata {
    /// Empty on a CREATE with `generateName`.
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub owner_references: Vec<OwnerReference>,
}

/// An owner reference; Tekton makes its TaskRun the controller of the Pods it creates.
#[derive(Debug, Default)]
pub struct OwnerReference {
    pub kind: String,
    pub api_version: String,
    pub name: String,
    pub uid: String,
    pub controller: Option<bool>,
}

/// The members of `metadata` that [`Metadata`] holds, as the object is read (`support::json_pruned`).
pub(super) const METADATA: Keep = Keep::Members(&[
    ("name", Keep::All),
    ("namespace", Keep::All),
    ("labels", Keep::All),
    ("annotations", Keep::All),
    ("ownerReferences", Keep::All),
]);

impl Metadata {
    /// The metadata in `value`, taken apart rather than copied; `None` if a field is of another type
    /// ([`HEAD`] then says which). A field that is missing or `null` is empty, as Kubernetes clients send
    /// either for an empty field.
    pub(super) fn read(value: Value) -> Option<Metadata> {
        let mut fields = match value {
            Value::Object(fields) => fields,
            Value::Null => return Some(Metadata::default()),
            _ => return None,
        };
        let mut take = |key: &str| fields.remove(key).filter(|v| !v.is_null());
        let (name, namespace) = (take("name"), take("namespace"));
        let (labels, annotations) = (take("labels"), take("annotations"));
        let owners = take("ownerReferences");
        Some(Metadata {
            name: optional(name, string)?,
            namespace: optional(namespace, string)?,
            labels: optional(labels, strings)?.unwrap_or_default(),
            annotations: optional(annotations, strings)?.unwrap_or_default(),
            owner_references: match owners {
                Some(Value::Array(owners)) => owners
                    .into_iter()
                    .map(OwnerReference::read)
                    .collect::<Option<_>>()?,
                Some(_) => return None,
                None => Vec::new(),
            },
        })
    }
}

impl OwnerReference {
    fn read(value: Value) -> Option<OwnerReference> {
        let Value::Object(mut fields) = value else {
            return None;
        };
        let mut take = |key: &str| fields.remove(key).filter(|v| !v.is_null());
        Some(OwnerReference {
            kind: optional(take("kind"), string)?.unwrap_or_default(),
            api_version: optional(take("apiVersion"), string)?.unwrap_or_default(),
            name: optional(take("name"), string)?.unwrap_or_default(),
            uid: optional(take("uid"), string)?.unwrap_or_default(),
            controller: match take("controller") {
                Some(Value::Bool(controller)) => Some(controller),
                Some(_) => return None,
                None => None,
            },
        })
    }
}

/// A field that may be missing, read with `read`: `None` if it is there but `read` cannot read it.
fn optional<T>(value: Option<Value>, read: fn(Value) -> Option<T>) -> Option<Option<T>> {
    match value {
        Some(value) => read(value).map(Some),
        None => Some(None),
    }
}

fn string(value: Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text),
        _ => None,
    }
}

/// A mapping of strings (labels, annotations).
fn strings(value: Value) -> Option<BTreeMap<String, String>> {
    let Value::Object(fields) = value else {
        return None;
    };
    fields
        .into_iter()
        .map(|(key, value)| Some((key, string(value)?)))
        .collect()
}

/// The shape of an object's head, `{"metadata": Metadata}`, to say where its metadata is wrong when it
/// cannot be read.
pub(super) const HEAD: Shape = Shape::Struct(&Struct {
    name: "Head",
    fields: &[field(
        "metadata",
        Shape::Struct(&Struct {
            name: "Metadata",
            fields: &[
                field("name", Shape::String),
                field("namespace", Shape::String),
                field("labels", Shape::Map(&Shape::String)),
                field("annotations", Shape::Map(&Shape::String)),
                field(
                    "ownerReferences",
                    Shape::List(&Shape::Struct(&Struct {
                        name: "OwnerReference",
                        fields: &[
                            field("kind", Shape::String),
                            field("apiVersion", Shape::String),
                            field("name", Shape::String),
                            field("uid", Shape::String),
                            field("controller", Shape::Bool),
                        ],
                    })),
                ),
            ],
        }),
    )],
});

/// Kubernetes clients send `null` for empty fields as often as they leave them out.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl Metadata {
    /// Whether any annotation key starts with `<prefix>/`: the cheap test for "nothing declared here".
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.annotations.keys().any(|key| {
            key.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// Whether a PipelineRun controls the object. Tekton creates a Pipelines-in-Pipelines child so, with
    /// its parent's annotations (`createChildPipelineRun` in `pkg/reconciler/pipelinerun`).
    pub fn controlled_by_a_pipelinerun(&self) -> bool {
        self.owner_references.iter().any(|owner| {
            owner.controller == Some(true)
                && owner.kind == "PipelineRun"
                && owner.api_version.starts_with("tekton.dev/")
        })
    }

    /// Whether Tekton built this Pod with its steps free to start at once (`tekton.dev/ready: READY`).
    pub fn built_ready(&self) -> bool {
        let (ready, at_once) = READY_ANNOTATION;
        self.annotations.get(ready).is_some_and(|v| v == at_once)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case::empty(json!({}), Some((None, 0, 0)))]
    #[case::nulls(json!({"name": null, "labels": null, "annotations": null, "ownerReferences": null}), Some((None, 0, 0)))]
    #[case::null_metadata(json!(null), Some((None, 0, 0)))]
    #[case::full(json!({"name": "p", "uid": "u", "labels": {"a": "1"}, "annotations": {"b": "2", "c": "3"},
        "ownerReferences": [{"kind": "TaskRun", "apiVersion": "tekton.dev/v1", "controller": true, "uid": "x"}]}),
        Some((Some("p"), 1, 2)))]
    #[case::a_label_not_a_string(json!({"labels": {"a": 1}}), None)]
    #[case::labels_not_a_mapping(json!({"labels": ["a"]}), None)]
    #[case::a_name_not_a_string(json!({"name": 7}), None)]
    #[case::owners_not_a_list(json!({"ownerReferences": {}}), None)]
    #[case::controller_not_a_bool(json!({"ownerReferences": [{"controller": "yes"}]}), None)]
    #[case::metadata_not_a_mapping(json!("m"), None)]
    fn reads_what_kubernetes_sends_and_nothing_of_another_type(
        #[case] value: Value,
        #[case] expected: Option<(Option<&str>, usize, usize)>,
    ) {
        let read = Metadata::read(value);
        assert_eq!(
            read.as_ref()
                .map(|m| (m.name.as_deref(), m.labels.len(), m.annotations.len())),
            expected
        );
        if let Some(owner) = read.as_ref().and_then(|m| m.owner_references.first()) {
            assert_eq!(
                (
                    owner.kind.as_str(),
                    owner.api_version.as_str(),
                    owner.controller
                ),
                ("TaskRun", "tekton.dev/v1", Some(true))
            );
        }
    }
}
