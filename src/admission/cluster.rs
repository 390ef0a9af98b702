//! What the policy reads from the cluster, through Kubewarden's context-aware host capabilities, behind
//! an interface of the policy's own: the Kubewarden front end (`lib.rs`) asks the host, the tests answer
//! from what they hold, and a front end without a cluster (the playground) reads nothing.
//!
//! A read that fails (no permission, no such object, the host's error) never blocks a request and never
//! widens what the settings allow: the caller falls back to what it decides without the object, and says
//! in a warning what could not be read.

use serde_json::Value;

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
