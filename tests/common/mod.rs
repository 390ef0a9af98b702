//! Helpers shared by the integration tests; each test crate that includes them uses a part.
#![allow(dead_code)]

pub mod strategies;

use std::path::PathBuf;

use serde_json::Value;

/// Every `.json` file directly in `dir`, parsed, with its path, in the order of the paths: the request
/// fixtures, the hostile corpus and the conformance cases are all read this way.
pub fn json_files(dir: &str) -> Vec<(PathBuf, Value)> {
    let mut found: Vec<(PathBuf, Value)> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{dir}: {err}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("{} is not JSON: {err}", path.display()));
            (path, value)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The paths a mutation may touch: the sidecar lists, the container lists, the marker annotation, and on
/// a TaskRun whose Task is referenced, the annotation that carries its bindings to the Pod and the
/// `sidecarSpecs` (v1beta1: `sidecarOverrides`) entries of declared sidecars that move into it.
pub const MUTABLE_PATHS: [&str; 7] = [
    "/spec/containers",
    "/spec/initContainers",
    "/spec/taskSpec/sidecars",
    "/spec/sidecarSpecs",
    "/spec/sidecarOverrides",
    "/metadata/annotations/pipelinerun-sidecars.io~1injected",
    "/metadata/annotations/pipelinerun-sidecars.io~1taskrun.json",
];
