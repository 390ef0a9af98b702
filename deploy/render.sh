#!/usr/bin/env bash
# deploy/render.sh (make deploy-manifests): writes deploy/settings.yaml into the `settings:` of the four
# policy manifests, and its annotationPrefix into the mutating policies' matchConditions. Everything above
# `  settings:` in a manifest is kept as it is.
set -euo pipefail
cd "$(dirname "$0")"
prefix=$(sed -n -E 's/^annotationPrefix:[[:space:]]*"?([^"#[:space:]]+)"?.*/\1/p' settings.yaml | head -n 1)
prefix=${prefix:-pipelinerun-sidecars.io}
for manifest in cluster/*.yaml namespaced/*.yaml; do
  {
    sed -n '1,/^  settings:$/p' "$manifest" | sed -E "s#startsWith\('[^']*/'\)#startsWith('${prefix}/')#"
    sed -n '/^[^#]/,$p' settings.yaml | sed -E 's/^(.)/    \1/'
  } >"$manifest.new"
  mv "$manifest.new" "$manifest"
done
