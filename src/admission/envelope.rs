//! The payload policy-server sends to `validate`, read lazily.
//!
//! The policy sits in front of every Pod and TaskRun that its rules match, and most of them carry no
//! declaration. So the object stays raw JSON until a path needs it: routing reads only the request's kind
//! and operation, and a Pod or TaskRun whose text never names the annotation prefix is accepted without
//! being parsed; any other object is parsed once, its metadata into [`Metadata`] and the rest into a tree.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::support::shape::{Shape, Struct, field};

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
/// need, read straight from the text into this type (`admission::read_object`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Empty on a CREATE with `generateName`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    pub owner_references: Vec<OwnerReference>,
}

/// An owner reference; Tekton makes its TaskRun the controller of the Pods it creates.
#[derive(Debug, Default, Deserialize)]
pub struct OwnerReference {
    #[serde(default, deserialize_with = "nullable")]
    pub kind: String,
    #[serde(default, rename = "apiVersion", deserialize_with = "nullable")]
    pub api_version: String,
    #[serde(default)]
    pub controller: Option<bool>,
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
}
