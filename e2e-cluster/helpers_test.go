package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
)

// parse reads the objects of a YAML text (documents separated by `---`).
func parse(t *testing.T, text string) []*unstructured.Unstructured {
	t.Helper()
	path := filepath.Join(t.TempDir(), "objects.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	objects, err := documents(path)
	if err != nil {
		t.Fatal(err)
	}
	return objects
}

// create creates the objects of a YAML text in the test namespace.
func create(t *testing.T, text string) []*unstructured.Unstructured {
	t.Helper()
	var created []*unstructured.Unstructured
	for _, object := range parse(t, text) {
		made, err := resource(suite.client, object.GetKind(), namespace).Create(context.Background(), object, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating %s %s: %v", object.GetKind(), object.GetName(), err)
		}
		created = append(created, made)
	}
	return created
}

// kubectl runs the suite's kubectl in the test namespace, with text on its standard input.
func kubectl(t *testing.T, text string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(suite.bin, "kubectl"), append([]string{"--namespace", namespace}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+suite.plane.kubeconfig)
	cmd.Stdin = strings.NewReader(text)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err = cmd.Run()
	return out.String(), errs.String(), err
}

// get is the object of kind named name in the test namespace.
func get(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	object, err := resource(suite.client, kind, namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return object
}

// list is the objects of kind in the test namespace with the labels of selector.
func list(t *testing.T, kind, selector string) []unstructured.Unstructured {
	t.Helper()
	objects, err := resource(suite.client, kind, namespace).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return objects.Items
}

// eventually polls done every 200 ms for at most timeout, then fails the test with what done said last.
func eventually(t *testing.T, timeout time.Duration, what string, done func() (bool, string)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true,
		func(context.Context) (bool, error) {
			ok, state := done()
			last = state
			return ok, nil
		})
	if err != nil {
		if exited := suite.controller.exited(); exited != nil {
			t.Fatalf("%s: Tekton's controller is gone: %v (its log is in %s)", what, exited, suite.dir)
		}
		t.Fatalf("%s: not within %s; last seen: %s", what, timeout, last)
	}
}

// succeeded is a run's Succeeded condition: status, reason and message.
func succeeded(run *unstructured.Unstructured) (status, reason, message string) {
	conditions, _, _ := unstructured.NestedSlice(run.Object, "status", "conditions")
	for _, c := range conditions {
		condition, _ := c.(map[string]any)
		if condition["type"] == "Succeeded" {
			return fmt.Sprint(condition["status"]), fmt.Sprint(condition["reason"]), fmt.Sprint(condition["message"])
		}
	}
	return "", "", ""
}

// podOf waits for the Pod Tekton creates for the pipeline task of a PipelineRun.
func podOf(t *testing.T, pipelineRun, pipelineTask string) *unstructured.Unstructured {
	t.Helper()
	selector := "tekton.dev/pipelineRun=" + pipelineRun + ",tekton.dev/pipelineTask=" + pipelineTask
	var pod *unstructured.Unstructured
	eventually(t, time.Minute, "the Pod of "+pipelineRun+"'s "+pipelineTask, func() (bool, string) {
		if pods := list(t, "Pod", selector); len(pods) == 1 {
			pod = &pods[0]
			return true, ""
		}
		status, reason, message := succeeded(get(t, "PipelineRun", pipelineRun))
		return false, fmt.Sprintf("PipelineRun %s %s: %s", status, reason, message)
	})
	return pod
}

// taskRunOf is the TaskRun of a pipeline task of a PipelineRun, once it exists.
func taskRunOf(t *testing.T, pipelineRun, pipelineTask string) *unstructured.Unstructured {
	t.Helper()
	selector := "tekton.dev/pipelineRun=" + pipelineRun + ",tekton.dev/pipelineTask=" + pipelineTask
	var taskRun *unstructured.Unstructured
	eventually(t, time.Minute, "the TaskRun of "+pipelineRun+"'s "+pipelineTask, func() (bool, string) {
		if runs := list(t, "TaskRun", selector); len(runs) == 1 {
			taskRun = &runs[0]
			return true, ""
		}
		status, reason, message := succeeded(get(t, "PipelineRun", pipelineRun))
		return false, fmt.Sprintf("PipelineRun %s %s: %s", status, reason, message)
	})
	return taskRun
}

// failed waits until the run of kind named name has failed, and gives its reason and message.
func failed(t *testing.T, kind, name string) (reason, message string) {
	t.Helper()
	eventually(t, time.Minute, kind+" "+name+" to fail", func() (bool, string) {
		status, r, m := succeeded(get(t, kind, name))
		reason, message = r, m
		return status == "False", status + " " + r + ": " + m
	})
	return reason, message
}
