package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
)

// The rows of docs/operations.md's failure-mode table, with deploy/'s `failurePolicy: Fail`, and the
// README's promise that a typo is refused at `kubectl create`.

const (
	injectPolicy   = "pipelinerun-sidecars-inject"
	validatePolicy = "pipelinerun-sidecars-validate"
)

var sharedOnce sync.Once

// shared creates, once, the Pipeline "shared" whose task "test" uses a two-step Task.
func shared(t *testing.T) {
	t.Helper()
	sharedOnce.Do(func() {
		create(t, goTest("shared", "", 2, "")+"---"+pipeline("shared", "shared"))
	})
}

// pipelineRun is a run named name of the Pipeline named pipeline (with the workspace "source"), with
// declared (a YAML list) for its task "test" when it is not empty, and status as its spec.status ("" for
// none).
func pipelineRun(name, pipeline, declared, status string) string {
	run := "apiVersion: tekton.dev/v1\nkind: PipelineRun\nmetadata:\n  name: " + name + "\n"
	if declared != "" {
		run += "  annotations:\n    pipelinerun-sidecars.io/test: |\n" + indent(declared, 6) + "\n"
	}
	run += "spec:\n  pipelineRef: {name: " + pipeline + "}\n  workspaces: [{name: source, emptyDir: {}}]\n"
	if status != "" {
		run += "  status: " + status + "\n"
	}
	return run
}

// mergePatch applies a JSON merge patch to the object of kind named name.
func mergePatch(t *testing.T, kind, name, patch string) error {
	t.Helper()
	_, err := resource(suite.client, kind, namespace).Patch(context.Background(), name, types.MergePatchType,
		[]byte(patch), metav1.PatchOptions{})
	return err
}

// withSettings serves edited settings for the policy named name until the test ends.
func withSettings(t *testing.T, name string, edit func(map[string]any)) {
	t.Helper()
	p := suite.server.policies["clusterwide-"+name]
	before := *p.settings.Load()
	settings := runtime.DeepCopyJSON(before)
	edit(settings)
	if err := suite.server.setSettings(context.Background(), p, settings); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := suite.server.setSettings(context.Background(), p, before); err != nil {
			t.Error(err)
		}
	})
}

// down makes the policy server drop, until the test ends, the requests for which which says so.
func down(t *testing.T, which func(*admissionv1.AdmissionRequest) bool) {
	t.Helper()
	suite.server.drop.Store(&which)
	t.Cleanup(func() { suite.server.drop.Store(nil) })
}

func kind(k string) func(*admissionv1.AdmissionRequest) bool {
	return func(r *admissionv1.AdmissionRequest) bool { return r.Kind.Kind == k }
}

// A key naming no task of the referenced Pipeline is refused when it is created, with the policy's
// message, which the policy could only write by reading the Pipeline from the API server.
func TestTypoUnderPipelineRefRefusedByKubectlCreate(t *testing.T) {
	shared(t)
	typo := strings.Replace(pipelineRun("typo", "shared", postgres, ""), "sidecars.io/test:", "sidecars.io/tests:", 1)
	_, stderr, err := kubectl(t, typo, "create", "-f", "-")
	if err == nil {
		t.Fatal("kubectl create succeeded")
	}
	verdict, ok := suite.server.verdict("PipelineRun", "typo")
	if !ok || verdict.Allowed {
		t.Fatalf("the policy did not refuse the PipelineRun: %v", verdict)
	}
	want := `admission webhook "clusterwide-pipelinerun-sidecars-validate.kubewarden.admission" denied the request: ` +
		verdict.Result.Message
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, `did you mean "test"?`) {
		t.Errorf("kubectl said:\n%s\nwant it to say:\n%s\nwith a did-you-mean", stderr, want)
	}
}

// Only the Pod shows the Pod's volumes: a sidecar mounting one the Pod does not have passes the
// PipelineRun and TaskRun checks, and Tekton fails the TaskRun with the policy's message.
func TestPodRefusalFailsTheTaskRun(t *testing.T) {
	shared(t)
	create(t, pipelineRun("pod-refused", "shared", postgres+"  volumeMounts: [{name: cache, mountPath: /cache}]\n", ""))
	taskRun := taskRunOf(t, "pod-refused", "test")
	reason, message := failed(t, "TaskRun", taskRun.GetName())
	for kind, name := range map[string]string{"PipelineRun": "pod-refused", "TaskRun": taskRun.GetName()} {
		if verdict, ok := suite.server.verdict(kind, name); !ok || !verdict.Allowed {
			t.Errorf("the policy did not admit the %s: %v", kind, verdict)
		}
	}
	verdict, ok := suite.server.verdict("Pod", taskRun.GetName()+"-pod")
	if !ok || verdict.Allowed || verdict.Result.Code == 500 || !strings.Contains(verdict.Result.Message, `"cache"`) {
		t.Fatalf("the policy did not refuse the Pod for its volume \"cache\": %v", verdict)
	}
	// Each attempt's Pod has a token volume of another name, which the message lists.
	told := func(text string) string { return serviceAccountVolume.ReplaceAllString(text, "kube-api-access") }
	if reason != "PodCreationFailed" || !strings.Contains(told(message), told(verdict.Result.Message)) {
		t.Errorf("the TaskRun failed with %s: %s\nwant PodCreationFailed with the policy's message %q",
			reason, message, verdict.Result.Message)
	}
}

// Settings tightened while runs wait: a run started after the change fails at its TaskRun with the
// policy's message (Tekton's CreateRunFailed), and a run can still be cancelled.
func TestSettingsTightenedWhileRunsWait(t *testing.T) {
	shared(t)
	create(t, pipelineRun("tightened", "shared", postgres, "PipelineRunPending")+"---\n"+
		pipelineRun("tightened-cancelled", "shared", postgres, "PipelineRunPending"))
	// The dind template's image stays allowed: policy-server refuses settings that refuse their own.
	onlyQuay := func(settings map[string]any) {
		settings["allowedImages"] = []any{"quay.io/*", "docker.io/library/docker:27-dind"}
	}
	withSettings(t, injectPolicy, onlyQuay)
	withSettings(t, validatePolicy, onlyQuay)

	if err := mergePatch(t, "PipelineRun", "tightened-cancelled", `{"spec":{"status":"Cancelled"}}`); err != nil {
		t.Fatalf("cancelling a run after the settings changed: %v", err)
	}
	if reason, message := failed(t, "PipelineRun", "tightened-cancelled"); reason != "Cancelled" {
		t.Errorf("the cancelled run ended %s: %s", reason, message)
	}

	if err := mergePatch(t, "PipelineRun", "tightened", `{"spec":{"status":null}}`); err != nil {
		t.Fatalf("starting a pending run after the settings changed: %v", err)
	}
	reason, message := failed(t, "PipelineRun", "tightened")
	verdict, ok := suite.server.verdict("TaskRun", "tightened-test")
	if !ok || verdict.Allowed || !strings.Contains(verdict.Result.Message, "allowedImages") {
		t.Fatalf("the policy did not refuse the TaskRun for its image: %v", verdict)
	}
	if reason != "CreateRunFailed" || !strings.Contains(message, verdict.Result.Message) {
		t.Errorf("the PipelineRun failed with %s: %s\nwant CreateRunFailed with the policy's message %q",
			reason, message, verdict.Result.Message)
	}
}

// policy-server down at each admission, with `failurePolicy: Fail`: stopped at PipelineRun CREATE; at
// TaskRun and Pod CREATE, which follow a request the server must answer by milliseconds, closing the
// connection of those requests unanswered.
func TestPolicyServerDown(t *testing.T) {
	shared(t)
	t.Run("at-pipelinerun-create-kubectl-fails", func(t *testing.T) {
		suite.server.stopped(t, suite.plane.pki)
		_, stderr, err := kubectl(t, pipelineRun("down-declaring", "shared", postgres, ""), "create", "-f", "-")
		if err == nil || !strings.Contains(stderr, `failed calling webhook "clusterwide-pipelinerun-sidecars-validate.kubewarden.admission"`) {
			t.Errorf("kubectl create of a declaring PipelineRun: %v\n%s", err, stderr)
		}
		// matchConditions keep every other PipelineRun away from the policy.
		if _, stderr, err := kubectl(t, pipelineRun("down-plain", "shared", "", "PipelineRunPending"), "create", "-f", "-"); err != nil {
			t.Errorf("kubectl create of a PipelineRun without a declaration: %v\n%s", err, stderr)
		}
	})
	t.Run("at-taskrun-create-tekton-retries", func(t *testing.T) {
		create(t, pipelineRun("down-taskrun", "shared", postgres, "PipelineRunPending"))
		down(t, kind("TaskRun"))
		if err := mergePatch(t, "PipelineRun", "down-taskrun", `{"spec":{"status":null}}`); err != nil {
			t.Fatal(err)
		}
		eventually(t, time.Minute, "a TaskRun CREATE while the server is down", func() (bool, string) {
			_, dropped := suite.server.dropped.Load("TaskRun/down-taskrun-test")
			return dropped, ""
		})
		time.Sleep(3 * time.Second)
		if status, reason, message := succeeded(get(t, "PipelineRun", "down-taskrun")); status == "False" {
			t.Fatalf("the PipelineRun failed while the server was down: %s: %s", reason, message)
		}
		if runs := list(t, "TaskRun", "tekton.dev/pipelineRun=down-taskrun"); len(runs) > 0 {
			t.Fatalf("a TaskRun was created while the server was down")
		}
		suite.server.drop.Store(nil)
		taskRunOf(t, "down-taskrun", "test")
		if _, ok := suite.server.verdict("TaskRun", "down-taskrun-test"); !ok {
			t.Error("the TaskRun created once the server was back did not reach the policy")
		}
	})
	t.Run("at-pod-create-the-taskrun-fails", func(t *testing.T) {
		down(t, kind("Pod"))
		create(t, pipelineRun("down-pod", "shared", postgres, ""))
		taskRun := taskRunOf(t, "down-pod", "test")
		reason, message := failed(t, "TaskRun", taskRun.GetName())
		if reason != "PodCreationFailed" || !strings.Contains(message, "failed calling webhook") {
			t.Errorf("the TaskRun failed with %s: %s\nwant PodCreationFailed, failed calling webhook", reason, message)
		}
	})
}

// matchConditions, evaluated by the API server: a Pod that Tekton did not create, even one with an
// annotation under the prefix, and a PipelineRun, its TaskRun and its Pod without a declaration never
// reach the policy, while the same run with a declaration reaches it at each step.
func TestMatchConditionsKeepOtherObjectsAway(t *testing.T) {
	shared(t)
	create(t, `
apiVersion: v1
kind: Pod
metadata:
  name: not-tekton
  annotations: {pipelinerun-sidecars.io/test: "- {name: x, image: postgres:14}"}
spec:
  containers: [{name: app, image: docker.io/library/busybox}]
---
`+pipelineRun("plain", "shared", "", "")+"---\n"+pipelineRun("declaring", "shared", postgres, ""))
	for _, run := range []string{"plain", "declaring"} {
		podOf(t, run, "test")
	}
	seen := func(kind, name string) bool {
		_, ok := suite.server.verdict(kind, name)
		return ok
	}
	for _, object := range [][2]string{{"Pod", "not-tekton"}, {"PipelineRun", "plain"}, {"TaskRun", "plain-test"},
		{"Pod", "plain-test-pod"}} {
		if seen(object[0], object[1]) {
			t.Errorf("%s %s reached the policy", object[0], object[1])
		}
	}
	for _, object := range [][2]string{{"PipelineRun", "declaring"}, {"TaskRun", "declaring-test"},
		{"Pod", "declaring-test-pod"}} {
		if !seen(object[0], object[1]) {
			t.Errorf("%s %s, which declares a sidecar, never reached the policy", object[0], object[1])
		}
	}
}

// An admission warning reaches the person who creates the PipelineRun: kubectl prints it.
func TestKubectlPrintsTheWarnings(t *testing.T) {
	resolved := `
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: resolved
  annotations:
    pipelinerun-sidecars.io/test: |
` + indent(postgres, 6) + `
spec:
  status: PipelineRunPending
  pipelineRef:
    resolver: git
    params: [{name: url, value: https://example.invalid/pipelines.git}, {name: pathInRepo, value: p.yaml}]
`
	_, stderr, err := kubectl(t, resolved, "create", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl create: %v\n%s", err, stderr)
	}
	const warning = `keys naming tasks are not checked: the Pipeline comes through the "git" resolver`
	if !strings.Contains(stderr, "Warning: "+warning) {
		t.Errorf("kubectl did not print %q:\n%s", warning, stderr)
	}
}

// The audit annotation a mutation gives is recorded in the API server's audit log, under the webhook's
// name, with the Pod's creation.
func TestAuditLogRecordsTheInjection(t *testing.T) {
	shared(t)
	create(t, pipelineRun("audited", "shared", postgres, ""))
	pod := podOf(t, "audited", "test")
	key := "clusterwide-" + injectPolicy + ".kubewarden.admission/injected"
	eventually(t, 10*time.Second, "the Pod's creation in the audit log", func() (bool, string) {
		for _, event := range auditEvents(t) {
			if event.ObjectRef != nil && event.ObjectRef.Resource == "pods" && event.ObjectRef.Name == pod.GetName() &&
				event.Verb == "create" && event.Stage == "ResponseComplete" {
				value := event.Annotations[key]
				return value == "postgres from pipelinerun-sidecars.io/test", key + ": " + value
			}
		}
		return false, "no event"
	})
}

// auditEvents reads the API server's audit log.
func auditEvents(t *testing.T) []auditv1.Event {
	t.Helper()
	text, err := os.ReadFile(suite.plane.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	var events []auditv1.Event
	for _, line := range bytes.Split(text, []byte("\n")) {
		var event auditv1.Event
		if json.Unmarshal(line, &event) == nil {
			events = append(events, event)
		}
	}
	return events
}
