//! The resources an injected sidecar gets, in the order Tekton gives a Task's sidecar its own: the
//! sidecar's `computeResources`, then the PipelineRun's `taskRunSpecs[].sidecarSpecs` resource by resource
//! (`MergeSidecarsWithSpecs` in `pkg/apis/pipeline/v1/merge.go`), then the cluster's
//! `default-container-resource-requirements` for a container that still has none (the
//! `defaultresourcerequirements` Pod transformer).
//!
//! Two steps are the policy's own: an override of a Task's sidecar starts from the resources that sidecar
//! had (so that replacing it does not take away what the Task or Tekton gave it), and the settings'
//! `defaultResources` fill each resource a declaration says nothing about.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::support::k8s_types::RESOURCE_REQUIREMENTS;
use crate::support::shape::{self, Shape, Unknown};

/// A `ResourceRequirements` as JSON: `claims`, `limits` and `requests`, quantities written as strings.
pub(crate) type Resources = Map<String, Value>;

/// `value` read as a `ResourceRequirements`, fields it does not know dropped and quantities written as
/// strings, as a typed reading gives it; none if it is not one.
pub(crate) fn read(value: &Value) -> Option<Resources> {
    let mut value = value.clone();
    shape::read(
        &mut value,
        &Shape::Struct(&RESOURCE_REQUIREMENTS),
        Unknown::Drop,
    )
    .ok()?;
    match value {
        Value::Object(resources) => Some(resources),
        _ => None,
    }
}

/// The quantities of `list` (`requests` or `limits`), if it has any.
fn quantities<'a>(resources: &'a Resources, list: &str) -> Option<&'a Map<String, Value>> {
    resources.get(list).and_then(Value::as_object)
}

/// The quantities of `list`, to add to.
fn quantities_mut<'a>(
    resources: &'a mut Resources,
    list: &str,
) -> Option<&'a mut Map<String, Value>> {
    let entry = resources
        .entry(list)
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut()
}

/// `over` on top of `base`, resource by resource in `requests` and in `limits` (and `claims` whole): the
/// strategic merge Tekton makes of a `sidecarSpecs` entry.
pub(super) fn merged(base: Option<Resources>, over: Option<&Resources>) -> Option<Resources> {
    let Some(over) = over else {
        return base;
    };
    let Some(mut result) = base else {
        return Some(over.clone());
    };
    for list in ["requests", "limits"] {
        if let Some(source) = quantities(over, list)
            && let Some(target) = quantities_mut(&mut result, list)
        {
            target.extend(source.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    if let Some(claims) = over.get("claims") {
        result.insert("claims".to_string(), claims.clone());
    }
    Some(result)
}

/// The settings' `defaultResources` for each resource `resources` says nothing about. A resource with a
/// request or a limit is left alone: a default limit under a declared request would make the Pod
/// invalid.
pub(super) fn with_defaults(
    resources: Option<Resources>,
    defaults: &Resources,
) -> Option<Resources> {
    let (requests, limits) = (
        quantities(defaults, "requests"),
        quantities(defaults, "limits"),
    );
    if requests.is_none() && limits.is_none() {
        return resources;
    }
    let mut resources = resources.unwrap_or_default();
    let named = |resources: &Resources, resource: &str| {
        ["requests", "limits"]
            .iter()
            .any(|list| quantities(resources, list).is_some_and(|l| l.contains_key(resource)))
    };
    let mut filled: Vec<(&str, &String, &Value)> = Vec::new();
    for (list, default) in [("requests", requests), ("limits", limits)] {
        for (resource, quantity) in default.into_iter().flatten() {
            if !named(&resources, resource) {
                filled.push((list, resource, quantity));
            }
        }
    }
    for (list, resource, quantity) in filled {
        if let Some(target) = quantities_mut(&mut resources, list) {
            target.insert(resource.clone(), quantity.clone());
        }
    }
    Some(resources)
}

/// Tekton's `default-container-resource-requirements` for a container named `container` that has no
/// requests or limits at all: the entry of its exact name, else of a `prefix-<p>` whose `<p>-` starts its
/// name, else `default`; the whole entry, not resource by resource.
pub(super) fn cluster_default(
    resources: Option<Resources>,
    container: &str,
    table: &BTreeMap<String, Resources>,
) -> Option<Resources> {
    let empty = resources.as_ref().is_none_or(|r| {
        quantities(r, "requests").is_none_or(Map::is_empty)
            && quantities(r, "limits").is_none_or(Map::is_empty)
    });
    if !empty || table.is_empty() {
        return resources;
    }
    let by_prefix = table.iter().find(|(key, _)| {
        key.strip_prefix("prefix-")
            .is_some_and(|prefix| container.starts_with(&format!("{prefix}-")))
    });
    let entry = table
        .get(container)
        .or(by_prefix.map(|(_, entry)| entry))
        .or_else(|| table.get("default"));
    entry.cloned().or(resources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rr(value: Value) -> Resources {
        read(&value).expect("resources")
    }

    fn json_of(resources: Option<Resources>) -> Value {
        resources.map_or(Value::Null, Value::Object)
    }

    /// `TestMergeSidecarSpec` "override memory but not CPU" and "override request but not limit".
    #[test]
    fn sidecar_specs_merge_resource_by_resource() {
        let task =
            rr(json!({"requests": {"memory": "1Gi", "cpu": "100m"}, "limits": {"memory": "2Gi"}}));
        let spec = rr(json!({"requests": {"memory": "2Gi"}}));
        assert_eq!(
            json_of(merged(Some(task), Some(&spec))),
            json!({"requests": {"cpu": "100m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}})
        );
        assert_eq!(json_of(merged(None, None)), Value::Null);
    }

    /// A declaration's own resources are taken whole, DRA `claims` included; over a Task's sidecar the
    /// declared claims replace its.
    #[test]
    fn claims_are_kept() {
        let declared = rr(json!({"claims": [{"name": "gpu"}], "limits": {"cpu": 1}}));
        assert_eq!(
            json_of(merged(None, Some(&declared))),
            json!({"claims": [{"name": "gpu"}], "limits": {"cpu": "1"}})
        );
        let task = rr(json!({"claims": [{"name": "old"}], "requests": {"cpu": "1"}}));
        assert_eq!(
            json_of(merged(Some(task), Some(&declared))),
            json!({"claims": [{"name": "gpu"}], "limits": {"cpu": "1"}, "requests": {"cpu": "1"}})
        );
    }

    #[test]
    fn defaults_fill_only_unmentioned_resources() {
        let defaults = rr(
            json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}),
        );
        let declared = rr(json!({"limits": {"cpu": "2"}}));
        assert_eq!(
            json_of(with_defaults(Some(declared), &defaults)),
            json!({"limits": {"cpu": "2", "memory": "256Mi"}, "requests": {"memory": "64Mi"}})
        );
    }

    /// `TestNewTransformer` in `pkg/internal/defaultresourcerequirements`: exact name, prefix, default; only
    /// for a container without resources.
    #[test]
    fn cluster_defaults_apply_whole_to_a_container_without_resources() {
        let table: BTreeMap<String, Resources> = [
            ("default", json!({"requests": {"cpu": "1"}})),
            ("prefix-sidecar", json!({"requests": {"memory": "1Gi"}})),
            ("sidecar-db", json!({"limits": {"memory": "4Gi"}})),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), rr(value)))
        .collect();
        assert_eq!(
            json_of(cluster_default(None, "sidecar-db", &table)),
            json!({"limits": {"memory": "4Gi"}})
        );
        assert_eq!(
            json_of(cluster_default(None, "sidecar-cache", &table)),
            json!({"requests": {"memory": "1Gi"}})
        );
        assert_eq!(
            json_of(cluster_default(None, "other", &table)),
            json!({"requests": {"cpu": "1"}})
        );
        let own = rr(json!({"requests": {"cpu": "2"}}));
        assert_eq!(
            json_of(cluster_default(Some(own), "sidecar-db", &table)),
            json!({"requests": {"cpu": "2"}})
        );
    }
}
