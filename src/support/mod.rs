//! Support code that knows nothing of Tekton, Kubewarden or the policy's settings: lookups in raw JSON and
//! edits made to its text,
//! reading YAML within a budget, Kubernetes' value
//! grammars (names, quantities) and container image references, and the errors with the one place that turns them into messages.
//!
//! Everything above may use these modules; they use nothing above them.

pub(crate) mod base64;
pub mod error;
pub(crate) mod image_reference;
pub mod json;
pub mod json_edit;
pub(crate) mod json_pruned;
mod json_text;
pub(crate) mod k8s;
pub(crate) mod k8s_types;
pub(crate) mod shape;
pub mod yaml;
mod yaml_budget;
mod yaml_plain;
mod yaml_scalar;
