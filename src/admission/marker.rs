//! The marker annotation `<prefix>/injected`: the names of the sidecars the policy has already injected.
//!
//! Set on a TaskRun when its inline `taskSpec` gets the sidecars, it reaches the Pod with the other TaskRun
//! annotations, so Pod admission knows not to add them twice. Set on a Pod, it makes a second evaluation
//! of the policy's own output a no-op, and tells a person what the policy did.

use serde_json::Value;

use crate::declaration::{self, MARKER};
use crate::support::json_edit::{Edit, path};

/// The marker's key for the annotation prefix `prefix`: `<prefix>/injected`.
pub fn key(prefix: &str) -> String {
    declaration::key(prefix, MARKER)
}

/// The names listed in a marker value (comma-separated, in injection order).
pub fn names(value: Option<&str>) -> Vec<String> {
    value
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The change that sets the marker `key` to `names`, creating `metadata.annotations` if needed.
pub(crate) fn write(key: &str, names: &[String]) -> Edit {
    Edit::Set(
        path(&["metadata", "annotations", key]),
        Value::String(names.join(",")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_writes_the_list() {
        assert_eq!(names(Some("postgres, redis,,")), vec!["postgres", "redis"]);
        assert!(names(None).is_empty());
        let mut pod = json!({"metadata": {"annotations": null}});
        let edit = write("p.io/injected", &["a".into(), "b".into()]);
        crate::support::json_edit::apply_to_value(&mut pod, &[edit]);
        assert_eq!(
            pod,
            json!({"metadata": {"annotations": {"p.io/injected": "a,b"}}})
        );
    }
}
