package oracle

import (
	"fmt"
	"regexp"
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
)

// Difference is one way the policy's Pod may differ from Tekton's, documented in docs/tekton.md
// ("Differences from a Task's own sidecar") with its reason. A case shows it only when Applies says the
// case can, and then only at the paths Paths matches; Warning, when set, is the admission warning the
// policy must give with it, so that the difference is never silent.
type Difference struct {
	Name    string
	Applies func(Case) bool
	Paths   *regexp.Regexp
	Warning string
	// Holds, when set, checks what the difference still promises; it says what is broken, or "".
	Holds func(Case, Result) string
}

// sidecarPath matches the declared sidecar's container, wherever the mode puts it.
const sidecarPath = `spec\.(initContainers|containers)\[sidecar-[a-z-]+\]`

// Differences is the documented list.
var Differences = []Difference{
	{
		// pkg/pod/script.go convertScripts: Tekton writes the script into tekton-internal-scripts from
		// its place-scripts init container; a declared sidecar may not mount Tekton's volumes, and the
		// Pod's init containers are built, so the script travels in the command.
		Name:    "script-in-command",
		Applies: func(c Case) bool { return !c.Inline && declares(c, func(s v1.Sidecar) bool { return s.Script != "" }) },
		Paths: regexp.MustCompile(`^(` + sidecarPath + `\.(command|volumeMounts(\[tekton-internal-scripts\])?)` +
			`|spec\.initContainers\[place-scripts\]|spec\.volumes\[tekton-internal-scripts\])$`),
		Holds:   scriptTravels,
		Warning: "script runs from its command, not from a file",
	},
	{
		// pkg/pod/pod.go isPodReadyImmediately: a Task without sidecars under
		// running-in-environment-with-injected-sidecars "false" gets a Pod whose steps start at once.
		// Making them wait would mean rewriting a Task step's arguments and mounts.
		Name: "ready-at-once",
		Applies: func(c Case) bool {
			flags := c.Cluster.FeatureFlags
			return !c.Inline && len(c.Task.Sidecars) == 0 &&
				flags["running-in-environment-with-injected-sidecars"] == "false" &&
				flags["await-sidecar-readiness"] != "false"
		},
		Paths: regexp.MustCompile(`^(metadata\.annotations\.tekton\.dev/ready|spec\.containers\[step-[a-z0-9-]+\]\.args` +
			`|spec\.containers\[step-[a-z0-9-]+\]\.volumeMounts\[tekton-internal-downward\]|spec\.volumes\[tekton-internal-downward\])$`),
		Warning: "Pod built ready: the steps will not wait for it",
	},
	{
		// pkg/reconciler/taskrun/resources/apply.go: Tekton substitutes params, context and workspace
		// variables in the TaskSpec before the Pod is built; in the Pod nothing is substituted. An
		// image or volume name with a variable is refused; elsewhere the text stays as written. With
		// the Task read from the cluster the policy substitutes them itself, all but the retry count.
		Name: "literal-variables-at-pod-level",
		Applies: func(c Case) bool {
			return !c.Inline && declares(c, hasVariable) && (!c.TaskReadable || declares(c, retryCount))
		},
		Paths:   regexp.MustCompile(`^` + sidecarPath + `\.(env\[[A-Z]+\]\.value|args|command)$`),
		Warning: "Tekton variables stay literal in a Pod-level sidecar",
	},
	{
		// pkg/workspace/apply.go Apply: which workspaces reach a Task's sidecar depends on the Task's
		// declarations (mountPath, which steps list a workspace, mountAsIsolatedWorkspace), and a Pod
		// does not show them all: a one-step Task's shared and isolated workspace look alike, a declared
		// mountPath shows only where a step mounts it, and a sidecar that lists a workspace takes it
		// away from the steps that do not.
		Name: "workspaces-at-pod-level",
		// With the Task read from the cluster the Pod is not read for them, unless Tekton named the
		// volumes at random (before v0.59), config-defaults may have bound what the TaskRun did not and
		// cannot be read, or a binding's subPath is substituted.
		Applies: func(c Case) bool {
			unread := !c.TaskReadable || Release == "v0.58.0" ||
				defaultBinding(c) && !c.DefaultsReadable || substitutedSubPath(c)
			return !c.Inline && len(c.Task.Workspaces) > 0 && unread
		},
		Warning: "workspaces as this Pod shows them, not as the Task says",
		Paths:   regexp.MustCompile(`^(` + sidecarPath + `\.volumeMounts(\[ws-[0-9a-z]+(@[^\]]*)?\](\.(mountPath|readOnly|subPath))?)?|spec\.containers\[step-[a-z0-9-]+\]\.volumeMounts\[ws-[0-9a-z]+(@[^\]]*)?\])$`),
	},
	{
		// pkg/workspace/apply.go CreateVolumes: before v0.59 Tekton named a workspace's volume at random
		// (names.SimpleNameGenerator), so the Pod does not tell which volume a workspace is; since
		// v0.59, a hash of the workspace (tektoncd/pipeline#7887). A Pod-level sidecar that lists a
		// workspace is refused on those releases, with a message that says so.
		Name: "listed-workspace-before-v0.59",
		Applies: func(c Case) bool {
			return Release == "v0.58.0" && !c.Inline &&
				declares(c, func(s v1.Sidecar) bool { return len(s.Workspaces) > 0 })
		},
		Paths: regexp.MustCompile(`^$`),
	},
	{
		// pkg/reconciler/taskrun/taskrun.go updateTaskRunWithDefaultWorkspaces: config-defaults'
		// default-task-run-workspace-binding binds what the TaskRun leaves unbound, in the reconciler,
		// after admission. The policy reads config-defaults; where it cannot (or, at Pod admission,
		// cannot read the Task, which says what is required), a sidecar that lists such a workspace
		// gets no mount for it, and the policy says so.
		Name: "default-workspace-binding",
		Applies: func(c Case) bool {
			unread := !c.DefaultsReadable || !c.Inline && !c.TaskReadable
			return defaultBinding(c) && unread &&
				declares(c, func(s v1.Sidecar) bool { return len(s.Workspaces) > 0 })
		},
		// Without the mount, the listing takes nothing from the steps either (mountAsIsolatedWorkspace).
		Paths: regexp.MustCompile(`^(` + sidecarPath + `\.volumeMounts(\[ws-[0-9a-z]+(@[^\]]*)?\](\.mountPath)?)?` +
			`|spec\.containers\[step-[a-z0-9-]+\]\.volumeMounts\[ws-[0-9a-z]+(@[^\]]*)?\])$`),
		Warning: "workspace \"",
	},
	{
		// pkg/workspace/apply.go Apply, mountAsIsolatedWorkspace: a sidecar that lists a workspace
		// makes Tekton take it away from the steps that do not list it, and mount it in the sidecar
		// only where it lists it. The policy turns a declared sidecar's listing into a volume mount, so
		// that the path it judges is the path Tekton gives and a declaration cannot change what the
		// Task's own steps see; the sidecar then also gets the workspace where the steps share it.
		Name: "listing-does-not-isolate",
		Applies: func(c Case) bool {
			return declares(c, func(s v1.Sidecar) bool { return len(s.Workspaces) > 0 })
		},
		Warning: "a listed workspace stays shared with the steps",
		Paths: regexp.MustCompile(`^(spec\.containers\[step-[a-z0-9-]+\]\.volumeMounts\[ws-[0-9a-z]+(@[^\]]*)?\]` +
			`|` + sidecarPath + `\.volumeMounts(\[ws-[0-9a-z]+(@[^\]]*)?\](\.mountPath)?)?)$`),
	},
}

// substitutedSubPath: a binding's subPath names a param (ApplyParametersToWorkspaceBindings).
func substitutedSubPath(c Case) bool {
	for _, binding := range c.Run.Workspaces {
		if strings.Contains(binding.SubPath, "$(") {
			return true
		}
	}
	return false
}

func declares(c Case, test func(v1.Sidecar) bool) bool {
	for _, s := range c.Declared {
		if test(s) {
			return true
		}
	}
	return false
}

var tektonVariable = regexp.MustCompile(`\$\((params|context|workspaces)[.\[]`)

func hasVariable(s v1.Sidecar) bool { return tektonVariable.MatchString(substituted(s)) }

// retryCount: $(context.task.retry-count), which Tekton counts in the TaskRun's status.
func retryCount(s v1.Sidecar) bool {
	return strings.Contains(substituted(s), "$(context.task.retry-count)")
}

// substituted is the text of the fields of s that Tekton substitutes and the generator writes.
func substituted(s v1.Sidecar) string {
	text := s.Image + s.Script + strings.Join(s.Args, " ") + strings.Join(s.Command, " ")
	for _, env := range s.Env {
		text += env.Value
	}
	return text
}

// refusals are the refusals a valid case may meet, each with the documented difference it belongs to.
var refusals = map[string]string{
	"Tekton names workspace volumes by a hash of the workspace since v0.59":                      "listed-workspace-before-v0.59",
	"holds a $(...) variable, and Tekton substitutes nothing in a sidecar injected into the Pod": "literal-variables-at-pod-level",
}

// Explain classifies a result: the same Pod as Tekton's, or each differing path explained by a
// documented difference the case can show, with its warning given. It returns the outcome's name and
// the differences used, or ok false with what is unexplained.
func Explain(c Case, r Result) (outcome string, used []string, ok bool) {
	if r.Refused != "" {
		for text, difference := range refusals {
			if strings.Contains(r.Refused, text) && applies(c, difference) {
				return "refused: " + difference, []string{difference}, true
			}
		}
		return "refused: " + summary(r.Refused, 1), nil, false
	}
	paths := DiffPaths(Comparable(r.Want), Comparable(r.Got))
	if len(paths) == 0 {
		return "same Pod", nil, true
	}
	seen := map[string]bool{}
	for _, path := range paths {
		d, missing := explaining(c, path, r.Warnings)
		if d == nil && missing != "" {
			return missing + " without its warning", nil, false
		}
		if d == nil {
			return "unexplained difference at " + path, nil, false
		}
		if !seen[d.Name] {
			seen[d.Name] = true
			used = append(used, d.Name)
			if d.Holds != nil {
				if broken := d.Holds(c, r); broken != "" {
					return d.Name + ": " + broken, nil, false
				}
			}
		}
	}
	return "documented: " + strings.Join(used, ", "), used, true
}

// explaining is the documented difference that explains a path of the case, its warning given; or,
// when only differences whose warning is missing would, the name of one of them.
func explaining(c Case, path string, warnings []string) (*Difference, string) {
	missing := ""
	for i := range Differences {
		d := &Differences[i]
		if !d.Applies(c) || !d.Paths.MatchString(path) {
			continue
		}
		if d.Warning == "" || warned(warnings, d.Warning) {
			return d, ""
		}
		missing = d.Name
	}
	return nil, missing
}

func applies(c Case, name string) bool {
	for _, d := range Differences {
		if d.Name == name {
			return d.Applies(c)
		}
	}
	return false
}

// warned is whether a warning says text; a long annotation or sidecar name may cut a warning's end
// (every warning fits 120 characters), so its start is what must be there.
func warned(warnings []string, text string) bool {
	start := text[:min(len(text), 24)]
	for _, w := range warnings {
		if strings.Contains(w, ": "+start) {
			return true
		}
	}
	return false
}

// scriptTravels: the container's command carries the very script Tekton would write to its file (after
// Kubernetes turns the policy's $$ back into $), or, without a shebang, Tekton's preamble and the script
// (defaultScriptPreamble in pkg/pod/script.go).
func scriptTravels(c Case, r Result) string {
	for _, sidecar := range c.Declared {
		if sidecar.Script == "" {
			continue
		}
		container := containerNamed(r.Got, "sidecar-"+sidecar.Name)
		if container == nil {
			return "no container for sidecar " + sidecar.Name
		}
		found := false
		for _, part := range container.Command {
			text := strings.ReplaceAll(part, "$$", "$")
			found = found || text == sidecar.Script || text == "set -e\n"+sidecar.Script
		}
		if !found {
			return fmt.Sprintf("the command of %s does not carry its script: %q", container.Name, container.Command)
		}
	}
	return ""
}

func containerNamed(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

// defaultBinding is whether config-defaults binds the workspaces a TaskRun leaves unbound.
func defaultBinding(c Case) bool {
	return c.Cluster.Defaults["default-task-run-workspace-binding"] != ""
}
