# Benchmarks of the C ABI (bench/c): stark_send from a C thread, native C
# ping-pong against Go actors (bench/c/goping, run back to back), polled
# batches. Included by the top-level Makefile (GO, LIB_DIR, LIB); part of
# `make bench`, not of `make test`.
#
#   make bench-c                 medians of 5 runs, a markdown table on stdout
#   make bench-c RUNS=9          more runs
#   make bench-c BENCH_C_FLAGS=-quick   a smoke run of a few seconds
#
# The driver is bench/c/run.sh (it can be run by hand too).

bench_c_saved_default_goal := $(.DEFAULT_GOAL)

RUNS          ?= 5
BENCH_C_FLAGS ?=

.PHONY: bench-c
## bench-c: C ABI benchmarks: send from C, C vs Go ping-pong, polled batches (medians of RUNS=5).
bench-c: lib
	GO="$(GO)" LIB_DIR="$(LIB_DIR)" MAKE="$(MAKE)" sh bench/c/run.sh -r $(RUNS) $(BENCH_C_FLAGS)

.DEFAULT_GOAL := $(bench_c_saved_default_goal)
