# STARK: the two commands that matter are `make run` and `make test`.
GO        ?= go
GOFLAGS   ?=
FUZZTIME  ?= 10s
PKGS      := ./...

.PHONY: run run-wasm test deps deps-sys guests lib plugins install fmt-check vet unit bench bench-host bench-actors bench-wasm bench-device clean
.DEFAULT_GOAL := run

# WASM guests are built from source into $(WASM_OUT) (never committed).
WASM_OUT  ?= build/wasm
CLANG     ?= clang-14
include wasmguest/c/guests.mk
include wasmguest/go/guests.mk

## guests: build every WASM guest (examples and test modules) from source.
guests: guests-c guests-go

# libstark.so: the C ABI (abi/stark.h), SONAME libstark.so.$(ABI_MAJOR).
ABI_MAJOR := $(shell sed -n 's/^\#define STARK_ABI_VERSION_MAJOR \([0-9]*\).*/\1/p' abi/stark.h)
ABI_MINOR := $(shell sed -n 's/^\#define STARK_ABI_VERSION_MINOR \([0-9]*\).*/\1/p' abi/stark.h)
LIB_DIR   ?= build/lib
LIB       := $(LIB_DIR)/libstark.so.$(ABI_MAJOR)
PREFIX    ?= /usr/local
LIB_SRC   := $(wildcard capi/*.go capi/*.c capi/*.h capi/*.map abi/*.h) go.mod go.sum \
	$(filter-out %_test.go,$(wildcard host/*.go host/*/*.go))

include capi/ctest.mk
include examples/c.mk
include bench/c/bench.mk
include bindings/python/python.mk
include bindings/rust/rust.mk

# Device backend plugins: build/lib/stark/libstark_<name>.so.
PLUGIN_DIR ?= build/lib/stark
include plugins/vulkan/plugin.mk
include plugins/cuda/plugin.mk
include plugins/rocm/plugin.mk
include plugins/metal/plugin.mk

## plugins: build every device backend plugin this machine can build.
plugins: plugin-vulkan plugin-cuda plugin-rocm plugin-metal

## lib: build libstark.so (and the libstark.so symlink) into $(LIB_DIR).
lib: $(LIB)

$(LIB): $(LIB_SRC)
	@mkdir -p $(LIB_DIR)
	$(GO) build -buildmode=c-shared -trimpath \
		-ldflags "-extldflags '-Wl,-soname,libstark.so.$(ABI_MAJOR) -Wl,--version-script=$(abspath capi/libstark.map)'" -o $@ ./capi
	@rm -f $(LIB_DIR)/libstark.so.h
	ln -sf libstark.so.$(ABI_MAJOR) $(LIB_DIR)/libstark.so

## install: install the library, abi/stark.h and stark.pc under $(PREFIX) (DESTDIR honoured).
install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libstark.so.$(ABI_MAJOR)
	ln -sf libstark.so.$(ABI_MAJOR) $(DESTDIR)$(PREFIX)/lib/libstark.so
	install -m 0644 abi/stark.h abi/stark_device.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(ABI_MAJOR).$(ABI_MINOR)|g' abi/stark.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/stark.pc

## run: the main demo (a supervision tree that survives a crashing child) on the embedded defaults.
run:
	$(GO) run ./examples/supervision

## run-wasm: the WASM demo: counters in Go and C, a supervised guest, a hot upgrade.
run-wasm: guests
	$(GO) run ./examples/wasm/host -dir $(WASM_OUT)

## test: install what the tests need, then run every test (race detector on).
test: deps guests lib plugins fmt-check vet unit test-c examples-c plugin-cuda-check test-python test-rust

deps: deps-sys
	$(GO) mod download
	cd bench && $(GO) mod download

# Debian packages: clang, lld, wasi-libc and the wasm32 builtins for the C
# guests; the Vulkan loader and headers, glslang and Mesa's lavapipe for the
# vulkan plugin and its tests; pkg-config for the install check; valgrind
# for the C ABI suite.
SYS_APT := clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 \
	libvulkan-dev glslang-tools mesa-vulkan-drivers pkg-config valgrind
## deps-sys: install the system packages the build and tests need (apt, when missing).
deps-sys:
	@missing=$$(for p in $(SYS_APT); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)
	cd bench && $(GO) vet ./...

# wazero compiles ten times slower under the race detector: a quick run of
# the WASM tests without it fills a compilation cache the race run reuses.
WASM_TEST_CACHE ?= $(abspath build/wasm-test-cache)

unit:
	STARK_WASM_TEST_CACHE=$(WASM_TEST_CACHE) $(GO) test -count=1 ./host/wasm
	STARK_WASM_TEST_CACHE=$(WASM_TEST_CACHE) STARK_REQUIRE_VULKAN=1 $(GO) test -race -count=1 $(PKGS)
	cd bench && $(GO) test -count=1 ./...
	$(GO) run ./examples/supervision >/dev/null
	$(GO) run ./examples/wasm/host -dir $(WASM_OUT) >/dev/null

## bench: micro-benchmarks of the host packages, STARK vs Proto.Actor, then the WASM comparisons.
bench: bench-host bench-actors bench-wasm bench-c bench-python bench-device

bench-host:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 ./host/...

bench-actors:
	cd bench && $(GO) run ./cmd/actorbench

## bench-device: the cpu backend's matmul against numpy (OpenBLAS), the plugin path and vulkan on lavapipe against the cpu backend.
bench-device: plugins
	sh bench/device/matmul.sh
	STARK_REQUIRE_VULKAN=1 $(GO) test -run='^$$' -bench='PluginPath|VulkanLaunchOverhead|VulkanMatmul' -benchtime=2s ./host/device

## bench-wasm: WASM actors vs raw wazero, sandboxed vs trusted, vs Extism; spawn cost; 10,000 live actors.
bench-wasm: guests
	cd bench && $(GO) run ./cmd/wasmbench -dir $(abspath $(WASM_OUT))

clean:
	$(GO) clean -testcache
