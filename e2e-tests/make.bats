#!/usr/bin/env bats
# The Makefile's user-facing commands, as the README writes them, dry-run (make -n): what they would run.

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
