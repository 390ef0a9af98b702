package oracle

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/reconciler/taskrun"
	"github.com/tektoncd/pipeline/pkg/reconciler/taskrun/resources"
	corev1 "k8s.io/api/core/v1"
)

// A SubstitutionCase is an inline TaskRun written as JSON, so that it can hold what Go's types would
// never write (a null in a list, a param without a value, a number where a string belongs, a key
// holding ")"), with a declared sidecar whose image and volume mount names are made of Tekton variables.
// Tekton reads the TaskRun with Go's decoder, as it reads it from the API server.
type SubstitutionCase struct {
	TaskRun map[string]any
	Sidecar map[string]any
}

// The settings of the two evaluations of a case: one that admits any image (to see what the policy
// injects and Tekton then runs), one that admits none (to read, from the refusal, the image the policy
// judged). Both hold volumes to the baseline level, which refuses a hostPath volume.
var (
	admitAnyImage = map[string]any{"allowedImages": []string{"**"}, "podSecurity": "baseline"}
	admitNoImage  = map[string]any{"allowedImages": []string{"nothing.invalid/none"}, "podSecurity": "baseline"}
)

// judged reads the image the policy judged from its refusal under admitNoImage.
var judged = regexp.MustCompile(`image: "(?:[^"\\]|\\.)*" is ("(?:[^"\\]|\\.)*") in this TaskRun`)

// RunSubstitution evaluates a case and returns its outcome: "same image" when the image the policy
// judged is the image of the sidecar container in the Pod Tekton builds from what the policy admitted,
// "refused: <why>" or "tekton refuses". An error is a difference: the policy admitted a sidecar whose
// image, or a volume it mounts, is not what it judged.
func RunSubstitution(ctx context.Context, policy *Policy, c SubstitutionCase) (string, error) {
	response, err := policy.Validate(ctx, taskRunRequest(c.TaskRun), admitAnyImage)
	if err != nil {
		return "", err
	}
	if !response.Accepted {
		return "refused: " + reason(response.Message), nil
	}
	var admitted v1.TaskRun
	if err := json.Unmarshal(response.MutatedObject, &admitted); err != nil {
		return "", fmt.Errorf("the policy's TaskRun: %w", err)
	}
	cluster := Cluster{}
	pod, err := tektonPod(cluster, cluster.Defaulted(&admitted))
	// The policy judges an image without a variable as written.
	written, _ := c.Sidecar["image"].(string)
	if err != nil {
		return "tekton refuses", nil
	}
	name, _ := c.Sidecar["name"].(string)
	container := findContainer(pod.Spec.Containers, "sidecar-"+name)
	if container == nil {
		return "", fmt.Errorf("no container sidecar-%s in Tekton's Pod", name)
	}
	if err := mountsAllowed(container, pod.Spec.Volumes); err != nil {
		return "", err
	}
	// An image containerd cannot read runs nothing: Tekton v0.58 leaves a default's
	// $(params.x) in place, where v1.15 resolves it (replacementsFromDefaultParams).
	if _, err := reference.ParseDockerRef(container.Image); err != nil {
		return "Tekton's image cannot be pulled", nil
	}
	strict, err := policy.Validate(ctx, taskRunRequest(c.TaskRun), admitNoImage)
	if err != nil {
		return "", err
	}
	message := ""
	if strict.Message != nil {
		message = *strict.Message
	}
	image := written
	if strings.Contains(written, "$(") {
		found := judged.FindStringSubmatch(message)
		if strict.Accepted || found == nil {
			return "", fmt.Errorf("admitting no image, the policy answered %q, not the image it judged", message)
		}
		if err := json.Unmarshal([]byte(found[1]), &image); err != nil {
			return "", fmt.Errorf("the judged image %s: %w", found[1], err)
		}
	}
	if image != container.Image {
		return "", fmt.Errorf("the policy judged the image %q, and Tekton runs %q", image, container.Image)
	}
	return "same image", nil
}

// tektonPod is the Pod Tekton's reconciler builds for tr, after the checks it makes first
// (pkg/reconciler/taskrun/taskrun.go prepare: ValidateResolvedTask, ValidateEnumParam,
// ValidateParamArrayIndex) and the TaskRun validation of its webhook.
func tektonPod(cluster Cluster, tr *v1.TaskRun) (*corev1.Pod, error) {
	ctx := cluster.context()
	// On a copy: Validate writes a Task's object defaults into the TaskRun's own values (combineParamSpec
	// in pkg/apis/pipeline/v1/taskrun_validation.go shares the map), and the webhook's copy is dropped.
	if err := tr.DeepCopy().Validate(ctx); err != nil {
		return nil, err
	}
	spec := tr.Spec.TaskSpec
	resolved := &resources.ResolvedTask{TaskName: tr.Name, TaskSpec: spec}
	if err := taskrun.ValidateResolvedTask(ctx, tr.Spec.Params, &v1.Matrix{}, resolved); err != nil {
		return nil, err
	}
	if err := taskrun.ValidateEnumParam(ctx, tr.Spec.Params, spec.Params); err != nil {
		return nil, err
	}
	if err := resources.ValidateParamArrayIndex(spec, tr.Spec.Params); err != nil {
		return nil, err
	}
	return cluster.BuildPod(tr, *spec)
}

func findContainer(containers []corev1.Container, name string) *corev1.Container {
	for i := range containers {
		if containers[i].Name == name {
			return &containers[i]
		}
	}
	return nil
}

// mountsAllowed is what the policy promises of a sidecar it admits at the baseline level: no volume
// internal to Tekton, no hostPath volume.
func mountsAllowed(container *corev1.Container, volumes []corev1.Volume) error {
	for _, mount := range container.VolumeMounts {
		if strings.HasPrefix(mount.Name, "tekton-internal-") {
			return fmt.Errorf("the policy admitted a sidecar that Tekton gives the volume %q", mount.Name)
		}
		for _, volume := range volumes {
			if volume.Name == mount.Name && volume.HostPath != nil {
				return fmt.Errorf("the policy admitted a sidecar that Tekton gives the hostPath volume %q", mount.Name)
			}
		}
	}
	return nil
}

// reason names the kind of a refusal, for the tally.
func reason(message *string) string {
	if message == nil {
		return "no message"
	}
	for _, kind := range []string{"cannot resolve", "order of a Go map", "internal to Tekton", "hostPath",
		"more than 1000 params", "declares no workspace", "is not a valid"} {
		if strings.Contains(*message, kind) {
			return kind
		}
	}
	return summary(*message, 1)
}

// taskRunRequest is the AdmissionRequest that creates tr, as the webhook call carries it.
func taskRunRequest(tr map[string]any) map[string]any {
	return map[string]any{
		"uid":       "oracle-substitution",
		"kind":      map[string]string{"group": "tekton.dev", "version": "v1", "kind": "TaskRun"},
		"resource":  map[string]string{"group": "tekton.dev", "version": "v1", "resource": "taskruns"},
		"name":      "run-test",
		"namespace": "default",
		"operation": "CREATE",
		"userInfo":  map[string]any{"username": "system:serviceaccount:tekton-pipelines:tekton-pipelines-controller"},
		"object":    tr,
	}
}

// GenerateSubstitution makes a random case from r: the Task's params (a string, one whose default
// references others or itself, across a line break or not, an array, an object) and the TaskRun's
// values for some of them (strings, lists with nulls or numbers, mappings with odd keys, nulls, no
// value at all); a workspace with or without its own mountPath, which the sidecar, or a Task sidecar it
// replaces, may list with a path of its own; and a sidecar image and volume mount made of fragments and
// variables of every kind the policy resolves.
func GenerateSubstitution(r *rand.Rand) SubstitutionCase {
	g := generator{r: r}
	sidecar := map[string]any{"name": "db", "image": g.image()}
	if g.chance(3) {
		sidecar["volumeMounts"] = []any{map[string]any{"name": g.pick("$(params.vol)", "$(params.obj.a)",
			"$(workspaces.source.volume)", "scratch", "$(params.ref)"), "mountPath": "/v"}}
	}
	if g.chance(3) {
		usage := map[string]any{"name": "source"}
		if g.chance(2) {
			usage["mountPath"] = g.pick("/library/postgres", "/evil", "/$(params.ns)")
		}
		sidecar["workspaces"] = []any{usage}
	}
	declaration, _ := json.Marshal([]any{sidecar})
	spec := map[string]any{
		"params":     g.taskParams(),
		"workspaces": []any{g.workspace()},
		"steps":      []any{map[string]any{"name": "s", "image": "step-image", "command": []any{"cmd"}}},
		"volumes": []any{
			map[string]any{"name": "scratch", "emptyDir": map[string]any{}},
			map[string]any{"name": "host", "hostPath": map[string]any{"path": "/var/run"}},
		},
	}
	if g.chance(3) {
		own := map[string]any{"name": "db", "image": "task-sidecar-image"}
		if g.chance(2) {
			own["workspaces"] = []any{map[string]any{"name": "source", "mountPath": g.pick("/library/redis", "/evil")}}
		}
		spec["sidecars"] = []any{own}
	}
	tr := map[string]any{
		"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
		"metadata": map[string]any{
			"name": "run-test", "namespace": "default",
			"labels":      map[string]any{"tekton.dev/pipelineTask": PipelineTask},
			"annotations": map[string]any{Prefix + "/" + PipelineTask: string(declaration)},
		},
		"spec": map[string]any{
			"params":     g.runParams(),
			"workspaces": []any{map[string]any{"name": "source", "emptyDir": map[string]any{}}},
			"taskSpec":   spec,
		},
	}
	return SubstitutionCase{TaskRun: tr, Sidecar: sidecar}
}

// image is one to three fragments: literal text or a variable.
func (g generator) image() string {
	fragments := []string{
		"docker.io/library/postgres:16", "evil.example.com/miner:1", "/", ":7", "docker.io",
		"$(params.reg)", "$(params.ns)", "$(params.ref)", "$(params.arr[0])", "$(params.arr[1])",
		"$(params.obj.a)", "$(params.obj.b)", "$(params.obj.a)$(params.obj.b)", `$(params["reg"])`,
		"$(params['ns'])", "$(inputs.params.reg)", "$(params.extra)", "$(workspaces.source.path)",
		"$(context.taskRun.name)", "$(context.task.name)", "$(params.nope)",
	}
	image := ""
	for i := 0; i <= g.r.Intn(3); i++ {
		image += g.pick(fragments...)
	}
	return image
}

func (g generator) taskParams() []any {
	refs := []string{"$(params.reg)/$(params.ns)", "$(params.reg)/$(params.ref)", "$(params.ns)\n$(params.reg)",
		"$(params.reg)/$(params.ns" + "\n)", `$(params["reg"])/$(params.ns)`, "$(params.obj.a)", "plain"}
	return []any{
		map[string]any{"name": "reg", "type": "string", "default": g.pick("docker.io", "evil.example.com", "$(params.ns)")},
		map[string]any{"name": "ns", "type": "string", "default": g.pick("library", "miner")},
		map[string]any{"name": "ref", "type": "string", "default": g.pick(refs...)},
		map[string]any{"name": "vol", "type": "string", "default": g.pick("scratch", "tekton-internal-bin", "host")},
		map[string]any{"name": "arr", "type": "array", "default": []any{"postgres:16", "redis:7"}},
		map[string]any{"name": "obj", "type": "object",
			"properties": map[string]any{"a": map[string]any{"type": "string"}, "b": map[string]any{"type": "string"}},
			"default":    map[string]any{"a": "docker.io/library/postgres", "b": ":16"}},
	}
}

// runParams are the TaskRun's values, some of the odd kinds Go's decoder reads its own way.
func (g generator) runParams() []any {
	var params []any
	texts := []any{"docker.io", "evil.example.com", "library", "miner", "$(params.ns)", "host",
		"tekton-internal-bin", "$(workspaces.source.path)", "$(context.taskRun.name)", "", nil}
	add := func(name string, value any, present bool) {
		param := map[string]any{"name": name}
		if present {
			param["value"] = value
		}
		params = append(params, param)
	}
	for _, name := range []string{"reg", "ns", "ref", "vol", "extra"} {
		if g.chance(2) {
			add(name, texts[g.r.Intn(len(texts))], !g.chance(8))
		}
	}
	if g.chance(2) {
		arrays := []any{[]any{"evil.example.com/miner:1", nil}, []any{nil, "redis:7"}, []any{"a", 1},
			[]any{"postgres:16"}, []any{}, "evil.example.com/miner:1"}
		add("arr", arrays[g.r.Intn(len(arrays))], true)
	}
	if g.chance(2) {
		objects := []any{
			map[string]any{"a": "evil.example.com/miner", "b": nil},
			map[string]any{"a": "docker.io/library/redis", "b": ":7", "a)$(params.obj.b": "evil.example.com/miner:1"},
			map[string]any{"a": "x", "b": "y", "a$(params.ns": "evil"},
			map[string]any{"a": 1, "b": ":1"},
			map[string]any{"a": "$(params.reg)", "b": "/x"},
		}
		add("obj", objects[g.r.Intn(len(objects))], true)
	}
	return params
}

func (g generator) workspace() map[string]any {
	w := map[string]any{"name": "source"}
	if g.chance(2) {
		w["mountPath"] = g.pick("/workspace/source", "/library/redis", "/$(params.ns)")
	}
	return w
}
