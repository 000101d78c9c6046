# C and C++ examples of the C ABI (examples/c, examples/cpp). Included by the
# top-level Makefile, which defines GO, LIB_DIR, LIB, WASM_OUT and the
# targets lib, guests and install; paths are relative to the repository root.
#
#   make examples-c     build every example against $(LIB_DIR), run each, then
#                       check that an install + pkg-config builds hello.c
#                       (and examples/cpp/main.cpp)
#   make examples-c-build                 only build them
#   make examples-c-install-check         only the install + pkg-config check
#
# The binaries go to $(EXAMPLES_C_OUT) and find libstark.so through an rpath
# to $(LIB_DIR); the install check builds hello.c the way a user would:
#
#   cc hello.c $(pkg-config --cflags --libs stark)

# Do not let this fragment's first rule become the default goal.
examples_c_saved_default_goal := $(.DEFAULT_GOAL)

CC       ?= cc
CXX      ?= g++
PKG_CONFIG ?= pkg-config

EXAMPLES_C_OUT  ?= build/examples
EXAMPLES_C_LIB  := $(abspath $(LIB_DIR))
EXAMPLES_CFLAGS   ?= -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror
EXAMPLES_CXXFLAGS ?= -std=c++17 -O2 -Wall -Wextra -Werror
EXAMPLES_LDFLAGS   = -L$(LIB_DIR) -lstark -Wl,-rpath,$(EXAMPLES_C_LIB) -pthread

EXAMPLES_C_BINS := $(EXAMPLES_C_OUT)/hello $(EXAMPLES_C_OUT)/supervised $(EXAMPLES_C_OUT)/wasm \
	$(EXAMPLES_C_OUT)/cpp-main

$(EXAMPLES_C_OUT)/%: examples/c/%.c $(wildcard abi/*.h) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(EXAMPLES_CFLAGS) -Iabi -o $@ $< $(EXAMPLES_LDFLAGS)

$(EXAMPLES_C_OUT)/cpp-main: examples/cpp/main.cpp examples/cpp/stark.hpp $(wildcard abi/*.h) $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(EXAMPLES_CXXFLAGS) -Iabi -o $@ $< $(EXAMPLES_LDFLAGS)

.PHONY: examples-c examples-c-build examples-c-install-check
## examples-c-build: build the C and C++ examples of the C ABI into $(EXAMPLES_C_OUT).
examples-c-build: $(EXAMPLES_C_BINS)

## examples-c: build and run the C and C++ examples, then check install + pkg-config.
examples-c: examples-c-build guests
	@set -e; for b in $(EXAMPLES_C_BINS); do \
		echo "== $$b"; \
		case $$b in */wasm) $$b $(WASM_OUT);; *) $$b;; esac; \
	done
	@$(MAKE) --no-print-directory examples-c-install-check

# Installs into a temporary prefix and builds hello.c (and the C++ example)
# with nothing but what pkg-config says, then runs them against the
# installed library and checks that hello loaded that one.
examples-c-install-check: lib
	@set -e; \
	command -v $(PKG_CONFIG) >/dev/null || { echo "examples-c: $(PKG_CONFIG) is needed (apt-get install pkg-config)"; exit 1; }; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(MAKE) --no-print-directory -s install PREFIX="$$tmp/prefix" >/dev/null; \
	export PKG_CONFIG_PATH="$$tmp/prefix/lib/pkgconfig"; \
	flags=$$($(PKG_CONFIG) --cflags --libs stark); \
	echo "== install check: make install PREFIX=<tmp>; pkg-config stark $$($(PKG_CONFIG) --modversion stark): $$flags"; \
	$(CC) $(EXAMPLES_CFLAGS) -o "$$tmp/hello" examples/c/hello.c $$flags; \
	$(CXX) $(EXAMPLES_CXXFLAGS) -o "$$tmp/cpp-main" examples/cpp/main.cpp $$flags; \
	LD_LIBRARY_PATH="$$tmp/prefix/lib" "$$tmp/hello"; \
	LD_LIBRARY_PATH="$$tmp/prefix/lib" "$$tmp/cpp-main" >/dev/null; \
	resolved=$$(LD_LIBRARY_PATH="$$tmp/prefix/lib" ldd "$$tmp/hello" | sed -n 's/.*libstark.so.1 => \([^ ]*\).*/\1/p'); \
	case "$$resolved" in "$$tmp"/prefix/lib/*) ;; \
	*) echo "examples-c: hello resolved libstark.so.1 to '$$resolved', not the installed one"; exit 1;; esac

.DEFAULT_GOAL := $(examples_c_saved_default_goal)
