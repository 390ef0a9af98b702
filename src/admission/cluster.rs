//! What the policy reads from the cluster, through Kubewarden's context-aware host capabilities, behind
//! an interface of the policy's own: the Kubewarden front end (`lib.rs`) asks the host, the tests answer
//! from what they hold, and a front end without a cluster (the playground) reads nothing.
//!
//! A read that fails (no permission, no such object, the host's error) never blocks a request and never
//! widens what the settings allow: the caller falls back to what it decides without the object, and says
//! in a warning what could not be read.

use serde_json::Value;

use crate::support::error::MAX_WARNING_CHARS;

/// The cluster the policy may read. One request reads at most one object of each kind.
pub trait Cluster {
    /// The namespaced object `kind` (of `api_version`) named `name` in `namespace`, or why it could not
    /// be read.
    fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, String>;
}

/// A cluster the policy cannot read: every read fails.
pub struct Unreadable;

impl Cluster for Unreadable {
    fn get(&self, _: &str, _: &str, _: &str, _: &str) -> Result<Value, String> {
        Err("no cluster to read".to_string())
    }
}

/// `start`, then `text` quoted as Rust quotes it (control and invisible characters escaped) and cut so
/// that the line fits [`MAX_WARNING_CHARS`] (its end `…` when cut, as `support::error::warning` cuts),
/// then `end`: a name or a resolver is the author's to choose, and `{:?}` alone would escape after the cut.
pub(super) fn within_a_line(start: &str, text: &str, end: &str) -> String {
    let chars = |s: &str| s.chars().count();
    let room = MAX_WARNING_CHARS.saturating_sub(chars(start) + chars(end) + chars("\"…\""));
    let (mut quoted, mut used, mut cut) = (String::new(), 0, "");
    for c in text.chars() {
        let escaped: String = c.escape_debug().collect();
        used += chars(&escaped);
        if used > room {
            cut = "…";
            break;
        }
        quoted.push_str(&escaped);
    }
    format!("{start}\"{quoted}{cut}\"{end}")
}

/// For tests: a cluster holding some objects, each found by its `apiVersion`, `kind`, namespace and name,
/// that counts the reads; a read of anything else fails.
#[cfg(test)]
pub(super) struct Holding {
    pub(super) objects: Vec<Value>,
    pub(super) reads: std::cell::Cell<usize>,
}

#[cfg(test)]
impl Holding {
    pub(super) fn new(objects: impl IntoIterator<Item = Value>) -> Holding {
        Holding {
            objects: objects.into_iter().collect(),
            reads: std::cell::Cell::new(0),
        }
    }
}

#[cfg(test)]
impl Cluster for Holding {
    fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Value, String> {
        self.reads.set(self.reads.get() + 1);
        let wanted = [api_version, kind, namespace, name];
        self.objects
            .iter()
            .find(|object| {
                [
                    "/apiVersion",
                    "/kind",
                    "/metadata/namespace",
                    "/metadata/name",
                ]
                .iter()
                .zip(wanted)
                .all(|(path, value)| object.pointer(path).and_then(Value::as_str) == Some(value))
            })
            .cloned()
            .ok_or_else(|| format!("{kind} {namespace}/{name} not found"))
    }
}
