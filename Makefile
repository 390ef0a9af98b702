# pipelinerun-sidecars: build, test and run the Kubewarden policy.
#
#   make run    build the module and evaluate it on the example requests in test_data/ (FILE=: yours)
#   make request FILE=my-pipelinerun.yaml   the AdmissionRequest that creates it, for kwctl run
#   make test   everything CI runs: fmt check, clippy, unit tests, wasm build, e2e suite, the Tekton
#               oracle (Go), the e2e suite on a real control plane (Go), browser tests
#   make web    build the browser playground in web/
#
# They install what they need: the wasm32-wasip1 and wasm32-unknown-unknown rustup targets, bats and
# playwright-core from npm (into e2e-tests/ and web/), wasm-bindgen-cli (into target/tools), and Debian's
# chromium (apt-get, as root or through sudo).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

TARGET       := wasm32-wasip1
WASM_OUT     := target/$(TARGET)/release/pipelinerun_sidecars.wasm
RUNNER       := target/runner/kwctl-runner
BENCH        := target/runner/policy-bench
BATS         := e2e-tests/node_modules/bats/bin/bats
# What policy.wasm is built from. Not SOURCES: that is the user's name for kwctl's --sources-path file
# (make push SOURCES=...), and a variable given on the command line overrides the Makefile's own.
POLICY_SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock settings-schema.json
RUNNER_SRCS  := $(shell find e2e-tests/runner/src -name '*.rs') e2e-tests/runner/Cargo.toml Cargo.lock
BENCH_SRCS   := $(shell find bench/driver/src -name '*.rs') bench/driver/Cargo.toml Cargo.lock
# The driver also runs the policy natively, so it is rebuilt when the policy changes.
BENCH_SRCS   += $(POLICY_SOURCES)

# `make run` and the e2e suite use kwctl when it is on PATH (on the annotated module, which carries the
# metadata kwctl needs to let a policy mutate), and the in-repo runner otherwise; KWCTL=... chooses.
KWCTL ?= $(shell command -v kwctl)
# The e2e suite passes its KWCTL on to the make it runs: the in-repo runner is no kwctl.
ifneq ($(filter %kwctl-runner,$(KWCTL)),)
  KWCTL :=
endif
ifeq ($(KWCTL),)
  KWCTL_BIN  := $(abspath $(RUNNER))
  RUN_NEEDS  := $(RUNNER)
  RUN_POLICY := policy.wasm
else
  KWCTL_BIN  := $(KWCTL)
  RUN_NEEDS  :=
  RUN_POLICY := annotated-policy.wasm
endif

.PHONY: all run request test fmt lint unit-tests e2e-tests oracle-tests e2e-cluster wasm-target push bench clean web web-target web-tests chromium deploy-manifests e2e-registry

all: policy.wasm

wasm-target:
	@rustup target list --installed | grep -qx $(TARGET) || rustup target add $(TARGET)

policy.wasm: $(POLICY_SOURCES) | wasm-target
	cargo build --locked --target $(TARGET) --release -p pipelinerun-sidecars
	cp $(WASM_OUT) $@

# Needs a real kwctl on PATH (it is not on crates.io): embeds the metadata and the usage text kwctl inspect shows.
annotated-policy.wasm: policy.wasm policy-metadata.yml docs/usage.md
	@command -v kwctl >/dev/null || { echo "annotated-policy.wasm needs kwctl on PATH: https://github.com/kubewarden/kubewarden-controller/releases" >&2; exit 2; }
	kwctl annotate -m policy-metadata.yml -u docs/usage.md -o $@ policy.wasm

# make push REGISTRY=ghcr.io/acme/policies: publish the annotated module as <REGISTRY>/pipelinerun-sidecars:v<version>.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# make push REGISTRY=host[:port]/path [SOURCES=sources.yml] [PUSH_OUTPUT=json]: SOURCES is kwctl's
# --sources-path file, for a plain-HTTP registry or one with its own CA (README, "Install").
push: annotated-policy.wasm
	@test -n "$(REGISTRY)" || { echo "usage: make push REGISTRY=ghcr.io/<org>/policies [SOURCES=sources.yml]" >&2; exit 2; }
	kwctl push $(if $(SOURCES),--sources-path $(SOURCES)) -o $(or $(PUSH_OUTPUT),text) \
	  annotated-policy.wasm registry://$(REGISTRY)/pipelinerun-sidecars:v$(VERSION)

# A real OCI registry round trip (Debian's docker-registry on 127.0.0.1): push, pull, inspect, run.
# Needs kwctl on PATH; not part of `make test`.
e2e-registry: policy.wasm
	bash e2e-tests/registry.sh

# cargo leaves a binary it finds up to date untouched: touch it, or make would call cargo every time.
$(RUNNER): $(RUNNER_SRCS)
	cargo build --locked -p kwctl-runner --profile runner
	@touch $@

$(BENCH): $(BENCH_SRCS)
	cargo build --locked -p policy-bench --profile runner
	@touch $@

# The floor the benchmarks compare with: a waPC policy that parses the request envelope and accepts.
baseline.wasm: bench/baseline/src/lib.rs bench/baseline/Cargo.toml Cargo.lock | wasm-target
	cargo build --locked --target $(TARGET) --release -p baseline-policy
	cp target/$(TARGET)/release/baseline_policy.wasm $@

# The mutation floor: the cheapest policy that returns a changed object (appends one fixed container).
mutation-floor.wasm: bench/mutation-floor/src/lib.rs bench/mutation-floor/Cargo.toml Cargo.lock | wasm-target
	cargo build --locked --target $(TARGET) --release -p mutation-floor-policy
	cp target/$(TARGET)/release/mutation_floor_policy.wasm $@

# The same policy under cargo's default release profile, for the compile-time comparison.
naive-policy.wasm: $(POLICY_SOURCES) | wasm-target
	cargo build --locked --target $(TARGET) --profile naive -p pipelinerun-sidecars
	cp target/$(TARGET)/naive/pipelinerun_sidecars.wasm $@

# Evaluates policy.wasm next to the do-nothing baseline and the mutation floor, the way policy-server does
# (compiled once, a fresh instance per request) and on one reused instance; then the growth curves, the
# native figures, the worst cases, and `kwctl bench` when kwctl is on PATH. Figures: BENCHMARKS.md.
BENCH_ITERATIONS ?= 2000
bench: policy.wasm baseline.wasm mutation-floor.wasm naive-policy.wasm $(BENCH)
	KWCTL=$(KWCTL) $(BENCH) policy.wasm baseline.wasm mutation-floor.wasm naive-policy.wasm $(BENCH_ITERATIONS)

$(BATS): e2e-tests/package.json e2e-tests/package-lock.json
	cd e2e-tests && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The browser playground (web/): the domain crate without waPC, behind wasm-bindgen. The JavaScript glue
# must come from the wasm-bindgen-cli of the very version Cargo.lock pins for the crate, so that version is
# built into target/tools (a few minutes, once per clean checkout). Not --locked: its published lockfile
# pins a webpki-roots release that the registry no longer serves, so its dependencies are resolved here,
# preferring releases that support its declared minimum Rust; the default TLS feature, which only its
# download commands use, is left out.
WEB_TARGET    := wasm32-unknown-unknown
WEB_PKG       := web/pkg/pipelinerun_sidecars_playground.js
WEB_SOURCES   := $(POLICY_SOURCES) $(shell find web/playground/src -name '*.rs') web/playground/Cargo.toml
WASM_BINDGEN  := target/tools/bin/wasm-bindgen
WASM_BINDGEN_VERSION := $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/^version = "\(.*\)"/\1/p;}' Cargo.lock)
PLAYWRIGHT    := web/node_modules/playwright-core/package.json
CHROMIUM      ?= /usr/bin/chromium
SUDO          := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

web-target:
	@rustup target list --installed | grep -qx $(WEB_TARGET) || rustup target add $(WEB_TARGET)

$(WASM_BINDGEN): Cargo.lock
	@test -x $@ && [ "$$($@ --version)" = "wasm-bindgen $(WASM_BINDGEN_VERSION)" ] || \
	  CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback \
	  cargo install wasm-bindgen-cli --version =$(WASM_BINDGEN_VERSION) --no-default-features --root target/tools --force
	@touch $@

$(WEB_PKG): $(WEB_SOURCES) $(WASM_BINDGEN) | web-target
	cargo build --locked --target $(WEB_TARGET) --profile web -p pipelinerun-sidecars-playground
	$(WASM_BINDGEN) --target web --no-typescript --remove-name-section --remove-producers-section \
	  --out-dir web/pkg target/$(WEB_TARGET)/web/pipelinerun_sidecars_playground.wasm

# Builds the page: serve web/ with any static file server, e.g. `python3 -m http.server -d web`.
web: $(WEB_PKG)

# Debian's Chromium, for the browser tests (Playwright cannot download its own browser here).
chromium:
	@command -v $(CHROMIUM) >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

$(PLAYWRIGHT): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Loads each example in headless Chromium and checks it against what policy.wasm answers for the same
# fixtures; screenshots go to target/web-tests/.
web-tests: $(WEB_PKG) policy.wasm $(RUNNER) $(PLAYWRIGHT) chromium
	cd web && KWCTL=$(abspath $(RUNNER)) POLICY=$(abspath policy.wasm) CHROMIUM=$(CHROMIUM) \
	  SCREENSHOTS=$(abspath target/web-tests) node --test --test-reporter=spec tests/

fmt:
	cargo fmt --all -- --check

# Writes deploy/settings.yaml into the four policy manifests of deploy/ (tests/packaging.rs checks them).
deploy-manifests:
	bash deploy/render.sh $(MODULE)

# The second run checks the domain crate as the playground builds it, without the waPC front end.
lint:
	cargo clippy --locked --workspace --all-targets -- -D warnings
	cargo clippy --locked -p pipelinerun-sidecars --no-default-features --lib -- -D warnings

# The runner's tests use its own profile, so wasmtime is not built a third time in debug just for them.
unit-tests:
	cargo test --locked -p pipelinerun-sidecars -p pipelinerun-sidecars-playground
	cargo test --locked -p kwctl-runner --profile runner

# The bats suite runs $KWCTL on $POLICY: kwctl on the annotated module when kwctl is on PATH, else the
# in-repo runner on policy.wasm.
e2e-tests: $(RUN_POLICY) $(RUN_NEEDS) $(BATS)
	@mkdir -p target
	KWCTL=$(KWCTL_BIN) POLICY=$(abspath $(RUN_POLICY)) $(BATS) --tap e2e-tests | tee target/e2e.tap
	@awk '/^ok/ {p++} /^not ok/ {f++} END {printf "e2e: %d passed, %d failed\n", p, f}' target/e2e.tap

# The Tekton oracle (oracle/, Go, test code only): the compiled module against Pods that
# tektoncd/pipeline's own packages build, on Tekton's own test cases and ORACLE_CASES generated ones
# (ORACLE_SEED=... runs a printed seed again), once with v1.15.0 (go.mod) and once with v0.58.0, the last
# release that names workspace volumes at random (go.tekton-v0.58.mod). gofmt and go vet first.
ORACLE_CASES ?= 5000
ORACLE_RELEASES := v1.15.0@ v0.58.0@-modfile=go.tekton-v0.58.mod@-tags=tekton_v0_58
oracle-tests: policy.wasm
	@unformatted=$$(cd oracle && gofmt -l .); test -z "$$unformatted" || { echo "gofmt: $$unformatted" >&2; exit 1; }
	@mkdir -p target
	@for release in $(ORACLE_RELEASES); do \
	  flags=$$(echo "$${release#*@}" | tr '@' ' '); log=$(abspath target)/oracle-$${release%%@*}.log; \
	  echo "oracle: tektoncd/pipeline $${release%%@*}"; \
	  (cd oracle && go vet $$flags ./...) || exit 1; \
	  (cd oracle && POLICY=$(abspath policy.wasm) ORACLE_CASES=$(ORACLE_CASES) go test -count=1 -v $$flags ./... \
	    > $$log 2>&1) || { tail -n 300 $$log; exit 1; }; \
	  grep -E '^\s*--- (PASS|FAIL): Test[A-Za-z]+ |ORACLE_SEED|outcomes|^ok' $$log; \
	done

# The e2e suite on a real control plane (e2e-cluster/, Go: test code, and a main that runs Tekton's
# cluster resolver): etcd, kube-apiserver, kubectl, Tekton's controller and that resolver, built from the Go modules at e2e-cluster/go.mod's versions into target/ (a
# cold build takes several minutes: BENCHMARKS.md), run on 127.0.0.1 with the policy served as
# policy-server serves it. Tekton's controller listens on every address for its probes and profiling, so
# the suite runs in a network namespace of its own (`unshare --net`, as root or through sudo), where
# that is 127.0.0.1 only. CLUSTER_TESTS=<regexp> runs some tests; POLICY_SERVER_BIN=<policy-server> has a
# real policy-server answer, on the annotated module (CONTRIBUTING.md).
CLUSTER_DIR  := target/e2e-cluster
CLUSTER_BIN  := $(CLUSTER_DIR)/bin
CLUSTER_SRCS := $(wildcard e2e-cluster/*.go) $(wildcard oracle/*.go) e2e-cluster/go.mod e2e-cluster/go.sum
CLUSTER_TESTS ?= .
CLUSTER_POLICY := $(if $(POLICY_SERVER_BIN),annotated-policy.wasm,policy.wasm)
CLUSTER_FLOOR  := $(if $(POLICY_SERVER_BIN),target/e2e-cluster/annotated-mutation-floor.wasm,mutation-floor.wasm)
# policy-server runs only annotated modules (their metadata holds the waPC protocol version).
target/e2e-cluster/annotated-mutation-floor.wasm: mutation-floor.wasm policy-metadata.yml
	@mkdir -p $(@D)
	kwctl annotate -m policy-metadata.yml -o $@ mutation-floor.wasm
AS_ROOT      := $(if $(filter 0,$(shell id -u)),,sudo --preserve-env)
$(CLUSTER_BIN)/.built: e2e-cluster/go.mod e2e-cluster/go.sum e2e-cluster/resolvers/main.go
	@mkdir -p $(CLUSTER_BIN)
	cd e2e-cluster && kube=$$(go list -m -f '{{.Version}}' k8s.io/kubernetes) && minor=$$(echo $$kube | cut -d. -f2) && \
	  go build -o ../$(CLUSTER_BIN)/kube-apiserver -ldflags "-X k8s.io/component-base/version.gitVersion=$$kube \
	    -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$$minor" \
	    k8s.io/kubernetes/cmd/kube-apiserver && \
	  go build -o ../$(CLUSTER_BIN)/kubectl k8s.io/kubernetes/cmd/kubectl && \
	  go build -o ../$(CLUSTER_BIN)/etcd go.etcd.io/etcd/server/v3 && \
	  go build -o ../$(CLUSTER_BIN)/controller github.com/tektoncd/pipeline/cmd/controller && \
	  go build -o ../$(CLUSTER_BIN)/resolvers ./resolvers
	@touch $@
$(CLUSTER_DIR)/cluster.test: $(CLUSTER_SRCS)
	@unformatted=$$(cd e2e-cluster && gofmt -l .); test -z "$$unformatted" || { echo "gofmt: $$unformatted" >&2; exit 1; }
	cd e2e-cluster && go vet ./... && go test -c -o ../$@ .
e2e-cluster: $(CLUSTER_POLICY) $(CLUSTER_FLOOR) $(CLUSTER_BIN)/.built $(CLUSTER_DIR)/cluster.test
	@rm -rf $(CLUSTER_DIR)/logs && mkdir -p $(CLUSTER_DIR)/logs
	@config=$$(cd e2e-cluster && go list -m -f '{{.Dir}}' github.com/tektoncd/pipeline)/config; \
	$(AS_ROOT) unshare --net sh -c 'ip link set lo up && exec "$$0" "$$@"' env \
	  CLUSTER_BIN=$(abspath $(CLUSTER_BIN)) TEKTON_CONFIG=$$config POLICY=$(abspath $(CLUSTER_POLICY)) \
	  FLOOR=$(abspath $(CLUSTER_FLOOR)) DEPLOY=$(abspath deploy/cluster) RBAC=$(abspath deploy/rbac.yaml) CLUSTER_LOGS=$(abspath $(CLUSTER_DIR)/logs) \
	  POLICY_SERVER_BIN=$(POLICY_SERVER_BIN) \
	  $(abspath $(CLUSTER_DIR)/cluster.test) -test.v -test.timeout 20m -test.run '$(CLUSTER_TESTS)' \
	  > $(CLUSTER_DIR)/e2e-cluster.log 2>&1 || { tail -n 300 $(CLUSTER_DIR)/e2e-cluster.log; exit 1; }
	@grep -E '^\s*--- (PASS|FAIL)|^(PASS|FAIL|ok)' $(CLUSTER_DIR)/e2e-cluster.log
	@cat $(CLUSTER_DIR)/logs/latency.txt 2>/dev/null || true

test: fmt lint unit-tests e2e-tests oracle-tests e2e-cluster web-tests

# Prints, for each example request, the decision, the decoded JSONPatch and the warnings; with FILE=, for
# that file only (a manifest, made into the request that creates it, or an AdmissionRequest), under
# SETTINGS (deploy/settings.yaml unless given), and fails when the policy refuses it. Offline, kwctl
# warns that it cannot reach Sigstore; without RUST_BACKTRACE it does so without a backtrace each time.
DECISION := if .allowed then (if .patch then "allowed, patched:\n" + (.patch | @base64d | fromjson | map(tojson) | join("\n")) else "allowed, unchanged" end) else "REJECTED: " + .status.message end, (.warnings // [] | .[] | "warning: " + .)
SETTINGS ?= deploy/settings.yaml
run: $(RUN_POLICY) $(RUN_NEEDS) $(if $(FILE),$(RUNNER))
ifdef FILE
	@request="$$(mktemp)"; trap 'rm -f "$$request"' EXIT; \
	if jq -e 'has("uid") and has("operation")' "$(FILE)" >/dev/null 2>&1; then cp "$(FILE)" "$$request"; \
	else $(RUNNER) request "$(FILE)" >"$$request"; fi; \
	response="$$(env -u RUST_BACKTRACE $(KWCTL_BIN) run -r "$$request" --settings-path "$(SETTINGS)" $(RUN_POLICY))"; \
	jq -r '$(DECISION)' <<<"$$response"; jq -e .allowed <<<"$$response" >/dev/null
else
	@for example in $(EXAMPLES); do \
	  request=$${example%%@*}; settings=$${example#*@}; [ "$$settings" = "$$example" ] && settings=""; \
	  echo "=== $$request$${settings:+ (settings: $$settings)}"; \
	  env -u RUST_BACKTRACE $(KWCTL_BIN) run -r test_data/$$request $${settings:+--settings-path test_data/$$settings} $(RUN_POLICY) \
	    | jq -r '$(DECISION)'; \
	done
endif

# The AdmissionRequest that creates the object in FILE (YAML or JSON), for `kwctl run` with no cluster:
# make request FILE=my-pipelinerun.yaml > request.json
request:
	@$(MAKE) --no-print-directory -s $(RUNNER) >&2
	@$(RUNNER) request "$(FILE)"

# request[@settings]: the TEP example in order (PipelineRun, its TaskRun from a hub taskRef, its Pod),
# then the other shapes the policy handles.
EXAMPLES := pipelinerun-tep-create.json taskrun-tep-hub.json pod-tep-hub.json \
	taskrun-inline.json pod-inline-already-injected.json taskrun-override.json \
	pod-script-workspaces.json pod-tep-hub.json@settings-native.yaml \
	pod-template-dind.json@settings-dind-template.yaml pipelinerun-typo.json \
	pod-not-tekton.json pod-tekton-no-declaration.json

clean:
	cargo clean
	rm -rf policy.wasm annotated-policy.wasm baseline.wasm mutation-floor.wasm naive-policy.wasm e2e-tests/node_modules web/pkg web/node_modules
