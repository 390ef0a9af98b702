// Package oracle holds the policy to Tekton's own code. For a case (a Task, a TaskRun, sidecars to
// declare, the cluster's Tekton config) it builds, with tektoncd/pipeline's packages, (a) the Pod for a
// Task that declares the sidecars and (b) the Pod for the same Task without them, whose TaskRun carries
// the declaration. The TaskRun of (b) goes through the compiled policy first, as it does in a cluster,
// then its Pod does; the Pod the policy gives must be (a). It is test code and never ships.
package oracle

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Prefix is the policy's default annotation prefix.
const Prefix = "pipelinerun-sidecars.io"

// PipelineTask is the pipeline task every case's TaskRun runs for.
const PipelineTask = "test"

// Case is one Task, one TaskRun of it and the sidecars declared for it.
type Case struct {
	Name     string
	Cluster  Cluster
	Task     v1.TaskSpec    // the Task as its author wrote it, with its own sidecars if any
	Declared []v1.Sidecar   // what the PipelineRun author declares in the annotation
	Run      v1.TaskRunSpec // the TaskRun's spec without taskRef or taskSpec
	Inline   bool           // the TaskRun embeds the Task (spec.taskSpec) instead of referring to it
	// TaskReadable: at Pod admission the policy can read the TaskRun and the Task it refers to from
	// the cluster; otherwise every read fails, as where the policy is not granted them.
	TaskReadable bool
	// Resolved: with TaskReadable, the TaskRun refers to its Task through the cluster resolver, and
	// what the policy can read is the ResolutionRequest Tekton leaves, holding the Task as YAML.
	Resolved bool
	// DefaultsReadable: the policy can read Tekton's config-defaults ConfigMap (at TaskRun and Pod
	// admission); otherwise that read fails.
	DefaultsReadable bool
	Settings         map[string]any // the policy's settings; nil for ones that admit every declared sidecar
}

// Result is what became of a case.
type Result struct {
	Want, Got *corev1.Pod // Tekton's Pod for the Task that declares the sidecars; the policy's Pod
	Refused   string      // the policy's message, when it refused the TaskRun or the Pod
	Warnings  []string
}

// ErrTektonRefuses is Run's error when Tekton refuses the Task that declares the sidecars itself: a
// generated case Tekton would not run, with nothing to compare. Any other error is the policy's.
var ErrTektonRefuses = errors.New("tekton refuses the Task that declares the sidecars")

// Run builds both Pods of a case and sends (b) through the policy.
func Run(ctx context.Context, policy *Policy, c Case) (Result, error) {
	tr, err := c.taskRun(c.Task)
	if err != nil {
		return Result{}, err
	}
	want, err := c.Cluster.BuildPod(c.Cluster.Defaulted(c.withDeclared(tr)), c.declaringTask())
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrTektonRefuses, err)
	}
	result := Result{Want: want}
	var held []any
	if c.DefaultsReadable {
		held = append(held, c.Cluster.defaultsConfigMap())
	}
	policy = policy.WithHost(Holding(held...))
	admitted, err := admit(ctx, policy, c, c.Cluster.Defaulted(tr), "TaskRun", &result)
	if err != nil || result.Refused != "" {
		return result, err
	}
	task := c.Task
	if c.Inline {
		task = *admitted.Spec.TaskSpec
	}
	pod, err := c.Cluster.BuildPod(admitted, task)
	if err != nil {
		return result, fmt.Errorf("tekton refuses the TaskRun the policy admitted: %w", err)
	}
	if c.TaskReadable && !c.Inline {
		stored := &v1.Task{
			TypeMeta:   metav1.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "Task"},
			ObjectMeta: metav1.ObjectMeta{Name: admitted.Spec.TaskRef.Name, Namespace: admitted.Namespace},
			Spec:       c.Task,
		}
		held = append(held, admitted, stored)
		if c.Resolved {
			if held, err = resolvedThrough(held, admitted, stored); err != nil {
				return result, err
			}
		}
		policy = policy.WithHost(Holding(held...))
	}
	result.Got, err = admit(ctx, policy, c, pod, "Pod", &result)
	return result, err
}

// resolvedThrough is what the cluster holds when run refers to task through the cluster resolver, in
// place of run and task (the last two of held): the TaskRun as stored, and the ResolutionRequest Tekton
// left for it, under the name Tekton gives it, its data the Task's YAML in base64
// (pkg/resolution/resource/crd_resource.go).
func resolvedThrough(held []any, run *v1.TaskRun, task *v1.Task) ([]any, error) {
	run = run.DeepCopy()
	params := v1.Params{
		{Name: "kind", Value: *v1.NewStructuredValues("task")},
		{Name: "name", Value: *v1.NewStructuredValues(task.Name)},
		{Name: "namespace", Value: *v1.NewStructuredValues(task.Namespace)},
	}
	run.Spec.TaskRef = &v1.TaskRef{ResolverRef: v1.ResolverRef{Resolver: "cluster", Params: params}}
	name, err := requestName("cluster", run, params)
	if err != nil {
		return nil, err
	}
	text, err := yaml.Marshal(task)
	if err != nil {
		return nil, err
	}
	request := map[string]any{
		"apiVersion": "resolution.tekton.dev/v1beta1", "kind": "ResolutionRequest",
		"metadata": map[string]any{"name": name, "namespace": run.Namespace},
		"status":   map[string]any{"data": base64.StdEncoding.EncodeToString(text)},
	}
	return append(held[:len(held)-2], run, request), nil
}

// Holding is a Host that answers kubewarden/kubernetes/get_resource from objects, each found by its
// apiVersion, kind, namespace and name, and fails any other call, and a read of anything else with
// policy-evaluator's message.
func Holding(objects ...any) Host {
	return func(_ context.Context, binding, namespace, operation string, payload []byte) ([]byte, error) {
		if binding != "kubewarden" || namespace != "kubernetes" || operation != "get_resource" {
			return nil, fmt.Errorf("host capability %s/%s/%s is not served", binding, namespace, operation)
		}
		var want struct {
			APIVersion string `json:"api_version"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
			Namespace  string `json:"namespace"`
		}
		if err := json.Unmarshal(payload, &want); err != nil {
			return nil, err
		}
		for _, object := range objects {
			text, err := json.Marshal(object)
			if err != nil {
				return nil, err
			}
			var head struct {
				metav1.TypeMeta   `json:",inline"`
				metav1.ObjectMeta `json:"metadata"`
			}
			if err := json.Unmarshal(text, &head); err != nil {
				return nil, err
			}
			if head.APIVersion == want.APIVersion && head.Kind == want.Kind && head.Namespace == want.Namespace && head.Name == want.Name {
				return text, nil
			}
		}
		return nil, fmt.Errorf("Cannot find %s/%s named '%s' inside of namespace 'Some(%q)'", // policy-evaluator's words
			want.APIVersion, want.Kind, want.Name, want.Namespace)
	}
}

// declaringTask is the Task with the declared sidecars in it: a declared name new to the Task is added
// after its own sidecars, one it has replaces that sidecar (the design's override).
func (c Case) declaringTask() v1.TaskSpec {
	task := *c.Task.DeepCopy()
	for _, declared := range c.Declared {
		replaced := false
		for i := range task.Sidecars {
			if task.Sidecars[i].Name == declared.Name {
				task.Sidecars[i], replaced = declared, true
			}
		}
		if !replaced {
			task.Sidecars = append(task.Sidecars, declared)
		}
	}
	return task
}

// taskRun is the TaskRun Tekton's PipelineRun reconciler creates for pipeline task "test", carrying
// the declaration as Tekton carries a PipelineRun's annotations.
func (c Case) taskRun(task v1.TaskSpec) (*v1.TaskRun, error) {
	declaration, err := json.Marshal(c.Declared)
	if err != nil {
		return nil, err
	}
	tr := &v1.TaskRun{
		TypeMeta: metav1.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "TaskRun"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "run-test", Namespace: "default", UID: "11111111-2222-4333-8444-555555555555",
			Labels: map[string]string{
				"tekton.dev/pipeline": "run", "tekton.dev/pipelineRun": "run",
				"tekton.dev/pipelineTask": PipelineTask, "tekton.dev/memberOf": "tasks",
			},
			Annotations: map[string]string{Prefix + "/" + PipelineTask: string(declaration)},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: "run",
				UID: "66666666-7777-4888-9999-000000000000", Controller: ptr(true), BlockOwnerDeletion: ptr(true),
			}},
		},
		Spec: *c.Run.DeepCopy(),
	}
	if c.Inline {
		tr.Spec.TaskSpec = task.DeepCopy()
	} else {
		tr.Spec.TaskRef = &v1.TaskRef{Name: "task"}
	}
	return tr, nil
}

func (c Case) withDeclared(tr *v1.TaskRun) *v1.TaskRun {
	if c.Inline {
		tr = tr.DeepCopy()
		task := c.declaringTask()
		tr.Spec.TaskSpec = &task
	}
	return tr
}

func (c Case) settings() map[string]any {
	if c.Settings != nil {
		return c.Settings
	}
	// The admin keeps injectAs in step with what Tekton does (docs/settings.md): native sidecars when
	// enable-kubernetes-sidecar is on and Kubernetes is 1.29 or later (pkg/pod IsNativeSidecarSupport).
	injectAs := "container"
	if c.Cluster.native() {
		injectAs = "native"
	}
	return map[string]any{
		"allowedImages": []string{"**"}, "podSecurity": "privileged", "injectAs": injectAs,
	}
}

// admit sends object through the policy as a CREATE, the way the API server's webhook call carries it,
// and returns the object the policy admits (itself when unchanged).
func admit[T any](ctx context.Context, policy *Policy, c Case, object *T, kind string, result *Result) (*T, error) {
	group, resource := "tekton.dev", "taskruns"
	if kind == "Pod" {
		group, resource = "", "pods"
	}
	body, err := json.Marshal(object)
	if err != nil {
		return nil, err
	}
	if kind == "Pod" {
		body = withTypeMeta(body, "v1", "Pod")
	}
	request := map[string]any{
		"uid":       "oracle",
		"kind":      map[string]string{"group": group, "version": "v1", "kind": kind},
		"resource":  map[string]string{"group": group, "version": "v1", "resource": resource},
		"name":      "run-test",
		"namespace": "default",
		"operation": "CREATE",
		"userInfo":  map[string]any{"username": "system:serviceaccount:tekton-pipelines:tekton-pipelines-controller"},
		"object":    json.RawMessage(body),
	}
	response, err := policy.Validate(ctx, request, c.settings())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	result.Warnings = append(result.Warnings, response.Warnings...)
	if !response.Accepted {
		if response.Message != nil {
			result.Refused = *response.Message
		}
		return nil, nil
	}
	if len(response.MutatedObject) == 0 || string(response.MutatedObject) == "null" {
		return object, nil
	}
	var admitted T
	decoder := json.NewDecoder(bytes.NewReader(response.MutatedObject))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&admitted); err != nil {
		return nil, fmt.Errorf("the policy's %s is not a %s: %w", kind, kind, err)
	}
	return &admitted, nil
}

// withTypeMeta adds apiVersion and kind, which Tekton's builder leaves empty and the API server fills.
func withTypeMeta(body []byte, apiVersion, kind string) []byte {
	var object map[string]json.RawMessage
	if json.Unmarshal(body, &object) != nil {
		return body
	}
	object["apiVersion"], _ = json.Marshal(apiVersion)
	object["kind"], _ = json.Marshal(kind)
	out, err := json.Marshal(object)
	if err != nil {
		return body
	}
	return out
}

// PolicyAnnotations are the annotations the policy itself writes on the objects it admits: they are
// the record of what it did (docs/settings.md, "Warnings and audit annotations"), not part of the Pod Tekton
// builds, so the comparison leaves them out.
var PolicyAnnotations = []string{Prefix + "/injected", Prefix + "/taskrun.json"}

// Comparable is a Pod as TestPodBuild compares one: volumes and volume mounts as sets (its volumeSort
// and volumeMountSort), and without the policy's own annotations.
func Comparable(pod *corev1.Pod) *corev1.Pod {
	pod = pod.DeepCopy()
	// Tekton's builder leaves them empty; the API server fills them.
	pod.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	for _, key := range PolicyAnnotations {
		delete(pod.Annotations, key)
	}
	sort.SliceStable(pod.Spec.Volumes, func(i, j int) bool {
		return pod.Spec.Volumes[i].Name < pod.Spec.Volumes[j].Name
	})
	for _, containers := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range containers {
			mounts := containers[i].VolumeMounts
			sort.SliceStable(mounts, func(a, b int) bool { return mounts[a].Name < mounts[b].Name })
		}
	}
	return pod
}

func ptr[T any](v T) *T { return &v }

// summary is the first lines of a message, for a report that stays readable.
func summary(text string, lines int) string {
	parts := strings.SplitN(text, "\n", lines+1)
	if len(parts) > lines {
		parts = append(parts[:lines], "...")
	}
	return strings.Join(parts, "\n")
}
