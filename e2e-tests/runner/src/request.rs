//! `kwctl-runner request FILE`: the AdmissionRequest the API server would send for creating the object in
//! FILE (YAML or JSON, one document), so that a manifest can be tried offline with `kwctl run` and no
//! cluster: `make request FILE=my-pipelinerun.yaml > request.json`.
//!
//! The request is what a user's `kubectl create` makes: operation CREATE, the object as written (the API
//! server's defaulting and generated names are not applied), its resource named as Kubernetes names the
//! kinds the policy sees (`pods`, `taskruns`, `pipelineruns`: the kind in lower case with an `s`), and a
//! cluster admin's user info.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// The AdmissionRequest for creating the object in the file at `path`.
pub fn for_file(path: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let object: Value = serde_saphyr::from_str(&text)
        .with_context(|| format!("{path} is not one YAML or JSON document"))?;
    for_object(object).with_context(|| path.to_string())
}

fn for_object(object: Value) -> Result<Value> {
    let text = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (kind, api_version) = (text("kind"), text("apiVersion"));
    if kind.is_empty() || api_version.is_empty() {
        bail!("a Kubernetes object needs a kind and an apiVersion");
    }
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let metadata = object.get("metadata");
    let name = metadata.and_then(|m| m.get("name")).cloned();
    let namespace = metadata
        .and_then(|m| m.get("namespace"))
        .cloned()
        .unwrap_or_else(|| json!("default"));
    let kind_of = json!({"group": group, "version": version, "kind": kind});
    let resource = json!({"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())});
    let mut request = json!({
        "uid": "offline-request",
        "kind": kind_of,
        "resource": resource,
        "requestKind": kind_of,
        "requestResource": resource,
        "namespace": namespace,
        "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": object,
        "dryRun": false,
    });
    if let Some(name) = name {
        request["name"] = name;
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipelinerun_becomes_the_request_to_create_it() {
        let object = json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
                            "metadata": {"generateName": "build-"}, "spec": {}});
        let request = for_object(object.clone()).expect("a request");
        assert_eq!(
            request["resource"],
            json!({"group": "tekton.dev", "version": "v1", "resource": "pipelineruns"})
        );
        assert_eq!(request["namespace"], "default");
        assert_eq!(request["object"], object);
        assert!(request.get("name").is_none());
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ci"}});
        let request = for_object(pod).expect("a request");
        assert_eq!(
            request["kind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        assert_eq!(
            (&request["name"], &request["namespace"]),
            (&json!("p"), &json!("ci"))
        );
    }

    #[test]
    fn something_that_is_not_an_object_is_refused() {
        let error = for_object(json!({"spec": {}})).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "a Kubernetes object needs a kind and an apiVersion"
        );
    }
}
