#!/usr/bin/env bash
# plugins/cuda/gpu_check.sh - verify the cuda plugin on a machine with an
# NVIDIA GPU (H100/H200 class; no network needed). Run from the repository
# root:   plugins/cuda/gpu_check.sh
#
# Steps (each with a time limit; about 3 minutes in all on an H100):
#   1. prerequisites, in order, stopping at the first one missing: the
#      NVIDIA driver (libcuda.so.1), gcc and make, Go (the Go steps can be
#      skipped with STARK_GPU_CHECK_NO_GO=1)
#   2. make plugin-cuda; build the C exerciser (plugins/cuda/exercise.c)
#   3. exerciser on the GPU: every op against a double-precision reference,
#      errors, streams, modules, 8 threads, then matmul 4096 timings
#      (kernels from NVRTC when it is found)
#   4. exerciser with the fallback PTX (kernels=ptx), then the device-loss
#      check (a kernel that faults: every later call is STARK_DEV_LOST)
#   5. STARK_REQUIRE_CUDA=1 go test ./host/device/ -run CUDA -v
#   6. go test -bench CUDAMatmul4096 (the Go benchmark)
#   7. PyTorch's torch.matmul (cuBLAS, f32, TF32 off) at 4096, if installed
#   8. make lib (libstark.so)
# then a summary. Logs go to $OUT (the device tool's output folder) when
# set, else build/gpu-check. Exit status 0 when every step passed.
#
# Environment: STARK_GPU_CHECK_NO_GO=1 skips steps 5, 6, 8;
# STARK_GPU_CHECK_BENCH_ITERS (20) and STARK_GPU_CHECK_BENCH_N (4096) tune
# the benchmark (a small N lets the script be tried on the emulated driver:
# LD_LIBRARY_PATH=build/plugin-test/cuda after make plugin-cuda-check).
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$PWD
LOG=${OUT:-$ROOT/build/gpu-check}
mkdir -p "$LOG" build/plugin-test
T0=$(date +%s)
ITERS=${STARK_GPU_CHECK_BENCH_ITERS:-20}
N=${STARK_GPU_CHECK_BENCH_N:-4096}
declare -a SUMMARY=()
FAILED=0

say() { printf '\n=== %s (%ds)\n' "$*" $(($(date +%s) - T0)); }
note() { SUMMARY+=("$1"); }
missing() {
	printf '\nFAIL: missing prerequisite: %s\n' "$*" >&2
	printf 'gpu_check: stopped at the first missing prerequisite.\n' >&2
	exit 2
}
# step NAME LIMIT CMD...: runs CMD with a time limit, logs to $LOG/NAME.log,
# prints its tail, records PASS/FAIL.
step() {
	local name=$1 limit=$2
	shift 2
	say "$name"
	local t=$(date +%s)
	timeout --kill-after=10 "$limit" "$@" >"$LOG/$name.log" 2>&1
	local rc=$?
	local dt=$(($(date +%s) - t))
	if [ $rc -eq 0 ]; then
		tail -n 25 "$LOG/$name.log"
		note "PASS  $name (${dt}s)"
	else
		tail -n 60 "$LOG/$name.log"
		[ $rc -eq 124 ] && echo "(timed out after ${limit}s)"
		note "FAIL  $name (exit $rc, ${dt}s): see $LOG/$name.log"
		FAILED=1
	fi
	return $rc
}

# ---- 1. prerequisites ------------------------------------------------------
say "prerequisites"
LIBCUDA=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1 /{print $NF; exit}')
if [ -z "$LIBCUDA" ]; then
	IFS=: read -r -a ldp <<<"${LD_LIBRARY_PATH:-}"
	for d in "${ldp[@]}"; do
		[ -n "$d" ] && [ -e "$d/libcuda.so.1" ] && LIBCUDA=$d/libcuda.so.1 && break
	done
fi
if [ -z "$LIBCUDA" ]; then
	for d in /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/wsl/lib; do
		[ -e "$d/libcuda.so.1" ] && LIBCUDA=$d/libcuda.so.1 && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && break
	done
fi
[ -n "$LIBCUDA" ] || missing "libcuda.so.1 (the NVIDIA driver) is not in the loader's cache nor in /usr/local/nvidia/lib64, /usr/lib/x86_64-linux-gnu"
echo "driver:  $LIBCUDA"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | sed 's/^/gpu:     /'
NVRTC=$(ldconfig -p 2>/dev/null | awk '/libnvrtc\.so/{print $NF; exit}')
[ -z "$NVRTC" ] && NVRTC=$(ls /usr/local/cuda/lib64/libnvrtc.so* 2>/dev/null | head -1)
echo "nvrtc:   ${NVRTC:-not found (the plugin falls back to its PTX)}"
if ! command -v gcc >/dev/null || ! command -v make >/dev/null; then
	missing "gcc and make (to build the plugin and the exerciser; none of this needs CUDA's headers)"
fi
echo "gcc:     $(gcc --version | head -1)"
if [ -z "${STARK_GPU_CHECK_NO_GO:-}" ]; then
	command -v go >/dev/null || missing "go (for the Go conformance suite and benchmark; set STARK_GPU_CHECK_NO_GO=1 to run the C checks alone)"
	echo "go:      $(GOTOOLCHAIN=local go version)"
	want=$(awk '/^go /{print $2; exit}' go.mod)
	if ! GOTOOLCHAIN=local go list ./host/device >/dev/null 2>"$LOG/go-list.log"; then
		cat "$LOG/go-list.log"
		missing "a usable Go setup: go.mod wants go $want and modules github.com/ebitengine/purego, golang.org/x/sys (no network here: carry a module cache, GOMODCACHE=..., GOFLAGS=-mod=mod GOPROXY=off; or set STARK_GPU_CHECK_NO_GO=1)"
	fi
	rm -f "$LOG/go-list.log" # at most 8 files come back from the device tool
else
	echo "go:      skipped (STARK_GPU_CHECK_NO_GO=1)"
fi
command -v python3 >/dev/null && echo "python3: $(python3 --version 2>&1)"

# ---- 2. build ----------------------------------------------------------------
step build 180 bash -c "make plugin-cuda && gcc -O2 -g -Wall -Wextra -Werror -o build/plugin-test/exercise plugins/cuda/exercise.c -ldl -lpthread -lm" ||
	{ printf '\nFAIL: the build failed: nothing to check\n'; printf '%s\n' "${SUMMARY[@]}"; exit 1; }
PLUGIN=$ROOT/build/lib/stark/libstark_cuda.so
# a private copy: another make (clean) cannot pull it away mid-run
cp "$PLUGIN" build/plugin-test/libstark_cuda.gpu.so && PLUGIN=$ROOT/build/plugin-test/libstark_cuda.gpu.so

# ---- 3-4. the exerciser --------------------------------------------------------
step exercise 240 build/plugin-test/exercise "$PLUGIN" --options verbose=1 --bench "$N" --iters "$ITERS"
while read -r l; do note "      $l"; done < <(grep -E "kernels from|built-in kernels" "$LOG/exercise.log" | head -1)
MM=$(grep -E "^matmul f32 ${N}x${N}x${N} NN" "$LOG/exercise.log" | sed 's/.*, \([0-9.]*\) TFLOP.*/\1/')
while read -r l; do note "      $l"; done < <(grep -E "^matmul f32 ${N}x${N}x${N}" "$LOG/exercise.log")
step exercise-ptx 180 build/plugin-test/exercise "$PLUGIN" --options "kernels=ptx;verbose=1" --bench "$N" --iters 5
MMPTX=$(grep -E "^matmul f32 ${N}x${N}x${N} NN" "$LOG/exercise-ptx.log" | sed 's/.*, \([0-9.]*\) TFLOP.*/\1/')
[ -n "$MMPTX" ] && note "      fallback PTX: matmul $N NN $MMPTX TFLOP/s"
step exercise-lost 120 build/plugin-test/exercise "$PLUGIN" --quick --lost

# ---- 5-6. Go ----------------------------------------------------------------------
if [ -z "${STARK_GPU_CHECK_NO_GO:-}" ]; then
	mkdir -p build/plugin-test/go && cp "$PLUGIN" build/plugin-test/go/libstark_cuda.so
	export STARK_PLUGIN_DIR=$ROOT/build/plugin-test/go
	step go-test 240 env STARK_REQUIRE_CUDA=1 GOTOOLCHAIN=local go test -count=1 -v -run CUDA ./host/device/
	step go-bench 180 env STARK_REQUIRE_CUDA=1 STARK_CUDA_BENCH_N="$N" GOTOOLCHAIN=local go test -count=1 -run '^$' -bench CUDAMatmul4096 -benchtime "${ITERS}x" ./host/device/
	GOMM=$(grep -E "^BenchmarkCUDAMatmul4096" "$LOG/go-bench.log" | sed 's/.* \([0-9.]*\) TFLOP\/s.*/\1/')
	[ -n "$GOMM" ] && note "      Go benchmark: $GOMM TFLOP/s"
fi

# ---- 7. cuBLAS through PyTorch ----------------------------------------------------------
TORCH=""
if command -v python3 >/dev/null && python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
	step torch 120 python3 -c '
import torch
torch.backends.cuda.matmul.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
n, iters = int(__import__("sys").argv[1]), 50
g = torch.Generator(device="cuda").manual_seed(1)
a = torch.rand(n, n, device="cuda", generator=g) * 2 - 1
b = torch.rand(n, n, device="cuda", generator=g) * 2 - 1
for _ in range(5):
    c = a @ b
torch.cuda.synchronize()
e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
e0.record()
for _ in range(iters):
    c = a @ b
e1.record()
torch.cuda.synchronize()
ms = e0.elapsed_time(e1) / iters
print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}: matmul f32 {n}: {ms:.3f} ms, {2 * n**3 / ms / 1e9:.1f} TFLOP/s (cuBLAS, TF32 off)")
' "$N"
	TORCH=$(grep -E "TFLOP/s" "$LOG/torch.log" | sed 's/.*, \([0-9.]*\) TFLOP.*/\1/')
	[ -n "$TORCH" ] && note "      cuBLAS (torch.matmul f32): $TORCH TFLOP/s"
else
	note "SKIP  torch: PyTorch with CUDA is not installed here (no cuBLAS comparison)"
fi
if [ -n "${MM:-}" ] && [ -n "$TORCH" ]; then
	note "      plugin / cuBLAS at $N (NN): $(awk -v a="$MM" -v b="$TORCH" 'BEGIN{printf "%.2f", a/b}') (goal: 0.70 or more)"
fi

# ---- 8. libstark ------------------------------------------------------------------
if [ -z "${STARK_GPU_CHECK_NO_GO:-}" ]; then
	step lib 240 env GOTOOLCHAIN=local make lib
fi

say "summary"
printf '%s\n' "${SUMMARY[@]}"
if [ $FAILED -ne 0 ]; then
	echo "gpu_check: FAILED (logs in $LOG)"
	exit 1
fi
echo "gpu_check: all steps passed (logs in $LOG)"
