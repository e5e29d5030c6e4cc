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
# adapters with their contract suites. Lambda (test/e2e) needs Docker there.
LOCALSTACK_PKGS := ./internal/store/dynamo/... ./internal/queue/sqs/...

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Run the example workflow on the embedded backends, with live progress.
	$(GO) run ./functions/bora run $(EXAMPLE)

.PHONY: test
test: ## Run every test: vet, unit, contract, simulation, conformance, end to end on MiniStack, AWS adapters on LocalStack.
	@# LocalStack installs (first run only) while the rest goes on.
	@mkdir -p .emulator && { EMULATOR=localstack ./scripts/emulator install >.emulator/localstack-install.log 2>&1 & }
	$(GO) vet $(PKGS)
	$(GO) vet -tags lambda.norpc ./functions/...
	BORA_REQUIRE_EMULATOR=1 ./scripts/emulator run $(GO) test -race -count=1 -timeout 15m $(PKGS)
	@$(MAKE) --no-print-directory test-localstack

.PHONY: test-localstack
test-localstack: ## Run the DynamoDB and SQS adapters' tests on LocalStack (port LOCALSTACK_PORT).
	BORA_REQUIRE_EMULATOR=1 EMULATOR=localstack EMULATOR_PORT=$(LOCALSTACK_PORT) \
		./scripts/emulator run $(GO) test -race -count=1 -timeout 5m $(LOCALSTACK_PKGS)

.PHONY: soak
soak: ## Run `make test` three times in a row with every core kept busy by other processes.
	./scripts/under-load -n 3 $(MAKE) --no-print-directory test

.PHONY: e2e
e2e: ## Run the end-to-end suite: Lambda binaries, queues and table on the emulator.
	BORA_REQUIRE_EMULATOR=1 ./scripts/emulator run $(GO) test -count=1 -v ./test/e2e/

.PHONY: sim
sim: ## Run the deterministic simulation over SEEDS seeds (make sim SEEDS=1000).
	@set -o pipefail; $(GO) test -count=1 -timeout 60m -run 'TestSimulation$$' -v ./internal/sim -seeds=$(SEEDS) | grep -vE '^(=== RUN|--- PASS|PASS|ok )'

.PHONY: emulator
emulator: ## Start the local AWS emulator (MiniStack) on 127.0.0.1:4566.
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
