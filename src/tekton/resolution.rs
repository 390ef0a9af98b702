//! What Tekton's remote resolution leaves in the cluster for a TaskRun whose `taskRef` names a resolver
//! (git, hub, bundles, cluster, http): a `ResolutionRequest` in the TaskRun's namespace, under a name
//! derived from the request, whose status holds the resolved Task. Tekton does not delete it; it goes
//! with the TaskRun that owns it.

use serde_json::Value;

use super::variables::has_variable;
use crate::support::base64;
use crate::support::json::by_name;

/// The API version and kind of a ResolutionRequest.
pub(crate) const REQUEST: (&str, &str) = ("resolution.tekton.dev/v1beta1", "ResolutionRequest");

/// The longest name Kubernetes gives an object (`validation.DNS1123LabelMaxLength`).
const MAX_NAME: usize = 63;

/// The name of the ResolutionRequest Tekton makes for TaskRun `taskrun` in `namespace`, whose `taskRef`
/// (`reference`) names `resolver`: `GetNameAndNamespace` and `GenerateDeterministicNameFromSpec` in
/// `pkg/resolution/resource/name.go`, the resolver's name then the hex of an FNV-128a hash of
/// `<namespace>/<taskrun>` and the params sorted by name. None where Tekton hashes what the TaskRun does
/// not show as written: a param that is not a string or holds a variable (the reconciler substitutes the
/// TaskRun's params and context into them first, `GetTaskFunc` in
/// `pkg/reconciler/taskrun/resources/taskref.go`), or a `name`, which makes the request's URL.
pub(crate) fn request_name(
    resolver: &str,
    reference: &Value,
    namespace: &str,
    taskrun: &str,
) -> Option<String> {
    if reference
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty())
    {
        return None;
    }
    let params = reference.get("params").and_then(Value::as_array);
    let params = params.map_or(&[][..], Vec::as_slice);
    for param in params {
        param.get("name").and_then(Value::as_str)?;
        let value = param.get("value").and_then(Value::as_str)?;
        if has_variable(value) {
            return None;
        }
    }
    let mut hash = Fnv128a::new();
    hash.write(format!("{namespace}/{taskrun}").as_bytes());
    // By name, a name's params in their order: `sort.SliceStable` by name.
    for (name, same) in by_name(params) {
        for value in same.into_iter().filter_map(|p| p.get("value")?.as_str()) {
            hash.write(name.as_bytes());
            hash.write(value.as_bytes());
        }
    }
    let hex = format!("{:032x}", hash.0);
    let room = MAX_NAME - hex.len() - 1;
    let prefix = resolver.get(..room).unwrap_or(resolver);
    Some(format!("{prefix}-{hex}"))
}

/// The name and spec of the Task a ResolutionRequest resolved: its `status.data`, base64 of the Task's
/// YAML or JSON (`crd_resource.go`), read as Tekton reads it into a `tekton.dev/v1` or `v1beta1` Task
/// (`readRuntimeObjectAsTask`); none when it holds no Task.
pub(crate) fn resolved_task(request: &Value) -> Option<(String, Value)> {
    let data = request.pointer("/status/data").and_then(Value::as_str)?;
    let text = String::from_utf8(base64::decode(data)?).ok()?;
    let mut task = crate::support::yaml::read_document(&text).ok()?;
    let version = task.get("apiVersion").and_then(Value::as_str);
    let is_task = matches!(version, Some("tekton.dev/v1" | "tekton.dev/v1beta1"))
        && task.get("kind").and_then(Value::as_str) == Some("Task");
    if !is_task {
        return None;
    }
    let name = task.pointer("/metadata/name").and_then(Value::as_str);
    let name = name.unwrap_or_default().to_string();
    let spec = task.get_mut("spec").map(Value::take).unwrap_or_default();
    Some((name, spec))
}

/// Go's `hash/fnv` `New128a`.
struct Fnv128a(u128);

impl Fnv128a {
    fn new() -> Self {
        Fnv128a(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d)
    }

    fn write(&mut self, bytes: &[u8]) {
        const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
        for byte in bytes {
            self.0 = (self.0 ^ u128::from(*byte)).wrapping_mul(PRIME);
        }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    /// Go's `fnv.New128a` test vectors (`golden128a` in Go 1.26's `src/hash/fnv/fnv_test.go`).
    #[rstest]
    #[case::empty("", "6c62272e07bb014262b821756295c58d")]
    #[case::a("a", "d228cb696f1a8caf78912b704e4a8964")]
    #[case::ab("ab", "08809544bbab1be95aa0733055b69a62")]
    #[case::abc("abc", "a68d622cec8b5822836dbc7977af7f3b")]
    fn fnv_128a_is_go_s(#[case] text: &str, #[case] expected: &str) {
        let mut hash = Fnv128a::new();
        hash.write(text.as_bytes());
        assert_eq!(format!("{:032x}", hash.0), expected);
    }

    #[rstest]
    #[case::a_variable(json!({"resolver": "git", "params": [{"name": "revision", "value": "$(params.rev)"}]}))]
    #[case::an_array(json!({"resolver": "git", "params": [{"name": "paths", "value": ["a"]}]}))]
    #[case::a_url_name(json!({"resolver": "http", "name": "https://example.com/task.yaml"}))]
    fn unknown_where_tekton_substitutes_first(#[case] reference: Value) {
        assert_eq!(request_name("git", &reference, "ci", "run"), None);
    }

    #[test]
    fn params_are_hashed_in_name_order_after_a_resolver_name_cut_to_fit() {
        let one = json!({"params": [{"name": "b", "value": "2"}, {"name": "a", "value": "1"}]});
        let other = json!({"params": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]});
        let name = request_name(&"r".repeat(40), &one, "ci", "run").expect("named");
        assert_eq!(
            Some(name.clone()),
            request_name(&"r".repeat(40), &other, "ci", "run")
        );
        assert_eq!(name.len(), 63);
        assert!(name.starts_with(&format!("{}-", "r".repeat(30))), "{name}");
    }

    #[rstest]
    #[case::yaml("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {steps: []}\n", Some(("t", json!({"steps": []}))))]
    #[case::v1beta1_json("{\"apiVersion\": \"tekton.dev/v1beta1\", \"kind\": \"Task\", \"metadata\": {\"name\": \"t\"}, \"spec\": {}}", Some(("t", json!({}))))]
    #[case::a_pipeline(
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\n",
        None
    )]
    fn the_resolved_task_is_read(#[case] text: &str, #[case] expected: Option<(&str, Value)>) {
        use ::base64::Engine;
        let data = ::base64::engine::general_purpose::STANDARD.encode(text);
        let request = json!({"status": {"data": data}});
        assert_eq!(
            resolved_task(&request),
            expected.map(|(name, spec)| (name.to_string(), spec))
        );
    }
}
