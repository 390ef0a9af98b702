package oracle

import (
	"context"
	"io"
	"log"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
)

var policy *Policy

func TestMain(m *testing.M) {
	// Tekton's Pod builder logs with the standard logger when it will not wait for sidecars.
	log.SetOutput(io.Discard)
	ctx := context.Background()
	path := os.Getenv("POLICY")
	if path == "" {
		path = "../policy.wasm"
	}
	var err error
	if policy, err = LoadPolicy(ctx, path); err != nil {
		os.Stderr.WriteString(err.Error() + "\n(make oracle-tests builds policy.wasm; POLICY=... names another)\n")
		os.Exit(2)
	}
	code := m.Run()
	_ = policy.Close(ctx)
	os.Exit(code)
}

// runnable gives what Tekton's Pod builder needs and a workspace.Apply case of TestApply does not
// write, since that test never builds a Pod: an image and a command for a step (so that no image is
// looked up), and a name and an image for a sidecar (a declaration names both). Nothing is added.
func runnable(c Case) Case {
	c.Task = *c.Task.DeepCopy()
	for i := range c.Task.Steps {
		step := &c.Task.Steps[i]
		if step.Image == "" {
			step.Image = "image"
		}
		if len(step.Command) == 0 && step.Script == "" {
			step.Command = []string{"cmd"}
		}
	}
	c.Declared = append([]v1.Sidecar(nil), c.Declared...)
	for i := range c.Declared {
		if c.Declared[i].Name == "" {
			c.Declared[i].Name = "sidecar"
		}
		if c.Declared[i].Image == "" {
			c.Declared[i].Image = "sidecar-image"
		}
	}
	return c
}

// TestTektonsOwnCases runs every case of Tekton's own tests with a Task sidecar as a TaskRun of a
// referenced Task (the sidecar injected into the Pod), with and without the Task read from the cluster,
// and as an inline one (injected into the TaskRun).
func TestTektonsOwnCases(t *testing.T) {
	modes := []struct {
		name                 string
		inline, taskReadable bool
	}{{"taskRef", false, false}, {"taskRef, Task read", false, true}, {"inline", true, false}}
	for _, c := range tektonCases {
		for _, mode := range modes {
			c := runnable(c)
			c.Inline, c.TaskReadable = mode.inline, mode.taskReadable
			t.Run(c.Name+" ("+mode.name+")", func(t *testing.T) { check(t, c) })
		}
	}
}

func check(t *testing.T, c Case) {
	t.Helper()
	result, err := Run(context.Background(), policy, c)
	if err != nil {
		t.Fatal(err)
	}
	outcome, _, ok := Explain(c, result)
	t.Log(outcome)
	if !ok {
		diff := ""
		if result.Got != nil {
			diff = cmp.Diff(Comparable(result.Want), Comparable(result.Got))
		}
		t.Errorf("%s; refused: %q, warnings: %q (-Tekton +policy):\n%s", outcome, result.Refused, result.Warnings, diff)
	}
}

// TestDifferencesAreDocumented holds the list to docs/tekton.md, which explains each difference to users.
func TestDifferencesAreDocumented(t *testing.T) {
	readme, err := os.ReadFile("../docs/tekton.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range Differences {
		if !strings.Contains(string(readme), "| `"+d.Name+"` |") {
			t.Errorf("docs/tekton.md has no row for the difference %q", d.Name)
		}
	}
}

// TestASharedWorkspaceReachesAPodLevelSidecar pins what the Compatibility table (docs/tekton.md) promises on
// every release the oracle runs: a workspace that two steps share reaches a Pod-level sidecar exactly as
// it reaches a Task's own, whether Tekton named its volume by a hash (v0.59 on) or at random (before).
func TestASharedWorkspaceReachesAPodLevelSidecar(t *testing.T) {
	step := func(name string) v1.Step { return v1.Step{Name: name, Image: "image", Command: []string{"cmd"}} }
	c := Case{
		Task: v1.TaskSpec{
			Workspaces: []v1.WorkspaceDeclaration{{Name: "source"}},
			Steps:      []v1.Step{step("build"), step("test")},
		},
		Declared: []v1.Sidecar{{Name: "db", Image: "postgres:16"}},
		Run: v1.TaskRunSpec{Workspaces: []v1.WorkspaceBinding{
			{Name: "source", EmptyDir: &corev1.EmptyDirVolumeSource{}},
		}},
	}
	result, err := Run(context.Background(), policy, c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Comparable(result.Want), Comparable(result.Got)); diff != "" || result.Refused != "" {
		t.Errorf("Tekton %s: refused %q (-Tekton +policy):\n%s", Release, result.Refused, diff)
	}
}

// TestATaskReadFromTheClusterDecidesItsWorkspaces pins what the Pod alone cannot tell: in a one-step
// Task a shared workspace and one the step lists look alike, and only the Task says where it declares
// one. With the Task read, the Pod-level sidecar gets exactly what a Task's own sidecar gets, whole Pod.
func TestATaskReadFromTheClusterDecidesItsWorkspaces(t *testing.T) {
	for _, listed := range []bool{false, true} {
		step := v1.Step{Name: "test", Image: "golang", Command: []string{"go", "test"}}
		if listed {
			step.Workspaces = []v1.WorkspaceUsage{{Name: "source"}}
		}
		c := Case{
			Task: v1.TaskSpec{
				Workspaces: []v1.WorkspaceDeclaration{{Name: "source", MountPath: "/go/src", ReadOnly: true}},
				Steps:      []v1.Step{step},
			},
			Declared: []v1.Sidecar{{Name: "db", Image: "postgres:16"}},
			Run: v1.TaskRunSpec{Workspaces: []v1.WorkspaceBinding{
				{Name: "source", EmptyDir: &corev1.EmptyDirVolumeSource{}, SubPath: "src"},
			}},
			TaskReadable: true,
		}
		result, err := Run(context.Background(), policy, c)
		if err != nil {
			t.Fatal(err)
		}
		diff := cmp.Diff(Comparable(result.Want), Comparable(result.Got))
		if Release == "v0.58.0" {
			// Random volume names: the Pod is read as without the Task, and says so.
			if !warned(result.Warnings, "workspaces as this Pod shows them") {
				t.Errorf("Tekton %s, step lists the workspace: %v: no warning in %q", Release, listed, result.Warnings)
			}
			continue
		}
		if diff != "" || result.Refused != "" || len(result.Warnings) > 0 {
			t.Errorf("step lists the workspace: %v: refused %q, warnings %q (-Tekton +policy):\n%s", listed, result.Refused, result.Warnings, diff)
		}
	}
}
