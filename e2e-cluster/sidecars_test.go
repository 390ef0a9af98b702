package cluster

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// goTest stands in for the hub's golang-test: a namespaced Task with a param default, a workspace
// mounted where mountPath says (Tekton's /workspace/source when it is empty), and its steps.
func goTest(name, mountPath string, steps int, sidecars string) string {
	return `
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: ` + name + `}
spec:
` + indent(taskSpec(mountPath, steps, sidecars), 2) + "\n"
}

// taskSpec is goTest's spec: steps steps, the first a build when there are two.
func taskSpec(mountPath string, steps int, sidecars string) string {
	spec := `
params: [{name: package, default: ./...}]
workspaces: [{name: source, mountPath: "` + mountPath + `"}]
steps:`
	if steps == 2 {
		spec += `
  - name: build
    image: docker.io/library/golang:1.23
    workingDir: $(workspaces.source.path)
    script: go build $(params.package)`
	}
	spec += `
  - name: unit-test
    image: docker.io/library/golang:1.23
    workingDir: $(workspaces.source.path)
    script: go test $(params.package)
`
	if sidecars != "" {
		spec += "sidecars:\n" + indent(sidecars, 2) + "\n"
	}
	return spec
}

// postgres is the README's sidecar, with the resources deploy/'s defaultResources give a sidecar that
// has none, so that the Task declaring it is what the policy builds.
const postgres = `
- name: postgres
  image: postgres:14
  env:
    - {name: POSTGRES_DB, value: foobar}
    - {name: POSTGRES_HOST_AUTH_METHOD, value: trust}
  readinessProbe:
    exec: {command: [pg_isready, -h, 127.0.0.1]}
  computeResources:
    requests: {cpu: 100m, memory: 128Mi}
`

// postgresWithVariables is postgres written with the variables Tekton substitutes in a Task's sidecar:
// a param's default, the TaskRun's and the Task's names, the workspace's path.
const postgresWithVariables = `
- name: postgres
  image: postgres:14
  env:
    - {name: POSTGRES_DB, value: "$(params.package)"}
    - {name: RUN, value: "$(context.taskRun.name) of $(context.task.name) in $(context.taskRun.namespace)"}
    - {name: PGDATA, value: "$(workspaces.source.path)/pg"}
  readinessProbe:
    exec: {command: [pg_isready, -h, 127.0.0.1]}
  computeResources:
    requests: {cpu: 100m, memory: 128Mi}
`

// indent is text with every line indented by n spaces.
func indent(text string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(strings.TrimSpace(text), "\n", "\n"+pad)
}

// pipeline is a Pipeline named name whose task "test" uses the Task named task with its workspace.
func pipeline(name, task string) string {
	return `
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: ` + name + `}
spec:
  workspaces: [{name: source}]
  tasks:
    - name: test
      taskRef: {name: ` + task + `}
      workspaces: [{name: source, workspace: source}]
`
}

// byRef is the Pipeline named name whose task "test" uses the Task named task, and its PipelineRun,
// named run, with a declaration for "test" when declared is not empty.
func byRef(name, task, run, declared string) string {
	return pipeline(name, task) + "---\n" + pipelineRun(run, name, declared, "")
}

// The README's example on a real cluster: a PipelineRun whose pipelineRef names a Pipeline whose task
// uses a namespaced Task gets, from Tekton's controller and the policy, the Pod that Tekton's
// controller builds for the same Task declaring the sidecar, whole, and without a warning. The policy
// reads the Pod's TaskRun and its Task through deploy/rbac.yaml's account: a one-step Task's shared and
// isolated workspace look alike in its Pod, and only the Task tells them apart; and the variables Tekton
// substitutes in a Task's sidecar, the policy substitutes from them.
func TestPipelineRefTaskRunsAsIfTheTaskDeclaredTheSidecar(t *testing.T) {
	for _, c := range []struct {
		name, mountPath string
		steps           int
		// isolated: the last step lists the workspace (the CRD wants its mountPath), so Tekton mounts it
		// into no sidecar.
		isolated bool
		sidecar  string // the declared sidecar; postgres when empty
	}{
		{name: "two-steps-workspace-at-its-default-path", steps: 2},
		{name: "two-steps-workspace-at-a-declared-mountpath", steps: 2, mountPath: "/go/src"},
		{name: "one-step-workspace-at-its-default-path", steps: 1},
		{name: "one-step-workspace-at-a-declared-mountpath", steps: 1, mountPath: "/go/src"},
		{name: "one-step-workspace-the-step-lists", steps: 1, mountPath: "/go/src", isolated: true},
		{name: "one-step-variables", steps: 1, mountPath: "/go/src", sidecar: postgresWithVariables},
	} {
		t.Run(c.name, func(t *testing.T) {
			annotated, declaring := c.name+"-annotated", c.name+"-declaring"
			task := func(name, sidecars string) string {
				text := goTest(name, c.mountPath, c.steps, sidecars)
				if c.isolated {
					// goTest's steps are indented by 6 spaces.
					text = strings.Replace(text, "script: go test $(params.package)\n",
						"script: go test $(params.package)\n      workspaces: [{name: source, mountPath: /go/src}]\n", 1)
				}
				return text
			}
			sidecar := c.sidecar
			if sidecar == "" {
				sidecar = postgres
			}
			create(t, task(annotated, "")+"---"+task(declaring, sidecar)+"---"+
				byRef(annotated, annotated, annotated, sidecar)+"---"+byRef(declaring, declaring, declaring, ""))
			got, want := podOf(t, annotated, "test"), podOf(t, declaring, "test")
			assertTektonsPod(t, got, want, strings.NewReplacer(annotated, declaring))
			marked := taskRunOf(t, annotated, "test")
			if value, ok := marked.GetAnnotations()["pipelinerun-sidecars.io/injected"]; ok {
				t.Errorf("a TaskRun from a taskRef has nothing injected, yet its marker says %q", value)
			}
			if value := got.GetAnnotations()["pipelinerun-sidecars.io/injected"]; value != "postgres" {
				t.Errorf("the Pod's marker says %q, want %q", value, "postgres")
			}
		})
	}
}

// A Task that comes through a resolver, on a real cluster: Tekton's controller asks Tekton's cluster
// resolver for it through a ResolutionRequest, and the policy reads that request, under the name Tekton
// gave it, through deploy/rbac.yaml's account. The one-step Task with a declared mountPath (the case a
// Pod cannot tell) and variables: the Pod equals, whole and without a warning, the one Tekton's controller
// builds for the resolved Task that declares the sidecar.
func TestResolvedTaskRunsAsIfTheTaskDeclaredTheSidecar(t *testing.T) {
	resolved := func(name, declared string) string {
		return `
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: ` + name + `}
spec:
  workspaces: [{name: source}]
  tasks:
    - name: test
      taskRef:
        resolver: cluster
        params:
          - {name: kind, value: task}
          - {name: name, value: ` + name + `}
          - {name: namespace, value: ` + namespace + `}
      workspaces: [{name: source, workspace: source}]
---
` + pipelineRun(name, name, declared, "")
	}
	create(t, goTest("resolved-annotated", "/go/src", 1, "")+"---"+
		goTest("resolved-declaring", "/go/src", 1, postgresWithVariables)+"---"+
		resolved("resolved-annotated", postgresWithVariables)+"---"+resolved("resolved-declaring", ""))
	got, want := podOf(t, "resolved-annotated", "test"), podOf(t, "resolved-declaring", "test")
	requests, err := resource(suite.client, "ResolutionRequest", namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(requests.Items) < 2 {
		t.Fatalf("Tekton's controller made no ResolutionRequests (%v): %v", err, requests)
	}
	assertTektonsPod(t, got, want, strings.NewReplacer("resolved-annotated", "resolved-declaring"))
}

// An inline Task of an inline Pipeline: the policy merges the sidecar into the TaskRun's taskSpec, the
// TaskRun records it in its marker, and Tekton's controller builds the Pod itself, the same as for the
// Task that declares the sidecar: with one step and a declared mountPath, the case a Pod cannot tell.
func TestInlineSpecsRunAsIfTheTaskDeclaredTheSidecar(t *testing.T) {
	inline := func(run, annotations, sidecars string) string {
		return `
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: ` + run + `
  annotations: ` + annotations + `
spec:
  workspaces: [{name: source, emptyDir: {}}]
  pipelineSpec:
    workspaces: [{name: source}]
    tasks:
      - name: test
        workspaces: [{name: source, workspace: source}]
        taskSpec:
` + indent(taskSpec("/go/src", 1, sidecars), 10) + "\n"
	}
	create(t, inline("inline-annotated", "\n    pipelinerun-sidecars.io/test: |\n"+indent(postgres, 6), "")+"---"+
		inline("inline-declaring", "{}", postgres))
	taskRun := taskRunOf(t, "inline-annotated", "test")
	if value := taskRun.GetAnnotations()["pipelinerun-sidecars.io/injected"]; value != "postgres" {
		t.Errorf("the TaskRun's marker says %q, want %q", value, "postgres")
	}
	assertSameSpec(t, podOf(t, "inline-annotated", "test"), podOf(t, "inline-declaring", "test"),
		strings.NewReplacer("inline-annotated", "inline-declaring"))
}

// serviceAccountVolume is the name the API server's ServiceAccount admission gives the Pod's token
// volume, with a random suffix.
var serviceAccountVolume = regexp.MustCompile(`kube-api-access-[a-z0-9]{5}`)

// scriptName is the name Tekton gives a step's script file, with a random suffix
// (`names.SimpleNameGenerator` in pkg/pod/script.go).
var scriptName = regexp.MustCompile(`(/tekton/scripts/script-[0-9]+)-[a-z0-9]{5}`)

// assertTektonsPod holds the Pod the policy mutated (got) to Tekton's Pod for the Task that declares the
// sidecar (want), whole, once the names are replaced: it reached the policy, with no warning.
func assertTektonsPod(t *testing.T, got, want *unstructured.Unstructured, names *strings.Replacer) {
	t.Helper()
	verdict, ok := suite.server.verdict("Pod", got.GetName())
	if !ok {
		t.Fatalf("the Pod %s never reached the policy", got.GetName())
	}
	if len(verdict.Warnings) > 0 {
		t.Errorf("the Pod's warnings: %q", verdict.Warnings)
	}
	assertSameSpec(t, got, want, names)
}

// assertSameSpec compares two Pods' specs, once the names of got's run are replaced by want's.
func assertSameSpec(t *testing.T, got, want *unstructured.Unstructured, names *strings.Replacer) {
	t.Helper()
	normal := func(pod *unstructured.Unstructured, names *strings.Replacer) any {
		text, err := json.Marshal(pod.Object["spec"])
		if err != nil {
			t.Fatal(err)
		}
		text = serviceAccountVolume.ReplaceAll([]byte(names.Replace(string(text))), []byte("kube-api-access"))
		text = scriptName.ReplaceAll(text, []byte("$1"))
		var spec any
		if err := json.Unmarshal(text, &spec); err != nil {
			t.Fatal(err)
		}
		return spec
	}
	if diff := cmp.Diff(normal(want, strings.NewReplacer()), normal(got, names)); diff != "" {
		t.Errorf("Pod %s differs from Tekton's Pod %s for the Task declaring the sidecar (-Tekton +policy):\n%s",
			got.GetName(), want.GetName(), diff)
	}
}

// injectAs "tekton" on a cluster whose Tekton runs with enable-kubernetes-sidecar: the policy reads the
// flag from Tekton's feature-flags, through deploy/rbac.yaml's Role, and injects a native sidecar, the
// one Tekton's controller builds for the Task that declares it.
func TestInjectAsTektonFollowsTheFeatureFlag(t *testing.T) {
	flagged(t, "enable-kubernetes-sidecar", "true")
	tekton := func(settings map[string]any) { settings["injectAs"] = "tekton" }
	withSettings(t, injectPolicy, tekton)
	withSettings(t, validatePolicy, tekton)
	create(t, goTest("native-annotated", "", 2, "")+"---"+goTest("native-declaring", "", 2, postgres)+"---"+
		byRef("native-annotated", "native-annotated", "native-annotated", postgres)+"---"+
		byRef("native-declaring", "native-declaring", "native-declaring", ""))
	want := podOf(t, "native-declaring", "test")
	if !slices.Contains(containerNames(*want, "initContainers"), "sidecar-postgres") {
		t.Fatalf("Tekton's controller did not make the Task's sidecar native: %v", containerNames(*want, "initContainers"))
	}
	assertSameSpec(t, podOf(t, "native-annotated", "test"), want,
		strings.NewReplacer("native-annotated", "native-declaring"))
}

// config-defaults on a real cluster: Tekton binds the workspace a PipelineRun leaves unbound
// (default-task-run-workspace-binding) and gives a sidecar without resources the cluster's
// (default-container-resource-requirements). The policy reads both through deploy/rbac.yaml's Role, with
// defaultContainerResourceRequirements "tekton" and no defaultResources, and the Pod-level sidecar is,
// whole and without a warning, the one Tekton's controller builds for the Task that declares it.
func TestConfigDefaultsFollowTheCluster(t *testing.T) {
	configured(t, "config-defaults", map[string]string{
		"default-task-run-workspace-binding":      "emptyDir: {}",
		"default-container-resource-requirements": "prefix-sidecar:\n  requests: {cpu: 50m, memory: 32Mi}\n",
	})
	tekton := func(settings map[string]any) {
		settings["defaultContainerResourceRequirements"] = "tekton"
		settings["defaultResources"] = map[string]any{}
	}
	withSettings(t, injectPolicy, tekton)
	withSettings(t, validatePolicy, tekton)
	sidecar := postgres[:strings.Index(postgres, "  computeResources:")]
	unbound := func(name, declared string) string {
		return `
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: ` + name + `}
spec:
  tasks:
    - name: test
      taskRef: {name: ` + name + `}
---
` + strings.Replace(pipelineRun(name, name, declared, ""), "  workspaces: [{name: source, emptyDir: {}}]\n", "", 1)
	}
	create(t, goTest("defaults-annotated", "/go/src", 1, "")+"---"+goTest("defaults-declaring", "/go/src", 1, sidecar)+
		"---"+unbound("defaults-annotated", sidecar)+"---"+unbound("defaults-declaring", ""))
	got, want := podOf(t, "defaults-annotated", "test"), podOf(t, "defaults-declaring", "test")
	// What config-defaults gave the Task's own sidecar: the workspace, and the resources.
	for _, path := range []string{`"mountPath":"/go/src"`, `"requests":{"cpu":"50m","memory":"32Mi"}`} {
		if text, _ := json.Marshal(container(*want, "sidecar-postgres")); !strings.Contains(string(text), path) {
			t.Fatalf("Tekton's controller did not apply config-defaults (%s): %s", path, text)
		}
	}
	assertTektonsPod(t, got, want, strings.NewReplacer("defaults-annotated", "defaults-declaring"))
}

// flagged sets a flag of Tekton's feature-flags until the test ends.
func flagged(t *testing.T, flag, value string) {
	t.Helper()
	configured(t, "feature-flags", map[string]string{flag: value})
}

// configured sets keys of one of Tekton's ConfigMaps until the test ends, and gives Tekton's controller
// a moment to see it.
func configured(t *testing.T, name string, data map[string]string) {
	t.Helper()
	configMaps := resource(suite.client, "ConfigMap", tektonNamespace)
	before, err := configMaps.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	previous := map[string]any{}
	for key := range data {
		// A key that was not there is deleted again (a merge patch's null).
		value, found, _ := unstructured.NestedString(before.Object, "data", key)
		previous[key] = nil
		if found {
			previous[key] = value
		}
	}
	set := func(data any) error {
		patch, err := json.Marshal(map[string]any{"data": data})
		if err == nil {
			_, err = configMaps.Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{})
		}
		return err
	}
	if err := set(data); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := set(previous); err != nil {
			t.Error(err)
		}
		time.Sleep(time.Second)
	})
	time.Sleep(time.Second)
}
