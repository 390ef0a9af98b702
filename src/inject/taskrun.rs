//! TaskRun CREATE with an inline `spec.taskSpec`: the declared sidecars join `spec.taskSpec.sidecars`.
//!
//! There Tekton treats them as the Task's own: `script`, workspaces and `$(params.*)` substitution,
//! the readiness wait, the stop and `status.sidecars` all work natively. A TaskRun built from a `taskRef`
//! carries no spec to merge into (Tekton refuses `taskRef` with `taskSpec`), so its Pod gets the sidecars.

use serde_json::Value;

use super::conflict;
use crate::declaration::Declared;
use crate::settings::{OnConflict, Settings};
use crate::support::error::Problem;

/// Merges `declared` into the TaskRun's inline `spec.taskSpec.sidecars` and lists them in the marker.
///
/// Returns the names injected now (empty: nothing to change). `already` is the marker's list: those were
/// injected by an earlier evaluation and are left as they are. `v1beta1` spells `computeResources` as
/// `resources`, as that API version does.
pub fn inject(
    taskrun: &mut Value,
    declared: &[Declared],
    already: &[String],
    v1beta1: bool,
    settings: &Settings,
) -> Result<Vec<String>, Vec<Problem>> {
    let Some(task_spec) = taskrun
        .pointer_mut("/spec/taskSpec")
        .filter(|spec| spec.is_object())
    else {
        return Ok(Vec::new());
    };
    let mut problems = Vec::new();
    let mut injected = Vec::new();
    let mut sidecars = match task_spec.get("sidecars") {
        Some(Value::Array(existing)) => existing.clone(),
        _ => Vec::new(),
    };
    for entry in declared
        .iter()
        .filter(|d| !already.contains(&d.sidecar.name))
    {
        let name = &entry.sidecar.name;
        let Ok(mut json) = serde_json::to_value(&entry.sidecar) else {
            continue;
        };
        if v1beta1
            && let Some(fields) = json.as_object_mut()
            && let Some(resources) = fields.remove("computeResources")
        {
            fields.insert("resources".to_string(), resources);
        }
        match sidecars
            .iter_mut()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
        {
            Some(_) if settings.on_conflict == OnConflict::Reject => problems.push(conflict(entry)),
            Some(existing) => *existing = json,
            None => sidecars.push(json),
        }
        injected.push(name.clone());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if let (false, Some(spec)) = (injected.is_empty(), task_spec.as_object_mut()) {
        spec.insert("sidecars".to_string(), Value::Array(sidecars));
    }
    Ok(injected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::inject::tests::declared;

    fn taskrun(sidecars: Value) -> Value {
        json!({"spec": {"taskSpec": {"steps": [{"name": "s", "image": "alpine"}], "sidecars": sidecars}}})
    }

    #[test]
    fn appends_new_and_overrides_same_name_in_place() {
        let mut tr =
            taskrun(json!([{"name": "cache", "image": "old"}, {"name": "other", "image": "x"}]));
        let decl = [
            declared(json!({"name": "cache", "image": "new"})),
            declared(
                json!({"name": "db", "image": "postgres", "computeResources": {"limits": {"cpu": "1"}}}),
            ),
        ];
        let injected = inject(&mut tr, &decl, &[], false, &Settings::default()).expect("ok");
        assert_eq!(injected, vec!["cache", "db"]);
        assert_eq!(
            tr["spec"]["taskSpec"]["sidecars"],
            json!([
                {"name": "cache", "image": "new"},
                {"name": "other", "image": "x"},
                {"name": "db", "image": "postgres", "computeResources": {"limits": {"cpu": "1"}}}
            ])
        );
    }

    #[test]
    fn v1beta1_uses_resources() {
        let mut tr = taskrun(Value::Null);
        let decl = [declared(
            json!({"name": "db", "image": "p", "computeResources": {"limits": {"cpu": "1"}}}),
        )];
        inject(&mut tr, &decl, &[], true, &Settings::default()).expect("ok");
        assert_eq!(
            tr["spec"]["taskSpec"]["sidecars"],
            json!([{"name": "db", "image": "p", "resources": {"limits": {"cpu": "1"}}}])
        );
    }

    #[test]
    fn marker_names_are_left_alone_and_taskref_is_untouched() {
        let mut tr = taskrun(json!([{"name": "db", "image": "p"}]));
        let before = tr.clone();
        let decl = [declared(json!({"name": "db", "image": "p"}))];
        let settings = Settings {
            on_conflict: OnConflict::Reject,
            ..Settings::default()
        };
        assert!(
            inject(&mut tr, &decl, &["db".into()], false, &settings)
                .expect("ok")
                .is_empty()
        );
        assert_eq!(tr, before);
        let mut by_ref = json!({"spec": {"taskRef": {"name": "golang-test"}}});
        assert!(
            inject(&mut by_ref, &decl, &[], false, &settings)
                .expect("ok")
                .is_empty()
        );
    }

    #[test]
    fn conflicts_are_rejected_when_configured() {
        let mut tr = taskrun(json!([{"name": "db", "image": "p"}]));
        let settings = Settings {
            on_conflict: OnConflict::Reject,
            ..Settings::default()
        };
        let problems = inject(
            &mut tr,
            &[declared(json!({"name": "db", "image": "q"}))],
            &[],
            false,
            &settings,
        )
        .expect_err("conflict");
        assert_eq!(
            problems[0].to_string(),
            "annotation \"p.io/test\", sidecar \"db\": name: the Task already defines a sidecar named \"db\", and the policy setting onConflict is \"reject\"; choose another name"
        );
    }
}
