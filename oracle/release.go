//go:build !tekton_v0_58

package oracle

import (
	podtemplate "github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/pod"
	"github.com/tektoncd/pipeline/pkg/reconciler/taskrun/resources"
)

// Release is the tektoncd/pipeline release go.mod requires. The oracle also builds against v0.58.0,
// the last release that names workspace volumes at random (go.tekton-v0.58.mod, tag tekton_v0_58);
// this file and release_v0_58.go hold what the two releases' APIs do differently.
const Release = "v1.15.0"

// nativeSidecars follows IsNativeSidecarSupport (pkg/pod/pod.go).
func nativeSidecars(minor int) bool { return minor >= pod.SidecarK8sMinorVersionCheck }

func applyPodTemplate(tr *v1.TaskRun, params v1.ParamSpecs) *podtemplate.Template {
	return resources.ApplyPodTemplateReplacements(tr.Spec.PodTemplate, tr, params...)
}

func applyArtifacts(ts *v1.TaskSpec) *v1.TaskSpec { return resources.ApplyArtifacts(ts) }
