#!/usr/bin/env bats
# A declared sidecar behaves as if the Task had declared it, in the cases that broke or changed a task:
# each through the compiled module, on fixtures that follow Tekton's code (test_data/README.md). The
# conformance suite (conformance.bats) holds the cases taken from Tekton's own tests.

load helpers

@test "1, 6: an inline Task's sidecar mounts a listed workspace without taking it from the steps, says so, and skips an unbound optional one with a warning" {
  assert_patch taskrun-inline-workspaces.json taskrun-inline-workspaces.patch.json
  assert_warnings taskrun-inline-workspaces.json \
    'annotation "pipelinerun-sidecars.io/integration", sidecar "fixtures": workspace "cache" is not bound: no mount for it' \
    'annotation "pipelinerun-sidecars.io/integration", sidecar "fixtures": a listed workspace stays shared with the steps'
}

@test "3: a script reaches the shell as written, through the kubelet's expansion of \$(...) and \$\$" {
  assert_patch pod-script-workspaces.json pod-script-workspaces.patch.json
  [[ "$(jq -r '.[1].value.command[2]' test_data/expected/pod-script-workspaces.patch.json)" == *'echo "minio on $$(hostname), pid $$$$"'* ]]
}

@test "4: restartPolicy is refused on a regular container" {
  [ "$(decide test_data/bad/100-restartpolicy-always-on-a-regular-container.json)" = \
    "$(jq -r .expected test_data/bad/100-restartpolicy-always-on-a-regular-container.json)" ]
}

@test "7: taskRunSpecs sidecarSpecs for a declared sidecar move from a referenced Task's TaskRun to its Pod" {
  assert_patch taskrun-sidecar-specs.json taskrun-sidecar-specs.patch.json
  assert_patch pod-sidecar-specs.json pod-sidecar-specs.patch.json
}

@test "7: the cluster's default-container-resource-requirements reach a sidecar without resources" {
  assert_patch pod-tep-hub.json pod-tep-hub-config-defaults.patch.json settings-config-defaults.yaml
}

@test "8: a name as long as a DNS label is accepted and its container cut to 63 characters as Tekton cuts it" {
  assert_patch pod-long-name.json pod-long-name.patch.json
}

@test "PipelineRun updates: cancelling a run whose declaration the settings now refuse is accepted" {
  assert_untouched pipelinerun-cancel.json
  jq '.operation = "CREATE" | del(.oldObject)' test_data/pipelinerun-cancel.json >"$BATS_TEST_TMPDIR/create.json"
  run bash -c '"$0" run --request-path "$1" "$2" 2>/dev/null | jq -r .allowed' "$KWCTL" "$BATS_TEST_TMPDIR/create.json" "$POLICY"
  [ "$output" = false ]
}

@test "PipelineRun updates: Tekton's metadata sync adding a Pipeline's valid declaration is accepted" {
  assert_untouched pipelinerun-metadata-sync.json
}
