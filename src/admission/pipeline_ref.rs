//! The pipeline a PipelineRun runs, for the check that its keys name its tasks: the inline
//! `pipelineSpec`, or the Pipeline its `pipelineRef` names, read from the cluster in the PipelineRun's
//! namespace. A Pipeline that comes through a resolver (git, hub, bundles, cluster) or a bundle is not in
//! the namespace under that name when the PipelineRun is admitted (Tekton resolves it afterwards), so its
//! tasks are not known.

use std::borrow::Cow;

use serde_json::Value;

use super::cluster::{Cluster, within_a_line};

/// The start of the warning for keys that name tasks of a pipeline the policy cannot see.
const NOT_CHECKED: &str = "keys naming tasks are not checked";

/// The spec of the pipeline `pipelinerun` runs: inline, or, when `wanted` (a key that changed names a
/// task; asked only of a `pipelineRef`), read from `cluster`. `None`, with a warning saying why when it was
/// wanted, when it is not known.
pub(super) fn spec<'a>(
    pipelinerun: &'a Value,
    namespace: Option<&str>,
    cluster: &dyn Cluster,
    wanted: impl FnOnce() -> bool,
    warnings: &mut Vec<String>,
) -> Option<Cow<'a, Value>> {
    // Go reads a `null` pipelineSpec as none, and Tekton then runs the pipelineRef.
    if let Some(inline) = pipelinerun
        .pointer("/spec/pipelineSpec")
        .filter(|s| !s.is_null())
    {
        return Some(Cow::Borrowed(inline));
    }
    let reference = pipelinerun
        .pointer("/spec/pipelineRef")
        .filter(|_| wanted())?;
    let text = |field: &str| {
        reference
            .get(field)
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
    };
    if let Some(resolver) = text("resolver") {
        let start = format!("{NOT_CHECKED}: the Pipeline comes through the ");
        warnings.push(within_a_line(&start, resolver, " resolver"));
        return None;
    }
    if text("bundle").is_some() {
        warnings.push(format!("{NOT_CHECKED}: the Pipeline comes from a bundle"));
        return None;
    }
    let name = text("name")?;
    let read = namespace.map(|namespace| cluster.get("tekton.dev/v1", "Pipeline", namespace, name));
    // A Pipeline has tasks (Tekton's validation refuses one without): an answer without any is not taken
    // for a pipeline of none, which would refuse every key.
    let spec = read
        .and_then(Result::ok)
        .and_then(|mut pipeline| pipeline.get_mut("spec").map(Value::take))
        .filter(|spec| {
            spec.get("tasks")
                .and_then(Value::as_array)
                .is_some_and(|tasks| !tasks.is_empty())
        });
    if spec.is_none() {
        let start = format!("{NOT_CHECKED}: Pipeline ");
        warnings.push(within_a_line(&start, name, " could not be read"));
    }
    spec.map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::super::cluster::Holding;
    use super::super::{Outcome, verdict_reading};
    use super::*;
    use crate::support::error::MAX_WARNING_CHARS;

    /// The Pipeline `go-integration` in `ci`, with `spec`.
    fn go_integration(spec: Value) -> Value {
        json!({"apiVersion": "tekton.dev/v1", "kind": "Pipeline",
            "metadata": {"name": "go-integration", "namespace": "ci"}, "spec": spec})
    }

    fn pipelinerun(keys: &[&str], spec: Value, owner: bool) -> Value {
        let annotations: serde_json::Map<String, Value> = keys
            .iter()
            .map(|key| {
                (
                    format!("pipelinerun-sidecars.io/{key}"),
                    json!("- {name: db, image: \"postgres:16\", readinessProbe: {exec: {command: [pg_isready]}}}"),
                )
            })
            .collect();
        let mut metadata = json!({"name": "run", "annotations": annotations});
        if owner {
            metadata["ownerReferences"] = json!([{"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "name": "parent", "uid": "u", "controller": true}]);
        }
        json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": metadata, "spec": spec})
    }

    const REFERENCE: fn() -> Value = || json!({"pipelineRef": {"name": "go-integration"}});

    /// The decision (`Ok(())` to accept, or the message), the warnings and the reads of the cluster.
    fn decided(
        object: Value,
        old: Option<Value>,
        readable: bool,
    ) -> (Result<(), String>, Vec<String>, usize) {
        let cluster = Holding::new(readable.then(|| {
            go_integration(
                json!({"tasks": [{"name": "fetch"}, {"name": "test"}], "finally": [{"name": "report"}]}),
            )
        }));
        let operation = if old.is_some() { "UPDATE" } else { "CREATE" };
        let payload = json!({"request": {"uid": "u", "kind": {"group": "tekton.dev", "version": "v1", "kind": "PipelineRun"},
            "operation": operation, "namespace": "ci", "object": object, "oldObject": old}, "settings": {}});
        let verdict = verdict_reading(payload.to_string().as_bytes(), &cluster);
        let outcome = match verdict.outcome {
            Ok(Outcome::Accept) => Ok(()),
            Ok(other) => Err(format!("{other:?}")),
            Err(error) => Err(error.to_string()),
        };
        (outcome, verdict.warnings, cluster.reads.get())
    }

    #[rstest]
    #[case::a_task_of_the_pipeline(pipelinerun(&["test"], REFERENCE(), false), true, Ok(()), vec![], 1)]
    #[case::a_finally_task(pipelinerun(&["report"], REFERENCE(), false), true, Ok(()), vec![], 1)]
    #[case::a_misspelt_task(pipelinerun(&["tests", "fetch"], REFERENCE(), false), true,
        Err("pipelinerun-sidecars: annotation \"pipelinerun-sidecars.io/tests\": names no task of this pipeline; did you mean \"test\"?".to_string()),
        vec![], 1)]
    #[case::all_tasks_only(pipelinerun(&["all-tasks"], REFERENCE(), false), true, Ok(()), vec![], 0)]
    #[case::not_readable(pipelinerun(&["tests"], REFERENCE(), false), false, Ok(()),
        vec!["keys naming tasks are not checked: Pipeline \"go-integration\" could not be read"], 1)]
    #[case::through_a_resolver(pipelinerun(&["tests"], json!({"pipelineRef": {"resolver": "git"}}), false), true, Ok(()),
        vec!["keys naming tasks are not checked: the Pipeline comes through the \"git\" resolver"], 0)]
    #[case::from_a_bundle(pipelinerun(&["tests"], json!({"pipelineRef": {"name": "p", "bundle": "registry.example.com/p:1"}}), false), true, Ok(()),
        vec!["keys naming tasks are not checked: the Pipeline comes from a bundle"], 0)]
    #[case::a_child_of_a_pipelinerun(pipelinerun(&["tests"], REFERENCE(), true), true, Ok(()), vec![], 0)]
    #[case::inline(pipelinerun(&["test"], json!({"pipelineSpec": {"tasks": [{"name": "test"}]}}), false), true, Ok(()), vec![], 0)]
    fn a_referenced_pipeline_is_read_once_when_a_key_names_a_task(
        #[case] object: Value,
        #[case] readable: bool,
        #[case] outcome: Result<(), String>,
        #[case] warnings: Vec<&str>,
        #[case] reads: usize,
    ) {
        assert_eq!(
            decided(object, None, readable),
            (
                outcome,
                warnings.iter().map(ToString::to_string).collect(),
                reads
            )
        );
    }

    /// Names and resolvers are the author's: the warning stays one line of at most 120 characters.
    #[rstest]
    #[case::a_long_name(json!({"pipelineRef": {"name": format!("go-integration-{}", "a".repeat(230))}}))]
    #[case::invisible_characters(json!({"pipelineRef": {"name": "\u{202e}".repeat(100)}}))]
    #[case::a_long_resolver(json!({"pipelineRef": {"resolver": "\u{e0001}".repeat(100)}}))]
    #[case::a_line_break(json!({"pipelineRef": {"resolver": "git\nhub"}}))]
    fn a_warning_is_one_short_line(#[case] spec: Value) {
        let (outcome, warnings, _) = decided(pipelinerun(&["tests"], spec, false), None, false);
        assert_eq!(outcome, Ok(()));
        let [warning] = warnings.as_slice() else {
            panic!("one warning: {warnings:?}");
        };
        assert!(
            warning.chars().count() <= MAX_WARNING_CHARS && !warning.contains('\n'),
            "{warning}"
        );
        assert!(warning.starts_with(NOT_CHECKED), "{warning}");
    }

    /// An answer that is no Pipeline with tasks is not taken for a pipeline of none.
    #[test]
    fn a_pipeline_without_tasks_leaves_the_keys_unchecked() {
        let cluster = Holding::new([go_integration(json!({}))]);
        let object = pipelinerun(&["tests"], REFERENCE(), false);
        let mut warnings = Vec::new();
        assert!(spec(&object, Some("ci"), &cluster, || true, &mut warnings).is_none());
        assert_eq!(
            warnings,
            ["keys naming tasks are not checked: Pipeline \"go-integration\" could not be read"]
        );
    }

    /// Go reads a `null` pipelineSpec as none: the pipelineRef is what Tekton runs.
    #[test]
    fn a_null_pipeline_spec_is_none() {
        let object = pipelinerun(
            &["tests"],
            json!({"pipelineSpec": null, "pipelineRef": {"name": "go-integration"}}),
            false,
        );
        let (outcome, _, reads) = decided(object, None, true);
        assert!(outcome.is_err_and(|message| message.contains("did you mean \"test\"?")));
        assert_eq!(reads, 1);
    }

    /// Tekton updates a running PipelineRun's metadata: the declarations it had are not read again.
    #[test]
    fn an_update_that_changes_no_key_reads_nothing() {
        let object = pipelinerun(&["tests"], REFERENCE(), false);
        assert_eq!(
            decided(object.clone(), Some(object), false),
            (Ok(()), vec![], 0)
        );
    }
}
