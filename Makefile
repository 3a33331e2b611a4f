# Secure Vault — developer and CI entry points. `make help` lists them.

GO            ?= go
# sqlc is run at a pinned version with `go run pkg@version` rather than as a
# go.mod tool: its cgo parser and wasm runtime would otherwise join the
# product's module graph. The first run builds it (about 2 minutes, cached).
SQLC_VERSION  ?= v1.31.1
SQLC          ?= $(GO) run github.com/sqlc-dev/sqlc/cmd/sqlc@$(SQLC_VERSION)
# golangci-lint (with gosec; .golangci.yml) is pinned the same way, for the
# same reason: its dependency graph stays out of go.mod. First run: about 4
# minutes to build, cached after.
GOLANGCI_VERSION ?= v2.15.0
GOLANGCI      ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
# Directories sqlc writes, read from sqlc.yaml so a new entry is checked too.
SQLC_OUT      := $(shell awk '$$1 == "out:" {print $$2}' sqlc.yaml)
# -race roughly doubles the suite's run time; TEST_FLAGS= turns it off.
TEST_FLAGS    ?= -race
TEST_TIMEOUT  ?= 9m
PKGS          ?= ./...
BENCH_SCENARIOS ?= append latency rebuild http audit history files
# Budget of each fuzz target in `make fuzz`; CI runs them with a short one.
# A count of executions (e.g. 100000x) works too, and cannot end in the
# spurious "context deadline exceeded" a duration can on Go 1.26
# (go.dev/issue/75804).
FUZZTIME      ?= 30s
BIN           ?= bin
# The version the binaries report (`vaultd --version`): git's description of
# the checkout, or "dev" outside a git checkout.
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -s -w -X github.com/securevault/vault/cmd/internal/buildinfo.version=$(VERSION)

export VAULT_ENV ?= dev

.PHONY: help run dev-reset build test fuzz bench lint fmt-check vet golangci staticcheck mod-verify generate generate-check migrate check clean

help: ## list targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## start vaultd in dev mode (creates and migrates the database, embedded JetStream)
	$(GO) run ./cmd/vaultd

dev-reset: ## drop the dev database and its dev state (generated keys, JetStream data) without asking
	$(GO) run ./cmd/vaultctl dev-reset

build: ## build static vaultd and vaultctl binaries into ./bin, stamped with VERSION
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='$(LDFLAGS)' -o $(BIN)/ ./cmd/vaultd ./cmd/vaultctl
	@$(BIN)/vaultd --version
	@$(BIN)/vaultctl --version

test: ## the full test suite against local PostgreSQL and NATS
	$(GO) test $(TEST_FLAGS) -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

fuzz: ## every fuzz target (func FuzzXxx in a _test.go file) for FUZZTIME each, one at a time
	@set -e; \
	for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for target in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$pkg/*_test.go); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench: ## benchmarks, each beside a baseline measured in the same run
	@for s in $(BENCH_SCENARIOS); do echo "== vaultbench $$s"; $(GO) run ./cmd/vaultbench $$s || exit 1; done
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m $(PKGS)

# golangci runs staticcheck among its linters, so lint does not run it twice;
# `make staticcheck` still runs the standalone one.
lint: fmt-check vet golangci mod-verify generate-check ## gofmt, go vet, golangci-lint (gosec, staticcheck, errcheck, ...), module checksums, and generated code up to date

fmt-check:
	@out="$$(gofmt -l .)"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

golangci: ## golangci-lint alone: gosec, errcheck, govet, ineffassign, staticcheck, unused (.golangci.yml)
	$(GOLANGCI) run --allow-parallel-runners $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

# Every module in the cache still has the content go.sum recorded: a
# tampered dependency fails the build here rather than ship.
mod-verify:
	$(GO) mod verify

generate: ## regenerate sqlc code from sql/queries and sql/migrations
	$(SQLC) generate

generate-check: generate ## fail when committed generated code differs from what sqlc generates
	@changed="$$(git status --porcelain -- $(SQLC_OUT))"; \
	if [ -n "$$changed" ]; then \
		echo "generated code is out of date; run 'make generate' and commit:"; echo "$$changed"; \
		git --no-pager diff -- $(SQLC_OUT); exit 1; \
	fi

migrate: ## apply pending migrations to DATABASE_URL
	$(GO) run ./cmd/vaultctl migrate

check: lint test ## everything CI runs

clean:
	rm -rf $(BIN)
