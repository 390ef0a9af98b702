//! Bounded fuzzing of the module's entry points (the functions the waPC `validate` and
//! `validate_settings` call). A panic here is a trap in the wasm module, which would block every TaskRun
//! in the cluster, so each property asserts that every input gets an answer, and that an answer that
//! mutates is one the policy may give: only the sidecar lists and the marker change, and a second
//! evaluation changes nothing.
//!
//! CI runs a short pass (`PROPTEST_CASES`, default 256 per property). A longer run:
//! `PROPTEST_CASES=100000 cargo test --release --test fuzz`.

use pipelinerun_sidecars::admission::{Outcome, evaluate};
use pipelinerun_sidecars::{settings, simulate, yaml};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

/// Pieces of declarations: valid fields, near misses, wrong types, YAML features and hostile syntax.
const FRAGMENTS: &[&str] = &[
    "- name: db\n  image: postgres:14\n",
    "- {name: cache, image: redis}\n",
    "- template: dind\n",
    "- {template: dind, env: [{name: A, value: b}]}\n",
    "  env:\n    - {name: A, value: '1'}\n",
    "  readinessProbe:\n    exec: {command: [pg_isready]}\n",
    "  workspaces: [{name: source, mountPath: /src}]\n",
    "  volumeMounts: [{name: ws-1bcf2, mountPath: /w}]\n",
    "  volumeMounts: [{name: tekton-internal-bin, mountPath: /b}]\n",
    "  script: |\n    #!/usr/bin/env python3\n    print(1)\n",
    "  script: echo hi\n",
    "  command: [sh]\n",
    "  computeResources: {limits: {cpu: 1, memory: 1Gi}}\n",
    "  resources: {requests: {memory: lots}}\n",
    "  securityContext: {privileged: true}\n",
    "  restartPolicy: Always\n",
    "  imgae: x\n",
    "  ports: [{containerPort: '80'}]\n",
    "  name: tekton-log-results\n",
    "&a [x, x, x]\n",
    "*a\n",
    "- *a\n",
    "<<: *a\n",
    "[[[[[[[[[[[[[[[[\n",
    "]]]]}}}}\n",
    "{\"name\": \"j\", \"image\": \"i\"}\n",
    "---\n",
    "\t- x\n",
    "'unterminated\n",
    "\"\\u0000\\ud800\"\n",
    "- !!binary aGVsbG8=\n",
    "- ~\n",
    "- 1e999\n",
    "- -9223372036854775809\n",
    "? complex key\n: value\n",
    "- naïve: ☃\n",
    "",
];

const TASKS: &[&str] = &["test", "build", "all-tasks", "injected", "Test_1", ""];

fn declaration() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..12).prop_map(|parts| parts.concat())
}

/// Random edits of a real declaration: where parsers trip over unexpected bytes.
fn mutated_declaration() -> impl Strategy<Value = String> {
    let base = "- name: postgres\n  image: postgres:14\n  env:\n    - {name: POSTGRES_DB, value: foobar}\n  readinessProbe:\n    exec: {command: [pg_isready, -h, 127.0.0.1]}\n";
    prop::collection::vec((any::<prop::sample::Index>(), any::<char>(), 0u8..3), 0..8).prop_map(
        move |edits| {
            let mut chars: Vec<char> = base.chars().collect();
            for (at, c, kind) in edits {
                let i = at.index(chars.len() + 1);
                match kind {
                    0 => chars.insert(i, c),
                    1 if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ if i < chars.len() => chars[i] = c,
                    _ => {}
                }
            }
            chars.into_iter().collect()
        },
    )
}

fn settings_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({})),
        Just(json!({"injectAs": "native"})),
        Just(json!({"onConflict": "reject", "maxSidecarsPerTask": 2})),
        Just(
            json!({"allowInlineSidecars": false, "allowPrivileged": true,
                    "templates": {"dind": {"image": "docker:dind", "securityContext": {"privileged": true}}}})
        ),
        Just(
            json!({"allowedImages": ["docker.io/library/*"], "defaultResources": {"requests": {"cpu": "100m"}}})
        ),
    ]
}

/// A Pod, TaskRun or PipelineRun shaped like Tekton's, carrying `annotation` for `task`.
fn request(kind: u8, operation: &str, task: &str, key_suffix: &str, annotation: &str) -> Value {
    let key = format!("pipelinerun-sidecars.io/{key_suffix}");
    let labels = json!({"tekton.dev/taskRun": "run-test", "tekton.dev/pipelineTask": task});
    let (gvk, object) = match kind % 3 {
        0 => (
            json!({"group": "", "version": "v1", "kind": "Pod"}),
            json!({"metadata": {"name": "run-test-pod", "labels": labels, "annotations": {key: annotation},
                                "ownerReferences": [{"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "run-test", "controller": true}]},
                   "spec": {"initContainers": [{"name": "prepare", "image": "e"}],
                            "containers": [{"name": "step-a", "image": "i", "volumeMounts": [{"name": "ws-1bcf2", "mountPath": "/workspace/source"}]},
                                           {"name": "sidecar-db", "image": "mysql"}],
                            "volumes": [{"name": "ws-1bcf2", "emptyDir": {}}]}}),
        ),
        1 => (
            json!({"group": "tekton.dev", "version": "v1", "kind": "TaskRun"}),
            json!({"metadata": {"name": "run-test", "labels": labels, "annotations": {key: annotation}},
                   "spec": {"taskSpec": {"steps": [{"name": "a", "image": "i"}], "sidecars": [{"name": "db", "image": "mysql"}]}}}),
        ),
        _ => (
            json!({"group": "tekton.dev", "version": "v1beta1", "kind": "PipelineRun"}),
            json!({"metadata": {"name": "run", "annotations": {key.clone(): annotation}},
                   "spec": {"pipelineSpec": {"tasks": [{"name": "test"}, {"name": "build"}]},
                            "taskRunSpecs": [{"pipelineTaskName": task, "metadata": {"annotations": {key.clone(): annotation}}}]}}),
        ),
    };
    json!({"uid": "u", "kind": gvk, "operation": operation, "object": object})
}

/// The properties every answer must have.
fn check_answer(request: &Value, settings: &Value) -> Result<(), TestCaseError> {
    let payload =
        serde_json::to_vec(&json!({"request": request, "settings": settings})).expect("payload");
    match evaluate(&payload) {
        Ok(Outcome::Accept) => {}
        Err(error) => prop_assert!(
            error.to_string().starts_with("pipelinerun-sidecars"),
            "{}",
            error
        ),
        Ok(Outcome::Mutate(object)) => {
            for operation in &json_patch::diff(&request["object"], &object).0 {
                let path = operation.path().to_string();
                let allowed = [
                    "/spec/containers",
                    "/spec/initContainers",
                    "/spec/taskSpec/sidecars",
                    "/metadata/annotations/pipelinerun-sidecars.io~1injected",
                ];
                prop_assert!(
                    allowed.iter().any(|a| path.starts_with(a)),
                    "mutation touches {}",
                    path
                );
            }
            let mut again = request.clone();
            again["object"] = object;
            let payload = serde_json::to_vec(&json!({"request": again, "settings": settings}))
                .expect("payload");
            prop_assert_eq!(
                evaluate(&payload),
                Ok(Outcome::Accept),
                "a second evaluation changed the object again"
            );
        }
    }
    Ok(())
}

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_get_an_answer(payload in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = evaluate(&payload);
        let _ = settings::validate(&payload);
    }

    #[test]
    fn generated_declarations_get_an_answer(
        kind in 0u8..3,
        operation in prop::sample::select(&["CREATE", "UPDATE", "DELETE"][..]),
        task in prop::sample::select(TASKS),
        own_key in any::<bool>(),
        annotation in prop_oneof![declaration(), mutated_declaration()],
        settings in settings_value(),
    ) {
        let suffix = if own_key { task } else { "all-tasks" };
        check_answer(&request(kind, operation, task, suffix, &annotation), &settings)?;
    }

    /// The playground's engine runs the same evaluation in the browser, where a panic is a trap too.
    #[test]
    fn playground_simulations_get_an_answer(
        annotation in prop_oneof![
            1 => declaration(),
            2 => mutated_declaration(),
            1 => Just("- {name: db, image: postgres}\n- {name: cache, image: redis}\n".to_string()),
        ],
        task in prop::sample::select(&["test", "build", "all-tasks"][..]),
        inline in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<char>()), 0..2),
        settings in settings_value(),
    ) {
        let body = if inline { "taskSpec: {steps: [{name: s, image: i}]}" } else { "taskRef: {name: t}" };
        let block: String = annotation.lines().map(|line| format!("      {line}\n")).collect();
        let mut pipelinerun = format!(
            "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: pr\n  annotations:\n    pipelinerun-sidecars.io/{task}: |\n{block}spec:\n  pipelineSpec:\n    tasks: [{{name: build, {body}, workspaces: [{{name: w}}]}}, {{name: test, taskRef: {{name: t}}}}]\n"
        );
        for (at, c) in edits {
            let i = at.index(pipelinerun.len());
            if pipelinerun.is_char_boundary(i) {
                pipelinerun.insert(i, c);
            }
        }
        let task_yaml = "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec: {steps: [{name: s, image: i}], sidecars: [{name: db, image: p}]}\n";
        let settings = settings.to_string();
        let simulation = simulate::run(simulate::Inputs { pipelinerun: &pipelinerun, tasks: task_yaml, settings: &settings });
        for entry in simulation.tasks.iter().flat_map(|t| &t.entries) {
            prop_assert_eq!(yaml::read(&entry.yaml), Ok(entry.value.clone()), "{}", entry.yaml);
        }
    }

    #[test]
    fn arbitrary_settings_get_an_answer(value in arbitrary_json(4)) {
        let bytes = serde_json::to_vec(&value).expect("json");
        let _ = settings::validate(&bytes);
        let mut object = serde_json::Map::new();
        object.insert("templates".into(), json!({"t": value.clone()}));
        let _ = settings::validate(&serde_json::to_vec(&object).expect("json"));
    }
}

/// JSON trees whose keys are mostly the settings' and a sidecar's own, so that validation goes deep.
fn arbitrary_json(depth: u32) -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(
        &[
            "annotationPrefix",
            "templates",
            "allowedImages",
            "maxSidecarsPerTask",
            "defaultResources",
            "injectAs",
            "onConflict",
            "image",
            "name",
            "env",
            "securityContext",
            "privileged",
            "limits",
            "requests",
            "x",
        ][..],
    );
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "[a-z*?/\\[:. ]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|map| Value::Object(
                map.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}
