package oracle

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/tektoncd/pipeline/pkg/apis/config"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	podconvert "github.com/tektoncd/pipeline/pkg/pod"
	"github.com/tektoncd/pipeline/pkg/reconciler/taskrun/resources"
	"github.com/tektoncd/pipeline/pkg/workspace"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	fakek8s "k8s.io/client-go/kubernetes/fake"
	"knative.dev/pkg/logging"
	"sigs.k8s.io/yaml"
)

// Cluster is what of the cluster Tekton's Pod builder reads: its two ConfigMaps and the Kubernetes minor
// version (native sidecars need 1.29).
type Cluster struct {
	FeatureFlags map[string]string
	Defaults     map[string]string
	MinorVersion string
}

// tektonNamespace is where Tekton runs; its code reads it from SYSTEM_NAMESPACE (knative.dev/pkg/system).
const tektonNamespace = "tekton-pipelines"

func init() {
	if os.Getenv("SYSTEM_NAMESPACE") == "" {
		_ = os.Setenv("SYSTEM_NAMESPACE", tektonNamespace)
	}
}

// images are the images TestPodBuild gives the builder (pkg/pod/pod_test.go).
var images = pipeline.Images{EntrypointImage: "entrypoint-image", ShellImage: "busybox"}

func (c Cluster) context() context.Context {
	store := config.NewStore(logging.FromContext(context.Background()))
	store.OnConfigChanged(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: config.GetFeatureFlagsConfigName(), Namespace: tektonNamespace},
		Data:       c.FeatureFlags,
	})
	store.OnConfigChanged(c.defaultsConfigMap())
	return store.ToContext(context.Background())
}

// defaultsConfigMap is config-defaults as the cluster stores it.
func (c Cluster) defaultsConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: config.GetDefaultsConfigName(), Namespace: tektonNamespace},
		Data:       c.Defaults,
	}
}

// native is whether Tekton makes sidecars native ones (Builder.Build, IsNativeSidecarSupport).
func (c Cluster) native() bool {
	minor, err := strconv.Atoi(c.minor())
	return c.FeatureFlags["enable-kubernetes-sidecar"] == "true" && err == nil && nativeSidecars(minor)
}

func (c Cluster) minor() string {
	if c.MinorVersion == "" {
		return "34"
	}
	return c.MinorVersion
}

func (c Cluster) kubeClient() *fakek8s.Clientset {
	client := fakek8s.NewSimpleClientset(
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "default"}},
	)
	if discovery, ok := client.Discovery().(*fakediscovery.FakeDiscovery); ok {
		discovery.FakedServerVersion = &version.Info{Major: "1", Minor: c.minor()}
	}
	return client
}

// Defaulted is the TaskRun as Tekton's webhook stores it (SetDefaults) and its reconciler reads it.
func (c Cluster) Defaulted(tr *v1.TaskRun) *v1.TaskRun {
	tr = tr.DeepCopy()
	tr.SetDefaults(c.context())
	return tr
}

// BuildPod is the Pod Tekton's TaskRun reconciler creates for tr running the Task ts, made by the
// reconciler's own steps in its order (pkg/reconciler/taskrun/taskrun.go: reconcile, then
// applyParamsContextsResultsAndWorkspaces, then createPod). The steps that live in unexported functions
// are written again here, each naming the one it follows; the transformers in pkg/internal cannot be
// imported from outside Tekton's module and are left out (none of them touches a sidecar without
// config-defaults' default-container-resource-requirements or a LimitRange).
func (c Cluster) BuildPod(tr *v1.TaskRun, ts v1.TaskSpec) (*corev1.Pod, error) {
	ctx := c.context()
	// The Task's name is the TaskRun's for an inline spec (GetTaskData in
	// pkg/reconciler/taskrun/resources/taskspec.go), the referenced Task's otherwise.
	taskName := tr.Name
	if tr.Spec.TaskRef != nil {
		taskName = tr.Spec.TaskRef.Name
	}
	tr = tr.DeepCopy()
	if err := defaultWorkspaces(ctx, tr, &ts); err != nil {
		return nil, err
	}
	resources.ApplyParametersToWorkspaceBindings(&ts, tr)
	// Names Tekton makes at random (pkg/names SimpleNameGenerator: workspace volumes before v0.59, script
	// files) come from a seeded source, as Tekton's tests seed it (names.TestingSeed), so that the two
	// builds of a case agree.
	utilrand.Seed(12345)
	volumes := workspace.CreateVolumes(tr.Spec.Workspaces)
	spec := substitute(ctx, tr, &ts, taskName, volumes)

	if err := v1.ValidateUsageOfDeclaredParameters(ctx, spec.Steps, spec.Params); err != nil {
		return nil, fmt.Errorf("task validation: %w", err)
	}
	if err := spec.Validate(ctx); err != nil {
		return nil, fmt.Errorf("task validation: %w", err)
	}
	spec, err := workspace.Apply(ctx, *spec, tr.Spec.Workspaces, volumes)
	if err != nil {
		return nil, fmt.Errorf("workspaces: %w", err)
	}
	spec = resources.ApplyCredentialsPath(spec, pipeline.CredsDir)
	if tr.Spec.PodTemplate != nil {
		tr.Spec.PodTemplate = applyPodTemplate(tr, spec.Params)
	}
	// No EntrypointCache: every step names its command, as in TestPodBuild, so no image is looked up.
	builder := podconvert.Builder{Images: images, KubeClient: c.kubeClient()}
	return builder.Build(ctx, tr, *spec)
}

// substitute follows applyParamsContextsResultsAndWorkspaces (pkg/reconciler/taskrun/taskrun.go).
func substitute(ctx context.Context, tr *v1.TaskRun, ts *v1.TaskSpec, taskName string, volumes map[string]corev1.Volume) *v1.TaskSpec {
	ts = ts.DeepCopy()
	ts = resources.ApplyParameters(ts, tr, ts.Params...)
	ts = resources.ApplyContexts(ts, taskName, tr)
	ts = resources.ApplyResults(ts)
	ts = applyArtifacts(ts)
	ts = resources.ApplyStepExitCodePath(ts)
	declared := map[string]bool{}
	for _, w := range ts.Workspaces {
		declared[w.Name] = true
	}
	for _, binding := range tr.Spec.Workspaces {
		if !declared[binding.Name] {
			ts.Workspaces = append(ts.Workspaces, v1.WorkspaceDeclaration{Name: binding.Name})
		}
	}
	return resources.ApplyWorkspaces(ctx, ts, ts.Workspaces, tr.Spec.Workspaces, volumes)
}

// defaultWorkspaces follows Reconciler.updateTaskRunWithDefaultWorkspaces: config-defaults'
// default-task-run-workspace-binding binds every required workspace the TaskRun leaves unbound. Tekton
// rebuilds the list from a map, in no fixed order; the comparison sorts volumes by name.
func defaultWorkspaces(ctx context.Context, tr *v1.TaskRun, ts *v1.TaskSpec) error {
	text := config.FromContextOrDefaults(ctx).Defaults.DefaultTaskRunWorkspaceBinding
	if text == "" {
		return nil
	}
	var binding v1.WorkspaceBinding
	if err := yaml.Unmarshal([]byte(text), &binding); err != nil {
		return fmt.Errorf("default-task-run-workspace-binding: %w", err)
	}
	bound := map[string]bool{}
	for _, b := range tr.Spec.Workspaces {
		bound[b.Name] = true
	}
	for _, w := range ts.Workspaces {
		if !w.Optional && !bound[w.Name] {
			b := binding.DeepCopy()
			b.Name = w.Name
			tr.Spec.Workspaces = append(tr.Spec.Workspaces, *b)
		}
	}
	return nil
}
