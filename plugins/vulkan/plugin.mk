# The Vulkan device backend: $(PLUGIN_DIR)/libstark_vulkan.so (abi/stark_device.h).
# Needs gcc, the Vulkan headers (libvulkan-dev) and glslangValidator
# (glslang-tools); libvulkan.so.1 is opened at run time, so the plugin
# loads (and scores 0) where no Vulkan loader is installed. The shaders
# are compiled to SPIR-V headers in $(VK_BUILD); the module test's shader
# to $(PLUGIN_DIR)/testdata/square.spv. Where the tools are missing the
# target says it is skipped.
VK_DIR     := plugins/vulkan
VK_BUILD   ?= build/plugins/vulkan
VK_CC      ?= gcc
GLSLANG    ?= glslangValidator
VK_CFLAGS  ?= -std=c11 -O2 -g -fPIC -Wall -Wextra -Werror -fvisibility=hidden -D_GNU_SOURCE
VK_SHADERS := $(wildcard $(VK_DIR)/shaders/*.comp)
VK_SPV_H   := $(patsubst $(VK_DIR)/shaders/%.comp,$(VK_BUILD)/%_spv.h,$(VK_SHADERS))
VK_SRCS    := $(wildcard $(VK_DIR)/*.c)
VK_OBJS    := $(patsubst $(VK_DIR)/%.c,$(VK_BUILD)/%.o,$(VK_SRCS))
VK_LIB     := $(PLUGIN_DIR)/libstark_vulkan.so
VK_TESTSPV := $(PLUGIN_DIR)/testdata/square.spv

.PHONY: plugin-vulkan plugin-vulkan-build
## plugin-vulkan: the Vulkan backend plugin (skipped where glslangValidator or the Vulkan headers are missing).
plugin-vulkan:
	@if ! command -v $(GLSLANG) >/dev/null 2>&1 || \
	   ! printf '#include <vulkan/vulkan.h>\n' | $(VK_CC) -E -x c - >/dev/null 2>&1; then \
		echo "vulkan plugin: skipped (needs $(GLSLANG) from glslang-tools and the Vulkan headers from libvulkan-dev)"; \
	else \
		$(MAKE) --no-print-directory plugin-vulkan-build; \
	fi

plugin-vulkan-build: $(VK_LIB) $(VK_TESTSPV)
	@:

.SECONDARY: $(VK_SPV_H)

$(VK_BUILD)/%_spv.h: $(VK_DIR)/shaders/%.comp
	@mkdir -p $(@D)
	$(GLSLANG) -V --target-env vulkan1.0 --vn $*_spv -o $@ $< >/dev/null || { rm -f $@; $(GLSLANG) -V --vn $*_spv -o $@ $<; exit 1; }

$(VK_BUILD)/%.o: $(VK_DIR)/%.c $(VK_DIR)/vk.h abi/stark_device.h $(VK_SPV_H)
	@mkdir -p $(@D)
	$(VK_CC) $(VK_CFLAGS) -Iabi -I$(VK_BUILD) -c -o $@ $<

# Only the two entry points are exported (checked with nm).
$(VK_LIB): $(VK_OBJS)
	@mkdir -p $(@D)
	$(VK_CC) -shared -fvisibility=hidden -Wl,--no-undefined -Wl,-z,defs -o $@.tmp $(VK_OBJS) -ldl -lpthread
	@syms=$$(nm -D --defined-only $@.tmp | awk '$$2 ~ /^[TDBRV]$$/ {print $$3}' | sort | tr '\n' ' '); \
	if [ "$$syms" != "stark_device_query stark_device_score " ]; then \
		echo "libstark_vulkan.so exports [$$syms], want only stark_device_query stark_device_score"; rm -f $@.tmp; exit 1; fi
	@mv $@.tmp $@

$(VK_TESTSPV): $(VK_DIR)/testdata/square.comp
	@mkdir -p $(@D)
	$(GLSLANG) -V --target-env vulkan1.0 -o $@ $< >/dev/null || { rm -f $@; $(GLSLANG) -V -o $@ $<; exit 1; }
