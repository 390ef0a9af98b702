#!/usr/bin/env bats
# The Makefile's user-facing commands, as the README writes them: dry-run (make -n) where they publish,
# run where they only read.

bats_require_minimum_version 1.5.0

@test "make push without SOURCES gives kwctl no --sources-path" {
  run make -n push REGISTRY=registry.example.com/policies
  [ "$status" -eq 0 ]
  line="$(grep -E '^kwctl push' <<<"$output")"
  [ "$line" = "kwctl push  -o text \\" ]
}

@test "make push SOURCES=file gives kwctl that file, and the module still depends on every source" {
  run make -n -W src/lib.rs push REGISTRY=registry.example.com/policies SOURCES=sources.yml
  [ "$status" -eq 0 ]
  grep -qxF 'kwctl push --sources-path sources.yml -o text \' <<<"$output"
  grep -qE '^cargo build --locked --target wasm32-wasip1 --release -p pipelinerun-sidecars$' <<<"$output"
}

# readme_block HEADING_TEXT: the first ```sh block after the line of README.md that holds HEADING_TEXT.
readme_block() {
  awk -v start="$1" 'index($0, start) { found = 1 } found && /^```sh$/ { inside = 1; next }
    inside && /^```$/ { exit } inside { print }' README.md
}

@test "the README's offline recipe runs as written, on the TEP's own PipelineRun" {
  cd "$BATS_TEST_DIRNAME/.."
  local block
  block="$(readme_block "Try it offline first")"
  [ "$(wc -l <<<"$block")" -eq 3 ]
  cp web/examples/tep-golang-test/pipelinerun.yaml "$BATS_TEST_TMPDIR/my-pipelinerun.yaml"
  # The suite's kwctl (the in-repo runner, or kwctl itself: `command` skips this function).
  kwctl() { command "${KWCTL:-kwctl}" "$@"; }
  # The user's file names, here in the test's directory; kwctl and the module are the suite's.
  block="$(sed -e "s#my-pipelinerun.yaml#$BATS_TEST_TMPDIR/my-pipelinerun.yaml#g" \
    -e "s#request.json#$BATS_TEST_TMPDIR/request.json#g" -e "s#annotated-policy.wasm#${POLICY:-policy.wasm}#" <<<"$block")"
  # As a user runs it: not inside `make e2e-tests`, whose make would say which directory it enters.
  run --separate-stderr env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL bash -c "$(declare -f kwctl); KWCTL='${KWCTL:-kwctl}'; set -e; $block"
  echo "$output"
  [ "$status" -eq 0 ]
  # make run: accepted unchanged (the sidecar is injected later, into the TaskRun's Pod). Before it, make
  # may say what it builds.
  grep -qx "allowed, unchanged" <<<"$output"
  # kwctl run on the request make request wrote: the same decision, as one AdmissionResponse.
  [ "$(jq -r '.uid, .allowed' <<<"${lines[-1]}" | paste -sd' ')" = "offline-request true" ]
  [ "$(jq -r '.resource.resource' "$BATS_TEST_TMPDIR/request.json")" = "pipelineruns" ]
}

@test "make run FILE= prints a refusal's message and fails; make request refuses what is not an object" {
  cd "$BATS_TEST_DIRNAME/.."
  run --separate-stderr make -s run FILE=web/examples/misspelled-field/pipelinerun.yaml
  [ "$status" -ne 0 ]
  grep -qxF 'REJECTED: pipelinerun-sidecars: annotation "pipelinerun-sidecars.io/test", sidecar "postgres": imgae: unknown field; did you mean "image"?' <<<"$output"
  echo 'spec: {}' >"$BATS_TEST_TMPDIR/not-an-object.yaml"
  run make -s request FILE="$BATS_TEST_TMPDIR/not-an-object.yaml"
  [ "$status" -ne 0 ]
  [[ "$output" == *"a Kubernetes object needs a kind and an apiVersion"* ]]
}

@test "make deploy-manifests MODULE= points the four policies at your module, and changes nothing else" {
  cd "$BATS_TEST_DIRNAME/.."
  local copy="$BATS_TEST_TMPDIR/repo" module="registry://registry.example.com:5000/policies/pipelinerun-sidecars:v0.2.0"
  mkdir -p "$copy" && cp -r Makefile deploy "$copy/"
  run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$copy" -s deploy-manifests MODULE="$module"
  [ "$status" -eq 0 ]
  for manifest in deploy/cluster/*.yaml deploy/namespaced/*.yaml; do
    [ "$(grep -c '^  module: ' "$copy/$manifest")" -eq 1 ]
    grep -qxF "  module: $module" "$copy/$manifest"
    diff <(grep -v '^  module: ' "$manifest") <(grep -v '^  module: ' "$copy/$manifest")
  done
  run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$copy" -s deploy-manifests MODULE=registry.example.com/policies/x:v1
  [ "$status" -ne 0 ]
  [[ "$output" == *"MODULE must be a policy address"* ]]
}

@test "the README's deploy commands: each make command is one make can run, each file applied is there" {
  cd "$BATS_TEST_DIRNAME/.."
  local block line
  block="$(readme_block "**Deploy.**")"
  [ "$(grep -c '^make ' <<<"$block")" -eq 2 ]
  [ "$(grep -c '^kubectl apply ' <<<"$block")" -eq 2 ]
  while read -r line; do
    # Dry-run: they would publish, or write the manifests.
    run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL bash -c "${line/make /make -n }"
    echo "$line: $output"
    [ "$status" -eq 0 ]
  done < <(grep '^make ' <<<"$block")
  for file in $(grep -o -- '-f [^ ]*' <<<"$block" | cut -d' ' -f2); do
    [ -f "$file" ]
  done
}
