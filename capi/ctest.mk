# The C ABI test suite (make test-c, part of make test). Included by the
# top-level Makefile, which defines GO, LIB_DIR, LIB, LIB_SRC, ABI_MAJOR,
# WASM_OUT and the targets lib and guests; paths are relative to the
# repository root.
#
#   make test-c                      everything below, one line per program
#   make test-c CTEST_VALGRIND=0     without the valgrind pass
#   make test-c CTEST_ONLY=t_poll    one program (both passes)
#
# What runs:
#
#   [abi]   go test -run '^TestABI' ./capi (capi/abi_test.go): every
#           function abi/stark.h declares is a defined global function of
#           libstark.so and nothing else exported starts with "stark"
#           (stark__* helpers of the C files included); the SONAME; the
#           header compiles with gcc -std=c11/c99 -Wall -Wextra -Werror
#           -pedantic and g++ -std=c++17 -Wall -Wextra -Werror -pedantic, and
#           a unit taking the address of every function links in both
#           languages; every function is called by some C test program.
#   [asan]  each capi/testdata/c/t_*.c, built with AddressSanitizer,
#           UndefinedBehaviorSanitizer and LeakSanitizer against
#           $(LIB) (found through an rpath), then run.
#   [valgrind]  the same programs (but t_wasm), built plainly against a
#           second copy of the library made with `go build -tags valgrind`,
#           run under valgrind --leak-check=full with a hundredth of the
#           messages (STARK_CTEST_SCALE=100), CTEST_JOBS at a time.
#   canary_leak.c leaks a reply on purpose: each checker must report it.
#
# Memory checking, and why this way. The library embeds the Go runtime,
# which neither checker understands by default:
#
#   * ASan/LSan. Only the test programs are instrumented; libstark's
#     mallocs, callocs and frees (replies, poll arenas, pooled buffers,
#     message structs) go through ASan's interceptors all the same, so
#     double or invalid frees, and memcpy/memset past a caller's struct,
#     are caught, and every C allocation is tracked for leaks. Go's signal
#     handlers chain to ASan's, so the defaults work; no ASAN_OPTIONS are
#     needed beyond making failures fatal. LeakSanitizer does not scan the
#     Go heap (it is mmap'ed, not malloc'ed): C memory that only Go still
#     points to at exit is reported. That is what we want, since the
#     programs free their runtimes before exiting: a reply never freed, a
#     poll arena or pool array the library forgot, user data never passed
#     to free_user_data all show up. (This is how the pool's cached arrays,
#     never freed by stark_runtime_free, were found.) One suppression,
#     generated from the built library: the single C.CString of
#     github.com/ianlancetaylor/cgosymbolizer's init (the program's path,
#     handed to libbacktrace, whose state lives in mmap'ed memory LSan
#     does not scan). It matches that package's own cgo malloc stub
#     (_cgo_<its hash>_Cfunc__Cmalloc, read from the library's symbol
#     table), never libstark's, whose stub has another hash.
#   * valgrind. On the ordinary library memcheck reports hundreds of false
#     errors: it does not know Go's goroutine stacks, which Go switches and
#     copies. Go 1.25+ has `-tags valgrind`, which makes the runtime
#     describe its heap and stacks to valgrind; with that build the errors
#     are gone and memcheck also checks Go's own stores into C memory
#     (which ASan cannot see: Go code is not instrumented), e.g. a struct
#     written past its struct_size. Left to suppress (build/ctest/vg.supp,
#     written below): leaks of memory the Go allocator describes to
#     valgrind (its first frame is runtime.valgrindClientRequest: the
#     collector owns it, it is not C memory) and the "possibly lost" TLS
#     blocks of threads that called into Go (glibc's thread cache).
#     GODEBUG=asyncpreemptoff=1: signal-based preemption pushes frames on
#     goroutine stacks behind valgrind's back. GOGC=off: with the collector
#     on, Go 1.26's annotations sometimes describe a reused heap block
#     twice and memcheck's leak check aborts ("Block ... overlaps with
#     block ...; the 'impossible' happened", 4 runs in 6 of t_runtime);
#     never with GOGC=off (the programs are small at this scale). t_wasm
#     is left out: wazero runs guest code on stacks of its own that
#     valgrind cannot follow. valgrind is slow, hence STARK_CTEST_SCALE=100
#     (t_threads sends 8 x 1,000 messages instead of 8 x 100,000). The
#     first build of the valgrind library compiles the Go runtime and every
#     dependency with the tag (about 25 s on 2 cores, cached afterwards).
#
# Checked by breaking things on purpose (then restored):
#   - t_native skipping one stark_reply_free: LSan 'Direct leak of 4
#     byte(s)' from libstark's _Cfunc__Cmalloc, valgrind 'definitely
#     lost'. canary_leak keeps this checked on every run, in both passes.
#   - the library not calling free_user_data: the programs' exact counts
#     fail first (t_runtime, t_native, t_reentrant, t_supervisor); with
#     the counts disabled LSan reports the user data, e.g. the blocks
#     t_runtime hands over from a thread that exits (a pointer left on a
#     live stack would hide a leak from any conservative checker).
#     valgrind calls them "still reachable": the Go heap still points to
#     them, and valgrind scans the Go heap.
#   - stark_poller_free / stark_poll not freeing the poll arena: LSan
#     (t_poll, 'Direct leak ... _Cfunc_realloc').
#   - stark_runtime_free not trimming the buffer pool: LSan, 75 KB of
#     cached arrays in t_buffers (that was a real bug, now fixed).
# So LSan is the leak checker that matters here; valgrind adds the checks
# of Go's stores into C memory and of uninitialised reads.

ctest_saved_default_goal := $(.DEFAULT_GOAL)

CTEST_CC       ?= gcc
CTEST_DIR      := capi/testdata/c
CTEST_OUT      ?= build/ctest
CTEST_ONLY     ?=
CTEST_VALGRIND ?= auto
CTEST_TIMEOUT  ?= 180
CTEST_JOBS     ?= 2

CTEST_ALL      := $(patsubst $(CTEST_DIR)/%.c,%,$(wildcard $(CTEST_DIR)/t_*.c))
CTEST_NAMES    := $(if $(CTEST_ONLY),$(CTEST_ONLY),$(CTEST_ALL))
CTEST_VG_NAMES := $(filter-out t_wasm,$(CTEST_NAMES))
CTEST_DEPS     := $(CTEST_DIR)/t.h $(wildcard abi/*.h)
CTEST_CFLAGS   := -std=c11 -g -O1 -Wall -Wextra -Werror -Iabi -pthread
CTEST_SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
CTEST_VGLIB    := $(CTEST_OUT)/vglib/libstark.so.$(ABI_MAJOR)

CTEST_ASAN_BINS := $(addprefix $(CTEST_OUT)/asan/,$(CTEST_NAMES) canary_leak)
CTEST_VG_BINS   := $(addprefix $(CTEST_OUT)/vg/,$(CTEST_VG_NAMES) canary_leak)

CTEST_HAVE_VG := $(if $(filter 0 no off,$(CTEST_VALGRIND)),,$(shell command -v valgrind 2>/dev/null))

$(CTEST_OUT)/asan/%: $(CTEST_DIR)/%.c $(CTEST_DEPS) $(LIB)
	@mkdir -p $(@D)
	@$(CTEST_CC) $(CTEST_CFLAGS) $(CTEST_SAN) -o $@ $< -L$(LIB_DIR) -lstark -Wl,-rpath,$(abspath $(LIB_DIR))

$(CTEST_OUT)/vg/%: $(CTEST_DIR)/%.c $(CTEST_DEPS) $(CTEST_VGLIB)
	@mkdir -p $(@D)
	@$(CTEST_CC) $(CTEST_CFLAGS) -o $@ $< -L$(dir $(CTEST_VGLIB)) -lstark -Wl,-rpath,$(abspath $(dir $(CTEST_VGLIB)))

# The library again, its Go runtime annotated for valgrind.
$(CTEST_VGLIB): $(LIB_SRC)
	@mkdir -p $(@D)
	@echo "[valgrind] building $@ (go build -tags valgrind)"
	@$(GO) build -tags valgrind -buildmode=c-shared -trimpath \
		-ldflags "-extldflags=-Wl,-soname,libstark.so.$(ABI_MAJOR)" -o $@ ./capi
	@rm -f $(@D)/libstark.so.h
	@ln -sf libstark.so.$(ABI_MAJOR) $(@D)/libstark.so

# LSan: the one allocation of a third-party package we accept (see above).
$(CTEST_OUT)/lsan.supp: $(LIB)
	@mkdir -p $(@D)
	@sym=$$(nm $(LIB) | sed -n 's/^[0-9a-f]* [dD] github\.com\/ianlancetaylor\/cgosymbolizer\.\(_cgo_[0-9a-f]*_Cfunc__Cmalloc\)$$/\1/p' | head -1); \
	{ echo "# Generated by capi/ctest.mk from $(LIB): cgosymbolizer's init C.CString (os.Args[0])"; \
	  echo "# is handed to libbacktrace and kept for the life of the process."; \
	  if [ -n "$$sym" ]; then echo "leak:^$$sym\$$"; fi; } > $@

$(CTEST_OUT)/vg.supp: capi/ctest.mk
	@mkdir -p $(@D)
	@printf '%s\n' \
		'# Generated by capi/ctest.mk (the reasons are there).' \
		'{' '   go-allocator-memory-is-garbage-collected' '   Memcheck:Leak' '   match-leak-kinds: all' \
		'   fun:runtime.valgrindClientRequest.abi0' '}' \
		'{' '   tls-of-threads-that-called-into-go' '   Memcheck:Leak' '   match-leak-kinds: possible' \
		'   ...' '   fun:_dl_allocate_tls' '   ...' '   fun:pthread_create*' '}' > $@

CTEST_ASAN_ENV := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:exitcode=86 \
	LSAN_OPTIONS=suppressions=$(abspath $(CTEST_OUT))/lsan.supp:print_suppressions=0:exitcode=87 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
CTEST_VG_ENV := GOGC=off GODEBUG=asyncpreemptoff=1 STARK_CTEST_SCALE=100
CTEST_VG_CMD := valgrind -q --leak-check=full --show-leak-kinds=definite,possible \
	--errors-for-leak-kinds=definite,possible --error-exitcode=99 --suppressions=$(CTEST_OUT)/vg.supp

# ctest_run MODE NAME COMMAND...: runs one program and writes its summary
# (its "ok" line, or FAIL and the end of its output) to log/MODE-NAME.txt;
# a failure also leaves log/FAILED. ctest_canary MODE COMMAND...: the run
# must fail with a leak report. /bin/sh functions, so that the valgrind
# pass can run them in the background.
define CTEST_SH
ctest_run() { \
	mode=$$1; name=$$2; shift 2; out=$(CTEST_OUT)/log/$$mode-$$name.log; res=$(CTEST_OUT)/log/$$mode-$$name.txt; \
	if timeout $(CTEST_TIMEOUT) env "$$@" >$$out 2>&1; then \
		grep -E '^(ok |     \()' $$out | sed "s/^/[$$mode] /" >$$res; \
	else \
		rc=$$?; { echo "[$$mode] FAIL $$name (exit $$rc; $$out)"; tail -n 40 $$out | sed 's/^/    /'; } >$$res; \
		touch $(CTEST_OUT)/log/FAILED; \
	fi; }; \
ctest_canary() { \
	mode=$$1; shift; out=$(CTEST_OUT)/log/$$mode-canary_leak.log; \
	if timeout $(CTEST_TIMEOUT) env "$$@" >$$out 2>&1; then \
		echo "[$$mode] FAIL canary_leak: the reply leaked on purpose was NOT reported ($$out)"; touch $(CTEST_OUT)/log/FAILED; \
	elif grep -q -e 'detected memory leaks' -e 'definitely lost' $$out && grep -q 'ok   canary_leak' $$out; then \
		echo "[$$mode] ok   canary_leak    the reply leaked on purpose was reported"; \
	else \
		echo "[$$mode] FAIL canary_leak: it failed, but not with a leak report ($$out)"; \
		tail -n 30 $$out | sed 's/^/    /'; touch $(CTEST_OUT)/log/FAILED; \
	fi; }
endef

# The valgrind pass runs in CTEST_JOBS groups side by side: group g has
# every CTEST_JOBS-th program from the g-th.
ctest_every = $(shell n=0; for t in $(CTEST_VG_NAMES); do n=$$((n+1)); [ $$(( (n-1) % $(CTEST_JOBS) )) -eq $(1) ] && printf '%s ' $$t; done)

.PHONY: test-c ctest-bins
## test-c: the C ABI tests: symbols and header, C programs under ASan/UBSan/LSan and valgrind.
test-c: lib guests
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -j$(CTEST_JOBS) ctest-bins || exit 1; \
	rm -rf $(CTEST_OUT)/log; mkdir -p $(CTEST_OUT)/log; \
	$(CTEST_SH); \
	if STARK_CTEST_REQUIRE=1 STARK_CTEST_LIB=$(LIB) $(GO) test -count=1 -run '^TestABI' ./capi \
		>$(CTEST_OUT)/log/abi.log 2>&1; then \
		echo "[abi] ok   symbols, header (C11, C99, C++17), coverage ($$(tail -n 1 $(CTEST_OUT)/log/abi.log | tr -s ' \t' ' '))"; \
	else echo "[abi] FAIL"; sed 's/^/    /' $(CTEST_OUT)/log/abi.log; touch $(CTEST_OUT)/log/FAILED; fi; \
	for t in $(CTEST_NAMES); do \
		ctest_run asan $$t $(CTEST_ASAN_ENV) $(CTEST_OUT)/asan/$$t $(abspath $(WASM_OUT)); \
		cat $(CTEST_OUT)/log/asan-$$t.txt; \
	done; \
	ctest_canary asan $(CTEST_ASAN_ENV) $(CTEST_OUT)/asan/canary_leak; \
	if [ -n "$(CTEST_HAVE_VG)" ]; then \
		$(foreach g,$(shell seq 0 $(shell expr $(CTEST_JOBS) - 1)),\
			( for t in $(call ctest_every,$(g)); do \
				ctest_run valgrind $$t $(CTEST_VG_ENV) $(CTEST_VG_CMD) $(CTEST_OUT)/vg/$$t; done ) & ) \
		wait; \
		for t in $(CTEST_VG_NAMES); do cat $(CTEST_OUT)/log/valgrind-$$t.txt; done; \
		for t in $(filter-out $(CTEST_VG_NAMES),$(CTEST_NAMES)); do \
			echo "[valgrind] skip $$t (wazero runs guests on stacks valgrind cannot follow)"; done; \
		ctest_canary valgrind $(CTEST_VG_ENV) $(CTEST_VG_CMD) $(CTEST_OUT)/vg/canary_leak; \
	else echo "[valgrind] skipped (CTEST_VALGRIND=$(CTEST_VALGRIND); valgrind $$(command -v valgrind >/dev/null && echo found || echo not installed))"; fi; \
	if [ -e $(CTEST_OUT)/log/FAILED ]; then res=FAIL; else res=PASS; fi; \
	echo "test-c: $$res in $$(( $$(date +%s) - start ))s"; \
	[ $$res = PASS ]

ctest-bins: $(CTEST_ASAN_BINS) $(CTEST_OUT)/lsan.supp $(if $(CTEST_HAVE_VG),$(CTEST_VG_BINS) $(CTEST_OUT)/vg.supp)

.DEFAULT_GOAL := $(ctest_saved_default_goal)
