# plugins/metal/plugin.mk - the Metal device plugin, $(PLUGIN_DIR)/libstark_metal.so (macOS only).
#
# Objective-C (ARC) over Metal.framework, with its kernels in Metal Shading
# Language compiled at init (newLibraryWithSource): it builds with the
# system clang on macOS alone. Elsewhere `make plugin-metal` says why it is
# skipped and succeeds. The name ends in .so on macOS too (dlopen does not
# mind): the host looks for libstark_<name>.so everywhere.

METAL_PLUGIN := $(PLUGIN_DIR)/libstark_metal.so
METAL_CC     ?= clang
METAL_CFLAGS ?= -O2 -fPIC -fobjc-arc -Wall -Wextra -Werror -fvisibility=hidden
METAL_OS     := $(shell uname -s)

.PHONY: plugin-metal
## plugin-metal: the Metal backend plugin (macOS; skipped, with the reason, elsewhere).
ifeq ($(METAL_OS),Darwin)
plugin-metal: $(METAL_PLUGIN)
else
plugin-metal:
	@echo "metal plugin: skipped: Metal exists on macOS only, and this is $(METAL_OS) (plugins/metal/metal.m builds on a Mac with the Xcode command line tools)"
endif

$(METAL_PLUGIN): plugins/metal/metal.m plugins/cuda/gpu_common.h abi/stark_device.h
	@mkdir -p $(@D)
	$(METAL_CC) $(METAL_CFLAGS) -dynamiclib -o $@ plugins/metal/metal.m \
		-framework Metal -framework Foundation \
		-Wl,-exported_symbol,_stark_device_score -Wl,-exported_symbol,_stark_device_query
