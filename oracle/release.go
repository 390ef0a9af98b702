//go:build !tekton_v0_58

package oracle

import (
	podtemplate "github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/resolution/v1beta1"
	"github.com/tektoncd/pipeline/pkg/pod"
	"github.com/tektoncd/pipeline/pkg/reconciler/taskrun/resources"
	"github.com/tektoncd/pipeline/pkg/resolution/resource"
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

// requestName is the name of the ResolutionRequest Tekton makes for tr's taskRef through resolver with
// params (GetNameAndNamespace in pkg/resolution/resource/name.go).
func requestName(resolver string, tr *v1.TaskRun, params v1.Params) (string, error) {
	name, _, err := resource.GetNameAndNamespace(resolver, tr, tr.Name, tr.Namespace,
		&v1beta1.ResolutionRequestSpec{Params: params})
	return name, err
}
