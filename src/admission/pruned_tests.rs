//! The rule of `reads`: a path that reads only part of the object answers exactly what it answers with
//! the whole object. Every request in `test_data/` (the fixtures, the hostile corpus, the conformance
//! cases) goes through the policy both ways, under every settings file there, and the verdicts (outcome,
//! mutated text, message, warnings, audit) must be equal.

use std::cell::Cell;
use std::path::Path;

use serde_json::{Value, json};

use super::verdict;

thread_local! {
    /// Whether `reads` gives the whole object, for the reading the pruned one is compared with.
    pub(super) static WHOLE: Cell<bool> = const { Cell::new(false) };
}

fn json_files(dir: &Path) -> Vec<(String, Value)> {
    let mut found: Vec<(String, Value)> = std::fs::read_dir(dir)
        .expect("test_data")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable");
            (
                path.display().to_string(),
                serde_json::from_str(&text).expect("JSON"),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Every request of `test_data/`, with the settings it comes with (`None`: try it under all of them).
fn requests(root: &Path) -> Vec<(String, Value, Option<Value>)> {
    let mut requests = Vec::new();
    for (name, file) in json_files(root) {
        if file.get("object").is_none() {
            continue;
        }
        // The Pod-level fields that no fixture sets but the Pod Security Standards judge.
        if file.pointer("/object/spec/containers").is_some() {
            for field in ["hostNetwork", "hostPID", "hostIPC"] {
                let mut request = file.clone();
                request["object"]["spec"][field] = json!(true);
                requests.push((format!("{name} with {field}"), request, None));
            }
            // And a Pod-level seccomp profile that the containers' own replace: a sidecar judged on its
            // container inherits it or not.
            let mut request = file.clone();
            let spec = &mut request["object"]["spec"];
            spec["securityContext"] = json!({"seccompProfile": {"type": "Unconfined"}});
            for list in ["containers", "initContainers"] {
                if let Some(Value::Array(containers)) = spec.get_mut(list) {
                    for container in containers {
                        container["securityContext"] =
                            json!({"seccompProfile": {"type": "RuntimeDefault"}});
                    }
                }
            }
            requests.push((format!("{name} with seccomp profiles"), request, None));
        }
        requests.push((name, file, None));
    }
    for (name, case) in json_files(&root.join("bad")) {
        requests.push((
            name,
            case["request"].clone(),
            Some(case["settings"].clone()),
        ));
    }
    for (name, case) in json_files(&root.join("conformance")) {
        let Some(mut pod) = case.get("without").cloned() else {
            continue;
        };
        let annotations = &mut pod["metadata"]["annotations"];
        annotations["pipelinerun-sidecars.io/all-tasks"] = case["declaration"].clone();
        if !case["context"].is_null() {
            annotations["pipelinerun-sidecars.io/taskrun.json"] =
                json!(case["context"].to_string());
        }
        let request = json!({"kind": {"group": "", "version": "v1", "kind": "Pod"},
                             "operation": "CREATE", "object": pod});
        requests.push((name, request, Some(case["settings"].clone())));
    }
    requests
}

fn settings(root: &Path) -> Vec<Value> {
    let mut all = vec![json!({}), json!({"injectAs": "native"})];
    let mut names: Vec<_> = std::fs::read_dir(root)
        .expect("test_data")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("settings"))
        })
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read_to_string(&path).expect("readable");
        all.push(serde_saphyr::from_str(&text).expect("settings"));
    }
    all
}

#[test]
fn reading_part_of_the_object_answers_as_reading_all_of_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data");
    let all_settings = settings(&root);
    let mut compared = 0;
    let mut mutated = 0;
    for (name, request, settings) in requests(&root) {
        let settings = settings.map_or_else(|| all_settings.clone(), |one| vec![one]);
        for settings in settings {
            let payload = serde_json::to_vec(&json!({"request": request, "settings": settings}))
                .expect("payload");
            WHOLE.set(true);
            let whole = verdict(&payload);
            WHOLE.set(false);
            let pruned = verdict(&payload);
            if pruned != whole {
                let shown = format!("{pruned:?}\n   instead of {whole:?}");
                panic!(
                    "{name} with {settings}: {}",
                    shown.get(..2000).unwrap_or(&shown)
                );
            }
            compared += 1;
            mutated += usize::from(matches!(whole.outcome, Ok(super::Outcome::Mutate(_))));
        }
    }
    // The comparison means something only if it covers the paths that read the Pod.
    assert!(compared > 300, "{compared} verdicts compared");
    assert!(mutated > 40, "{mutated} of them mutations");
}
