//! A Pod's container lists: where a sidecar goes in them, and the changes an injection makes to them,
//! collected while the Pod is read and applied once it no longer is, so that the lists (most of a Pod's
//! text: its steps) are never copied.

use serde_json::{Map, Value};

use crate::tekton::{CONTAINER_PREFIX, RESERVED_NAME};

/// The changes to one of the Pod's container lists.
#[derive(Default)]
pub(super) struct Edits {
    /// Containers that take the place of the Task's sidecar of the same name, by index.
    pub replace: Vec<(usize, Value)>,
    /// New containers, in order, which go before the results sidecar.
    pub insert: Vec<Value>,
}

/// Applies the edits of `containers` and `initContainers` to a Pod's spec. `containers` is always
/// written, as a Pod always has it; `initContainers` only when it changes.
pub(super) fn apply(spec: &mut Map<String, Value>, edits: [Edits; 2]) {
    for (field, edits) in ["containers", "initContainers"].into_iter().zip(edits) {
        if edits.replace.is_empty() && edits.insert.is_empty() && field != "containers" {
            continue;
        }
        let list = spec
            .entry(field)
            .or_insert_with(|| Value::Array(Vec::new()));
        if !list.is_array() {
            *list = Value::Array(Vec::new());
        }
        if let Value::Array(list) = list {
            for (i, container) in edits.replace {
                if let Some(slot) = list.get_mut(i) {
                    *slot = container;
                }
            }
            let at = insertion_point(list);
            list.splice(at..at, edits.insert);
        }
    }
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
