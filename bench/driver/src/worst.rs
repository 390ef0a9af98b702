//! The worst inputs a pipeline author can send, each as large as the API server lets it be (annotations
//! 256 KiB in all, an object 1.5 MiB): the attack classes of the hostile corpus (`test_data/bad/`) blown
//! up to those limits. They are generated here rather than kept as files: each is a few lines of intent
//! and up to a megabyte of repetition.
//!
//! Each must be answered, with the decision stated, in under 10 ms in the compiled module, with a bounded
//! message and patch.

use serde_json::{Value, json};

/// The API server's limit on the annotations of one object (`TotalAnnotationSizeLimitB`).
const ANNOTATIONS_LIMIT: usize = 256 * 1024;
/// The API server's limit on a request body it stores in etcd, by default.
const OBJECT_LIMIT: usize = 1536 * 1024;
pub const PREFIX: &str = "pipelinerun-sidecars.io";

/// A generated request and what the policy must answer.
pub struct Worst {
    pub name: &'static str,
    pub payload: Vec<u8>,
    pub accepted: bool,
}

pub fn admission(kind: &str, operation: &str, object: Value, old: Option<Value>) -> Value {
    let (group, version) = match kind {
        "Pod" => ("", "v1"),
        _ => ("tekton.dev", "v1"),
    };
    let mut request = json!({
        "uid": "worst-case",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": format!("{}s", kind.to_lowercase())},
        "operation": operation,
        "namespace": "ci",
        "userInfo": {"username": "author"},
        "object": object,
    });
    if let Some(old) = old {
        request["oldObject"] = old;
    }
    request
}

pub fn payload(request: &Value, settings: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap_or_default()
}

/// A TaskRun's Pod as Tekton builds it (`Build` in `pkg/pod/pod.go`), with `steps` steps that share a
/// workspace, `volumes` extra volumes, and the given annotations.
pub fn taskrun_pod(steps: usize, volumes: usize, annotations: Value) -> Value {
    let containers: Vec<Value> = (0..steps)
        .map(|i| {
            json!({
                "name": format!("step-s{i}"),
                "image": "docker.io/library/golang:1.23",
                "command": ["/tekton/bin/entrypoint"],
                "args": ["-wait_file", "/tekton/downward/ready", "-post_file", format!("/tekton/run/{i}/out"),
                         "-entrypoint", "go", "--", "test", "./..."],
                "volumeMounts": [
                    {"name": "tekton-internal-bin", "mountPath": "/tekton/bin", "readOnly": true},
                    {"name": "ws-1bcf2", "mountPath": "/workspace/source"},
                ],
                "workingDir": "/workspace/source",
            })
        })
        .collect();
    let mut all_volumes = vec![
        json!({"name": "tekton-internal-bin", "emptyDir": {}}),
        json!({"name": "ws-1bcf2", "persistentVolumeClaim": {"claimName": "source"}}),
    ];
    all_volumes.extend(
        (0..volumes).map(|i| json!({"name": format!("volume-number-{i:05}"), "emptyDir": {}})),
    );
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "go-integration-x7k2p-test-pod",
            "namespace": "ci",
            "labels": {"tekton.dev/taskRun": "go-integration-x7k2p-test", "tekton.dev/pipelineTask": "test"},
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "name": "go-integration-x7k2p-test",
                                 "uid": "0b5f0c63-1d2e-4d8e-9f55-7c1e8e0c2a11", "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": {"containers": containers, "volumes": all_volumes, "restartPolicy": "Never"},
    })
}

fn pipelinerun(tasks: usize, annotations: Value, task_run_specs: Value) -> Value {
    let tasks: Vec<Value> = (0..tasks)
        .map(|i| json!({"name": format!("task-{i:04}"), "taskRef": {"name": "golang-test"}}))
        .collect();
    json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "metadata": {"name": "go-integration-x7k2p", "namespace": "ci", "annotations": annotations},
        "spec": {"pipelineSpec": {"tasks": tasks}, "taskRunSpecs": task_run_specs},
    })
}

/// Lines `line(i)` for i = 0, 1, ... while the text stays within `limit` bytes.
fn lines_within(limit: usize, line: impl Fn(usize) -> String) -> String {
    let mut text = String::new();
    for i in 0.. {
        let next = line(i);
        if text.len() + next.len() > limit {
            break;
        }
        text.push_str(&next);
    }
    text
}

/// Annotation keys within the limit, each naming no task of a 1,000-task pipeline but one letter away
/// from one: the did-you-mean search over every key and every task name.
fn keys_naming_no_task() -> Value {
    let mut annotations = serde_json::Map::new();
    let mut size = 0;
    for i in 0.. {
        let key = format!("{PREFIX}/task-{:04}x", i % 1000);
        let key = format!("{key}{}", i / 1000);
        let value = "[]";
        if size + key.len() + value.len() > ANNOTATIONS_LIMIT {
            break;
        }
        size += key.len() + value.len();
        annotations.insert(key, json!(value));
    }
    pipelinerun(1000, Value::Object(annotations), json!([]))
}

/// One `all-tasks` list of misspelt sidecars as long as the annotations allow, which reaches every one of
/// 2,000 taskRunSpecs that carry a declaration of their own: no list may be copied per task.
fn all_tasks_everywhere() -> Value {
    let all = lines_within(ANNOTATIONS_LIMIT - 1024, |i| {
        format!("- {{name: s{i}, imgae: x}}\n")
    });
    let specs: Vec<Value> = (0..2000)
        .map(|i| {
            json!({"pipelineTaskName": format!("task-{i:04}"),
                   "metadata": {"annotations": {format!("{PREFIX}/task-{i:04}"): "- {name: db, image: postgres}"}}})
        })
        .collect();
    pipelinerun(
        2000,
        json!({format!("{PREFIX}/all-tasks"): all}),
        Value::Array(specs),
    )
}

/// Eight sidecars mounting forty volumes each that a Pod of 20,000 volumes lacks: one message, not a list
/// of every volume per problem.
fn volumes_the_pod_lacks() -> Value {
    let declaration: String = (0..8)
        .map(|s| {
            let mounts: Vec<String> = (0..40)
                .map(|m| format!("{{name: nope{s}-{m}, mountPath: /m{m}}}"))
                .collect();
            format!(
                "- {{name: s{s}, image: postgres, volumeMounts: [{}]}}\n",
                mounts.join(", ")
            )
        })
        .collect();
    let mut pod = taskrun_pod(1, 0, json!({format!("{PREFIX}/test"): declaration}));
    let volumes = pod["spec"]["volumes"].as_array_mut();
    if let Some(volumes) = volumes {
        let mut size = 0;
        for i in 0.. {
            let volume = json!({"name": format!("volume-number-{i:05}"), "emptyDir": {}});
            size += volume.to_string().len();
            if size > OBJECT_LIMIT - 300 * 1024 {
                break;
            }
            volumes.push(volume);
        }
    }
    pod
}

/// YAML anchors and aliases at their budget: each alias copies a long scalar, to make the declaration
/// expand far past its own size.
fn aliases_at_the_budget() -> Value {
    let big = "x".repeat(60 * 1024);
    let mut yaml =
        format!("- name: db\n  image: postgres\n  env:\n  - name: A\n    value: &big \"{big}\"\n");
    for i in 0..99 {
        yaml.push_str(&format!("  - {{name: B{i}, value: *big}}\n"));
    }
    taskrun_pod(1, 0, json!({format!("{PREFIX}/test"): yaml}))
}

/// Anchors nested in one another, each around a list of values: every anchor keeps a copy of all the
/// values inside it.
fn nested_anchors() -> Value {
    let mut text = "x".to_string();
    for i in 0..99 {
        text = format!("&a{i} [{text}, {}]", vec!["y"; 90].join(", "));
    }
    taskrun_pod(
        1,
        0,
        json!({format!("{PREFIX}/test"): format!("- name: db\n  image: postgres\n  args: {text}\n")}),
    )
}

/// Declarations as many as the PipelineRun can hold, each different, one per taskRunSpec.
fn distinct_declarations() -> Value {
    let specs: Vec<Value> = (0..2000)
        .map(|i| {
            json!({"pipelineTaskName": format!("task-{i:04}"),
                   "metadata": {"annotations": {format!("{PREFIX}/task-{i:04}"): format!("- {{name: db{i}, image: 'postgres:14', env: [{{name: N, value: '{i}'}}]}}")}}})
        })
        .collect();
    pipelinerun(2000, json!({}), Value::Array(specs))
}

/// An annotation of blank lines: text without values, which YAML still scans.
fn blank_lines() -> Value {
    let text = format!(
        "- {{name: db, image: postgres}}{}",
        "\n".repeat(ANNOTATIONS_LIMIT - 1024)
    );
    taskrun_pod(1, 0, json!({format!("{PREFIX}/test"): text}))
}

/// One sidecar with as many invented fields as the annotation holds: a suggestion for each would be a
/// search per field over every field name.
fn unknown_fields() -> Value {
    let fields = lines_within(ANNOTATIONS_LIMIT - 1024, |i| format!("  imgae{i}: x\n"));
    taskrun_pod(
        1,
        0,
        json!({format!("{PREFIX}/test"): format!("- name: db\n  image: postgres\n{fields}")}),
    )
}

/// A declaration nested as deep as the parser allows (32 levels, three of them the list, the sidecar and
/// `args`), repeated to the annotation limit.
fn nesting() -> Value {
    let deep = format!("{}x{}", "[".repeat(28), "]".repeat(28));
    let args = lines_within(ANNOTATIONS_LIMIT - 1024, |_| format!("    - {deep}\n"));
    taskrun_pod(
        1,
        0,
        json!({format!("{PREFIX}/test"): format!("- name: db\n  image: postgres\n  args:\n{args}")}),
    )
}

/// An inline TaskRun with `count` params, whose sidecar's image is 400 variables long: substitution and
/// the image check on the result.
fn variables(count: usize) -> Value {
    let params: Vec<Value> = (0..count)
        .map(|i| json!({"name": format!("p{i}"), "value": if i % 2 == 0 { "a" } else { "$(params.p0)" }}))
        .collect();
    let image: String = (0..400)
        .map(|i| format!("$(params.p{})", (i * 7) % count))
        .collect();
    let annotation = format!("- name: db\n  image: \"docker.io/library/{image}\"\n");
    json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {"name": "go-integration-x7k2p-test", "namespace": "ci",
                     "labels": {"tekton.dev/pipelineTask": "test"},
                     "annotations": {format!("{PREFIX}/test"): annotation}},
        "spec": {"params": params, "taskSpec": {"steps": [{"name": "test", "image": "golang", "script": "go test"}]}},
    })
}

/// A PipelineRun of 2,000 tasks UPDATEd with one declaration changed: only that one is checked, and
/// telling which changed is linear.
fn update_one_of_many() -> Value {
    let specs = |image: &str| -> Value {
        (0..2000)
            .map(|i| {
                let image = if i == 1999 { image } else { "postgres:14" };
                json!({"pipelineTaskName": format!("task-{i:04}"),
                       "metadata": {"annotations": {format!("{PREFIX}/task-{i:04}"): format!("- {{name: db, image: '{image}'}}")}}})
            })
            .collect::<Vec<_>>()
            .into()
    };
    let old = pipelinerun(2000, json!({}), specs("postgres:14"));
    let new = pipelinerun(2000, json!({}), specs("postgres:16"));
    admission("PipelineRun", "UPDATE", new, Some(old))
}

/// A PipelineRun UPDATE with a 60 KiB all-tasks declaration and as many taskRunSpecs as fill the object:
/// whether the all-tasks value changed is decided once, not once per task.
fn update_all_tasks_over_many_tasks() -> Value {
    let all = lines_within(60 * 1024, |i| {
        format!("- {{name: s{}, image: 'postgres:14'}}\n", i % 4)
    });
    let all = all.lines().take(4).collect::<Vec<_>>().join("\n")
        + &format!("\n# {}\n", "x".repeat(60 * 1024));
    let specs: Vec<Value> = (0..12_000)
        .map(
            |i| json!({"pipelineTaskName": format!("t{i:05}"), "metadata": {"labels": {"l": "v"}}}),
        )
        .collect();
    let old = pipelinerun(
        12_000,
        json!({format!("{PREFIX}/all-tasks"): all}),
        Value::Array(specs),
    );
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"tekton.dev/pipeline": "p"});
    admission("PipelineRun", "UPDATE", new, Some(old))
}

/// The largest injection a platform team's limit allows: eight sidecars with scripts, workspaces and
/// probes into the Pod of a 64-step Task with 500 volumes.
fn largest_injection() -> Value {
    let declaration: String = (0..8)
        .map(|s| {
            format!(
                "- name: s{s}\n  image: docker.io/library/python:3.12\n  workspaces: [{{name: source}}]\n  \
                 readinessProbe: {{tcpSocket: {{port: {}}}}}\n  script: |\n    #!/usr/bin/env python3\n    \
                 import http.server\n    http.server.test(port={})\n",
                8000 + s,
                8000 + s
            )
        })
        .collect();
    taskrun_pod(64, 500, json!({format!("{PREFIX}/test"): declaration}))
}

/// Image patterns full of stars against the longest image path a reference may have.
fn star_patterns() -> (Value, Value) {
    let patterns: Vec<String> = (0..200)
        .map(|i| format!("ghcr.io/a*a*a*a*a*a*b{i}/**"))
        .collect();
    let image = format!("ghcr.io/{}/c:1", "a".repeat(240));
    let pod = taskrun_pod(
        1,
        0,
        json!({format!("{PREFIX}/test"): format!("- {{name: db, image: '{image}'}}")}),
    );
    (pod, json!({"allowedImages": patterns}))
}

/// An inline TaskRun whose Task's params are `defaults`, bound to `workspaces` workspaces, with one
/// declared sidecar.
fn inline_taskrun(defaults: Value, workspaces: usize, declaration: &str) -> Value {
    let declared: Vec<Value> = (0..workspaces)
        .map(|i| json!({"name": format!("w{i}"), "mountPath": format!("/workspace/w{i}")}))
        .collect();
    let bound: Vec<Value> = (0..workspaces)
        .map(|i| json!({"name": format!("w{i}"), "emptyDir": {}}))
        .collect();
    json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {"name": "go-integration-x7k2p-test", "namespace": "ci",
                     "labels": {"tekton.dev/pipelineTask": "test"},
                     "annotations": {format!("{PREFIX}/test"): declaration}},
        "spec": {"workspaces": bound, "taskSpec": {
            "params": defaults, "workspaces": declared,
            "steps": [{"name": "test", "image": "golang", "script": "go test"}]}},
    })
}

/// A param default of as many references as the object holds, and one that names itself as often:
/// Tekton's second pass over defaults replaces each reference in the whole text, and a reference to
/// itself doubles the value each time.
fn default_references() -> Value {
    let many = "$(params.a)".repeat((OBJECT_LIMIT - 64 * 1024) / 2 / 11);
    let doubling = format!("$(params.a){}", "$(params.s)".repeat(64));
    let defaults = json!([{"name": "a", "default": "docker.io"}, {"name": "many", "default": many},
                          {"name": "s", "default": doubling}]);
    inline_taskrun(
        defaults,
        0,
        "- {name: db, image: '$(params.many)/library/postgres:$(params.s)'}",
    )
}

/// Two steps that mount the workspace volume at as many paths as the object holds, and a sidecar that
/// lists the workspace: which mounts all steps share, and where the listed one goes.
fn steps_mounting_everywhere() -> Value {
    steps_mounting(|_, i| json!({"name": "ws-1bcf2", "mountPath": format!("/workspace/p{i}")}))
}

/// Two steps that mount the workspace volume as often as the object holds, all at one path but each
/// at a subPath of its own: every mount of one step has its volume and path in the other.
fn steps_mounting_one_path() -> Value {
    steps_mounting(
        |step, i| json!({"name": "ws-1bcf2", "mountPath": "/workspace/p", "subPath": format!("s{step}-{i}")}),
    )
}

/// A Pod of two steps with as many workspace mounts (`mount(step, i)`) as the object holds, and a
/// sidecar that lists the workspace.
fn steps_mounting(mount: impl Fn(usize, usize) -> Value) -> Value {
    let mut pod = taskrun_pod(
        2,
        0,
        json!({format!("{PREFIX}/test"): "- {name: db, image: postgres, workspaces: [{name: source}]}"}),
    );
    let per_step = (OBJECT_LIMIT - 64 * 1024) / 2 / mount(1, 99_999).to_string().len();
    for step in 0..2 {
        if let Some(mounts) = pod["spec"]["containers"][step]["volumeMounts"].as_array_mut() {
            mounts.extend((0..per_step).map(|i| mount(step, i)));
        }
    }
    pod
}

/// A template joining an inline Task of 8,000 shared workspaces, one inside another: which could cover
/// the template's files.
fn workspaces_beside_a_template() -> (Value, Value) {
    let mut taskrun = inline_taskrun(json!([]), 8000, "- template: redis");
    if let Some(declared) = taskrun["spec"]["taskSpec"]["workspaces"].as_array_mut() {
        declared.push(json!({"name": "inner", "mountPath": "/workspace/w7/inner"}));
    }
    (
        taskrun,
        json!({"templates": {"redis": {"image": "docker.io/library/redis:7"}}}),
    )
}

/// An image of 8,000 workspace paths and a variable Tekton cannot resolve, in a Task of 8,000
/// workspaces: Tekton makes a pass per workspace.
fn paths_of_many_workspaces() -> Value {
    let image: String = (0..8000)
        .map(|i| format!("$(workspaces.w{i}.path)"))
        .collect();
    inline_taskrun(
        json!([]),
        8000,
        &format!("- {{name: db, image: 'docker.io/library/x{image}$(params.nope)'}}"),
    )
}

/// A TaskRun of a referenced Task that binds one workspace name as often as the object holds: Tekton's
/// search for a free volume name never ends past 2,330 of them.
fn one_name_bound_everywhere() -> Value {
    let binding = json!({"name": "a", "emptyDir": {}});
    let count = (OBJECT_LIMIT - 64 * 1024) / binding.to_string().len();
    json!({
        "apiVersion": "tekton.dev/v1",
        "kind": "TaskRun",
        "metadata": {"name": "go-integration-x7k2p-test", "namespace": "ci",
                     "labels": {"tekton.dev/pipelineTask": "test"},
                     "annotations": {format!("{PREFIX}/test"): "- {name: db, image: postgres}"}},
        "spec": {"taskRef": {"name": "golang-test"}, "workspaces": vec![binding; count]},
    })
}

/// A param whose value is `$(` as often as the object holds, in the image: no `)` follows any of them.
fn openings_without_a_close() -> Value {
    let mut taskrun = inline_taskrun(json!([]), 0, "- {name: db, image: '$(params.big)'}");
    taskrun["spec"]["params"] =
        json!([{"name": "big", "value": "$(".repeat((OBJECT_LIMIT - 64 * 1024) / 2)}]);
    taskrun
}

/// Every worst case, with its request payload as policy-server sends it to `validate`.
pub fn cases() -> Vec<Worst> {
    let none = json!({});
    let (stars, star_settings) = star_patterns();
    let (template_task, template_settings) = workspaces_beside_a_template();
    let mut cases = vec![
        (
            "PipelineRun: 256 KiB of keys naming no task of a 1,000-task pipeline",
            admission("PipelineRun", "CREATE", keys_naming_no_task(), None),
            none.clone(),
            false,
        ),
        (
            "PipelineRun: a 255 KiB all-tasks list of misspelt sidecars over 2,000 taskRunSpecs",
            admission("PipelineRun", "CREATE", all_tasks_everywhere(), None),
            none.clone(),
            false,
        ),
        (
            "PipelineRun UPDATE: 2,000 declarations, one changed",
            update_one_of_many(),
            none.clone(),
            true,
        ),
        (
            "PipelineRun UPDATE: a 60 KiB all-tasks value over 12,000 taskRunSpecs",
            update_all_tasks_over_many_tasks(),
            none.clone(),
            true,
        ),
        (
            "Pod: 320 mounts of volumes a 1.2 MiB Pod lacks",
            admission("Pod", "CREATE", volumes_the_pod_lacks(), None),
            none.clone(),
            false,
        ),
        (
            "Pod: 99 aliases of a 60 KiB scalar",
            admission("Pod", "CREATE", aliases_at_the_budget(), None),
            none.clone(),
            false,
        ),
        (
            "Pod: one sidecar with 255 KiB of unknown fields",
            admission("Pod", "CREATE", unknown_fields(), None),
            none.clone(),
            false,
        ),
        (
            "Pod: 255 KiB of 28-deep flow sequences",
            admission("Pod", "CREATE", nesting(), None),
            none.clone(),
            false,
        ),
        (
            "inline TaskRun: 1,000 params, an image of 400 variables",
            admission("TaskRun", "CREATE", variables(1000), None),
            none.clone(),
            false,
        ),
        (
            "inline TaskRun: 20,000 params, an image of 400 variables",
            admission("TaskRun", "CREATE", variables(20_000), None),
            none.clone(),
            false,
        ),
        (
            "Pod: 99 anchors nested in one another",
            admission("Pod", "CREATE", nested_anchors(), None),
            none.clone(),
            false,
        ),
        (
            "Pod: 255 KiB of blank lines",
            admission("Pod", "CREATE", blank_lines(), None),
            none.clone(),
            false,
        ),
        (
            "PipelineRun: 2,000 taskRunSpecs, each with a declaration of its own",
            admission("PipelineRun", "CREATE", distinct_declarations(), None),
            none.clone(),
            false,
        ),
        (
            "Pod: 200 star-laden image patterns against a 240-character path",
            admission("Pod", "CREATE", stars, None),
            star_settings,
            false,
        ),
        (
            "Pod: 8 script sidecars into a 64-step, 500-volume Pod",
            admission("Pod", "CREATE", largest_injection(), None),
            none.clone(),
            true,
        ),
        (
            "inline TaskRun: a 700 KiB default of 65,000 references, one that doubles itself",
            admission("TaskRun", "CREATE", default_references(), None),
            none.clone(),
            false,
        ),
        (
            "Pod: two steps mounting the workspace at 14,700 paths each",
            admission("Pod", "CREATE", steps_mounting_everywhere(), None),
            none.clone(),
            true,
        ),
        (
            "Pod: two steps mounting the workspace 11,200 times each at one path",
            admission("Pod", "CREATE", steps_mounting_one_path(), None),
            none.clone(),
            true,
        ),
        (
            "inline TaskRun: a template beside 8,000 shared workspaces",
            admission("TaskRun", "CREATE", template_task, None),
            template_settings,
            false,
        ),
        (
            "inline TaskRun: an image of 8,000 workspace paths in a Task of 8,000",
            admission("TaskRun", "CREATE", paths_of_many_workspaces(), None),
            none.clone(),
            false,
        ),
        (
            "TaskRun: one workspace name bound 75,000 times",
            admission("TaskRun", "CREATE", one_name_bound_everywhere(), None),
            none.clone(),
            false,
        ),
        (
            "inline TaskRun: an image param of 700,000 openings without a close",
            admission("TaskRun", "CREATE", openings_without_a_close(), None),
            none,
            false,
        ),
    ];
    cases
        .drain(..)
        .map(|(name, request, settings, accepted)| Worst {
            name,
            payload: payload(&request, &settings),
            accepted,
        })
        .collect()
}
