#!/usr/bin/env bats
# What the policy reads of the cluster: the Pipeline a PipelineRun's pipelineRef names, answered offline
# from a session kwctl records (`--record-host-capabilities-interactions`) and replays
# (`--allow-context-aware --replay-host-capabilities-interactions`), with kwctl or the in-repo runner.

load helpers

# with_session SESSION REQUEST: the AdmissionResponse, the cluster's answers taken from the session.
with_session() {
  "$KWCTL" run --allow-context-aware --replay-host-capabilities-interactions "test_data/context/$1.session.yml" \
    --request-path "test_data/context/$2.json" "$POLICY" 2>/dev/null
}

@test "a key naming a task of the referenced Pipeline is accepted without a word" {
  run with_session pipeline-go-integration pipelinerun-ref
  [ "$status" -eq 0 ]
  [ "$(jq -c '[.allowed, .warnings]' <<<"$output")" = '[true,null]' ]
}

@test "a key naming no task of the referenced Pipeline is refused with the nearest task" {
  run with_session pipeline-go-integration pipelinerun-ref-typo
  [ "$status" -eq 0 ]
  [ "$(jq -r '.allowed' <<<"$output")" = "false" ]
  [ "$(jq -r '.status.message' <<<"$output")" = 'pipelinerun-sidecars: annotation "pipelinerun-sidecars.io/tests": names no task of this pipeline; did you mean "test"?' ]
}

@test "a Pipeline that cannot be read leaves the keys unchecked, with a warning, never a refusal" {
  local expected='[true,["keys naming tasks are not checked: Pipeline \"go-integration\" could not be read"]]'
  # Not in the cluster.
  run with_session pipeline-missing pipelinerun-ref-typo
  [ "$(jq -c '[.allowed, .warnings]' <<<"$output")" = "$expected" ]
  # Not allowed to read it.
  run evaluate context/pipelinerun-ref-typo.json
  [ "$(jq -c '[.allowed, .warnings]' <<<"$output")" = "$expected" ]
}

@test "a Pipeline that comes through a resolver is not read: the keys are left unchecked, with a warning" {
  run evaluate context/pipelinerun-ref-resolver.json
  [ "$(jq -c '[.allowed, .warnings]' <<<"$output")" = '[true,["keys naming tasks are not checked: the Pipeline comes through the \"git\" resolver"]]' ]
}
