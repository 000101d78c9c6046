/*
 * cuda_api.h - the few types, constants and entry points of the CUDA driver
 * API and of NVRTC that plugins/cuda uses, declared from their documented
 * signatures (the NVIDIA headers are not needed: both libraries are opened
 * with dlopen at run time, so the plugin builds where CUDA is absent).
 */
#ifndef STARK_CUDA_API_H
#define STARK_CUDA_API_H

#include <stddef.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr; /* CUdeviceptr_v2 on LP64 */
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef int CUjit_option;

/* CUresult values */
#define CUDA_SUCCESS 0
#define CUDA_ERROR_INVALID_VALUE 1
#define CUDA_ERROR_OUT_OF_MEMORY 2
#define CUDA_ERROR_NOT_INITIALIZED 3
#define CUDA_ERROR_DEINITIALIZED 4
#define CUDA_ERROR_STUB_LIBRARY 34
#define CUDA_ERROR_DEVICE_UNAVAILABLE 46
#define CUDA_ERROR_NO_DEVICE 100
#define CUDA_ERROR_INVALID_DEVICE 101
#define CUDA_ERROR_INVALID_IMAGE 200
#define CUDA_ERROR_INVALID_CONTEXT 201
#define CUDA_ERROR_NO_BINARY_FOR_GPU 209
#define CUDA_ERROR_ECC_UNCORRECTABLE 214
#define CUDA_ERROR_INVALID_PTX 218
#define CUDA_ERROR_NVLINK_UNCORRECTABLE 220
#define CUDA_ERROR_JIT_COMPILER_NOT_FOUND 221
#define CUDA_ERROR_UNSUPPORTED_PTX_VERSION 222
#define CUDA_ERROR_INVALID_SOURCE 300
#define CUDA_ERROR_INVALID_HANDLE 400
#define CUDA_ERROR_NOT_FOUND 500
#define CUDA_ERROR_NOT_READY 600
#define CUDA_ERROR_ILLEGAL_ADDRESS 700
#define CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES 701
#define CUDA_ERROR_LAUNCH_TIMEOUT 702
#define CUDA_ERROR_CONTEXT_IS_DESTROYED 709
#define CUDA_ERROR_ASSERT 710
#define CUDA_ERROR_HARDWARE_STACK_ERROR 714
#define CUDA_ERROR_ILLEGAL_INSTRUCTION 715
#define CUDA_ERROR_MISALIGNED_ADDRESS 716
#define CUDA_ERROR_INVALID_ADDRESS_SPACE 717
#define CUDA_ERROR_INVALID_PC 718
#define CUDA_ERROR_LAUNCH_FAILED 719
#define CUDA_ERROR_NOT_PERMITTED 800
#define CUDA_ERROR_NOT_SUPPORTED 801
#define CUDA_ERROR_UNKNOWN 999

/* CUdevice_attribute values */
#define CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK 8
#define CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT 16
#define CU_DEVICE_ATTRIBUTE_INTEGRATED 18
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR 75
#define CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR 76

/* flags and special handles */
#define CU_STREAM_NON_BLOCKING 0x1
#define CU_EVENT_DISABLE_TIMING 0x2
#define CU_STREAM_PER_THREAD ((CUstream)0x2)

/* cuLaunchKernel's extra[] */
#define CU_LAUNCH_PARAM_END ((void *)0x00)
#define CU_LAUNCH_PARAM_BUFFER_POINTER ((void *)0x01)
#define CU_LAUNCH_PARAM_BUFFER_SIZE ((void *)0x02)

/* CUjit_option values (cuModuleLoadDataEx) */
#define CU_JIT_ERROR_LOG_BUFFER 5
#define CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES 6

/* The driver entry points, as the plugin loads them: _v2 names where the
 * driver has them. One X(name, return, args) line each. */
#define SK_CUDA_FUNCS(X)                                                                                               \
    X(cuInit, CUresult, (unsigned int flags))                                                                          \
    X(cuDriverGetVersion, CUresult, (int *version))                                                                    \
    X(cuDeviceGetCount, CUresult, (int *count))                                                                        \
    X(cuDeviceGet, CUresult, (CUdevice * dev, int ordinal))                                                            \
    X(cuDeviceGetName, CUresult, (char *name, int len, CUdevice dev))                                                  \
    X(cuDeviceTotalMem_v2, CUresult, (size_t * bytes, CUdevice dev))                                                   \
    X(cuDeviceGetAttribute, CUresult, (int *value, int attrib, CUdevice dev))                                          \
    X(cuDevicePrimaryCtxRetain, CUresult, (CUcontext * ctx, CUdevice dev))                                             \
    X(cuDevicePrimaryCtxRelease_v2, CUresult, (CUdevice dev))                                                          \
    X(cuCtxSetCurrent, CUresult, (CUcontext ctx))                                                                      \
    X(cuCtxSynchronize, CUresult, (void))                                                                              \
    X(cuMemGetInfo_v2, CUresult, (size_t * free, size_t * total))                                                      \
    X(cuMemAlloc_v2, CUresult, (CUdeviceptr * dptr, size_t bytes))                                                     \
    X(cuMemFree_v2, CUresult, (CUdeviceptr dptr))                                                                      \
    X(cuMemcpyHtoDAsync_v2, CUresult, (CUdeviceptr dst, const void *src, size_t bytes, CUstream s))                    \
    X(cuMemcpyDtoHAsync_v2, CUresult, (void *dst, CUdeviceptr src, size_t bytes, CUstream s))                          \
    X(cuMemcpyDtoDAsync_v2, CUresult, (CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s))                    \
    X(cuStreamCreate, CUresult, (CUstream * s, unsigned int flags))                                                    \
    X(cuStreamDestroy_v2, CUresult, (CUstream s))                                                                      \
    X(cuStreamSynchronize, CUresult, (CUstream s))                                                                     \
    X(cuEventCreate, CUresult, (CUevent * e, unsigned int flags))                                                      \
    X(cuEventRecord, CUresult, (CUevent e, CUstream s))                                                                \
    X(cuEventSynchronize, CUresult, (CUevent e))                                                                       \
    X(cuEventDestroy_v2, CUresult, (CUevent e))                                                                        \
    X(cuModuleLoadDataEx, CUresult,                                                                                    \
      (CUmodule * mod, const void *image, unsigned int n, CUjit_option *options, void **values))                       \
    X(cuModuleUnload, CUresult, (CUmodule mod))                                                                        \
    X(cuModuleGetFunction, CUresult, (CUfunction * fn, CUmodule mod, const char *name))                                \
    X(cuLaunchKernel, CUresult,                                                                                        \
      (CUfunction fn, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by,             \
       unsigned int bz, unsigned int shared_bytes, CUstream s, void **params, void **extra))                           \
    X(cuGetErrorName, CUresult, (CUresult err, const char **name))                                                     \
    X(cuGetErrorString, CUresult, (CUresult err, const char **text))

/* NVRTC */
typedef int nvrtcResult;
typedef struct _nvrtcProgram *nvrtcProgram;
#define NVRTC_SUCCESS 0

#define SK_NVRTC_FUNCS(X)                                                                                              \
    X(nvrtcVersion, nvrtcResult, (int *major, int *minor))                                                             \
    X(nvrtcGetErrorString, const char *, (nvrtcResult r))                                                              \
    X(nvrtcCreateProgram, nvrtcResult,                                                                                 \
      (nvrtcProgram * prog, const char *src, const char *name, int n_headers, const char *const *headers,              \
       const char *const *include_names))                                                                              \
    X(nvrtcCompileProgram, nvrtcResult, (nvrtcProgram prog, int n_options, const char *const *options))                \
    X(nvrtcGetProgramLogSize, nvrtcResult, (nvrtcProgram prog, size_t *size))                                          \
    X(nvrtcGetProgramLog, nvrtcResult, (nvrtcProgram prog, char *log))                                                 \
    X(nvrtcGetPTXSize, nvrtcResult, (nvrtcProgram prog, size_t *size))                                                 \
    X(nvrtcGetPTX, nvrtcResult, (nvrtcProgram prog, char *ptx))                                                        \
    X(nvrtcDestroyProgram, nvrtcResult, (nvrtcProgram * prog))

/* optional (NVRTC 11.1+ / 11.2+): looked up, may be NULL */
#define SK_NVRTC_OPT_FUNCS(X)                                                                                          \
    X(nvrtcGetCUBINSize, nvrtcResult, (nvrtcProgram prog, size_t *size))                                               \
    X(nvrtcGetCUBIN, nvrtcResult, (nvrtcProgram prog, char *cubin))                                                    \
    X(nvrtcGetNumSupportedArchs, nvrtcResult, (int *n))                                                                \
    X(nvrtcGetSupportedArchs, nvrtcResult, (int *archs))

#endif /* STARK_CUDA_API_H */
