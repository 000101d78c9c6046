# C guests: every C WASM module in the tree, built from source into
# $(WASM_OUT)/<name>.wasm. Included by the top-level Makefile, which defines
# WASM_OUT and CLANG; paths are relative to the repository root.
#
#   make guests-c                  build what is out of date
#   make guests-c CLANG=clang-15   another clang (any with wasm32-wasi support)
#   make guests-c WASI_SYSROOT=/opt/wasi-sysroot
#                                  a wasi-libc that is not where clang looks
#                                  by default (Debian's wasi-libc package is)
#
# A module is rebuilt when its source, a file it includes (tracked by
# clang's -MMD; the header is also listed by hand) or stark_guest.h changes.
# Dependency files go to $(WASM_OUT)/.deps-c/.
#
# Flags (see also the header comment of wasmguest/c/stark_guest.h):
#   --target=wasm32-wasi -mexec-model=reactor
#                   the contract wants a wasi reactor (_initialize, no _start);
#                   only c-command.wasm is built without it, on purpose.
#   -mbulk-memory   memcpy/memset become one memory.copy/memory.fill
#                   instruction instead of a loop (each loop back-edge costs a
#                   check under interruptible execution).
#   -O2 -std=c11 -Wall -Wextra
#   -Wl,--strip-debug
#                   no DWARF; the name section stays for readable traps.
#   -Wl,--stack-first
#                   shadow stack at the bottom of memory: an overflow runs
#                   below address 0 and traps instead of corrupting data.
#   -Wl,-z,stack-size=$(STARK_C_STACK)
#                   16 KiB: stack + static data + the start of the malloc
#                   heap fit in one 64 KiB page, so a guest's initial memory
#                   is 1 page and a small-message actor never grows: 10,000
#                   instances take 625 MiB of linear memory.

# Do not let this fragment's first rule become the default goal of the
# including Makefile.
stark_c_saved_default_goal := $(.DEFAULT_GOAL)

WASI_SYSROOT   ?=
STARK_C_STACK  ?= 16384
STARK_C_HEADER := wasmguest/c/stark_guest.h
STARK_C_DEPDIR  = $(WASM_OUT)/.deps-c

STARK_C_CFLAGS  = --target=wasm32-wasi $(if $(WASI_SYSROOT),--sysroot=$(WASI_SYSROOT)) \
                  -O2 -std=c11 -mbulk-memory -Wall -Wextra -I wasmguest/c
STARK_C_LDFLAGS = -Wl,--strip-debug -Wl,--stack-first -Wl,-z,stack-size=$(STARK_C_STACK)
STARK_C_REACTOR = -mexec-model=reactor

STARK_C_WASM :=

# $(call stark_c_guest,NAME,SOURCE,EXTRA_FLAGS): build SOURCE into
# $(WASM_OUT)/NAME.wasm.
define stark_c_guest
STARK_C_WASM += $$(WASM_OUT)/$(1).wasm
$$(WASM_OUT)/$(1).wasm: $(2) $$(STARK_C_HEADER)
	@mkdir -p $$(@D) $$(STARK_C_DEPDIR)
	$$(CLANG) $$(STARK_C_CFLAGS) $(3) $$(STARK_C_LDFLAGS) \
		-MMD -MP -MF $$(STARK_C_DEPDIR)/$(1).d -MT $$@ -o $$@ $(2)
endef

# Examples.
$(eval $(call stark_c_guest,counter-c,examples/wasm/counter-c/counter.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,upgrade-v1,examples/wasm/upgrade/v1.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,upgrade-v2,examples/wasm/upgrade/v2.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,upgrade-v2-stateless,examples/wasm/upgrade/v2_stateless.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,upgrade-v2-badinit,examples/wasm/upgrade/v2_badinit.c,$(STARK_C_REACTOR)))

# Test modules of host/wasm.
$(eval $(call stark_c_guest,c-echo,host/wasm/testdata/c/echo.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,c-loop,host/wasm/testdata/c/loop.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,c-membomb,host/wasm/testdata/c/membomb.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,c-recurse,host/wasm/testdata/c/recurse.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,c-unreachable,host/wasm/testdata/c/unreachable.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,c-badptr,host/wasm/testdata/c/badptr.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,c-missing-handle,host/wasm/testdata/c/noexports.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,c-bad-signature,host/wasm/testdata/c/badsig.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,c-bad-version,host/wasm/testdata/c/badversion.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,c-bad-import,host/wasm/testdata/c/badimport.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,c-bench,host/wasm/testdata/c/bench.c,$(STARK_C_REACTOR)))
$(eval $(call stark_c_guest,c-sandbox,host/wasm/testdata/c/sandbox.c,$(STARK_C_REACTOR)))
# A wasi command on purpose (main, _start): the host must refuse it.
$(eval $(call stark_c_guest,c-command,host/wasm/testdata/c/command.c,))

.PHONY: guests-c
## guests-c: build the C guests (examples and host/wasm test modules) into $(WASM_OUT).
guests-c: $(STARK_C_WASM)

-include $(patsubst $(WASM_OUT)/%.wasm,$(STARK_C_DEPDIR)/%.d,$(STARK_C_WASM))

.DEFAULT_GOAL := $(stark_c_saved_default_goal)
