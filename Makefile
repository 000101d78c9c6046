# STARK: the two commands that matter are `make run` and `make test`.
GO        ?= go
GOFLAGS   ?=
FUZZTIME  ?= 10s
PKGS      := ./...

.PHONY: run test deps fmt-check vet unit bench bench-host bench-actors clean

## run: the main demo (a supervision tree that survives a crashing child) on the embedded defaults.
run:
	$(GO) run ./examples/supervision

## test: install what the tests need, then run every test (race detector on).
test: deps fmt-check vet unit

deps:
	$(GO) mod download
	cd bench && $(GO) mod download

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	cd bench && $(GO) vet ./...

unit:
	$(GO) test -race -count=1 $(PKGS)
	cd bench && $(GO) test -count=1 ./...
	$(GO) run ./examples/supervision >/dev/null

## bench: micro-benchmarks of the host packages, then STARK vs Proto.Actor side by side.
bench: bench-host bench-actors

bench-host:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 ./host/...

bench-actors:
	cd bench && $(GO) run ./cmd/actorbench

clean:
	$(GO) clean -testcache
