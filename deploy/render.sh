#!/usr/bin/env bash
# deploy/render.sh [MODULE] (make deploy-manifests [MODULE=registry://...]): writes deploy/settings.yaml
# into the `settings:` of the four policy manifests, its annotationPrefix into their matchConditions, and
# MODULE, when given, into their `module:` (the address of the module you pushed).
# Everything else above `  settings:` in a manifest is kept as it is.
set -euo pipefail
module="${1:-}"
case "$module" in
  "" | registry://* | https://* | http://* | file://*) ;;
  *) echo "MODULE must be a policy address kwctl and policy-server read (registry://, https://, file://): $module" >&2; exit 2 ;;
esac
cd "$(dirname "$0")"
prefix=$(sed -n -E 's/^annotationPrefix:[[:space:]]*"?([^"#[:space:]]+)"?.*/\1/p' settings.yaml | head -n 1)
prefix=${prefix:-pipelinerun-sidecars.io}
for manifest in cluster/*.yaml namespaced/*.yaml; do
  {
    sed -n '1,/^  settings:$/p' "$manifest" | sed -E "s#startsWith\('[^']*/'\)#startsWith('${prefix}/')#" \
      | if [ -n "$module" ]; then sed -E "s#^  module: .*#  module: ${module}#"; else cat; fi
    sed -n '/^[^#]/,$p' settings.yaml | sed -E 's/^(.)/    \1/'
  } >"$manifest.new"
  mv "$manifest.new" "$manifest"
done
