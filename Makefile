# Roost's build, test and lint entry points. `make help` lists them.
# GNU make; recipes use only POSIX sh.

GO ?= go

# staticcheck 2026.2.2, the first release line that supports Go 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Compare benchmark runs with `$(BENCHSTAT) old.txt new.txt`; see STYLE.md §7.
BENCHSTAT_VERSION := v0.0.0-20260908200009-22c9c6c9d4da
BENCHSTAT := $(GO) run golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)

BENCH ?= .
COUNT ?= 1
FUZZTIME ?= 20s

.DEFAULT_GOAL := help
.PHONY: help test lint fmt vet staticcheck bench fuzz build

help: ## List the targets and what they do
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

test: lint ## Lint, run all tests with -race and -shuffle, then every benchmark once
	$(GO) test -race -count=1 -shuffle=on -timeout 45m $$($(GO) list ./... | grep -v '/test/crash\|/test/hardening\|/test/cluster')
	@# test/gotest.sh runs the long verbose suites below and, when one fails, repeats at its end
	@# the tests that failed or were still running when it timed out.
	@# Alone and without -race (the attackers would take the server's CPU): the soak test
	@# compares normal clients' p99 under attack with a quiet run's.
	GO=$(GO) test/gotest.sh -count=1 -v -timeout 10m ./test/hardening
	@# -v: the crash tests report their totals (writes acknowledged, lost, kill rounds) in their logs.
	GO=$(GO) test/gotest.sh -race -count=1 -v -timeout 20m ./test/crash
	@# -v: the cluster tests report acknowledged and lost writes, failover times and the
	@# linearizability checks' sizes. ROOST_CLUSTER_ROUNDS=10 for the long kill runs.
	GO=$(GO) test/gotest.sh -count=1 -v -timeout 15m ./test/cluster
	@# The TypeScript client's tests (node --test) against real roost servers they start.
	cd clients/ts && npm ci --no-audit --no-fund && npm test
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...

lint: fmt vet staticcheck ## Check gofmt, go vet and staticcheck

fmt: ## Fail if any file needs gofmt
	@out=$$(gofmt -l .) || exit 1; \
	if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$out"; exit 1; fi

vet: ## Run go vet
	$(GO) vet ./...

staticcheck: ## Run the pinned staticcheck
	$(STATICCHECK) ./...

bench: ## Run benchmarks matching BENCH (default .) COUNT times (default 1) with -benchmem
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) ./...

fuzz: ## Run each fuzz target in the tree for FUZZTIME (default 20s)
	@list=$$($(GO) test -list '^Fuzz' ./...) || { echo "$$list"; exit 1; }; \
	echo "$$list" | awk '/^Fuzz/ { names = names " " $$1; next } \
		/^ok/ { n = split(names, a, " "); for (i = 1; i <= n; i++) print $$2, a[i]; names = "" }' | \
	while read -r pkg name; do \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg" || exit 1; \
	done

build: ## Build bin/roost
	$(GO) build -o bin/roost ./cmd/roost
