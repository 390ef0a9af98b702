//! What the policy knows of Tekton: the labels and name prefixes its Pod builder uses, the volumes it keeps
//! for steps, how it names workspace volumes, and its v1 `Sidecar` type with the rules Tekton applies to
//! it. Each item names the tektoncd/pipeline code it follows, so that a new Tekton release is checked
//! here first. It knows nothing of the policy's settings, annotations or admission.
//!
//! The Sidecar type lives here rather than with the declarations because the settings need it too: a
//! template is checked as a sidecar when the policy loads, and declarations read the settings.

mod params;
mod replacements;
pub(crate) mod sidecar;
#[cfg(test)]
mod sidecar_oracle;
mod sidecar_type;
pub(crate) mod variables;
pub mod workspaces;

pub(crate) use workspaces::WORKSPACE_DIR;
pub use workspaces::workspace_volume;

/// The label Tekton's Pod builder gives a TaskRun's Pod (`pipeline.TaskRunLabelKey`).
pub const TASKRUN_LABEL: &str = "tekton.dev/taskRun";

/// The label the PipelineRun reconciler gives a pipeline task's TaskRun and Pod (`pipeline.PipelineTaskLabelKey`).
pub const PIPELINE_TASK_LABEL: &str = "tekton.dev/pipelineTask";

/// The annotation Tekton's Pod builder sets to `READY` on a Pod whose steps need not wait for sidecars
/// (`readyAnnotation` and `isPodReadyImmediately` in `pkg/pod/pod.go`): a Task without sidecars under
/// `running-in-environment-with-injected-sidecars: "false"`, or any Task under
/// `await-sidecar-readiness: "false"`.
pub const READY_ANNOTATION: (&str, &str) = ("tekton.dev/ready", "READY");

/// The container-name prefix Tekton gives sidecars (`sidecarPrefix` in `pkg/pod/entrypoint.go`).
pub const CONTAINER_PREFIX: &str = "sidecar-";

/// Tekton's step-container prefix (`stepPrefix` in `pkg/pod/entrypoint.go`).
pub(crate) const STEP_PREFIX: &str = "step-";

/// The sidecar name Tekton reserves for its results sidecar (`pipeline.ReservedResultsSidecarName`).
pub(crate) const RESERVED_NAME: &str = "tekton-log-results";

/// Volume-name prefixes that Tekton keeps for steps: a sidecar that could mount them could rewrite what a
/// trusted Task's steps run (`/tekton/bin`, `/tekton/scripts`), forge its results (`/tekton/results`,
/// which Tekton Chains signs), read its credentials (`tekton-creds-<hash>` and
/// `tekton-creds-init-home-<n>`, `pkg/pod/creds_init.go`) or take its SPIFFE identity
/// (`spiffe-workload-api`, `pkg/spire/spire.go`).
pub(crate) const INTERNAL_VOLUME_PREFIXES: [&str; 3] =
    ["tekton-internal-", "tekton-creds-", "spiffe-workload-api"];

/// Whether a workspace mounted at `path` into a platform team's template cannot cover the files it runs:
/// a plain path under `/workspace/` (no `.` or `..` segment), and not inside another of `others`, where a
/// symbolic link in the outer volume could send the mount elsewhere.
pub(crate) fn safe_for_template(path: &str, others: &[&str]) -> bool {
    let plain = path
        .strip_prefix(WORKSPACE_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| {
            rest.trim_end_matches('/')
                .split('/')
                .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
        });
    let nested = others.iter().any(|other| {
        let other = other.trim_end_matches('/');
        other != path.trim_end_matches('/') && path.starts_with(&format!("{other}/"))
    });
    plain && !nested
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case("/workspace/source", &[], true)]
    #[case("/workspace/a/b/", &[], true)]
    #[case("/usr/local/bin", &[], false)]
    #[case("/workspace", &[], false)]
    #[case("/workspace/../usr/local/bin", &[], false)]
    #[case("/workspace/./x", &[], false)]
    #[case("/workspacex/y", &[], false)]
    #[case("/workspace/src/bin", &["/workspace/src"], false)]
    #[case("/workspace/src", &["/workspace/src/bin", "/workspace/src"], true)]
    fn what_a_template_may_be_given(
        #[case] path: &str,
        #[case] others: &[&str],
        #[case] safe: bool,
    ) {
        assert_eq!(safe_for_template(path, others), safe);
    }
}
