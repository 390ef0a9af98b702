#!/usr/bin/env bats
# What the policy tells besides its decision: Kubernetes admission warnings for declarations that are valid
# but likely to disappoint (kubectl prints them), and an audit annotation for what a mutation injected.

load helpers

@test "a PipelineRun is warned about a sidecar without readinessProbe, a :latest image and an override of a Task's sidecar" {
  assert_warnings pipelinerun-risky.json \
    'annotation "pipelinerun-sidecars.io/all-tasks", sidecar "cache": no readinessProbe: the steps may start before it serves' \
    'annotation "pipelinerun-sidecars.io/all-tasks", sidecar "cache": image :latest can change between runs; pin a tag' \
    'annotation "pipelinerun-sidecars.io/lint", sidecar "proxy": replaces the Task'"'"'s own sidecar of this name'
}

@test "a PipelineRun without risky declarations gets no warning" {
  assert_warnings pipelinerun-tep-create.json
}

@test "every warning is one line of at most 120 characters" {
  run bash -c '"$0" run --request-path test_data/pipelinerun-risky.json "$1" 2>/dev/null | jq -r ".warnings[]"' "$KWCTL" "$POLICY"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 3 ]
  for line in "${lines[@]}"; do [ "${#line}" -le 120 ]; done
}

@test "a mutation records what it injected, and from which annotation, in the audit annotations" {
  response="$(evaluate pod-tep-hub.json)"
  [ "$(jq -c '.auditAnnotations' <<<"$response")" = '{"injected":"postgres from pipelinerun-sidecars.io/test"}' ]
  response="$(evaluate taskrun-inline.json)"
  [ "$(jq -r '.auditAnnotations.injected' <<<"$response")" = "redis from pipelinerun-sidecars.io/integration" ]
  response="$(evaluate pod-tekton-no-declaration.json)"
  [ "$(jq -c '.auditAnnotations' <<<"$response")" = "null" ]
}
