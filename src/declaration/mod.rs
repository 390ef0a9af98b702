//! Declarations: the annotations `<prefix>/<pipelineTask>` and `<prefix>/all-tasks`, read into the sidecars
//! one TaskRun should get.
//!
//! Tekton copies PipelineRun annotations onto every TaskRun it creates and TaskRun annotations onto the
//! Pod (`createChildResourceAnnotations` in `pkg/reconciler/pipelinerun/pipelinerun.go`, `Build` in
//! `pkg/pod/pod.go`), so the same reading happens at PipelineRun, TaskRun and Pod admission.

//!
//! This folder knows what a declaration is: the annotation keys ([`ALL_TASKS`], the marker's [`MARKER`]),
//! how a value is read into sidecars ([`parse`]), and how a `template:` entry becomes one ([`template`]).
//! It reads the settings and Tekton's Sidecar type, and knows nothing of the objects the annotations are on.

mod parse;
mod template;

use std::collections::BTreeMap;

use crate::settings::Settings;
pub(crate) use crate::settings::pod_security::APPARMOR_ANNOTATION_PREFIX;
use crate::settings::pod_security::apparmor_annotation_problem;
use crate::support::error::{FieldError, Problem, SidecarRef};
use crate::support::yaml::Budget;
use crate::tekton::variables::sidecar_container_name;

pub use parse::Declared;
pub(crate) use parse::parse_annotation;

/// The key suffix whose sidecars go to every TaskRun that carries it.
pub const ALL_TASKS: &str = "all-tasks";

/// The key suffix of the marker annotation that lists the sidecars already injected.
pub const MARKER: &str = "injected";

/// `<prefix>/<suffix>`.
pub fn key(prefix: &str, suffix: &str) -> String {
    format!("{prefix}/{suffix}")
}

/// The sidecars for the TaskRun of pipeline task `task` (none for a standalone TaskRun), in order:
/// `all-tasks` first, then the task's own, which replace an `all-tasks` sidecar of the same name.
/// `injected` lists what an earlier admission injected (the marker): those count towards
/// `maxSidecarsPerTask` too, whether or not they are still declared.
pub fn for_task(
    annotations: &BTreeMap<String, String>,
    task: Option<&str>,
    injected: &[String],
    settings: &Settings,
) -> Result<Vec<Declared>, Vec<Problem>> {
    let mut declared: Vec<Declared> = Vec::new();
    let mut problems = Vec::new();
    let mut last = None;
    let budget = Budget::default();
    for annotation in task_keys(&settings.annotation_prefix, task) {
        let Some(value) = annotations.get(&annotation) else {
            continue;
        };
        match parse_annotation(&annotation, value, settings, &budget) {
            Ok(entries) => {
                for entry in entries {
                    match declared
                        .iter_mut()
                        .find(|d| d.sidecar.name() == entry.sidecar.name())
                    {
                        Some(existing) => *existing = entry,
                        None => declared.push(entry),
                    }
                }
            }
            Err(found) => problems.extend(found),
        }
        last = Some(annotation);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut apparmor: Vec<Problem> = declared
        .iter()
        .filter_map(|d| {
            let key = apparmor_key(d.sidecar.name());
            apparmor_problem(&key, annotations.get(&key)?, d.sidecar.name(), settings)
        })
        .collect();
    if !apparmor.is_empty() {
        return Err(std::mem::take(&mut apparmor));
    }
    let earlier = injected
        .iter()
        .filter(|name| !declared.iter().any(|d| d.sidecar.name() == name.as_str()))
        .count();
    match last.and_then(|key| limit_problem(&key, declared.len(), earlier, settings)) {
        Some(problem) => Err(vec![problem]),
        None => Ok(declared),
    }
}

/// The annotation that gives the container of sidecar `name` an AppArmor profile.
pub fn apparmor_key(name: &str) -> String {
    format!(
        "{APPARMOR_ANNOTATION_PREFIX}{}",
        sidecar_container_name(name)
    )
}

/// The problem with an AppArmor annotation `key: value` for the container of sidecar `name`: Tekton
/// copies a PipelineRun's annotations onto the Pod, where this one would unconfine the sidecar.
pub fn apparmor_problem(
    key: &str,
    value: &str,
    name: &str,
    settings: &Settings,
) -> Option<Problem> {
    let message = apparmor_annotation_problem(settings.pod_security, value)?;
    Some(Problem {
        annotation: key.to_string(),
        sidecar: Some(SidecarRef::Named(name.to_string())),
        error: FieldError::new("", message),
    })
}

/// The annotation keys that declare sidecars for pipeline task `task`, in the order they apply.
pub fn task_keys(prefix: &str, task: Option<&str>) -> Vec<String> {
    let mut keys = vec![key(prefix, ALL_TASKS)];
    keys.extend(
        task.filter(|t| *t != ALL_TASKS && *t != MARKER)
            .map(|t| key(prefix, t)),
    );
    keys
}

/// The problem with a task that gets `declared` sidecars from its annotations, the last of which is
/// `annotation`, and had `earlier` others injected before, if that is more than `maxSidecarsPerTask`.
pub fn limit_problem(
    annotation: &str,
    declared: usize,
    earlier: usize,
    settings: &Settings,
) -> Option<Problem> {
    let max = settings.max_sidecars_per_task;
    let total = declared.saturating_add(earlier);
    if total <= max {
        return None;
    }
    let message = if earlier == 0 {
        format!(
            "{total} sidecars are declared for this task; the policy setting maxSidecarsPerTask allows at most {max}"
        )
    } else {
        format!(
            "{declared} sidecars are declared for this task and {earlier} others were injected into its TaskRun; the policy setting maxSidecarsPerTask allows at most {max}"
        )
    };
    Some(Problem {
        annotation: annotation.to_string(),
        sidecar: None,
        error: FieldError::new("", message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::Value;
    use serde_json::json;

    const TEST: &str = "pipelinerun-sidecars.io/test";
    const ALL: &str = "pipelinerun-sidecars.io/all-tasks";

    fn settings(extra: Value) -> Settings {
        Settings::from_value(extra).expect("valid settings")
    }

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn names(declared: &[Declared]) -> Vec<(&str, &str)> {
        declared
            .iter()
            .map(|d| (d.sidecar.name(), d.annotation.as_str()))
            .collect()
    }

    fn problems(pairs: &[(&str, &str)], task: Option<&str>, extra: Value) -> Vec<String> {
        for_task(&annotations(pairs), task, &[], &settings(extra))
            .expect_err("must be rejected")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn reads_the_tep_example() {
        let yaml = "- name: postgres\n  image: postgres:14\n  env:\n    - {name: POSTGRES_DB, value: foobar}\n  readinessProbe:\n    exec: {command: [pg_isready, -h, 127.0.0.1]}\n";
        let declared = for_task(
            &annotations(&[(TEST, yaml)]),
            Some("test"),
            &[],
            &Settings::default(),
        )
        .expect("valid");
        assert_eq!(names(&declared), vec![("postgres", TEST)]);
        let sidecar = &declared[0].sidecar;
        assert_eq!(
            sidecar.list("env"),
            &[json!({"name": "POSTGRES_DB", "value": "foobar"})]
        );
        assert_eq!(
            sidecar.get("readinessProbe"),
            Some(&json!({"exec": {"command": ["pg_isready", "-h", "127.0.0.1"]}}))
        );
    }

    #[test]
    fn json_is_accepted_too() {
        let json = r#"[{"name": "redis", "image": "redis:7"}]"#;
        let declared = for_task(
            &annotations(&[(TEST, json)]),
            Some("test"),
            &[],
            &Settings::default(),
        )
        .expect("valid");
        assert_eq!(names(&declared), vec![("redis", TEST)]);
    }

    #[rstest]
    #[case::standalone_taskrun_gets_all_tasks_only(None, vec![("a", ALL), ("b", ALL)])]
    #[case::task_specific_wins_by_name(Some("test"), vec![("a", ALL), ("b", TEST), ("c", TEST)])]
    #[case::other_task_gets_all_tasks(Some("build"), vec![("a", ALL), ("b", ALL)])]
    fn all_tasks_and_task_declarations_merge(
        #[case] task: Option<&str>,
        #[case] expected: Vec<(&str, &str)>,
    ) {
        let pairs = [
            (ALL, "[{name: a, image: alpine}, {name: b, image: alpine}]"),
            (
                TEST,
                "[{name: b, image: busybox}, {name: c, image: alpine}]",
            ),
        ];
        let declared =
            for_task(&annotations(&pairs), task, &[], &Settings::default()).expect("valid");
        assert_eq!(names(&declared), expected);
        if task == Some("test") {
            assert_eq!(declared[1].sidecar.text("image"), Some("busybox"));
        }
    }

    #[test]
    fn templates_merge_overrides_and_env_by_name() {
        let settings = settings(json!({"templates": {"postgres": {
            "image": "postgres:16",
            "env": [{"name": "POSTGRES_DB", "value": "app"}, {"name": "POSTGRES_PASSWORD", "value": "pw"}],
            "computeResources": {"limits": {"memory": "1Gi"}},
            "overridable": ["name", "env", "resources"]
        }}}));
        let yaml = "- template: postgres\n  name: db\n  env: [{name: POSTGRES_DB, value: test}]\n  resources: {limits: {memory: 2Gi}}\n";
        let declared =
            for_task(&annotations(&[(TEST, yaml)]), Some("test"), &[], &settings).expect("valid");
        let sidecar = &declared[0].sidecar;
        assert_eq!(sidecar.name(), "db");
        assert_eq!(sidecar.text("image"), Some("postgres:16"));
        assert_eq!(
            sidecar.list("env"),
            &[
                json!({"name": "POSTGRES_DB", "value": "test"}),
                json!({"name": "POSTGRES_PASSWORD", "value": "pw"})
            ]
        );
        assert_eq!(
            sidecar.get("computeResources"),
            Some(&json!({"limits": {"memory": "2Gi"}}))
        );
    }

    #[test]
    fn a_template_name_is_the_default_sidecar_name() {
        let settings = settings(json!({"templates": {"redis": {"image": "redis:7"}}}));
        let declared = for_task(
            &annotations(&[(TEST, "- template: redis")]),
            Some("test"),
            &[],
            &settings,
        )
        .expect("valid");
        assert_eq!(names(&declared), vec![("redis", TEST)]);
    }

    #[rstest]
    #[case::syntax(&[(TEST, "- name: db\n  image: [unclosed")], json!({}), "annotation \"pipelinerun-sidecars.io/test\": is not valid YAML or JSON:")]
    #[case::mapping(&[(TEST, "name: db\nimage: postgres")], json!({}), "annotation \"pipelinerun-sidecars.io/test\": must be a list of sidecars, not a mapping: start each sidecar with \"- \" (YAML) or wrap it in [ ] (JSON)")]
    #[case::scalar(&[(TEST, "postgres")], json!({}), "annotation \"pipelinerun-sidecars.io/test\": must be a list of sidecars, not a string")]
    #[case::empty(&[(TEST, "  ")], json!({}), "annotation \"pipelinerun-sidecars.io/test\": is empty; declare a list of sidecars")]
    #[case::typo(&[(TEST, "- {name: db, imgae: postgres}")], json!({}), "annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": imgae: unknown field; did you mean \"image\"?")]
    #[case::unnamed(&[(TEST, "- {image: postgres}")], json!({}), "annotation \"pipelinerun-sidecars.io/test\", sidecar #1: name: is required")]
    #[case::duplicate(&[(TEST, "- {name: db, image: a}\n- {name: db, image: b}")], json!({}), "annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": name: \"db\" is declared twice in this annotation; sidecar names must be unique")]
    #[case::unknown_template(&[(TEST, "- template: redis")], json!({}), "annotation \"pipelinerun-sidecars.io/test\", sidecar \"redis\": template: \"redis\" is not a template of this policy; the templates are: none are configured")]
    #[case::inline_refused(&[(TEST, "- {name: db, image: postgres}")], json!({"allowInlineSidecars": false, "templates": {"redis": {"image": "redis"}}}), "annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": inline sidecars are not allowed by the policy setting allowInlineSidecars; use `template: NAME` with one of the templates: redis")]
    #[case::override_image(&[(TEST, "- {template: redis, image: evil}")], json!({"templates": {"redis": {"image": "redis"}}}), "annotation \"pipelinerun-sidecars.io/test\", sidecar \"redis\": image: cannot be overridden on template \"redis\"; the fields an override may set are name, computeResources, resources, imagePullPolicy, livenessProbe, readinessProbe, startupProbe, terminationMessagePolicy, stdin, stdinOnce, tty")]
    #[case::override_command(&[(TEST, "- {template: redis, command: [sh]}")], json!({"templates": {"redis": {"image": "redis", "overridable": ["env"]}}}), "annotation \"pipelinerun-sidecars.io/test\", sidecar \"redis\": command: cannot be overridden on template \"redis\"; the fields an override may set are env")]
    #[case::override_exec_probe(&[(TEST, "- {template: redis, readinessProbe: {exec: {command: [sh]}}}")], json!({"templates": {"redis": {"image": "redis"}}}), "annotation \"pipelinerun-sidecars.io/test\", sidecar \"redis\": readinessProbe.exec: cannot be overridden on template \"redis\": a probe that runs a command changes what the template runs (the template's overridable must list readinessProbe)")]
    #[case::override_security_context_held_to_the_level(&[(TEST, "- {template: dind, securityContext: {capabilities: {add: [SYS_ADMIN]}}}")], json!({"templates": {"dind": {"image": "docker:dind", "securityContext": {"privileged": true}, "overridable": ["securityContext"]}}}), "annotation \"pipelinerun-sidecars.io/test\", sidecar \"dind\": securityContext.capabilities.add: adds \"SYS_ADMIN\"; the Pod Security Standards level \"baseline\"")]
    #[case::restart_policy_in_container_mode(&[(TEST, "- {name: db, image: p, restartPolicy: Always}")], json!({}), "annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": restartPolicy: is for a native sidecar only")]
    #[case::too_many(&[(TEST, "[{name: a, image: x}, {name: b, image: x}, {name: c, image: x}]")], json!({"maxSidecarsPerTask": 2}), "annotation \"pipelinerun-sidecars.io/test\": declares 3 sidecars; the policy setting maxSidecarsPerTask allows at most 2")]
    #[case::too_many_merged(&[(ALL, "[{name: a, image: x}]"), (TEST, "[{name: b, image: x}, {name: c, image: x}]")], json!({"maxSidecarsPerTask": 2}), "annotation \"pipelinerun-sidecars.io/test\": 3 sidecars are declared for this task; the policy setting maxSidecarsPerTask allows at most 2")]
    #[case::image_not_allowed(&[(TEST, "- {name: db, image: 'evil.io/db'}")], json!({"allowedImages": ["docker.io/*"]}), "annotation \"pipelinerun-sidecars.io/test\", sidecar \"db\": image: \"evil.io/db\" (evil.io/db:latest) matches none of the allowedImages patterns: docker.io/*")]
    #[case::privileged(&[(TEST, "- {name: dind, image: 'docker:dind', securityContext: {privileged: true}}")], json!({}), "annotation \"pipelinerun-sidecars.io/test\", sidecar \"dind\": securityContext.privileged: is true; the Pod Security Standards level \"baseline\" (the policy setting podSecurity) forbids privileged containers")]
    fn bad_declarations_are_reported(
        #[case] pairs: &[(&str, &str)],
        #[case] extra: Value,
        #[case] expected: &str,
    ) {
        let found = problems(pairs, Some("test"), extra);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(expected),
            "{:?} does not start with {expected:?}",
            found[0]
        );
    }
}
