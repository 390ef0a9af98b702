#!/usr/bin/env bats
# What the policy reads of the cluster: the Pipeline a PipelineRun's pipelineRef names, a Pod's TaskRun and
# Task, and Tekton's feature-flags and config-defaults, answered offline from a session kwctl records
# (`--record-host-capabilities-interactions`) and replays (`--allow-context-aware
# --replay-host-capabilities-interactions`), with kwctl or the in-repo runner.

load helpers

# replayed SESSION REQUEST [ARG...]: the AdmissionResponse for test_data/REQUEST, the cluster's answers
# taken from test_data/context/SESSION.session.yml, or from SESSION when it is a path (an empty SESSION: not
# allowed to read the cluster); the ARGs go to `kwctl run` before the policy.
replayed() {
  local session=() file="$1"
  [[ "$file" = /* ]] || file="test_data/context/$1.session.yml"
  [ -n "$1" ] && session=(--allow-context-aware --replay-host-capabilities-interactions "$file")
  "$KWCTL" run "${session[@]}" --request-path "test_data/$2" "${@:3}" "$POLICY" 2>/dev/null
}


@test "a key naming a task of the referenced Pipeline is accepted without a word" {
  run replayed pipeline-go-integration context/pipelinerun-ref.json
  [ "$status" -eq 0 ]
  [ "$(jq -c '[.allowed, .warnings]' <<<"$output")" = '[true,null]' ]
}

@test "a key naming no task of the referenced Pipeline is refused with the nearest task" {
  run replayed pipeline-go-integration context/pipelinerun-ref-typo.json
  [ "$status" -eq 0 ]
  [ "$(jq -r '.allowed' <<<"$output")" = "false" ]
  [ "$(jq -r '.status.message' <<<"$output")" = 'pipelinerun-sidecars: annotation "pipelinerun-sidecars.io/tests": names no task of this pipeline; did you mean "test"?' ]
}

@test "a Pipeline that cannot be read leaves the keys unchecked, with a warning, never a refusal" {
  local expected='[true,["keys naming tasks are not checked: Pipeline \"go-integration\" could not be read"]]'
  # Not in the cluster.
  run replayed pipeline-missing context/pipelinerun-ref-typo.json
  [ "$(jq -c '[.allowed, .warnings]' <<<"$output")" = "$expected" ]
  # Not allowed to read it.
  run evaluate context/pipelinerun-ref-typo.json
  [ "$(jq -c '[.allowed, .warnings]' <<<"$output")" = "$expected" ]
}

@test "a Pipeline that comes through a resolver is not read: the keys are left unchecked, with a warning" {
  run evaluate context/pipelinerun-ref-resolver.json
  [ "$(jq -c '[.allowed, .warnings]' <<<"$output")" = '[true,["keys naming tasks are not checked: the Pipeline comes through the \"git\" resolver"]]' ]
}

# tekton_pod SESSION: the answer for a TaskRun's Pod under injectAs "tekton", Tekton's feature-flags read
# from SESSION (none: not allowed to read the cluster), as [patch, warnings].
tekton_pod() {
  replayed "${1:-}" pod-tep-hub.json --settings-path test_data/context/settings-tekton.yaml |
    jq -c '[(.patch | @base64d | fromjson), .warnings]'
}

# as_set SETTINGS: the answer for the same Pod with injectAs set, as [patch, warnings].
as_set() {
  if [ -n "${1:-}" ]; then evaluate pod-tep-hub.json "$1"; else evaluate pod-tep-hub.json; fi |
    jq -c '[(.patch | @base64d | fromjson), .warnings]'
}

@test "injectAs tekton injects native sidecars where Tekton's enable-kubernetes-sidecar is true" {
  run tekton_pod feature-flags-sidecar-true
  [ "$status" -eq 0 ]
  [ "$output" = "$(as_set settings-native.yaml)" ]
  [ "$(jq -c '[.[0][] | select(.path | startswith("/spec/initContainers"))] | length > 0' <<<"$output")" = true ]
}

@test "injectAs tekton injects containers where Tekton's enable-kubernetes-sidecar is false" {
  run tekton_pod feature-flags-sidecar-false
  [ "$status" -eq 0 ]
  [ "$output" = "$(as_set)" ]
}

@test "injectAs tekton without Tekton's feature-flags injects containers, with a warning, never a refusal" {
  local warning='injectAs "tekton": feature-flags in "tekton-pipelines" could not be read: sidecars go in as containers'
  expected=$(as_set | jq -c --arg w "$warning" '[.[0], ([$w] + (.[1] // []))]')
  # Not allowed to read it.
  run tekton_pod feature-flags-forbidden
  [ "$output" = "$expected" ]
  # Not allowed to read the cluster at all.
  run tekton_pod
  [ "$output" = "$expected" ]
}

# golang_pod SESSION: the one-step golang-test Pod (its workspace `source` bound, the TaskRun's bindings
# carried), the TaskRun and Task read from SESSION (none: not allowed to read the cluster), as
# [warnings, the injected container's volumeMounts].
golang_pod() {
  replayed "${1:-}" context/pod-golang-test.json |
    jq -cS '[.warnings, [.patch | @base64d | fromjson | .[] | select(.path | startswith("/spec/containers/")) | .value.volumeMounts]]'
}

@test "a Pod-level sidecar gets the workspace the Task read from the cluster shares, where it declares it" {
  # A one-step Task's step mounts its workspace whether the Task shares or isolates it: the Task says.
  run golang_pod task-golang-test
  [ "$status" -eq 0 ]
  [ "$output" = '[null,[[{"mountPath":"/workspace/source","name":"ws-1bcf2"}]]]' ]
}

@test "a Task or TaskRun that cannot be read leaves the workspaces as the Pod shows them, with a warning" {
  local shown='annotation \"pipelinerun-sidecars.io/test\", sidecar \"postgres\": workspaces as this Pod shows them, not as the Task says'
  run golang_pod task-forbidden
  [ "$output" = "[[\"Task not known: Task \\\"golang-test\\\" could not be read\",\"$shown\"],[null]]" ]
  local taskrun="[[\"Task not known: TaskRun \\\"go-integration-x7k2p-test\\\" could not be read\",\"$shown\"],[null]]"
  run golang_pod taskrun-forbidden
  [ "$output" = "$taskrun" ]
  # Not allowed to read the cluster at all.
  run golang_pod
  [ "$output" = "$taskrun" ]
}

# ready_pod SESSION: the warnings on a Pod Tekton built with its steps free to start at once, its TaskRun
# and Task read as task-golang-test records them, then Tekton's feature-flags as SESSION does (none: not
# allowed to read the cluster at all), each without its prefix `annotation "...", sidecar "postgres": `.
ready_pod() {
  local session=""
  if [ -n "${1:-}" ]; then
    session="$BATS_TEST_TMPDIR/ready-$1.session.yml"
    cat test_data/context/task-golang-test.session.yml "test_data/context/$1.session.yml" >"$session"
  fi
  replayed "$session" context/pod-ready.json |
    jq -c '[.warnings // [] | .[] | sub("^annotation \"pipelinerun-sidecars.io/test\", sidecar \"postgres\": "; "")]'
}

# joined SESSION...: the sessions one after the other, as one file (a recording of those reads in turn).
joined() {
  local file="$BATS_TEST_TMPDIR/joined.session.yml" session
  : >"$file"
  for session in "$@"; do cat "test_data/context/$session.session.yml" >>"$file"; done
  echo "$file"
}

@test "a Pod-level sidecar of a Task from a resolver gets what the Task says, read from its ResolutionRequest" {
  # The same as for the namespaced Task of the same text.
  run golang_pod task-golang-test-hub
  [ "$status" -eq 0 ]
  [ "$output" = "$(golang_pod task-golang-test)" ]
  [ "$output" = '[null,[[{"mountPath":"/workspace/source","name":"ws-1bcf2"}]]]' ]
}

@test "a Pod-level sidecar gets a workspace config-defaults binds, as the Task says, read from the cluster" {
  # The same sidecar and mount as for the Pod whose TaskRun binds the workspace itself.
  local bound
  bound=$(golang_pod task-golang-test)
  [ "$(jq -c '.[1]' <<<"$bound")" = '[[{"mountPath":"/workspace/source","name":"ws-1bcf2"}]]' ]
  run replayed "$(joined taskrun-unbound config-defaults-binding)" context/pod-golang-test-default-binding.json
  [ "$status" -eq 0 ]
  [ "$(jq -cS '[.warnings, [.patch | @base64d | fromjson | .[] | select(.path | startswith("/spec/containers/")) | .value.volumeMounts]]' <<<"$output")" = "$bound" ]
  # config-defaults not readable: the workspaces go as the Pod shows them, and the warnings say why.
  run replayed "$(joined taskrun-unbound config-defaults-forbidden)" context/pod-golang-test-default-binding.json
  [ "$(jq -c '.warnings' <<<"$output")" = '["workspace binding not known: config-defaults in \"tekton-pipelines\" could not be read","annotation \"pipelinerun-sidecars.io/test\", sidecar \"postgres\": workspaces as this Pod shows them, not as the Task says"]' ]
}

@test "defaultContainerResourceRequirements tekton gives a Pod-level sidecar config-defaults' resources" {
  local tekton copy
  # The same Pod as with the copy of the table in the settings.
  tekton=$(replayed "$(joined config-defaults-resources task-golang-test)" context/pod-golang-test.json \
    --settings-path test_data/context/settings-container-defaults-tekton.yaml)
  copy=$(replayed task-golang-test context/pod-golang-test.json --settings-path test_data/settings-config-defaults.yaml)
  [ "$(jq -c '[.patch, .warnings]' <<<"$tekton")" = "$(jq -c '[.patch, .warnings]' <<<"$copy")" ]
  [ "$(jq -c '.patch | @base64d | fromjson | .[] | select(.path | startswith("/spec/containers/")) | .value.resources' <<<"$tekton")" = \
    '{"limits":{"memory":"256Mi"},"requests":{"cpu":"100m","memory":"64Mi"}}' ]
  # config-defaults not readable: no defaults, as without a copy, and a warning.
  run replayed "$(joined config-defaults-forbidden task-golang-test)" context/pod-golang-test.json \
    --settings-path test_data/context/settings-container-defaults-tekton.yaml
  [ "$(jq -c '.patch' <<<"$output")" = "$(replayed task-golang-test context/pod-golang-test.json | jq -c .patch)" ]
  [ "$(jq -c '.warnings' <<<"$output")" = '["container resource defaults not known: config-defaults in \"tekton-pipelines\" could not be read"]' ]
}

@test "a Pod built ready is warned of where Tekton would await a Task's sidecar, and only there" {
  # await-sidecar-readiness "false": Tekton awaits no sidecar, a Task's own neither.
  run ready_pod feature-flags-no-await
  [ "$status" -eq 0 ]
  [ "$output" = "[]" ]
  # running-in-environment-with-injected-sidecars "false": it would await a Task's own.
  run ready_pod feature-flags-no-injected-sidecars
  [ "$output" = '["Pod built ready: the steps will not wait for it"]' ]
  # Not allowed to read them: the warning, and what could not be read.
  local unread='"Pod built ready: feature-flags in \"tekton-pipelines\" could not be read","Pod built ready: the steps will not wait for it"'
  run ready_pod feature-flags-forbidden
  [ "$output" = "[$unread]" ]
  # Not allowed to read the cluster at all: nor the Task, whose workspaces go as the Pod shows them.
  local task='"Task not known: TaskRun \"go-integration-x7k2p-test\" could not be read","workspaces as this Pod shows them, not as the Task says"'
  run ready_pod
  [ "$output" = "[$task,$unread]" ]
}

@test "a Pod-level sidecar's variables are made from the TaskRun and Task read from the cluster" {
  local env='[.patch | @base64d | fromjson | .[] | select(.path | startswith("/spec/containers/")) | .value.env]'
  run replayed task-golang-test context/pod-golang-test-variables.json
  [ "$status" -eq 0 ]
  [ "$(jq -c '.warnings' <<<"$output")" = null ]
  [ "$(jq -c "$env" <<<"$output")" = '[[{"name":"POSTGRES_DB","value":"github.com/acme/orders"},{"name":"RUN","value":"go-integration-x7k2p-test of golang-test"},{"name":"PGDATA","value":"/workspace/source/pg"}]]' ]
  # Without the reads they stay as written, and the warnings say so.
  run evaluate context/pod-golang-test-variables.json
  [ "$(jq -c "$env" <<<"$output")" = '[[{"name":"POSTGRES_DB","value":"$(params.package)"},{"name":"RUN","value":"$(context.taskRun.name) of $(context.task.name)"},{"name":"PGDATA","value":"$(workspaces.source.path)/pg"}]]' ]
  [ "$(jq -r '.warnings[-1]' <<<"$output")" = 'annotation "pipelinerun-sidecars.io/test", sidecar "postgres": Tekton variables stay literal in a Pod-level sidecar' ]
}
