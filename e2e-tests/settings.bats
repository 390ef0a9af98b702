#!/usr/bin/env bats
# Settings are validated when the policy loads (kwctl run and policy-server call validate_settings first).

load helpers

@test "the defaults are valid settings" {
  run bash -c '"$0" run --request-path test_data/pod-tep-hub.json --settings-json "{}" "$1" 2>/dev/null' "$KWCTL" "$POLICY"
  [ "$status" -eq 0 ]
  [ "$(jq -r .allowed <<<"$output")" = "true" ]
}

@test "a full settings file is valid" {
  run bash -c '"$0" run --request-path test_data/pod-template-dind.json --settings-path test_data/settings-dind-template.yaml "$1" 2>/dev/null' "$KWCTL" "$POLICY"
  [ "$status" -eq 0 ]
}

@test "an unknown key is refused with the nearest key" {
  assert_settings_invalid '{"onConflit": "reject"}' 'settings.onConflit: unknown field; did you mean "onConflict"?'
}

@test "a wrong type is refused" {
  assert_settings_invalid '{"allowPrivileged": "yes"}' 'settings.allowPrivileged: "yes" is not of type "boolean"'
}

@test "an out-of-range number is refused" {
  assert_settings_invalid '{"maxSidecarsPerTask": 0}' 'settings.maxSidecarsPerTask: 0 is less than the minimum of 1'
}

@test "a bad enum value is refused with the allowed values" {
  assert_settings_invalid '{"injectAs": "sidecar"}' 'settings.injectAs: is "sidecar"; allowed values are "container", "native", "tekton"'
}

@test "an invalid glob is refused" {
  assert_settings_invalid '{"allowedImages": ["ghcr.io/[acme]/*"]}' \
    "settings.allowedImages[0]: \"ghcr.io/[acme]/*\" is not a valid pattern: '[' cannot appear in an image reference; use '*' for any run of characters within a path segment, '**' for any number of segments and '?' for one character"
}

@test "an invalid template is refused with the path of the nested field" {
  assert_settings_invalid '{"templates": {"redis": {"image": "redis", "ports": [{"containerPort": 6379, "protcol": "TCP"}]}}}' \
    'settings.templates.redis.ports[0].protcol: unknown field; did you mean "protocol"?'
}

@test "every violation is listed at once" {
  assert_settings_invalid '{"allowPrivileged": 1, "onConflict": "merge"}' \
    'settings.allowPrivileged: 1 is not of type "boolean"; settings.onConflict: is "merge"; allowed values are "override", "reject"'
}
