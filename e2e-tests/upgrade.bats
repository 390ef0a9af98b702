#!/usr/bin/env bats
# What an earlier release or an earlier call injected is not injected again: a TaskRun or Pod that the
# policy already mutated (release 0.1.0's output, or this version's own, as a webhook reinvocation would
# hand it back) is accepted untouched. tests/fixtures.rs checks that each object is its fixture with that
# release's patch applied (test_data/upgrade/).

load helpers

@test "a Pod that release 0.1.0 injected into gets nothing more from this version" {
  assert_untouched upgrade/pod-tep-hub.after-v0.1.0.json
  assert_untouched upgrade/pod-script-workspaces.after-v0.1.0.json
}

@test "an inline TaskRun that release 0.1.0 injected into gets nothing more from this version" {
  assert_untouched upgrade/taskrun-inline.after-v0.1.0.json
}

@test "a second call on the policy's own output changes nothing (webhook reinvocation)" {
  assert_untouched upgrade/pod-tep-hub.reinvoked.json
  assert_untouched upgrade/taskrun-inline.reinvoked.json
}
