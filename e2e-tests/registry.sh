#!/usr/bin/env bash
# make e2e-registry: a real OCI registry round trip, as a platform team with a private, plain-HTTP registry
# does it. Starts the CNCF distribution registry (Debian's docker-registry) on 127.0.0.1 with a config and
# a data directory of its own, pushes the annotated module with `make push SOURCES=...`, pulls it back,
# checks its digest and metadata with `kwctl inspect`, runs one injection from `registry://`, and stops the
# registry it started. Needs kwctl on PATH (not on crates.io); installs docker-registry with apt-get when
# it is missing and this runs as root.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v kwctl >/dev/null || {
  echo "e2e-registry needs kwctl on PATH: https://github.com/kubewarden/kwctl/releases" >&2
  exit 1
}
registry=$(command -v docker-registry || true)
if [ -z "$registry" ] && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && apt-get install -y -qq docker-registry >/dev/null
  registry=$(command -v docker-registry)
fi
[ -n "$registry" ] || { echo "e2e-registry needs Debian's docker-registry (apt-get install docker-registry)" >&2; exit 1; }

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
host="127.0.0.1:$port"
cat >"$work/config.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/data
http:
  addr: $host
EOF
cat >"$work/sources.yml" <<EOF
insecure_sources:
  - "$host"
EOF
"$registry" serve "$work/config.yml" >"$work/registry.log" 2>&1 &
pid=$!
# The registry ends on the signal (wait gives 143): the trap must not make that the script's status.
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do
  curl -fsS "http://$host/v2/" >/dev/null 2>&1 && break
  sleep 0.1
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
uri="registry://$host/policies/pipelinerun-sidecars:v$version"
echo "== push to $uri"
make push REGISTRY="$host/policies" SOURCES="$work/sources.yml"

echo "== pull and compare digests"
kwctl pull --sources-path "$work/sources.yml" "$uri"
pushed=$(sha256sum annotated-policy.wasm | cut -d' ' -f1)
kwctl policies | grep -F "$host/policies/pipelinerun-sidecars:v$version" | grep -qF "${pushed:0:12}" || {
  echo "the pulled module is not the pushed one (sha256 $pushed)" >&2
  kwctl policies >&2
  exit 1
}

echo "== inspect the metadata"
inspect=$(kwctl inspect -o yaml --sources-path "$work/sources.yml" "$uri")
grep -q "io.kubewarden.policy.title: pipelinerun-sidecars" <<<"$inspect"
grep -q "^mutating: true" <<<"$inspect"
# kwctl push leaves the multi-line usage text out of the OCI manifest's annotations (it warns so); the
# module pulled back still carries it, and inspect shows it.
grep -q "io.kubewarden.policy.usage: " <<<"$inspect"

echo "== one injection from the registry"
patch=$(kwctl run --sources-path "$work/sources.yml" --request-path test_data/pod-tep-hub.json "$uri" |
  jq -c '.patch | @base64d | fromjson')
[ "$patch" = "$(jq -c . test_data/expected/pod-tep-hub.patch.json)" ] || {
  echo "the module from the registry injected something else: $patch" >&2
  exit 1
}
echo "e2e-registry: pushed, pulled ($pushed), inspected and run from $uri"
