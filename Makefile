# The one front door. `make test` runs everything from a fresh clone and installs what it needs.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

APT_PACKAGES := shellcheck openssh-server openssh-client debootstrap systemd-container iproute2 openssl curl time zstd
MOCHA := npx mocha

# `make bench`'s stdout is its JSON lines: no echo of the recipes it runs.
ifeq ($(MAKECMDGOALS),bench)
.SILENT:
endif

.PHONY: help deps engine k8s-supply bench bench-supply typecheck lint test test-unit test-engine test-supply test-lab test-e2e lab-up lab-down drill drill-down plan

help:
	@echo "make drill     the local DR drill: lab, both stacks, failover, re-failover, drift preview"
	@echo "make test      run the whole test suite (installs packages, builds the offline engine)"
	@echo "make drill-down   remove the lab and the drill's stacks"
	@echo "make engine    build or reuse the offline Pulumi engine"
	@echo "make k8s-supply   build or reuse the lab's Kubernetes binaries, images, packages (supply/README.md)"
	@echo "make plan STACK=primary   offline plan of one stack (npm run plan -- <stack> also works)"
	@echo "make bench [SECTIONS=program] [RUNS=3]   one JSON line per measurement, with its floor (README, Performance)"

deps:
	scripts/ensure-deps.sh apt $(APT_PACKAGES)
	scripts/ensure-deps.sh npm

engine: deps
	scripts/build-engine.sh >/dev/null

# Prints the supply's cache directory; builds it (minutes) only when the versions or supply/ changed.
k8s-supply:
	supply/build.sh

# One JSON line per measurement on stdout: the project's figure, the floor measured in the same run,
# their ratio. The engine is a prerequisite, as for every target that runs pulumi (cached: reused).
bench: engine
	@npx ts-node --transpile-only tools/bench.ts $(if $(RUNS),--runs $(RUNS)) $(SECTIONS)

bench-supply: k8s-supply
	bench/k8s-supply.sh

test-supply: deps k8s-supply
	$(MOCHA) 'test/integration/k8s-supply.test.ts'

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

lint: deps
	shellcheck -x .ci/run scripts/*.sh node/*.sh node/etcd-dr node/lib/*.sh lab/*.sh lab/instance/nspawn-k8s-fixups supply/*.sh bench/*.sh
	cd lab/objstore && PATH="/usr/local/go/bin:$$PATH" go vet ./... && PATH="/usr/local/go/bin:$$PATH" go test -count=1 ./...

test-unit: deps
	$(MOCHA) 'test/unit/**/*.test.ts'

# The kubernetes provider's test runs etcd and kube-apiserver from the Kubernetes supply on loopback.
test-engine: engine k8s-supply
	source scripts/engine-env.sh && $(MOCHA) 'test/integration/engine-smoke.test.ts' 'test/integration/engine-kubernetes.test.ts'

lab-up: deps k8s-supply
	lab/cloud.sh up

lab-down:
	lab/cloud.sh down

# Each suite brings the local cloud up and takes it down after it, whether it passes or not. The
# first `down` clears what a run that died halfway left (a bridge, an instance, the store).
test-lab: engine k8s-supply
	lab/cloud.sh down
	status=0; $(MOCHA) 'test/integration/lab-instance.test.ts' || status=$$?; lab/cloud.sh down; exit $$status
	status=0; $(MOCHA) 'test/integration/lab-site.test.ts' || status=$$?; lab/cloud.sh down; exit $$status
	status=0; $(MOCHA) 'test/integration/lab-toolkit.test.ts' || status=$$?; lab/cloud.sh down; exit $$status

# The drill, with assertions, then drift, destroy and the lab's down.
test-e2e: engine k8s-supply
	lab/cloud.sh down
	$(MOCHA) 'test/e2e/**/*.test.ts'

drill: engine k8s-supply
	npx ts-node --transpile-only tools/drill.ts

drill-down:
	source scripts/engine-env.sh && for stack in lab-standby lab-primary; do \
		pulumi stack rm "$$stack" --force --yes --non-interactive 2>/dev/null || true; done
	lab/cloud.sh down

test: typecheck lint test-unit test-engine test-supply test-lab test-e2e
	@echo "make test: all layers passed"

plan: deps
	npm run -s plan -- $(STACK)
