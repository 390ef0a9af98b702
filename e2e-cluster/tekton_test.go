package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// tektonNamespace is where Tekton's controller and its ConfigMaps live (SYSTEM_NAMESPACE).
const tektonNamespace = "tekton-pipelines"

// resources are the kinds the suite creates, by kind.
var resources = map[string]schema.GroupVersionResource{
	"CustomResourceDefinition":       {Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"},
	"MutatingWebhookConfiguration":   {Group: "admissionregistration.k8s.io", Version: "v1", Resource: "mutatingwebhookconfigurations"},
	"ValidatingWebhookConfiguration": {Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"},
	"Namespace":                      {Version: "v1", Resource: "namespaces"},
	"ServiceAccount":                 {Version: "v1", Resource: "serviceaccounts"},
	"ClusterRole":                    {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
	"ClusterRoleBinding":             {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
	"Role":                           {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
	"RoleBinding":                    {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
	"ConfigMap":                      {Version: "v1", Resource: "configmaps"},
	"Pod":                            {Version: "v1", Resource: "pods"},
	"Task":                           {Group: "tekton.dev", Version: "v1", Resource: "tasks"},
	"Pipeline":                       {Group: "tekton.dev", Version: "v1", Resource: "pipelines"},
	"PipelineRun":                    {Group: "tekton.dev", Version: "v1", Resource: "pipelineruns"},
	"TaskRun":                        {Group: "tekton.dev", Version: "v1", Resource: "taskruns"},
	"ResolutionRequest":              {Group: "resolution.tekton.dev", Version: "v1beta1", Resource: "resolutionrequests"},
}

// resource is the client of kind's objects in namespace (ignored for cluster-scoped kinds).
func resource(client dynamic.Interface, kind, namespace string) dynamic.ResourceInterface {
	gvr, ok := resources[kind]
	if !ok {
		panic("the suite does not know the kind " + kind)
	}
	switch kind {
	case "CustomResourceDefinition", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "Namespace",
		"ClusterRole", "ClusterRoleBinding":
		return client.Resource(gvr)
	}
	return client.Resource(gvr).Namespace(namespace)
}

// documents reads every YAML document of a file.
func documents(path string) ([]*unstructured.Unstructured, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(text), 4096)
	var objects []*unstructured.Unstructured
	for {
		object := &unstructured.Unstructured{}
		if err := decoder.Decode(&object.Object); errors.Is(err, io.EOF) {
			return objects, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(object.Object) > 0 {
			objects = append(objects, object)
		}
	}
}

// installTekton creates Tekton's CRDs and ConfigMaps from the config/ directory of the tektoncd/pipeline
// module: only what the controller reads. Tekton's own webhook is left out: it defaults and converts
// objects, and the suite creates only tekton.dev/v1 objects, the CRDs' storage version, so nothing needs
// converting; the controller applies the defaults itself when it reconciles.
func installTekton(ctx context.Context, client dynamic.Interface, config string) error {
	crds, err := filepath.Glob(filepath.Join(config, "300-crds", "*.yaml"))
	if err != nil {
		return err
	}
	maps, err := filepath.Glob(filepath.Join(config, "config-*.yaml"))
	if err != nil {
		return err
	}
	if len(crds) == 0 || len(maps) == 0 {
		return fmt.Errorf("no CRDs or ConfigMaps in %s", config)
	}
	crdsAndMaps := func(object *unstructured.Unstructured) (bool, error) {
		return object.GetKind() == "CustomResourceDefinition" || object.GetKind() == "ConfigMap", nil
	}
	if err := createIn(ctx, client, tektonNamespace, append(crds, maps...), crdsAndMaps); err != nil {
		return err
	}
	return waitEstablished(ctx, client)
}

// waitEstablished waits until the API server serves Tekton's kinds.
func waitEstablished(ctx context.Context, client dynamic.Interface) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) {
			for _, kind := range []string{"Task", "Pipeline", "PipelineRun", "TaskRun"} {
				_, err := resource(client, kind, tektonNamespace).List(ctx, metav1.ListOptions{Limit: 1})
				if apierrors.IsNotFound(err) {
					return false, nil
				} else if err != nil {
					return false, err
				}
			}
			return true, nil
		})
}

// startController runs Tekton's controller as config/controller.yaml does, against the suite's API
// server. The images it writes into Pods are never pulled (the suite has no kubelet), so they only need
// to be names. Its probe and profiling servers take ports from the environment and listen on every
// address: the suite runs in a network namespace of its own (the Makefile's `unshare`), where that is
// 127.0.0.1.
func startController(bin, dir, kubeconfig string) (*process, error) {
	env := []string{
		"SYSTEM_NAMESPACE=" + tektonNamespace,
		"KUBERNETES_MIN_VERSION=v1.28.0",
		"CONFIG_DEFAULTS_NAME=config-defaults",
		"CONFIG_LOGGING_NAME=config-logging",
		"CONFIG_OBSERVABILITY_NAME=config-observability",
		"CONFIG_FEATURE_FLAGS_NAME=feature-flags",
		"CONFIG_LEADERELECTION_NAME=config-leader-election-controller",
		"CONFIG_SPIRE=config-spire",
		"METRICS_DOMAIN=tekton.dev/pipeline",
	}
	return startServing(dir, "tekton-controller", filepath.Join(bin, "controller"), env,
		"-kubeconfig="+kubeconfig, "-disable-ha",
		"-entrypoint-image=e2e.invalid/tekton/entrypoint",
		"-nop-image=e2e.invalid/tekton/nop",
		"-sidecarlogresults-image=e2e.invalid/tekton/sidecarlogresults",
		"-workingdirinit-image=e2e.invalid/tekton/workingdirinit",
		"-shell-image=e2e.invalid/tekton/busybox",
		"-shell-image-win=e2e.invalid/tekton/powershell")
}

// resolversNamespace is where Tekton's resolvers and their ConfigMaps live (config/resolvers/).
const resolversNamespace = "tekton-pipelines-resolvers"

// installResolvers creates the resolvers' namespace and ConfigMaps from config/resolvers/ of the
// tektoncd/pipeline module. Their Prometheus exporter is turned off: it would want the port of the
// controller's, in the same network namespace, and the suite reads no metrics.
func installResolvers(ctx context.Context, client dynamic.Interface, config string) error {
	paths, err := filepath.Glob(filepath.Join(config, "resolvers", "*.yaml"))
	if err != nil || len(paths) == 0 {
		return fmt.Errorf("no resolvers' ConfigMaps in %s: %v", config, err)
	}
	maps := func(object *unstructured.Unstructured) (bool, error) {
		if object.GetKind() != "ConfigMap" {
			return false, nil
		}
		if object.GetName() == "config-observability" {
			return true, unstructured.SetNestedField(object.Object, "none", "data", "metrics-protocol")
		}
		return true, nil
	}
	return createIn(ctx, client, resolversNamespace, paths, maps)
}

// createIn creates namespace, then the objects of the files at paths that keep takes (and may edit) in
// it, or cluster-wide for a cluster-scoped kind.
func createIn(ctx context.Context, client dynamic.Interface, namespace string, paths []string,
	keep func(*unstructured.Unstructured) (bool, error)) error {
	object := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": namespace}}}
	if _, err := resource(client, "Namespace", "").Create(ctx, object, metav1.CreateOptions{}); err != nil {
		return err
	}
	for _, path := range paths {
		objects, err := documents(path)
		if err != nil {
			return err
		}
		for _, object := range objects {
			kept, err := keep(object)
			if err != nil {
				return err
			}
			if !kept {
				continue
			}
			_, err = resource(client, object.GetKind(), namespace).Create(ctx, object, metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("%s %s: %w", object.GetKind(), object.GetName(), err)
			}
		}
	}
	return nil
}

// startResolvers runs the suite's build of Tekton's cluster resolver (e2e-cluster/resolvers/) as
// config/resolvers/resolvers-deployment.yaml runs Tekton's resolvers.
func startResolvers(bin, dir, kubeconfig string) (*process, error) {
	env := []string{
		"SYSTEM_NAMESPACE=" + resolversNamespace,
		"KUBERNETES_MIN_VERSION=v1.28.0",
		"CONFIG_LOGGING_NAME=config-logging",
		"CONFIG_OBSERVABILITY_NAME=config-observability",
		"CONFIG_FEATURE_FLAGS_NAME=feature-flags",
		"CONFIG_LEADERELECTION_NAME=config-leader-election-resolvers",
		"METRICS_DOMAIN=tekton.dev/resolution",
	}
	return startServing(dir, "tekton-resolvers", filepath.Join(bin, "resolvers"), env, "-kubeconfig="+kubeconfig)
}

// startServing starts one of Tekton's knative processes with env, and free ports for its probe and
// profiling servers.
func startServing(dir, name, binary string, env []string, args ...string) (*process, error) {
	probes, err := freePort()
	if err != nil {
		return nil, err
	}
	profiling, err := freePort()
	if err != nil {
		return nil, err
	}
	env = append(env, "PROBES_PORT="+strconv.Itoa(probes), "PROFILING_PORT="+strconv.Itoa(profiling))
	return start(dir, name, binary, env, args...)
}
