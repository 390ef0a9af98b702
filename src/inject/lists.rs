//! A Pod's container lists: where a sidecar goes in them, and the changes an injection makes to them,
//! collected while the Pod is read and made to the request's text (`support::json_edit`), so that the
//! lists (most of a Pod's text: its steps) are never copied.

use serde_json::Value;

use crate::support::json_edit::{Edit, path};
use crate::tekton::{CONTAINER_PREFIX, RESERVED_NAME};

/// The changes to one of the Pod's container lists.
#[derive(Default)]
pub(super) struct Edits {
    /// Containers that take the place of the Task's sidecar of the same name, by index.
    pub replace: Vec<(usize, Value)>,
    /// New containers, in order, which go before the results sidecar.
    pub insert: Vec<Value>,
}

/// The changes to `containers` and `initContainers`, whose new sidecars go at `insertion_points`, as
/// edits of the Pod.
pub(super) fn edits(changes: [Edits; 2], insertion_points: [usize; 2]) -> Vec<Edit> {
    let mut edits = Vec::new();
    let lists = ["containers", "initContainers"].into_iter();
    for ((field, changes), at) in lists.zip(changes).zip(insertion_points) {
        for (i, container) in changes.replace {
            edits.push(Edit::Replace(path(&["spec", field]), i, container));
        }
        if !changes.insert.is_empty() {
            edits.push(Edit::Insert(path(&["spec", field]), at, changes.insert));
        }
    }
    edits
}

/// Where a new sidecar goes in a list: before Tekton's results sidecar, which it keeps last.
pub(super) fn insertion_point(list: &[Value]) -> usize {
    let results = format!("{CONTAINER_PREFIX}{RESERVED_NAME}");
    list.iter()
        .position(|c| c.get("name").and_then(Value::as_str) == Some(results.as_str()))
        .unwrap_or(list.len())
}

/// Whether a container is one Tekton treats as a sidecar.
pub(super) fn is_sidecar(container: &Value) -> bool {
    container
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| n.starts_with(CONTAINER_PREFIX))
}
