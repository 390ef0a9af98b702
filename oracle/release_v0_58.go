//go:build tekton_v0_58

package oracle

import (
	podtemplate "github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/resolution/resource"
)

// Release is the tektoncd/pipeline release go.tekton-v0.58.mod requires.
const Release = "v0.58.0"

// nativeSidecars: enable-kubernetes-sidecar came with v0.62; v0.58 runs every sidecar as a container.
func nativeSidecars(int) bool { return false }

// applyPodTemplate: v0.58's createPod substitutes nothing in the pod template.
func applyPodTemplate(tr *v1.TaskRun, _ v1.ParamSpecs) *podtemplate.Template {
	return tr.Spec.PodTemplate
}

// applyArtifacts: v0.58 has no artifacts.
func applyArtifacts(ts *v1.TaskSpec) *v1.TaskSpec { return ts }

// requestName: v0.58's buildRequest (pkg/remote/resolution/resolver.go) hashes the same, and does not
// cut a long resolver name.
func requestName(resolver string, tr *v1.TaskRun, params v1.Params) (string, error) {
	return resource.GenerateDeterministicName(resolver, tr.Namespace+"/"+tr.Name, params)
}
