package oracle

import (
	"fmt"
	"math/rand"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
)

// Generate makes a random case from r: 1-4 steps; workspaces shared, isolated to some or all steps,
// listed by the sidecar with or without a mountPath, optional, bound by the TaskRun (emptyDir, or one
// claim with a subPath, literal or from a param) or by config-defaults; string, array and object
// params with defaults; context variables; a script of each shebang kind or none; each feature flag the
// Pod builder reads about sidecars; a Task sidecar or none; inline TaskRuns and taskRef TaskRuns, whose
// Task the policy may or may not read from the cluster.
func Generate(r *rand.Rand) Case {
	g := generator{r: r}
	c := Case{Inline: g.chance(2)}
	c.Cluster = g.cluster()
	c.Task.Params = g.params()
	c.Task.Workspaces = g.workspaces()
	c.Task.Steps = g.steps(c.Task.Workspaces)
	if g.chance(4) {
		c.Task.Sidecars = []v1.Sidecar{{Name: "task-own", Image: "task-sidecar-image"}}
	}
	c.Declared = []v1.Sidecar{g.sidecar(c.Task)}
	c.Run = g.run(c.Task, c.Cluster)
	c.TaskReadable = !c.Inline && g.chance(2)
	c.Resolved = c.TaskReadable && g.chance(2)
	c.DefaultsReadable = g.chance(2)
	c.Name = fmt.Sprintf("generated (inline=%v, task read=%v, resolved=%v, defaults read=%v, steps=%d, workspaces=%d)", c.Inline, c.TaskReadable, c.Resolved, c.DefaultsReadable, len(c.Task.Steps), len(c.Task.Workspaces))
	return c
}

type generator struct{ r *rand.Rand }

// chance is true one time in n.
func (g generator) chance(n int) bool { return g.r.Intn(n) == 0 }

func (g generator) pick(options ...string) string { return options[g.r.Intn(len(options))] }

func (g generator) cluster() Cluster {
	flags := map[string]string{}
	for _, flag := range []string{
		"running-in-environment-with-injected-sidecars", "await-sidecar-readiness", "enable-kubernetes-sidecar",
	} {
		if g.chance(3) {
			flags[flag] = g.pick("true", "false")
		}
	}
	if g.chance(4) {
		flags["results-from"] = "sidecar-logs"
	}
	cluster := Cluster{FeatureFlags: flags, MinorVersion: g.pick("28", "29", "34")}
	if g.chance(4) {
		cluster.Defaults = map[string]string{"default-task-run-workspace-binding": g.pick("emptyDir: {}", "emptyDir: {}\nsubPath: d")}
	}
	return cluster
}

func (g generator) params() v1.ParamSpecs {
	var params v1.ParamSpecs
	if g.chance(2) {
		params = append(params, v1.ParamSpec{Name: "tag", Type: v1.ParamTypeString,
			Default: v1.NewStructuredValues("14")})
	}
	if g.chance(3) {
		params = append(params, v1.ParamSpec{Name: "flags", Type: v1.ParamTypeArray,
			Default: v1.NewStructuredValues("-v", "-x")})
	}
	if g.chance(3) {
		params = append(params, v1.ParamSpec{Name: "db", Type: v1.ParamTypeObject,
			Properties: map[string]v1.PropertySpec{"name": {Type: v1.ParamTypeString}},
			Default:    v1.NewObject(map[string]string{"name": "orders"})})
	}
	return params
}

func (g generator) workspaces() []v1.WorkspaceDeclaration {
	var declared []v1.WorkspaceDeclaration
	for _, name := range []string{"source", "cache"} {
		if !g.chance(2) {
			continue
		}
		w := v1.WorkspaceDeclaration{Name: name, Optional: g.chance(4), ReadOnly: g.chance(5)}
		if g.chance(3) {
			w.MountPath = "/mnt/" + name
		}
		declared = append(declared, w)
	}
	return declared
}

// steps lists a workspace in some, all or none of them: a workspace a step lists is isolated to the
// steps that list it (TEP-0029, pkg/workspace/apply.go); and may mount a shared one's volume at a
// path of their own.
func (g generator) steps(workspaces []v1.WorkspaceDeclaration) []v1.Step {
	steps := make([]v1.Step, 1+g.r.Intn(4))
	isolation := map[string]int{} // 0 shared, 1 isolated to some steps, 2 to all
	for _, w := range workspaces {
		isolation[w.Name] = g.r.Intn(3)
	}
	// A step may mount a shared workspace's volume at a path of its own too; here every step does.
	extra := map[string]bool{}
	for _, w := range workspaces {
		extra[w.Name] = isolation[w.Name] == 0 && g.chance(4)
	}
	for i := range steps {
		steps[i] = v1.Step{Name: fmt.Sprintf("s%d", i), Image: "step-image", Command: []string{"cmd"}}
		for _, w := range workspaces {
			if isolation[w.Name] == 2 || (isolation[w.Name] == 1 && g.chance(2)) {
				steps[i].Workspaces = append(steps[i].Workspaces, v1.WorkspaceUsage{Name: w.Name})
			}
			if extra[w.Name] {
				steps[i].VolumeMounts = append(steps[i].VolumeMounts, corev1.VolumeMount{
					Name: "$(workspaces." + w.Name + ".volume)", MountPath: "/extra/" + w.Name})
			}
		}
	}
	return steps
}

func (g generator) sidecar(task v1.TaskSpec) v1.Sidecar {
	sidecar := v1.Sidecar{Name: g.pick("db", "cache-warmer", "task-own"), Image: "postgres:14"}
	if sidecar.Name == "task-own" && len(task.Sidecars) == 0 {
		sidecar.Name = "db"
	}
	if g.chance(3) {
		sidecar.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			Exec: &corev1.ExecAction{Command: []string{"pg_isready"}}}}
	}
	if g.chance(3) {
		sidecar.Env = []corev1.EnvVar{{Name: "RUN", Value: g.pick("plain", "$(context.taskRun.name)",
			"$(context.taskRun.uid) of $(context.task.name)", "$(context.task.retry-count)")}}
	}
	for _, p := range task.Params {
		if p.Name == "tag" && g.chance(3) {
			sidecar.Image = "postgres:$(params.tag)"
		}
		if p.Name == "db" && g.chance(3) {
			sidecar.Env = append(sidecar.Env, corev1.EnvVar{Name: "DB", Value: "$(params.db.name)"})
		}
	}
	if len(task.Workspaces) > 0 && g.chance(4) {
		sidecar.Env = append(sidecar.Env, corev1.EnvVar{Name: "SRC", Value: "$(workspaces." + task.Workspaces[0].Name + ".path)"})
	}
	if g.chance(4) {
		sidecar.Script = g.pick("echo hi", "#!/bin/sh\necho hi", "#!/usr/bin/env bash\necho hi",
			"#!/usr/bin/env python3\nprint(__file__)", "#!/usr/bin/env node\nconsole.log(1)")
	} else if g.chance(3) {
		sidecar.Args = []string{"-c", "max_connections=50"}
	}
	if g.chance(4) {
		sidecar.SecurityContext = &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr(true)}
	}
	for _, w := range task.Workspaces {
		if g.chance(3) {
			usage := v1.WorkspaceUsage{Name: w.Name}
			if g.chance(2) {
				usage.MountPath = "/sidecar/" + w.Name
			}
			sidecar.Workspaces = append(sidecar.Workspaces, usage)
		}
	}
	return sidecar
}

// run binds the Task's workspaces (or leaves an optional one, or one config-defaults binds, unbound)
// and sets some params.
func (g generator) run(task v1.TaskSpec, cluster Cluster) v1.TaskRunSpec {
	var spec v1.TaskRunSpec
	subPathParam := false
	onClaim := g.chance(3)
	for _, w := range task.Workspaces {
		defaulted := cluster.Defaults["default-task-run-workspace-binding"] != ""
		if (w.Optional || defaulted) && g.chance(3) {
			continue
		}
		binding := v1.WorkspaceBinding{Name: w.Name, EmptyDir: &corev1.EmptyDirVolumeSource{}}
		if onClaim {
			binding = v1.WorkspaceBinding{Name: w.Name,
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "shared"}}
			binding.SubPath = w.Name
			if g.chance(2) {
				binding.SubPath, subPathParam = "$(params.sub)", true
			}
		}
		spec.Workspaces = append(spec.Workspaces, binding)
	}
	if subPathParam {
		spec.Params = append(spec.Params, v1.Param{Name: "sub", Value: *v1.NewStructuredValues("dir")})
	}
	if g.chance(2) {
		for _, p := range task.Params {
			if p.Name == "tag" {
				spec.Params = append(spec.Params, v1.Param{Name: "tag", Value: *v1.NewStructuredValues("15")})
			}
		}
	}
	return spec
}
