# sfsync: see README.md. The two commands a user needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

FUNCTIONS := api contactsync activitysync
BUILD_DIR := build
GO_LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: check-go
check-go:
	@command -v go >/dev/null || { echo "error: Go is not installed (https://go.dev/dl/)"; exit 1; }

# ---- build: one bootstrap per function, linux/arm64, and its zip --------------
.PHONY: build
build: check-go $(addprefix $(BUILD_DIR)/,$(addsuffix .zip,$(FUNCTIONS))) ## build every function's bootstrap and zip (linux/arm64)

$(BUILD_DIR)/%/bootstrap: FORCE
	@mkdir -p $(dir $@)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(GO_LAMBDA_FLAGS) -o $@ ./functions/$*

$(BUILD_DIR)/%.zip: $(BUILD_DIR)/%/bootstrap
	@command -v zip >/dev/null || { echo "error: zip is not installed (apt-get install zip)"; exit 1; }
	@rm -f $@ && (cd $(BUILD_DIR)/$* && zip -q -X ../$*.zip bootstrap) && echo "built $@"

# SAM's BuildMethod: makefile calls build-<LogicalId> with ARTIFACTS_DIR set.
build-ApiFunction: ; $(MAKE) $(BUILD_DIR)/api/bootstrap && cp $(BUILD_DIR)/api/bootstrap $(ARTIFACTS_DIR)/
build-ContactSyncFunction: ; $(MAKE) $(BUILD_DIR)/contactsync/bootstrap && cp $(BUILD_DIR)/contactsync/bootstrap $(ARTIFACTS_DIR)/
build-ActivitySyncFunction: ; $(MAKE) $(BUILD_DIR)/activitysync/bootstrap && cp $(BUILD_DIR)/activitysync/bootstrap $(ARTIFACTS_DIR)/

.PHONY: FORCE
FORCE:

# The bootstraps are kept beside their zips (SAM and the tests read them).
.PRECIOUS: $(BUILD_DIR)/%/bootstrap

# ---- test ----------------------------------------------------------------------
# The OAuth flow is tested in a real headless browser: Debian's chromium.
.PHONY: check-chromium
check-chromium:
	@if [ -n "$${CHROME_PATH:-}" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then exit 0; fi; \
	echo "Chromium not found; installing Debian's chromium package for the browser tests"; \
	if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  { echo "error: apt-get install chromium failed; install Chromium and/or set CHROME_PATH"; exit 1; }; \
	else echo "error: install Chromium (e.g. sudo apt-get install chromium) or set CHROME_PATH"; exit 1; fi

.PHONY: test
test: check-go check-chromium check-cfn-lint ## run every test of both modules (unit, integration against moto, fuzz seeds, browser, CDK) with -race
	$(MAKE) --no-print-directory test-unit
	./tools/with-moto.sh go test -race -count=1 -timeout 30m ./...
	$(MAKE) --no-print-directory test-infra

# The domain packages and the in-memory ports, tested with no local AWS server in reach:
# no AWS_ENDPOINT_URL, and a PATH that holds Go but not moto_server. They must pass so, in
# well under a minute.
UNIT_PKGS := ./shared/ ./shared/attribution ./shared/attribution/attributiontest ./shared/lifecycle ./shared/lifecycle/lifecycletest ./shared/privacy ./shared/privacy/privacytest ./shared/event/... ./shared/connection ./shared/salesforce ./shared/policy ./shared/policy/policytest ./shared/ledger \
  ./shared/ledger/ledgertest ./shared/delivery ./shared/contactsync ./shared/activitysync \
  ./shared/activitysync/activitytest ./shared/mapping ./shared/mapping/mappingtest ./shared/readiness \
  ./shared/budget ./shared/ratelimit ./shared/ratelimit/ratelimittest ./shared/orgs/orgtest ./shared/health ./shared/health/healthtest

.PHONY: test-unit
test-unit: check-go ## the domain and the in-memory ports, without moto (no server, no endpoint), with -race
	env -u AWS_ENDPOINT_URL PATH="$$(dirname "$$(command -v go)"):/usr/bin:/bin" go test -race -count=1 $(UNIT_PKGS)

.PHONY: check-cfn-lint
check-cfn-lint:
	@command -v cfn-lint >/dev/null || { echo "cfn-lint not found; installing it with: pip install cfn-lint"; \
	  pip install --quiet cfn-lint && command -v cfn-lint >/dev/null; } || \
	  { echo "error: could not install cfn-lint. Run: pip install cfn-lint"; exit 1; }

# ---- lint ----------------------------------------------------------------------
STATICCHECK := $(shell go env GOPATH)/bin/staticcheck
$(STATICCHECK):
	go install honnef.co/go/tools/cmd/staticcheck@latest

.PHONY: lint
lint: check-go $(STATICCHECK) ## gofmt, go vet, staticcheck, cfn-lint
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...
	@command -v cfn-lint >/dev/null || { echo "error: cfn-lint missing (pip install cfn-lint)"; exit 1; }
	cfn-lint template.yaml

.PHONY: clean
clean: ## remove build output and local state
	rm -rf $(BUILD_DIR) .local

# ---- demo ------------------------------------------------------------------------
.PHONY: demo
demo: check-go check-moto ## the whole system locally: connect a demo team, send a scenario of events, print the outcomes
	go run ./tools/demo

# ---- bench: never part of make test or CI ----------------------------------------------
.PHONY: bench
bench: check-go check-moto build ## measure Salesforce calls, DynamoDB requests, throughput, start and memory against a naive baseline
	go run ./tools/bench

# ---- chaos: the full seeded run; a short one is part of make test -----------------
.PHONY: chaos
chaos: check-go check-moto ## seeded chaos run on the local stack (10,000 events, 20 teams, faults); replay: make chaos ARGS='-seed N'
	./tools/with-moto.sh go run ./tools/chaos $(ARGS)

.PHONY: redrive
redrive: check-go ## move a dead-letter queue's messages back after a fix: make redrive DLQ=<dlq url> TO=<queue url> (safe to run twice)
	@[ -n "$(DLQ)" ] && [ -n "$(TO)" ] || { echo "usage: make redrive DLQ=<dead-letter queue URL> TO=<queue URL> (the stack's outputs name them)"; exit 2; }
	go run ./tools/redrive -dlq "$(DLQ)" -to "$(TO)"

# moto at the version tools/motoserver/requirements.txt pins, installed when
# missing or another version (tools/with-moto.sh does the same).
.PHONY: check-moto
check-moto:
	@./tools/motoserver/install.sh

.PHONY: moto-lock
moto-lock: ## write tools/motoserver/requirements.lock (every pinned file's sha256) on a machine that reaches the package index; LOCK_PLATFORMS=... adds other machines' wheels
	./tools/motoserver/lock.sh

# ---- local stack -----------------------------------------------------------------
.PHONY: run
run: check-go ## run the whole service locally (moto, Salesforce simulator, functions, HTTP API); Ctrl-C stops it
	go run ./tools/localstack

.PHONY: token
token: check-go ## print a JWT the local API accepts: make token TEAM=<team_id> [ROLE=admin]
	@[ -n "$(TEAM)" ] || { echo "usage: make token TEAM=<team_id> [ROLE=admin]" >&2; exit 2; }
	@go run ./tools/token -team "$(TEAM)" -role "$(or $(ROLE),admin)"

# ---- deploy: the CDK app in infra/ (its own Go module) ------------------------------
# jsii warns loudly on node versions it no longer supports; the CDK still works.
NODE_MAJOR = $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
INFRA_CONFIG ?= config/dev.json

.PHONY: synth
synth: build ## synthesize the CDK stacks to infra/cdk.out, offline: make synth [INFRA_CONFIG=config/<stage>.json]
	@command -v node >/dev/null || { echo "error: node is not installed (the CDK's jsii runtime needs it)"; exit 1; }
	cd infra && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=$(NODE_MAJOR) \
		CDK_CONTEXT_JSON='{"config":"$(INFRA_CONFIG)","assetDir":"../$(BUILD_DIR)"}' go run .
	@ls infra/cdk.out/*.template.json

.PHONY: test-infra
test-infra: check-go ## test the CDK app and template.yaml: assertions, SAM parity, cfn-lint
	@command -v node >/dev/null || { echo "error: node is not installed (the CDK's jsii runtime needs it)"; exit 1; }
	cd infra && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=$(NODE_MAJOR) go test -race -count=1 ./...
