package oracle

import (
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// tektonCases are the cases of tektoncd/pipeline v1.15.0's own tests with a Task sidecar, their inputs as Tekton wrote them.
// Left out: TestApply_IsolatedWorkspaces "existing sidecar volumeMounts are not displaced by workspace binding"
// (pkg/workspace/apply_test.go), whose Task has no steps: Tekton's Pod builder refuses it ("no steps
// specified", orderContainers in pkg/pod/entrypoint.go), so there is no Pod to compare.
// Every case below has exactly one Task sidecar, so Task.Sidecars is always empty and Declared holds that sidecar.
var tektonCases = []Case{
	// desc: "sidecar container" — pkg/pod/pod_test.go:518 (TestPodBuild)
	{
		Name: "pkg/pod/pod_test.go TestPodBuild/sidecar container",
		Task: v1.TaskSpec{
			Steps: []v1.Step{{
				Name:    "primary-name",
				Image:   "primary-image",
				Command: []string{"cmd"}, // avoid entrypoint lookup.
			}},
		},
		Declared: []v1.Sidecar{{
			Name:  "sc-name",
			Image: "sidecar-image",
		}},
	},
	// desc: "sidecar container with script" — pkg/pod/pod_test.go:569 (TestPodBuild)
	{
		Name: "pkg/pod/pod_test.go TestPodBuild/sidecar container with script",
		Task: v1.TaskSpec{
			Steps: []v1.Step{{
				Name:    "primary-name",
				Image:   "primary-image",
				Command: []string{"cmd"}, // avoid entrypoint lookup.
			}},
		},
		Declared: []v1.Sidecar{{
			Name:   "sc-name",
			Image:  "sidecar-image",
			Script: "#!/bin/sh\necho hello from sidecar",
		}},
	},
	// desc: "sidecar container with enable-ready-annotation-on-pod-create" — pkg/pod/pod_test.go:638 (TestPodBuild)
	{
		Name: "pkg/pod/pod_test.go TestPodBuild/sidecar container with enable-ready-annotation-on-pod-create",
		Cluster: Cluster{
			FeatureFlags: map[string]string{
				"enable-ready-annotation-on-pod-create": "true",
			},
		},
		Task: v1.TaskSpec{
			Steps: []v1.Step{{
				Name:    "primary-name",
				Image:   "primary-image",
				Command: []string{"cmd"}, // avoid entrypoint lookup.
			}},
		},
		Declared: []v1.Sidecar{{
			Name:  "sc-name",
			Image: "sidecar-image",
		}},
	},
	// desc: "with sidecarOverrides" — pkg/pod/pod_test.go:927 (TestPodBuild)
	{
		Name: "pkg/pod/pod_test.go TestPodBuild/with sidecarOverrides",
		Task: v1.TaskSpec{
			Steps: []v1.Step{{
				Name:    "primary-name",
				Image:   "primary-image",
				Command: []string{"cmd"}, // avoid entrypoint lookup.
			}},
		},
		Declared: []v1.Sidecar{{
			Name:  "sc-name",
			Image: "sidecar-image",
			ComputeResources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("8"),
					corev1.ResourceMemory: resource.MustParse("10Gi"),
				},
			},
		}},
		Run: v1.TaskRunSpec{
			SidecarSpecs: []v1.TaskRunSidecarSpec{{
				Name: "sc-name",
				ComputeResources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("6"),
						corev1.ResourceMemory: resource.MustParse("5Gi"),
					},
				},
			}},
		},
	},
	// desc: "with sidecar resource requirements" — pkg/pod/pod_test.go:3024 (TestPodBuild_TaskLevelResourceRequirements)
	// The test's feature flags are {"enable-api-fields": "alpha"}. note: the sidecar has no Image.
	{
		Name: "pkg/pod/pod_test.go TestPodBuild_TaskLevelResourceRequirements/with sidecar resource requirements",
		Cluster: Cluster{
			FeatureFlags: map[string]string{"enable-api-fields": "alpha"},
		},
		Task: v1.TaskSpec{
			Steps: []v1.Step{{
				Name:    "1st-step",
				Image:   "image",
				Command: []string{"cmd"},
			}},
		},
		Declared: []v1.Sidecar{{
			Name: "sidecar",
			ComputeResources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("750m"),
				},
				Limits: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("1.5"),
				},
			},
		}},
		Run: v1.TaskRunSpec{
			ComputeResources: &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("2"),
					corev1.ResourceMemory: resource.MustParse("2Gi"),
				},
			},
		},
	},
	// TestPodBuildWithK8s129 — pkg/pod/pod_test.go:3682 (ts at 3684, sidecar at 3690)
	// Fake discovery reports 1.29; feature flags {"enable-kubernetes-sidecar": "true"}.
	// note: the test's TaskRun embeds the Task (trs.TaskSpec = &ts); Inline is left false as asked.
	{
		Name: "pkg/pod/pod_test.go TestPodBuildWithK8s129",
		Cluster: Cluster{
			FeatureFlags: map[string]string{
				"enable-kubernetes-sidecar": "true",
			},
			MinorVersion: "29",
		},
		Task: v1.TaskSpec{
			Steps: []v1.Step{{
				Name:    "name",
				Image:   "image",
				Command: []string{"cmd"}, // avoid entrypoint lookup.
			}},
		},
		Declared: []v1.Sidecar{{
			Name:    "name",
			Image:   "image",
			Command: []string{"cmd"},
		}},
	},
	// name: "workspace isolated to step does not appear in step template or sidecars" — pkg/workspace/apply_test.go:820 (TestApply_IsolatedWorkspaces)
	// The test's context has EnableAPIFields "alpha". It calls workspace.Apply directly.
	// note: the step has no Name, Image or Command; the sidecar has no Image.
	{
		Name: "pkg/workspace/apply_test.go TestApply_IsolatedWorkspaces/workspace isolated to step does not appear in step template or sidecars",
		Cluster: Cluster{
			FeatureFlags: map[string]string{"enable-api-fields": "alpha"},
		},
		Task: v1.TaskSpec{
			Steps: []v1.Step{{
				Workspaces: []v1.WorkspaceUsage{{
					Name: "source",
				}},
			}},
			Workspaces: []v1.WorkspaceDeclaration{{
				Name: "source",
			}},
		},
		Declared: []v1.Sidecar{{Name: "foo"}},
		Run: v1.TaskRunSpec{
			Workspaces: []v1.WorkspaceBinding{{
				Name: "source",
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: "testpvc",
				},
			}},
		},
	},
	// name: "workspace isolated to sidecar does not appear in steps" — pkg/workspace/apply_test.go:863 (TestApply_IsolatedWorkspaces)
	// The test's context has EnableAPIFields "alpha". It calls workspace.Apply directly.
	// note: the step has no Image or Command; the sidecar has no Name or Image.
	{
		Name: "pkg/workspace/apply_test.go TestApply_IsolatedWorkspaces/workspace isolated to sidecar does not appear in steps",
		Cluster: Cluster{
			FeatureFlags: map[string]string{"enable-api-fields": "alpha"},
		},
		Task: v1.TaskSpec{
			Steps: []v1.Step{{
				Name: "step1",
			}},
			Workspaces: []v1.WorkspaceDeclaration{{
				Name: "source",
			}},
		},
		Declared: []v1.Sidecar{{
			Workspaces: []v1.WorkspaceUsage{{
				Name: "source",
			}},
		}},
		Run: v1.TaskRunSpec{
			Workspaces: []v1.WorkspaceBinding{{
				Name: "source",
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: "testpvc",
				},
			}},
		},
	},
	// name: "workspace isolated to one step and one sidecar does not appear in step template" — pkg/workspace/apply_test.go:910 (TestApply_IsolatedWorkspaces)
	// The test's context has EnableAPIFields "alpha". It calls workspace.Apply directly.
	// note: neither step has an Image or Command (the first has no Name either); the sidecar has no Name or Image.
	{
		Name: "pkg/workspace/apply_test.go TestApply_IsolatedWorkspaces/workspace isolated to one step and one sidecar does not appear in step template",
		Cluster: Cluster{
			FeatureFlags: map[string]string{"enable-api-fields": "alpha"},
		},
		Task: v1.TaskSpec{
			Steps: []v1.Step{{
				Workspaces: []v1.WorkspaceUsage{{
					Name: "source",
				}},
			}, {
				Name: "step2",
			}},
			Workspaces: []v1.WorkspaceDeclaration{{
				Name: "source",
			}},
		},
		Declared: []v1.Sidecar{{
			Workspaces: []v1.WorkspaceUsage{{
				Name: "source",
			}},
		}},
		Run: v1.TaskRunSpec{
			Workspaces: []v1.WorkspaceBinding{{
				Name: "source",
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: "testpvc",
				},
			}},
		},
	},
	// name: "workspaces are mounted to sidecars by default" — pkg/workspace/apply_test.go:969 (TestApply_IsolatedWorkspaces)
	// The test's context has EnableAPIFields "alpha". It calls workspace.Apply directly.
	// note: the step is empty (no Name, Image or Command); the sidecar is empty (no Name or Image).
	{
		Name: "pkg/workspace/apply_test.go TestApply_IsolatedWorkspaces/workspaces are mounted to sidecars by default",
		Cluster: Cluster{
			FeatureFlags: map[string]string{"enable-api-fields": "alpha"},
		},
		Task: v1.TaskSpec{
			Steps: []v1.Step{{}},
			Workspaces: []v1.WorkspaceDeclaration{{
				Name: "source",
			}},
		},
		Declared: []v1.Sidecar{{}},
		Run: v1.TaskRunSpec{
			Workspaces: []v1.WorkspaceBinding{{
				Name: "source",
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: "testpvc",
				},
			}},
		},
	},
	// name: "isolated workspaces custom mountpaths appear in volumemounts" — pkg/workspace/apply_test.go:1009 (TestApply_IsolatedWorkspaces)
	// The test's context has EnableAPIFields "alpha". It calls workspace.Apply directly.
	// note: the step has no Name, Image or Command; the sidecar has no Name or Image.
	{
		Name: "pkg/workspace/apply_test.go TestApply_IsolatedWorkspaces/isolated workspaces custom mountpaths appear in volumemounts",
		Cluster: Cluster{
			FeatureFlags: map[string]string{"enable-api-fields": "alpha"},
		},
		Task: v1.TaskSpec{
			Steps: []v1.Step{{
				Workspaces: []v1.WorkspaceUsage{{
					Name:      "source",
					MountPath: "/foo",
				}},
			}},
			Workspaces: []v1.WorkspaceDeclaration{{
				Name: "source",
			}},
		},
		Declared: []v1.Sidecar{{
			Workspaces: []v1.WorkspaceUsage{{
				Name:      "source",
				MountPath: "/bar",
			}},
		}},
		Run: v1.TaskRunSpec{
			Workspaces: []v1.WorkspaceBinding{{
				Name: "source",
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: "testpvc",
				},
			}},
		},
	},
}
