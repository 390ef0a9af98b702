# Shared helpers for the bats suites. They run ${KWCTL:-kwctl} (a real kwctl, or the in-repo kwctl-runner
# that prints the same thing) on ${POLICY:-policy.wasm}, from the repository root.

bats_require_minimum_version 1.5.0

setup() {
  KWCTL="${KWCTL:-kwctl}"
  POLICY="${POLICY:-policy.wasm}"
  cd "$BATS_TEST_DIRNAME/.."
}

# evaluate REQUEST [SETTINGS_FILE]: prints the AdmissionResponse JSON line (stderr dropped, as in
# Kubewarden's own e2e suites).
evaluate() {
  local request="$1" settings="${2:-}"
  if [ -n "$settings" ]; then
    "$KWCTL" run --request-path "test_data/$request" --settings-path "test_data/$settings" "$POLICY" 2>/dev/null
  else
    "$KWCTL" run --request-path "test_data/$request" "$POLICY" 2>/dev/null
  fi
}

# assert_patch REQUEST EXPECTED [SETTINGS_FILE]: the decoded JSONPatch equals test_data/expected/EXPECTED
# exactly (keys sorted, so only key order may differ).
assert_patch() {
  local response actual expected
  response="$(evaluate "$1" "${3:-}")"
  [ "$(jq -r '.allowed' <<<"$response")" = "true" ]
  [ "$(jq -r '.patchType' <<<"$response")" = "JSONPatch" ]
  actual="$(jq -S '.patch | @base64d | fromjson' <<<"$response")"
  expected="$(jq -S . "test_data/expected/$2")"
  if [ "$actual" != "$expected" ]; then
    diff <(echo "$expected") <(echo "$actual") || true
    return 1
  fi
}

# assert_untouched REQUEST [SETTINGS_FILE]: accepted, with no patch at all.
assert_untouched() {
  local response
  response="$(evaluate "$1" "${2:-}")"
  echo "response = $response"
  [ "$(jq -r '.allowed' <<<"$response")" = "true" ]
  [ "$(jq -r '.patch' <<<"$response")" = "null" ]
}

# assert_rejected REQUEST MESSAGE [SETTINGS_FILE]: rejected with exactly MESSAGE.
assert_rejected() {
  local response
  response="$(evaluate "$1" "${3:-}")"
  echo "response = $response"
  [ "$(jq -r '.allowed' <<<"$response")" = "false" ]
  [ "$(jq -r '.status.message' <<<"$response")" = "$2" ]
}

# assert_settings_invalid SETTINGS_JSON MESSAGE: kwctl refuses to run, prints nothing on stdout, and
# says exactly MESSAGE on stderr (kwctl's `run` command: "Provided settings are not valid: ...").
assert_settings_invalid() {
  run --separate-stderr bash -c '"$0" run --request-path test_data/pod-tep-hub.json --settings-json "$1" "$2"' \
    "$KWCTL" "$1" "$POLICY"
  echo "stdout = $output"
  echo "stderr = $stderr"
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  grep -qxF "Error: Provided settings are not valid: $2" <<<"$stderr"
}

# conformance_request CASE: the AdmissionRequest of test_data/conformance/CASE.json: the Pod Tekton builds
# without the sidecar, carrying the declaration (and what the policy carries from the TaskRun).
conformance_request() {
  local case="test_data/conformance/$1.json"
  jq --argjson c "$(cat "$case")" '{uid: "conformance", kind: {group: "", version: "v1", kind: "Pod"},
    resource: {group: "", version: "v1", resource: "pods"}, operation: "CREATE",
    userInfo: {username: "system:serviceaccount:tekton-pipelines:tekton-pipelines-controller"},
    object: (.without | .metadata.annotations["pipelinerun-sidecars.io/all-tasks"] = $c.declaration
      | if $c.context then .metadata.annotations["pipelinerun-sidecars.io/taskrun.json"] = ($c.context | tojson) else . end)}' "$case"
}

# assert_warnings REQUEST WARNING... [--settings FILE]: accepted, with exactly these admission warnings.
assert_warnings() {
  local request="$1" response actual expected
  shift
  response="$(evaluate "$request")"
  echo "response = $response"
  [ "$(jq -r '.allowed' <<<"$response")" = "true" ]
  actual="$(jq -c '.warnings // []' <<<"$response")"
  if [ "$#" -eq 0 ]; then expected='[]'; else expected="$(printf '%s\n' "$@" | jq -R . | jq -sc .)"; fi
  [ "$actual" = "$expected" ]
}

# Runs one case of test_data/bad: {description, expected, settings, request}. Prints the decision.
decide() {
  local request
  request="$BATS_TEST_TMPDIR/$(basename "$1")"
  jq '.request' "$1" >"$request"
  "$KWCTL" run --request-path "$request" --settings-json "$(jq -c '.settings' "$1")" "$POLICY" 2>/dev/null \
    | jq -r 'if .allowed then "ACCEPTED" else .status.message end'
}
