# plugins/rocm/plugin.mk - the ROCm (HIP) device plugin, $(PLUGIN_DIR)/libstark_rocm.so.
#
# Built with gcc alone: libamdhip64.so and libhiprtc.so are opened at run
# time, so the plugin builds (and scores 0) on machines without ROCm. It
# shares plugins/cuda's kernels (kernels.cu, compiled by hiprtc at init) and
# host helpers (gpu_common.h); its tests run in plugin-cuda-check.

GPU_PLUGIN_CC      ?= gcc
GPU_PLUGIN_CFLAGS  ?= -O2 -fPIC -shared -Wall -Wextra -Werror -fvisibility=hidden
GPU_PLUGIN_LDFLAGS ?= -Wl,--version-script=plugins/cuda/exports.map -Wl,-z,defs
GPU_PLUGIN_LDLIBS  ?= -ldl -lpthread -lm

ROCM_PLUGIN := $(PLUGIN_DIR)/libstark_rocm.so
ROCM_DEPS   := plugins/rocm/rocm.c plugins/rocm/hip_api.h plugins/cuda/gpu_common.h plugins/cuda/gpu_plugin.h plugins/cuda/kernels.cu \
	plugins/cuda/exports.map abi/stark_device.h

.PHONY: plugin-rocm
## plugin-rocm: the ROCm (HIP) backend plugin (gcc only: libamdhip64 and hiprtc are opened at run time).
plugin-rocm: $(ROCM_PLUGIN)

$(ROCM_PLUGIN): $(ROCM_DEPS)
	@mkdir -p $(@D)
	$(GPU_PLUGIN_CC) $(GPU_PLUGIN_CFLAGS) -Wa,-Iplugins/cuda $(GPU_PLUGIN_LDFLAGS) -o $@ plugins/rocm/rocm.c $(GPU_PLUGIN_LDLIBS)
