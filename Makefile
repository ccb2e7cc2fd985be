# Sendoka — the two commands are `make run` and `make test`.
GO ?= go
PKGS := ./...
BIN := bin/sendoka
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: run build test test-race vet fmt fuzz hostile bench chaos chaos-short clean compose-check screenshots

## run: build and start the server on the embedded default (SQLite in ./sendoka-data, sandbox providers)
run: build
	./$(BIN) serve

## build: build the sendoka binary into bin/
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./hosts/sendoka

## test: vet, then every test (SQLite; Postgres too when SENDOKA_TEST_DATABASE_URL is set), examples included
test: vet
	$(GO) test -count=1 -timeout 15m $(PKGS)

## test-race: the tests under the race detector (slower)
test-race:
	$(GO) test -count=1 -race -timeout 30m $(PKGS)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)

fmt:
	gofmt -w .

## fuzz: run each fuzz target briefly (FUZZTIME=30s by default)
FUZZTIME ?= 30s
fuzz:
	@for spec in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$spec/*_test.go | sed 's/func //'); do \
	    echo "== $$spec $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$spec || exit 1; \
	  done; \
	done

## hostile: start a real server and send every route of its OpenAPI document hostile requests (go run ./hostile -h);
## HOSTILE_FLAGS=-short is the CI's run; SENDOKA_HOSTILE_DATABASE_URL=postgres://… runs it on Postgres
HOSTILE_FLAGS ?=
hostile:
	$(GO) run ./hostile $(HOSTILE_FLAGS)

## bench: measure the server (SQLite, and Postgres when SENDOKA_BENCH_DATABASE_URL or a local server is there); writes bench/results.md
bench: build
	$(GO) run ./bench/cmd/sendokabench -bin ./$(BIN) -out bench/results.md

## chaos: the fault-injection suite at full size (as root: its own Postgres clusters, a tmpfs; about 30 minutes); writes bench/chaos.md
chaos:
	$(GO) run ./chaos -out bench/chaos.md

## chaos-short: the suite's short form (smaller counts, shorter outages; under 5 minutes), as .ci/run runs it
chaos-short:
	$(GO) run ./chaos -short

clean:
	rm -rf bin sendoka-data

## compose-check: validate compose.yaml and the Dockerfile offline (parse and lint; nothing is pulled)
compose-check:
	$(GO) test -count=1 -run 'TestComposeFile|TestDockerfile' ./hosts/sendoka

## screenshots: run the dashboard's browser tests on SQLite and save a screenshot of each page into docs/screenshots
screenshots:
	SENDOKA_TEST_DATABASE_URL= SENDOKA_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'TestBrowser' ./hosts/dashboard
