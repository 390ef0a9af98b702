#!/usr/bin/env bats
# Injection through the compiled module. Fixtures follow what Tekton creates: see test_data/README.md.

load helpers

@test "TEP example: the PipelineRun's declaration is valid" {
  assert_untouched pipelinerun-tep-create.json
}

@test "a Pipelines-in-Pipelines child PipelineRun passes with its parent's keys" {
  assert_untouched pipelinerun-pinp-child.json
}

@test "TEP example: its TaskRun from a hub taskRef only carries its workspace bindings to the Pod" {
  assert_patch taskrun-tep-hub.json taskrun-tep-hub.patch.json
}

@test "TEP example: its Pod gains sidecar-postgres with the declared env and probe (a one-step Task shows no shared workspace)" {
  assert_patch pod-tep-hub.json pod-tep-hub.patch.json
}

@test "an inline taskSpec TaskRun gains the sidecar in spec.taskSpec.sidecars, with the marker" {
  assert_patch taskrun-inline.json taskrun-inline.patch.json
}

@test "a v1beta1 TaskRun gets computeResources spelt resources" {
  assert_patch taskrun-inline-v1beta1.json taskrun-inline-v1beta1.patch.json
}

@test "the Pod of a TaskRun that was injected at TaskRun level is left alone" {
  assert_untouched pod-inline-already-injected.json
}

@test "a declared sidecar with a Task sidecar's name overrides it in place" {
  assert_patch taskrun-override.json taskrun-override.patch.json
}

@test "onConflict: reject refuses to override a Task sidecar" {
  assert_rejected taskrun-override.json \
    'pipelinerun-sidecars: annotation "pipelinerun-sidecars.io/integration", sidecar "docker": name: the Task already defines a sidecar named "docker", and the policy setting onConflict is "reject"; choose another name' \
    settings-reject-conflicts.json
}

@test "scripts run with Tekton's semantics and declared workspaces take their mountPath" {
  assert_patch pod-script-workspaces.json pod-script-workspaces.patch.json
}

@test "injectAs native: an init container with restartPolicy Always, as Tekton makes a Task's sidecar" {
  assert_patch pod-tep-hub.json pod-tep-hub-native.patch.json settings-native.yaml
}

@test "a template from the settings: privileged docker-in-docker when allowPrivileged is true" {
  assert_patch pod-template-dind.json pod-template-dind.patch.json settings-dind-template.yaml
}

@test "a retried Pod (-pod-retry1) gets the same sidecar" {
  assert_patch pod-retry.json pod-tep-hub.patch.json
}

@test "TaskRuns from the git, bundles and cluster resolvers carry their bindings the same way (their Pods get the sidecars)" {
  assert_patch taskrun-git-resolver.json taskrun-tep-hub.patch.json
  assert_patch taskrun-bundles-resolver.json taskrun-tep-hub.patch.json
  assert_patch taskrun-cluster-resolver.json taskrun-tep-hub.patch.json
}

@test "a matrix fan-out TaskRun carries its bindings and its Pod gets the same sidecar" {
  assert_patch taskrun-matrix-hub.json taskrun-tep-hub.patch.json
  assert_patch pod-matrix.json pod-tep-hub.patch.json
}

@test "a finally task's Pod gets the all-tasks sidecars" {
  assert_patch pod-finally-all-tasks.json pod-finally-all-tasks.patch.json
}

@test "a non-Tekton Pod is never changed, even with a declaration" {
  assert_untouched pod-not-tekton.json
}

@test "a Tekton Pod without a declaration is accepted untouched" {
  assert_untouched pod-tekton-no-declaration.json
}

@test "Pod UPDATE (Tekton stopping sidecars) is accepted untouched" {
  assert_untouched pod-update.json
}
