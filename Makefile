# Bora — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
PKGS := ./...
SEEDS ?= 200
EXAMPLE ?= events/examples/showcase.yaml
PEER_TASKS ?= 200
# LocalStack runs beside MiniStack, 10 ports above it unless told otherwise.
LOCALSTACK_PORT ?= $(shell expr $(or $(EMULATOR_PORT),4566) + 10)
# The packages whose tests also run on LocalStack: the DynamoDB and SQS
# adapters with their contract suites. Lambda (test/e2e) needs Docker there;
# test-localstack also deploys the stack's template (infra), Lambda left out.
LOCALSTACK_PKGS := ./internal/store/dynamo/... ./internal/queue/sqs/...
CDK := ./scripts/cdk
VENV := .venv
CFN_LINT_VERSION := 1.58.0
OPENAPI_VALIDATOR_VERSION := 0.9.0

# jsii, under the CDK, warns at length on Node.js 20, which still runs it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Run the example workflow on the embedded backends, with live progress.
	$(GO) run ./functions/bora run $(EXAMPLE)

.PHONY: test
test: ## Run every test: vet, unit, contract, simulation, conformance, CDK stack, end to end on MiniStack, AWS adapters on LocalStack.
	@# LocalStack installs (first run only) while the rest goes on.
	@mkdir -p .emulator && { EMULATOR=localstack ./scripts/emulator install >.emulator/localstack-install.log 2>&1 & }
	@# The console's browser tests need Chromium (installed once, with apt-get).
	./scripts/chromium install
	$(GO) vet $(PKGS)
	$(GO) vet -tags lambda.norpc ./functions/...
	cd infra && $(GO) vet ./... && $(GO) test -count=1 ./...
	$(MAKE) --no-print-directory lint-openapi
	$(MAKE) --no-print-directory synth
	BORA_REQUIRE_EMULATOR=1 BORA_REQUIRE_BROWSER=1 ./scripts/emulator run $(GO) test -race -count=1 -timeout 15m $(PKGS)
	@$(MAKE) --no-print-directory test-localstack

.PHONY: console-shots
console-shots: ## Run the console's browser tests, keeping their screenshots in test-output/console/ (and docs/console.png).
	./scripts/chromium install
	rm -rf test-output/console
	BORA_REQUIRE_BROWSER=1 BORA_CONSOLE_SHOTS=$(CURDIR)/test-output/console $(GO) test -count=1 -run '^TestConsole$$' ./functions/bora/
	cp test-output/console/execution-showcase.png docs/console.png

.PHONY: test-localstack
test-localstack: ## Run the DynamoDB and SQS adapters' tests on LocalStack (port LOCALSTACK_PORT) and deploy the stack's template to it.
	BORA_REQUIRE_EMULATOR=1 EMULATOR=localstack EMULATOR_PORT=$(LOCALSTACK_PORT) ./scripts/emulator run $(SHELL) -c '\
		$(GO) test -race -count=1 -timeout 5m $(LOCALSTACK_PKGS) && \
		cd infra && $(GO) test -count=1 -timeout 5m -run "^TestStackOnLocalStack$$" .'

.PHONY: soak
soak: ## Run `make test` three times in a row with every core kept busy by other processes.
	./scripts/under-load -n 3 $(MAKE) --no-print-directory test

.PHONY: e2e
e2e: ## Run the end-to-end suite on the emulator, on the stack deploy-local deploys.
	BORA_REQUIRE_EMULATOR=1 ./scripts/emulator run $(GO) test -count=1 -v ./test/e2e/

.PHONY: sim
sim: ## Run the deterministic simulation over SEEDS seeds (make sim SEEDS=1000).
	@set -o pipefail; $(GO) test -count=1 -timeout 60m -run 'TestSimulation$$' -v ./internal/sim -seeds=$(SEEDS) | grep -vE '^(=== RUN|--- PASS|PASS|ok )'

.PHONY: emulator
emulator: ## Start the local AWS emulator (MiniStack) on 127.0.0.1:$EMULATOR_PORT (4566).
	./scripts/emulator start

.PHONY: bench
bench: ## Run the benchmarks and print their figures, Mistral's beside the embedded ones.
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
	./scripts/bench-peer -linear $(PEER_TASKS) -items $(PEER_TASKS)

.PHONY: build
build: ## Build the Lambda bootstrap zips (arm64 and amd64) into dist/.
	./scripts/build-lambdas

.PHONY: lint
lint: ## Check formatting and vet.
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet $(PKGS)
	cd infra && $(GO) vet ./...

.PHONY: synth
synth: build cfn-lint-install ## Synthesize the CDK app into infra/cdk.out (offline) and check its templates with cfn-lint.
	$(CDK) synth -q
	cd infra && ../$(VENV)/bin/cfn-lint

.PHONY: lint-openapi
lint-openapi: ## Check the HTTP API's OpenAPI document (internal/api/openapi.json) against the OpenAPI 3.1 specification.
	@$(VENV)/bin/python -c 'import openapi_spec_validator' 2>/dev/null && \
		$(VENV)/bin/python -m pip show openapi-spec-validator 2>/dev/null | grep -qx 'Version: $(OPENAPI_VALIDATOR_VERSION)' || { \
		{ test -x $(VENV)/bin/python || python3 -m venv $(VENV); } && \
		echo "installing openapi-spec-validator==$(OPENAPI_VALIDATOR_VERSION) into $(VENV)" && \
		$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check openapi-spec-validator==$(OPENAPI_VALIDATOR_VERSION); }
	$(VENV)/bin/openapi-spec-validator internal/api/openapi.json

.PHONY: cfn-lint-install
cfn-lint-install:
	@$(VENV)/bin/cfn-lint --version 2>/dev/null | grep -qx 'cfn-lint $(CFN_LINT_VERSION)' || { \
		{ test -x $(VENV)/bin/python || python3 -m venv $(VENV); } && \
		echo "installing cfn-lint==$(CFN_LINT_VERSION) into $(VENV)" && \
		$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check cfn-lint==$(CFN_LINT_VERSION); }

.PHONY: deploy-local
deploy-local: ## Deploy the BoraLocal stack to the emulator with the CDK CLI (starts the emulator if needed).
	./scripts/emulator start
	./scripts/emulator run ./scripts/deploy-local

.PHONY: destroy-local
destroy-local: ## Delete the BoraLocal stack from the emulator.
	./scripts/emulator run $(CDK) destroy --force BoraLocal

.PHONY: deploy
deploy: ## Deploy the Bora stack to the AWS account and region of your credentials (docs/deploy.md).
	@test -z "$$AWS_ENDPOINT_URL" || { echo "AWS_ENDPOINT_URL is set ($$AWS_ENDPOINT_URL): make deploy goes to AWS; make deploy-local deploys to the emulator" >&2; exit 1; }
	./scripts/build-lambdas
	$(CDK) synth -q
	$(CDK) bootstrap --app cdk.out
	$(CDK) deploy --app cdk.out Bora --outputs-file cdk.out/Bora.outputs.json

.PHONY: destroy
destroy: ## Delete the Bora stack from AWS; its table and log groups are kept (docs/deploy.md).
	@test -z "$$AWS_ENDPOINT_URL" || { echo "AWS_ENDPOINT_URL is set ($$AWS_ENDPOINT_URL): make destroy-local is for the emulator" >&2; exit 1; }
	./scripts/build-lambdas
	$(CDK) destroy Bora
