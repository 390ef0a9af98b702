//! Strategies shared by the fuzzers of the policy crate (`tests/fuzz.rs`) and of the playground
//! (`web/playground/tests/fuzz.rs`, which includes this file by path): pieces of declarations, random edits
//! of a real one, a choice of settings, and the number of cases.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value, json};

/// Pieces of declarations: valid fields, near misses, wrong types, YAML features and hostile syntax.
pub const FRAGMENTS: &[&str] = &[
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

pub fn declaration() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..12).prop_map(|parts| parts.concat())
}

/// Random edits of a real declaration: where parsers trip over unexpected bytes.
pub fn mutated_declaration() -> impl Strategy<Value = String> {
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

pub fn settings_value() -> impl Strategy<Value = Value> {
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

pub fn config() -> Config {
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
