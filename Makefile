# Every target installs what it needs on a fresh clone (make install is incremental).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
# The one command line (cli/main.py), installed into the venv by make install.
XGBAPI := .venv/bin/xgbapi
# uv installs the pinned set in seconds (pip: minutes); bootstrapped from PyPI into the venv.
UV_VERSION := 0.13.9
UV := .venv/bin/uv
# The example the demo trains and serves: diabetes (numeric, bundled), penguins (categorical and
# missing values) or reviews (text). Each has its config and prepared folder.
EXAMPLE ?= diabetes
CONFIG ?= $(if $(filter diabetes,$(EXAMPLE)),config/default.toml,config/$(EXAMPLE).toml)
PREPARED ?= $(if $(filter diabetes,$(EXAMPLE)),data/prepared,data/prepared-$(EXAMPLE))
# make screenshot shows the reviews example unless EXAMPLE is given (make train EXAMPLE=reviews first).
SCREENSHOT_CONFIG := $(if $(filter command line environment,$(origin EXAMPLE)),$(CONFIG),config/reviews.toml)
SCREENSHOT_PREPARED := $(if $(filter command line environment,$(origin EXAMPLE)),$(PREPARED),data/prepared-reviews)
# Regions cfn-lint checks the environment-agnostic templates for.
LINT_REGIONS ?= us-east-1
# The CLI pinned in package.json (what `npx cdk` runs), called directly to skip npx start-up.
CDK := node_modules/.bin/cdk --no-notices
export CDK_DISABLE_CLI_TELEMETRY := 1
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help demo serve-local screenshot bench-local status ab-report install lock train synth test mutate snapshot-update lint deploy deploy-emulated diff bench bench-synth bench-handler bench-encoding bench-scale clean

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

demo: install  ## the product end to end on loopback: train, synth, serve, send the test rows, report
	@echo "==> [1/3] training the example variants locally (make train)"
	@$(MAKE) --no-print-directory train
	@echo "==> [2/3] synthesizing the stacks (make synth)"
	@$(MAKE) --no-print-directory synth
	@echo "==> [3/3] serving the request path on loopback and sending the held-out test rows"
	$(XGBAPI) demo --config $(CONFIG) --prepared $(PREPARED)
	@echo "try the model in a browser: make serve-local$(if $(filter-out diabetes,$(EXAMPLE)), EXAMPLE=$(EXAMPLE)), then open http://127.0.0.1:$(or $(API_PORT),8080)/ (docs/web.md)"

serve-local: install  ## POST /predict and the web page on loopback (API_PORT, RUNTIME_PORT: default 8080, 8081) until Ctrl-C
	$(XGBAPI) serve --config $(CONFIG) --prepared $(PREPARED) $(if $(API_PORT),--api-port $(API_PORT)) $(if $(RUNTIME_PORT),--runtime-port $(RUNTIME_PORT))

screenshot: install  ## docs/web.png: the web page of the trained EXAMPLE (default reviews) in headless Chromium
	$(PY) tests/web/screenshot.py --config $(SCREENSHOT_CONFIG) --prepared $(SCREENSHOT_PREPARED) --out docs/web.png

install: .venv/.installed node_modules/.installed  ## venv at .venv with the pinned set + xgbapi + the pinned CDK CLI

.venv/.installed: requirements.txt requirements-dev.txt requirements-sagemaker.txt constraints.txt pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(UV) --version 2>/dev/null | grep -q '^uv $(UV_VERSION) ' || $(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@# Bytecode compiled once here: with PYTHONDONTWRITEBYTECODE set (as on the CI machine) every
	@# interpreter would otherwise compile xgboost, scikit-learn, the CDK... from source again.
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -r requirements-dev.txt
	$(UV) pip install --quiet --python $(PY) --no-deps -e .
	touch $@

lock: .venv/.installed  ## re-resolve constraints.txt (the one place versions live); UPGRADE=1 takes the newest releases
	@# Compiled from copies without their "-c constraints.txt" line: the old pins must not hold back UPGRADE=1.
	tmp=$$(mktemp -d) && for f in requirements*.txt; do sed '/^-c /d' $$f > $$tmp/$$f; done && \
	$(UV) pip compile $$tmp/requirements-dev.txt --python-version 3.11 --quiet --no-annotate \
		--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade) -o constraints.txt; \
	status=$$?; rm -rf $$tmp; exit $$status

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

train: install  ## train the config's variants locally into runs/<variant>/<run id>/ (+ latest)
	$(XGBAPI) train-examples --example $(EXAMPLE) --config $(CONFIG) --prepared $(PREPARED)

synth: install  ## cdk synth every stack into cdk.out/ (cdk-nag on; CFN_LINT=1 adds cfn-lint)
	rm -rf cdk.out
	CDK_VALIDATION=false $(CDK) synth --quiet -c config=$(CONFIG)
	$(if $(CFN_LINT),.venv/bin/cfn-lint --regions $(LINT_REGIONS) --ignore-checks W3005 -- cdk.out/*.template.json)
	@echo "templates: $$(ls cdk.out/*.template.json | tr '\n' ' ')"
	@$(XGBAPI) cost --config $(CONFIG) --summary

test: install  ## the whole offline test suite, on both cores; prints its wall time
	@start=$$(date +%s); $(PY) -m pytest -q -n $(or $(JOBS),2) --dist worksteal; status=$$?; \
	echo "make test: $$(( $$(date +%s) - start )) s"; exit $$status

mutate: install  ## mutation testing (mutmut) per module: MODULE=path for one, FRESH=1 starts over (not in make test)
	@start=$$(date +%s); $(PY) tests/mutation/mutate.py $(MODULE); status=$$?; \
	echo "make mutate: $$(( $$(date +%s) - start )) s"; exit $$status

snapshot-update:  install  ## re-baseline the template snapshots (review the diff!)
	$(PY) -m pytest -q tests/infrastructure/test_snapshots.py tests/infrastructure/test_construct_templates.py --snapshot-update

lint: install  ## ruff, mypy (strict) on every package and the Lambda, cfn-lint on the templates
	$(PY) -m ruff check .
	$(PY) -m mypy
	@$(MAKE) --no-print-directory synth CFN_LINT=1

deploy: install  ## check the models are promoted and the update is safe, then cdk deploy (AWS credentials; ALLOW_UNSAFE_UPDATE=1, ALLOW_UNPROMOTED=1)
	$(XGBAPI) deploy --config $(CONFIG) $(if $(ALLOW_UNSAFE_UPDATE),--allow-unsafe-update) $(if $(ALLOW_UNPROMOTED),--allow-unpromoted)

diff: install  ## offline template diff of the working tree against REF (default: main)
	$(XGBAPI) diff --ref $(or $(REF),main) --config $(CONFIG)

deploy-emulated: install  ## deploy every stack into moto on loopback, list what was created, tear down
	$(XGBAPI) deploy-emulated --config $(CONFIG)

status: install  ## endpoint status; exit 1 when the endpoint is not on the stack's config (rolled back)
	$(XGBAPI) status --config $(CONFIG)

ab-report: install  ## A/B report of the deployed variants over HOURS (default 24) + ab-report.png
	$(XGBAPI) ab-report --config $(CONFIG) --hours $(or $(HOURS),24)

bench: bench-synth bench-handler bench-encoding bench-local  ## all benchmarks

bench-synth: install  ## make synth against a hello-world CDK app
	$(PY) bench/synth_bench.py

bench-handler: install  ## preprocessing Lambda: cold start and warm cost vs the floor and pandas (COMPARE=REF: also REF's cold start)
	$(PY) bench/handler_bench.py $(if $(COMPARE),--compare $(COMPARE))

bench-encoding: install  ## raw fields (penguins, reviews): handler, encoder and cold start vs their floors (CHECK=1: exit 1 on a missed goal)
	$(PY) bench/encoding_bench.py $(if $(CHECK),--check)

bench-scale: install  ## prepare + local training at 1M and 4M rows: peak RSS, rows/s vs pandas (long; not in make bench; ROWS=20000,80000 quick, WORK=DIR, CHECK=1)
	$(PY) bench/scale_bench.py $(if $(ROWS),--rows $(ROWS)) $(if $(WORK),--work $(WORK)) $(if $(CHECK),--check)

bench-local: install  ## 8 clients, 5000 requests through the local request path (needs make train)
	$(PY) bench/local_load.py

clean:  ## remove build output (keeps runs/ and the venv)
	rm -rf cdk.out cdk.out.emulated data/prepared
