#!/usr/bin/env bats
# Fail fast and safely: bad input of every kind gets a rejection that says what to fix, never a trap.

load helpers

@test "every bad input in test_data/bad is rejected with its exact message" {
  local cases failures=0 expected actual
  cases=(test_data/bad/*.json)
  [ "${#cases[@]}" -ge 40 ]
  for case in "${cases[@]}"; do
    expected="$(jq -r '.expected' "$case")"
    actual="$(decide "$case")"
    if [ "$actual" != "$expected" ]; then
      printf '%s (%s)\n  expected: %s\n  actual:   %s\n' "$case" "$(jq -r .description "$case")" "$expected" "$actual"
      failures=$((failures + 1))
    fi
  done
  [ "$failures" -eq 0 ]
}

@test "a PipelineRun with a misspelled field is rejected at admission with the suggested fix" {
  assert_rejected pipelinerun-typo.json \
    'pipelinerun-sidecars: annotation "pipelinerun-sidecars.io/test", sidecar "postgres": imgae: unknown field; did you mean "image"?'
}

@test "an image outside allowedImages is rejected" {
  [ "$(decide test_data/bad/35-an-image-outside-allowedimages.json)" = \
    'pipelinerun-sidecars: annotation "pipelinerun-sidecars.io/test", sidecar "db": image: "evil.example.com/postgres:14" matches none of the allowedImages patterns: docker.io/library/*, ghcr.io/acme/*' ]
}

@test "a privileged docker-in-docker sidecar is rejected by default" {
  [ "$(decide test_data/bad/37-a-privileged-sidecar.json)" = \
    'pipelinerun-sidecars: annotation "pipelinerun-sidecars.io/test", sidecar "dind": securityContext.privileged: is true; the Pod Security Standards level "baseline" (the policy setting podSecurity) forbids privileged containers' ]
}

@test "a privileged template does not let an inline sidecar be privileged" {
  [ "$(decide test_data/bad/64-an-inline-privileged-sidecar-beside-a-privileged-template.json)" = \
    "$(jq -r .expected test_data/bad/64-an-inline-privileged-sidecar-beside-a-privileged-template.json)" ]
  [[ "$(jq -r .expected test_data/bad/64-an-inline-privileged-sidecar-beside-a-privileged-template.json)" == *'securityContext.privileged: is true; the Pod Security Standards level "baseline"'* ]]
}

@test "the privileged docker-in-docker template is the platform team's: accepted at podSecurity baseline" {
  assert_patch pod-template-dind.json pod-template-dind.patch.json settings-dind-template.yaml
}

@test "a taskrun.json written by hand on a TaskRun is replaced by what its bindings say" {
  assert_patch taskrun-forged-context.json taskrun-forged-context.patch.json
}

@test "a taskrun.json written by hand gives a Pod-level sidecar none of Tekton's volumes" {
  assert_patch pod-forged-context.json pod-forged-context.patch.json
  [ "$(jq '[.[] | .value.volumeMounts? // [] | .[] | select(.name | startswith("tekton-"))] | length' \
    test_data/expected/pod-forged-context.patch.json)" = 0 ]
}

@test "a hardened template is accepted at podSecurity restricted: the level holds what the author writes" {
  assert_patch pod-template-restricted.json pod-template-restricted.patch.json settings-restricted-template.yaml
}

@test "at Pod level a template gets no Task workspace mounted outside /workspace/, and the author is told" {
  assert_patch pod-template-shared-bin.json pod-template-shared-bin.patch.json settings-dind-template.yaml
  response="$(evaluate pod-template-shared-bin.json settings-dind-template.yaml)"
  local told='annotation "pipelinerun-sidecars.io/test", sidecar "dind": no Task workspace at "/usr/local/bin": outside /workspace/'
  [ "$(jq --arg told "$told" 'any(.warnings[]; . == $told)' <<<"$response")" = true ]
}
