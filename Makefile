# FAVAD — the 128 administrative-emergencies server.
GO      ?= go
PKGS    := ./...
# go.mod's toolchain line (a Go with the standard library's security fixes)
# is the Go that builds FAVAD: an older local Go fetches it from the module
# proxy once, a newer one is used as it is. GOTOOLCHAIN=local set in the
# environment would keep an unpatched Go, so the Makefile says auto.
export GOTOOLCHAIN := auto
# ADDR and DATA, given on make's command line (make run ADDR=:9000 DATA=/srv/favad),
# become favad's --addr and --data. Otherwise favad reads FAVAD_ADDR and
# FAVAD_DATA, and without those uses its defaults (127.0.0.1:8128, ./data).
RUN_FLAGS := $(if $(filter command line,$(origin ADDR)),--addr $(ADDR)) $(if $(filter command line,$(origin DATA)),--data $(DATA))

.PHONY: run build test check fmt vet speclint vulncheck bench storm fuzz clean

## run: start the server with the Qazvin demo data (ADDR=, DATA= or FAVAD_ADDR, FAVAD_DATA to move it)
# The binary is built, then run (not `go run`, which exits 1 when interrupted: make
# then said "Error 1" after Ctrl-C had stopped the server cleanly).
run:
	@$(GO) build -o bin/favad ./cmd/favad
	exec ./bin/favad serve $(strip $(RUN_FLAGS)) --demo

## build: compile the favad binary into bin/
build:
	$(GO) build -o bin/favad ./cmd/favad

## test: every test with the race detector (unit, store, HTTP with spec validation, real processes);
## then the store's tests again with every index entry written behind kept waiting, so that every
## read goes through the merge of what waits (sync/indexbehind.go), and once more with what waits
## moved every 3 entries, so that entries placed, waiting and moved mix at every point
test:
	$(GO) test -race -count=1 -timeout 10m $(PKGS)
	FAVAD_TEST_INDEX_BEHIND=keep $(GO) test -race -count=1 -timeout 4m ./sync/
	FAVAD_TEST_INDEX_BEHIND=3 $(GO) test -count=1 -timeout 4m ./sync/

## check: gofmt, go vet, the OpenAPI lint and govulncheck
check: fmt vet speclint vulncheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

speclint:
	$(GO) run ./api-spec/lint api-spec/openapi.yaml

## fuzz: each fuzz target for $(FUZZTIME) (their seeds, in testdata/fuzz, also run in `make test`).
## A bare "context deadline exceeded" with no failing input written is Go 1.26's coordinator race at the
## end of -fuzztime (go.dev/issue/75804), not a finding: it is reported and the next target runs.
FUZZTIME    ?= 5s
FUZZTARGETS := ./inspector:FuzzParseOfficeCSV ./inspector:FuzzNormalizeText ./sync:FuzzPullCursor ./sync:FuzzListCursor \
	./server:FuzzPush ./server:FuzzDecodeJSON ./server:FuzzLastEventID ./server:FuzzUploadMetadata \
	./sync/client:FuzzProblemOf ./media:FuzzReadPhotoMeta ./media:FuzzThumbnail ./internal/strictjson:FuzzDecode
fuzz:
	@out=$$(mktemp); trap 'rm -f $$out' EXIT; for t in $(FUZZTARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; echo "fuzz $$fn in $$pkg for $(FUZZTIME)"; \
		if $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg >$$out 2>&1; then tail -n 2 $$out; \
		elif grep -q '^    context deadline exceeded$$' $$out && ! grep -q 'Failing input written' $$out; then \
			tail -n 6 $$out; echo "$$fn: stopped by go.dev/issue/75804 at the end of -fuzztime, no failing input"; \
		else cat $$out; exit 1; fi; \
	done

## vulncheck: govulncheck v1.9.0 offline, against the Go vulnerability database
## pinned in internal/vulncheck (fails on a called vulnerability not accepted in
## internal/vulncheck/allow.txt)
vulncheck:
	$(GO) run ./internal/vulncheck ./...

## bench: Go benchmarks (see docs/benchmarks.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

## storm: the reconnect storm (docs/benchmarks.md, "Reconnect storm"): STORM_DEVICES devices,
## each with 50 queued records and 2 photos of 100 KiB, reconnect at once to a fresh child server
STORM_DEVICES ?= 5000
storm: build
	./bin/favad storm --devices $(STORM_DEVICES)

clean:
	rm -rf bin
