#!/usr/bin/env bats
# The conformance suite through the compiled module: for each case built from tektoncd/pipeline's own tests
# (test_data/conformance/, checked against Tekton's Pods by tests/conformance.rs), the module gives the
# very patch the native suite keeps.

load helpers

@test "every conformance case gets its patch from the compiled module" {
  local cases=(test_data/conformance/*.patch.json) failures=0 name request actual expected
  [ "${#cases[@]}" -ge 6 ]
  for patch in "${cases[@]}"; do
    name="$(basename "$patch" .patch.json)"
    request="$BATS_TEST_TMPDIR/$name.json"
    conformance_request "$name" >"$request"
    actual="$("$KWCTL" run --request-path "$request" --settings-json "$(jq -c .settings "test_data/conformance/$name.json")" "$POLICY" 2>/dev/null \
      | jq -S '.patch | @base64d | fromjson')"
    expected="$(jq -S . "$patch")"
    if [ "$actual" != "$expected" ]; then
      echo "$name:"; diff <(echo "$expected") <(echo "$actual") || true
      failures=$((failures + 1))
    fi
  done
  [ "$failures" -eq 0 ]
}
