# Go WASM guests and the Extism comparison plugins, included by the top-level
# Makefile (which defines WASM_OUT, GO and CLANG). Paths are relative to the
# repository root. Each .wasm is rebuilt only when its sources, the SDK's or
# the go.mod/go.sum it builds with changed.

.PHONY: guests-go guests-extism

# The standard Go toolchain builds a reactor: _initialize runs the package
# inits, main is never called.
GO_WASM_BUILD = GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath

# What every Go guest compiles in besides its own directory: the SDK and the
# host packages it uses for msgpack (host/codec, host/mem).
GO_GUEST_DEPS := $(filter-out %_test.go,$(wildcard wasmguest/go/stark/*.go host/codec/*.go host/mem/*.go)) \
	go.mod go.sum

# name:directory of each Go guest; the output is $(WASM_OUT)/name.wasm.
GO_GUESTS := \
	counter-go:examples/wasm/counter-go \
	go-echo:host/wasm/testdata/go/echo \
	go-panic:host/wasm/testdata/go/panic \
	go-bench:host/wasm/testdata/go/bench

go_guest_name = $(word 1,$(subst :, ,$(1)))
go_guest_dir = $(word 2,$(subst :, ,$(1)))

define go_guest_rule
$(WASM_OUT)/$(call go_guest_name,$(1)).wasm: $(filter-out %_test.go,$(wildcard $(call go_guest_dir,$(1))/*.go)) $(GO_GUEST_DEPS)
	@mkdir -p $$(@D)
	$(GO_WASM_BUILD) -o $$@ ./$(call go_guest_dir,$(1))
endef
$(foreach g,$(GO_GUESTS),$(eval $(call go_guest_rule,$(g))))

## guests-go: build the Go guests (and the Extism plugins they are compared with).
guests-go: $(foreach g,$(GO_GUESTS),$(WASM_OUT)/$(call go_guest_name,$(g)).wasm) guests-extism

# Extism comparison plugins (bench/wasm/extism). The Go one builds inside the
# bench module (its go.mod has the Extism Go PDK, github.com/extism/go-pdk,
# from the module proxy); the C one declares the Extism kernel's imports by
# hand and links against wasi-libc. $(abspath) because the Go build runs in
# bench/.
EXTISM_GO_SRC := $(wildcard bench/wasm/extism/go/*.go) bench/go.mod bench/go.sum \
	$(filter-out %_test.go,$(wildcard host/codec/*.go host/mem/*.go)) go.mod
EXTISM_C_SRC := bench/wasm/extism/c/bench.c

$(WASM_OUT)/extism-go.wasm: $(EXTISM_GO_SRC)
	@mkdir -p $(@D)
	cd bench && $(GO_WASM_BUILD) -o $(abspath $@) ./wasm/extism/go

$(WASM_OUT)/extism-c.wasm: $(EXTISM_C_SRC)
	@mkdir -p $(@D)
	$(CLANG) --target=wasm32-wasi -mexec-model=reactor -mbulk-memory -O2 -Wall -Wextra -Werror \
		-Wl,--strip-debug -o $@ $(EXTISM_C_SRC)

## guests-extism: build the Extism plugins of the WASM benchmark (bench/wasmcompare).
guests-extism: $(WASM_OUT)/extism-go.wasm $(WASM_OUT)/extism-c.wasm
