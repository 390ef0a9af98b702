//! What the policy knows of Tekton: the labels and name prefixes its Pod builder uses, the volumes it keeps
//! for steps, how it names workspace volumes, and its v1 `Sidecar` type with the rules Tekton applies to
//! it. Each item names the tektoncd/pipeline code it follows, so that a new Tekton release is checked
//! here first. It knows nothing of the policy's settings, annotations or admission.
//!
//! The Sidecar type lives here rather than with the declarations because the settings need it too: a
//! template is checked as a sidecar when the policy loads, and declarations read the settings.

use std::collections::BTreeSet;

mod params;
mod replacements;
pub(crate) mod resolution;
pub(crate) mod sidecar;
#[cfg(test)]
mod sidecar_oracle;
mod sidecar_replacements;
mod sidecar_type;
#[cfg(test)]
mod strict;
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

/// For each of `paths` (the workspaces Tekton mounts into every sidecar), whether a workspace mounted
/// there into a platform team's template cannot cover the files it runs: a plain path under
/// `/workspace/` (no `.` or `..` segment), and not inside another of them, where a symbolic link in the
/// outer volume could send the mount elsewhere.
///
/// The paths inside one `p` are those from `p/` to `p0` (`0` follows `/`) in sorted order, so each is
/// found by two binary searches however many paths there are.
pub(crate) fn safe_for_template(paths: &[&str]) -> Vec<bool> {
    let trimmed: Vec<&str> = paths.iter().map(|p| p.trim_end_matches('/')).collect();
    // Sorted through a set: a sort of its own would add kilobytes to the module.
    let sorted: Vec<&str> = trimmed
        .iter()
        .copied()
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .collect();
    // +1 where the paths inside one begin, -1 where they end: a running sum above 0 is inside another.
    let mut inside = vec![0i32; sorted.len() + 1];
    for outer in &sorted {
        let (from, to) = (format!("{outer}/"), format!("{outer}0"));
        let start = sorted.partition_point(|p| *p < from.as_str());
        let end = sorted.partition_point(|p| *p < to.as_str());
        if start < end {
            inside
                .get_mut(start)
                .into_iter()
                .for_each(|step| *step += 1);
            inside.get_mut(end).into_iter().for_each(|step| *step -= 1);
        }
    }
    let mut depth = 0;
    let nested: Vec<bool> = inside
        .iter()
        .take(sorted.len())
        .map(|step| {
            depth += step;
            depth > 0
        })
        .collect();
    trimmed
        .iter()
        .zip(paths)
        .map(|(path, written)| {
            let at = sorted.partition_point(|p| p < path);
            plain_under_workspace(written) && !nested.get(at).copied().unwrap_or(false)
        })
        .collect()
}

/// A path under `/workspace/` with no empty, `.` or `..` segment.
fn plain_under_workspace(path: &str) -> bool {
    path.strip_prefix(WORKSPACE_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|rest| {
            rest.trim_end_matches('/')
                .split('/')
                .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case(&["/workspace/source"], &[true])]
    #[case(&["/workspace/a/b/"], &[true])]
    #[case(&["/usr/local/bin"], &[false])]
    #[case(&["/workspace"], &[false])]
    #[case(&["/workspace/../usr/local/bin"], &[false])]
    #[case(&["/workspace/./x"], &[false])]
    #[case(&["/workspacex/y"], &[false])]
    #[case(&["/workspace/src/bin", "/workspace/src"], &[false, true])]
    #[case(&["/workspace/src/", "/workspace/src"], &[true, true])]
    #[case(&["/workspace/a-b/c", "/workspace/a/b", "/workspace/a", "/workspace/a-b"], &[false, false, true, true])]
    #[case(&["/workspace/a/b/c", "/workspace/a", "/workspace/a/x"], &[false, true, false])]
    fn what_a_template_may_be_given(#[case] paths: &[&str], #[case] safe: &[bool]) {
        assert_eq!(safe_for_template(paths), safe);
    }
}
