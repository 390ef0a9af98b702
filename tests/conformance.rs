//! The conformance suite: for each case of tektoncd/pipeline's own tests with a Task sidecar
//! (`test_data/conformance/*.json`, named after the Tekton test case), the Pod Tekton builds for the Task
//! without the sidecar goes through the policy with the sidecar declared, and the result must be the Pod
//! Tekton builds with it, up to the differences the case names (each explained in `DIFFERENCES`).
//!
//! The policy's patch for each case is kept beside it (`<case>.patch.json`): here it must be what
//! `evaluate` gives, and the e2e suite checks that the compiled module gives it too. To check a new Tekton
//! release, rebuild the `with` Pods from its tests and run this suite.
//!
//! Volume mounts are compared as a set, as Tekton's own `TestPodBuild` compares them (`volumeMountSort`).

// Test code: a failed expectation is the test failing, not a trapped module. clippy.toml allows this
// inside #[test] functions; the helpers here are outside them.
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::string_slice
)]

use std::path::{Path, PathBuf};

use pipelinerun_sidecars::admission::{Outcome, evaluate};
use serde_json::{Value, json};

mod common;

use common::json_files;

/// Every difference a case may name, and why it is there.
const DIFFERENCES: [(&str, &str); 3] = [
    (
        "script-in-command",
        "Tekton writes a script to its internal scripts volume from the place-scripts init container; a declared sidecar may not mount that volume and the Pod's init containers are built, so the script travels in the container's command (which must run the same text)",
    ),
    (
        "one-step-shared-workspace",
        "a one-step Task's Pod looks the same whether the step lists a workspace or shares it, so a Pod-level sidecar gets a workspace it does not list only when the Pod shows it is shared",
    ),
    (
        "listing-does-not-isolate",
        "a Task sidecar that lists a workspace makes Tekton take it away from the steps that do not; a declared one adds its mount and takes none away",
    ),
];

fn cases() -> Vec<(String, Value)> {
    json_files("test_data/conformance")
        .into_iter()
        .filter_map(|(path, case)| {
            let name = path.file_name()?.to_str()?.strip_suffix(".json")?;
            (!name.ends_with(".patch")).then(|| (name.to_string(), case))
        })
        .collect()
}

/// The AdmissionRequest for the Pod without the sidecar, carrying the declaration (and what the policy
/// would have carried from the TaskRun).
fn request(case: &Value) -> Value {
    let mut pod = case["without"].clone();
    let annotations = &mut pod["metadata"]["annotations"];
    annotations["pipelinerun-sidecars.io/all-tasks"] = case["declaration"].clone();
    if !case["context"].is_null() {
        annotations["pipelinerun-sidecars.io/taskrun.json"] = json!(case["context"].to_string());
    }
    json!({"uid": "conformance", "kind": {"group": "", "version": "v1", "kind": "Pod"},
           "operation": "CREATE", "object": pod})
}

fn patch_path(name: &str) -> PathBuf {
    Path::new("test_data/conformance").join(format!("{name}.patch.json"))
}

/// The policy's answer for the case: the Pod it returns.
fn injected(case: &Value) -> Value {
    let payload =
        serde_json::to_vec(&json!({"request": request(case), "settings": case["settings"]}))
            .expect("payload");
    match evaluate(&payload) {
        Ok(Outcome::Mutate(pod)) => pod.value(),
        other => panic!("the policy must inject: {other:?}"),
    }
}

fn containers<'a>(pod: &'a mut Value, list: &str) -> &'a mut Vec<Value> {
    pod["spec"][list].as_array_mut().expect("containers")
}

/// Mounts as a set, as `TestPodBuild` compares them.
fn sort_mounts(pod: &mut Value) {
    for list in ["initContainers", "containers"] {
        for container in containers(pod, list) {
            if let Some(mounts) = container["volumeMounts"].as_array_mut() {
                mounts.sort_by_key(|m| (m["name"].to_string(), m["mountPath"].to_string()));
            }
        }
    }
}

/// What Kubernetes' expansion makes of a command string: `$$` is `$` (the policy escapes every `$`).
fn as_the_kubelet_reads(text: &str) -> String {
    text.replace("$$", "$")
}

/// Brings `expected` (Tekton's Pod) and `actual` (the policy's) to what they must share, given the case's
/// differences; checks what each difference still promises.
fn apply_difference(difference: &str, case: &Value, expected: &mut Value, actual: &mut Value) {
    let sidecar_name = |pod: &Value| -> usize {
        pod["spec"]["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .position(|c| {
                c["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("sidecar-") && n != "sidecar-tekton-log-results")
            })
            .expect("a sidecar")
    };
    match difference {
        "script-in-command" => {
            let init = containers(expected, "initContainers");
            let place = init
                .iter()
                .position(|c| c["name"] == "place-scripts")
                .expect("place-scripts");
            let args = init.remove(place)["args"][1]
                .as_str()
                .expect("script")
                .to_string();
            let encoded = args.lines().nth(3).expect("the encoded script");
            let script = base64_decode(encoded);
            let volumes = expected["spec"]["volumes"].as_array_mut().expect("volumes");
            volumes.retain(|v| v["name"] != "tekton-internal-scripts");
            let at = sidecar_name(expected);
            let sidecar = &mut containers(expected, "containers")[at];
            sidecar
                .as_object_mut()
                .expect("container")
                .remove("command");
            sidecar
                .as_object_mut()
                .expect("container")
                .remove("volumeMounts");
            let at = sidecar_name(actual);
            let sidecar = &mut containers(actual, "containers")[at];
            let command = sidecar
                .as_object_mut()
                .expect("container")
                .remove("command")
                .expect("a command");
            assert_eq!(
                as_the_kubelet_reads(command[2].as_str().expect("script")),
                script,
                "the command must run the script Tekton would write"
            );
        }
        "one-step-shared-workspace" => {
            let at = sidecar_name(expected);
            containers(expected, "containers")[at]
                .as_object_mut()
                .expect("container")
                .remove("volumeMounts");
        }
        "listing-does-not-isolate" => {
            let steps = case["without"]["spec"]["containers"].clone();
            for (i, step) in steps.as_array().expect("steps").iter().enumerate() {
                containers(expected, "containers")[i] = step.clone();
            }
        }
        other => panic!("{other} is not a documented difference"),
    }
}

fn base64_decode(text: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64");
    String::from_utf8(bytes).expect("utf-8")
}

#[test]
fn the_policy_builds_the_sidecar_tekton_builds() {
    let cases = cases();
    // The cases whose expected Pods are Tekton's own, unedited; the oracle (oracle/) runs all of them.
    assert!(cases.len() >= 6, "{} cases", cases.len());
    for (name, case) in cases {
        let mut actual = injected(&case);
        let mut expected = case["with"].clone();
        for difference in case["differences"].as_array().expect("differences") {
            apply_difference(
                difference.as_str().expect("name"),
                &case,
                &mut expected,
                &mut actual,
            );
        }
        sort_mounts(&mut actual);
        sort_mounts(&mut expected);
        assert_eq!(
            actual["spec"], expected["spec"],
            "{name}: the Pod differs from Tekton's"
        );
    }
}

#[test]
fn each_case_keeps_the_patch_the_e2e_suite_checks() {
    for (name, case) in cases() {
        let pod = injected(&case);
        let patch =
            serde_json::to_value(json_patch::diff(&request(&case)["object"], &pod)).expect("patch");
        let kept: Value = serde_json::from_str(
            &std::fs::read_to_string(patch_path(&name))
                .unwrap_or_else(|err| panic!("{name}.patch.json: {err}")),
        )
        .expect("JSON");
        assert_eq!(patch, kept, "{name}: the kept patch is not the policy's");
    }
}

#[test]
fn every_difference_is_documented_and_used() {
    let used: Vec<String> = cases()
        .iter()
        .flat_map(|(_, case)| case["differences"].as_array().cloned().unwrap_or_default())
        .filter_map(|d| d.as_str().map(str::to_string))
        .collect();
    let readme = std::fs::read_to_string("docs/tekton.md").expect("docs/tekton.md");
    for (difference, _) in DIFFERENCES {
        assert!(
            used.iter().any(|u| u == difference),
            "{difference} is not used"
        );
        assert!(
            readme.contains(&format!("`{difference}`")),
            "docs/tekton.md does not explain {difference}"
        );
    }
}
