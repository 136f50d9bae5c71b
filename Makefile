# The one front door. `make test` runs everything from a fresh clone and installs what it needs.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

APT_PACKAGES := shellcheck openssh-server openssh-client
MOCHA := npx mocha

.PHONY: help deps engine typecheck lint test test-unit test-engine plan

help:
	@echo "make test      run the whole test suite (installs packages, builds the offline engine)"
	@echo "make engine    build or reuse the offline Pulumi engine"
	@echo "make plan STACK=primary   offline plan of one stack (npm run plan -- <stack> also works)"

deps:
	scripts/ensure-deps.sh apt $(APT_PACKAGES)
	scripts/ensure-deps.sh npm

engine: deps
	scripts/build-engine.sh >/dev/null

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

lint: deps
	shellcheck scripts/*.sh node/*.sh

test-unit: deps
	$(MOCHA) 'test/unit/**/*.test.ts'

test-engine: engine
	source scripts/engine-env.sh && $(MOCHA) 'test/integration/engine-smoke.test.ts'

test: typecheck lint test-unit test-engine
	@echo "make test: all layers passed"

plan: deps
	npm run -s plan -- $(STACK)
