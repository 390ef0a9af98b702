package cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// namespace is where the tests create their Tasks, Pipelines and runs.
const namespace = "pipelines"

// suite is the cluster every test runs against, started once by TestMain.
var suite struct {
	plane  *controlPlane
	client dynamic.Interface
	// reader reads the cluster as deploy/rbac.yaml's account does, for the policies' reads.
	reader           dynamic.Interface
	readerKubeconfig string
	server           *policyServer
	controller       *process
	resolvers        *process
	bin, dir         string
}

// TestMain starts the cluster from what the Makefile gives it: CLUSTER_BIN (etcd, kube-apiserver,
// kubectl, Tekton's controller and its cluster resolver), TEKTON_CONFIG (the config/ directory of tektoncd/pipeline), POLICY
// and FLOOR (the policy's module and the mutation floor's), DEPLOY (deploy/cluster/), RBAC
// (deploy/rbac.yaml) and CLUSTER_LOGS
// (where the servers' logs and the audit log go); POLICY_SERVER_BIN, when it is set, names the
// policy-server that answers in place of the suite's own evaluation (CONTRIBUTING.md).
func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e-cluster:", err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	for _, name := range []string{"CLUSTER_BIN", "TEKTON_CONFIG", "POLICY", "FLOOR", "DEPLOY", "RBAC", "CLUSTER_LOGS"} {
		if os.Getenv(name) == "" {
			return 2, fmt.Errorf("%s is not set: run the suite with `make e2e-cluster`", name)
		}
	}
	ctx := context.Background()
	suite.bin, suite.dir = os.Getenv("CLUSTER_BIN"), os.Getenv("CLUSTER_LOGS")
	plane, err := startControlPlane(ctx, suite.bin, suite.dir)
	defer plane.stop()
	if err != nil {
		return 1, err
	}
	suite.plane = plane
	if suite.client, err = dynamic.NewForConfig(plane.config); err != nil {
		return 1, err
	}
	if err := installTekton(ctx, suite.client, os.Getenv("TEKTON_CONFIG")); err != nil {
		return 1, err
	}
	if err := installResolvers(ctx, suite.client, os.Getenv("TEKTON_CONFIG")); err != nil {
		return 1, err
	}
	if err := createNamespace(ctx, namespace); err != nil {
		return 1, err
	}
	if suite.reader, suite.readerKubeconfig, err = policyServerAccount(ctx, os.Getenv("RBAC")); err != nil {
		return 1, err
	}
	defer func() { suite.server.close() }()
	if err := servePolicies(ctx, os.Getenv("POLICY")); err != nil {
		return 1, err
	}
	suite.controller, err = startController(suite.bin, suite.dir, plane.kubeconfig)
	defer suite.controller.stop()
	if err != nil {
		return 1, err
	}
	suite.resolvers, err = startResolvers(suite.bin, suite.dir, plane.kubeconfig)
	defer suite.resolvers.stop()
	if err != nil {
		return 1, err
	}
	return m.Run(), nil
}

// createNamespace creates a namespace with the ServiceAccount Tekton's Pods run as: the suite has no
// kube-controller-manager to create it, and the API server's ServiceAccount admission wants it.
func createNamespace(ctx context.Context, name string) error {
	objects := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "default"}}},
	}
	for _, object := range objects {
		if _, err := resource(suite.client, object.GetKind(), name).Create(ctx, object, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// servePolicies serves module under the ClusterAdmissionPolicies of DEPLOY and registers their webhooks,
// replacing any server and registrations before them.
func servePolicies(ctx context.Context, module string) error {
	paths, err := filepath.Glob(filepath.Join(os.Getenv("DEPLOY"), "*.yaml"))
	if err != nil {
		return err
	}
	var manifests []*unstructured.Unstructured
	for _, path := range paths {
		objects, err := documents(path)
		if err != nil {
			return err
		}
		manifests = append(manifests, objects...)
	}
	server, err := newPolicyServer(ctx, module, manifests, suite.reader)
	if err != nil {
		return err
	}
	if bin := os.Getenv("POLICY_SERVER_BIN"); bin != "" {
		server.real = newRealPolicyServer(bin, module, suite.dir, suite.readerKubeconfig, suite.plane.pki)
		if err := server.real.start(ctx, server.policies); err != nil {
			return err
		}
	}
	if err := server.serve(suite.plane.pki, "127.0.0.1:0"); err != nil {
		return err
	}
	caBundle := base64.StdEncoding.EncodeToString(suite.plane.pki.caPEM)
	for _, p := range server.policies {
		if err := register(ctx, registration(p, server.url(), caBundle)); err != nil {
			return fmt.Errorf("registering %s: %w", p.id, err)
		}
	}
	if err := probe(ctx, server); err != nil {
		return fmt.Errorf("the API server does not call the new webhooks: %w", err)
	}
	suite.server.close()
	suite.server = server
	return nil
}

// register writes a webhook configuration, in place when there is one, as Kubewarden's controller does
// (CreateOrPatch): the API server never goes without the webhook.
func register(ctx context.Context, webhook *unstructured.Unstructured) error {
	client := resource(suite.client, webhook.GetKind(), "")
	existing, err := client.Get(ctx, webhook.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = client.Create(ctx, webhook, metav1.CreateOptions{})
		return err
	} else if err != nil {
		return err
	}
	webhook.SetResourceVersion(existing.GetResourceVersion())
	_, err = client.Update(ctx, webhook, metav1.UpdateOptions{})
	return err
}

// probe waits until the API server sends server a declaring PipelineRun and a declaring TaskRun, created
// with dry run: until it has the new registrations.
func probe(ctx context.Context, server *policyServer) error {
	annotations := map[string]any{"pipelinerun-sidecars.io/all-tasks": "- {name: probe, image: postgres:14}"}
	steps := []any{map[string]any{"name": "s", "image": "docker.io/library/busybox"}}
	objects := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
			"metadata": map[string]any{"name": "probe", "annotations": annotations},
			"spec": map[string]any{"pipelineSpec": map[string]any{"tasks": []any{
				map[string]any{"name": "t", "taskSpec": map[string]any{"steps": steps}}}}}}},
		{Object: map[string]any{"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
			"metadata": map[string]any{"name": "probe", "annotations": annotations},
			"spec":     map[string]any{"taskSpec": map[string]any{"steps": steps}}}},
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) {
			for _, object := range objects {
				if _, seen := server.verdict(object.GetKind(), "probe"); seen {
					continue
				}
				// A refusal by a webhook the API server still has is an answer too: try again.
				_, _ = resource(suite.client, object.GetKind(), namespace).Create(ctx, object.DeepCopy(),
					metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				if _, seen := server.verdict(object.GetKind(), "probe"); !seen {
					return false, nil
				}
			}
			return true, nil
		})
}

// policyServerAccount creates what rbac (deploy/rbac.yaml) holds, in Kubewarden's namespace, and gives a
// client and a kubeconfig with a token of its ServiceAccount: the policies read the cluster with what
// deploy/ grants policy-server, and nothing more.
func policyServerAccount(ctx context.Context, rbac string) (dynamic.Interface, string, error) {
	if err := createNamespace(ctx, "kubewarden"); err != nil {
		return nil, "", err
	}
	objects, err := documents(rbac)
	if err != nil {
		return nil, "", err
	}
	var account *unstructured.Unstructured
	for _, object := range objects {
		if object.GetKind() == "ServiceAccount" {
			account = object
		}
		_, err := resource(suite.client, object.GetKind(), object.GetNamespace()).Create(ctx, object, metav1.CreateOptions{})
		if err != nil {
			return nil, "", fmt.Errorf("%s %s: %w", object.GetKind(), object.GetName(), err)
		}
	}
	if account == nil {
		return nil, "", fmt.Errorf("%s has no ServiceAccount", rbac)
	}
	typed, err := kubernetes.NewForConfig(suite.plane.config)
	if err != nil {
		return nil, "", err
	}
	expiry := int64(24 * 3600)
	token, err := typed.CoreV1().ServiceAccounts(account.GetNamespace()).CreateToken(ctx, account.GetName(),
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}},
		metav1.CreateOptions{})
	if err != nil {
		return nil, "", err
	}
	config := rest.CopyConfig(suite.plane.config)
	config.BearerToken = token.Status.Token
	reader, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, "", err
	}
	kubeconfig, err := suite.plane.writeKubeconfig("policy-server.kubeconfig", token.Status.Token)
	return reader, kubeconfig, err
}
