# FAVAD — the 128 administrative-emergencies server.
GO      ?= go
DATA    ?= ./data
ADDR    ?= 127.0.0.1:8128
PKGS    := ./...

.PHONY: run build test check fmt vet speclint bench clean

## run: start the server with its bbolt store in $(DATA) and the Qazvin demo data
run:
	$(GO) run ./cmd/favad serve --addr $(ADDR) --data $(DATA) --demo

## build: compile the favad binary into bin/
build:
	$(GO) build -o bin/favad ./cmd/favad

## test: every test with the race detector (unit, store, HTTP with spec validation, real processes)
test:
	$(GO) test -race -count=1 -timeout 8m $(PKGS)

## check: gofmt, go vet and the OpenAPI lint
check: fmt vet speclint

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

speclint:
	$(GO) run ./api-spec/lint api-spec/openapi.yaml

## bench: Go benchmarks (see docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

clean:
	rm -rf bin
