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

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// `over` on top of `base`, resource by resource in `requests` and in `limits`: the strategic merge
/// Tekton makes of a `sidecarSpecs` entry.
pub(super) fn merged(
    base: Option<ResourceRequirements>,
    over: Option<&ResourceRequirements>,
) -> Option<ResourceRequirements> {
    let Some(over) = over else {
        return base;
    };
    let mut result = base.unwrap_or_default();
    for (target, source) in [
        (&mut result.requests, &over.requests),
        (&mut result.limits, &over.limits),
    ] {
        if let Some(source) = source {
            let target = target.get_or_insert_with(BTreeMap::new);
            target.extend(source.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    Some(result)
}

/// The settings' `defaultResources` for each resource `resources` says nothing about. A resource with a
/// request or a limit is left alone: a default limit under a declared request would make the Pod
/// invalid.
pub(super) fn with_defaults(
    resources: Option<ResourceRequirements>,
    defaults: &ResourceRequirements,
) -> Option<ResourceRequirements> {
    if defaults.requests.is_none() && defaults.limits.is_none() {
        return resources;
    }
    let mut resources = resources.unwrap_or_default();
    let named = |list: &Option<BTreeMap<String, Quantity>>, resource: &str| {
        list.as_ref().is_some_and(|l| l.contains_key(resource))
    };
    let mut filled: Vec<(bool, String, Quantity)> = Vec::new();
    for (is_request, default) in [(true, &defaults.requests), (false, &defaults.limits)] {
        for (resource, quantity) in default.iter().flatten() {
            if !named(&resources.requests, resource) && !named(&resources.limits, resource) {
                filled.push((is_request, resource.clone(), quantity.clone()));
            }
        }
    }
    for (is_request, resource, quantity) in filled {
        let list = if is_request {
            &mut resources.requests
        } else {
            &mut resources.limits
        };
        list.get_or_insert_with(BTreeMap::new)
            .insert(resource, quantity);
    }
    Some(resources)
}

/// Tekton's `default-container-resource-requirements` for a container named `container` that has no
/// requests or limits at all: the entry of its exact name, else of a `prefix-<p>` whose `<p>-` starts its
/// name, else `default`; the whole entry, not resource by resource.
pub(super) fn cluster_default(
    resources: Option<ResourceRequirements>,
    container: &str,
    table: &BTreeMap<String, ResourceRequirements>,
) -> Option<ResourceRequirements> {
    let empty = resources.as_ref().is_none_or(|r| {
        r.requests.as_ref().is_none_or(BTreeMap::is_empty)
            && r.limits.as_ref().is_none_or(BTreeMap::is_empty)
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
    use serde_json::{Value, json};

    fn rr(value: Value) -> ResourceRequirements {
        serde_json::from_value(value).expect("resources")
    }

    fn json_of(resources: Option<ResourceRequirements>) -> Value {
        serde_json::to_value(resources).expect("json")
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
        let table: BTreeMap<String, ResourceRequirements> = serde_json::from_value(json!({
            "default": {"requests": {"cpu": "1"}},
            "prefix-sidecar": {"requests": {"memory": "1Gi"}},
            "sidecar-db": {"limits": {"memory": "4Gi"}}
        }))
        .expect("table");
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
