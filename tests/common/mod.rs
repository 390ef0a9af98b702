//! Helpers shared by the integration tests; each test crate that includes them uses a part.
#![allow(dead_code)]

pub mod strategies;

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
