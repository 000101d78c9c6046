/*
 * hip_api.h - the few types, constants and entry points of the HIP runtime
 * (libamdhip64) and of hiprtc that plugins/rocm uses, declared from their
 * documented signatures (ROCm's headers are not needed: both libraries are
 * opened with dlopen at run time, so the plugin builds where ROCm is absent).
 * The enum values are those of ROCm 5 and 6's hip_runtime_api.h.
 */
#ifndef STARK_HIP_API_H
#define STARK_HIP_API_H

#include <stddef.h>

typedef int hipError_t;
typedef int hipDevice_t;
typedef struct ihipStream_t *hipStream_t;
typedef struct ihipEvent_t *hipEvent_t;
typedef struct ihipModule_t *hipModule_t;
typedef struct ihipModuleSymbol_t *hipFunction_t;

/* hipError_t values */
#define hipSuccess 0
#define hipErrorInvalidValue 1
#define hipErrorOutOfMemory 2
#define hipErrorNotInitialized 3
#define hipErrorDeinitialized 4
#define hipErrorInvalidConfiguration 9
#define hipErrorInvalidDevicePointer 17
#define hipErrorInvalidDeviceFunction 98
#define hipErrorNoDevice 100
#define hipErrorInvalidDevice 101
#define hipErrorInvalidImage 200
#define hipErrorInvalidContext 201
#define hipErrorNoBinaryForGpu 209
#define hipErrorECCNotCorrectable 214
#define hipErrorInvalidKernelFile 218
#define hipErrorInvalidSource 300
#define hipErrorInvalidHandle 400
#define hipErrorNotFound 500
#define hipErrorNotReady 600
#define hipErrorIllegalAddress 700
#define hipErrorLaunchOutOfResources 701
#define hipErrorLaunchTimeOut 702
#define hipErrorContextIsDestroyed 709
#define hipErrorAssert 710
#define hipErrorLaunchFailure 719
#define hipErrorNotSupported 801
#define hipErrorUnknown 999

/* hipDeviceAttribute_t values (ROCm 5.x and 6.x) */
#define hipDeviceAttributeIntegrated 16
#define hipDeviceAttributeMultiprocessorCount 63
#define hipDeviceAttributeWarpSize 87

/* hipMemcpyKind */
#define hipMemcpyHostToDevice 1
#define hipMemcpyDeviceToHost 2
#define hipMemcpyDeviceToDevice 3

#define hipStreamNonBlocking 0x1
#define hipEventDisableTiming 0x2

/* hipModuleLaunchKernel's extra[] (END is 3, not CUDA's 0) */
#define HIP_LAUNCH_PARAM_BUFFER_POINTER ((void *)0x01)
#define HIP_LAUNCH_PARAM_BUFFER_SIZE ((void *)0x02)
#define HIP_LAUNCH_PARAM_END ((void *)0x03)

#define SK_HIP_FUNCS(X)                                                                                                \
    X(hipInit, hipError_t, (unsigned int flags))                                                                       \
    X(hipDriverGetVersion, hipError_t, (int *version))                                                                 \
    X(hipGetDeviceCount, hipError_t, (int *count))                                                                     \
    X(hipDeviceGet, hipError_t, (hipDevice_t * dev, int ordinal))                                                      \
    X(hipSetDevice, hipError_t, (int ordinal))                                                                         \
    X(hipDeviceGetName, hipError_t, (char *name, int len, hipDevice_t dev))                                            \
    X(hipDeviceTotalMem, hipError_t, (size_t * bytes, hipDevice_t dev))                                                \
    X(hipDeviceGetAttribute, hipError_t, (int *value, int attr, int ordinal))                                          \
    X(hipMemGetInfo, hipError_t, (size_t * free, size_t * total))                                                      \
    X(hipMalloc, hipError_t, (void **ptr, size_t bytes))                                                               \
    X(hipFree, hipError_t, (void *ptr))                                                                                \
    X(hipMemcpy, hipError_t, (void *dst, const void *src, size_t bytes, int kind))                                     \
    X(hipMemcpyAsync, hipError_t, (void *dst, const void *src, size_t bytes, int kind, hipStream_t s))                 \
    X(hipStreamCreateWithFlags, hipError_t, (hipStream_t * s, unsigned int flags))                                     \
    X(hipStreamDestroy, hipError_t, (hipStream_t s))                                                                   \
    X(hipStreamSynchronize, hipError_t, (hipStream_t s))                                                               \
    X(hipDeviceSynchronize, hipError_t, (void))                                                                        \
    X(hipEventCreateWithFlags, hipError_t, (hipEvent_t * e, unsigned int flags))                                       \
    X(hipEventRecord, hipError_t, (hipEvent_t e, hipStream_t s))                                                       \
    X(hipEventSynchronize, hipError_t, (hipEvent_t e))                                                                 \
    X(hipEventDestroy, hipError_t, (hipEvent_t e))                                                                     \
    X(hipModuleLoadData, hipError_t, (hipModule_t * mod, const void *image))                                           \
    X(hipModuleUnload, hipError_t, (hipModule_t mod))                                                                  \
    X(hipModuleGetFunction, hipError_t, (hipFunction_t * fn, hipModule_t mod, const char *name))                       \
    X(hipModuleLaunchKernel, hipError_t,                                                                               \
      (hipFunction_t fn, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by,          \
       unsigned int bz, unsigned int shared_bytes, hipStream_t s, void **params, void **extra))                        \
    X(hipGetErrorName, const char *, (hipError_t err))                                                                 \
    X(hipGetErrorString, const char *, (hipError_t err))

/* hiprtc */
typedef int hiprtcResult;
typedef struct _hiprtcProgram *hiprtcProgram;
#define HIPRTC_SUCCESS 0

#define SK_HIPRTC_FUNCS(X)                                                                                             \
    X(hiprtcGetErrorString, const char *, (hiprtcResult r))                                                            \
    X(hiprtcCreateProgram, hiprtcResult,                                                                               \
      (hiprtcProgram * prog, const char *src, const char *name, int n_headers, const char **headers,                   \
       const char **include_names))                                                                                    \
    X(hiprtcCompileProgram, hiprtcResult, (hiprtcProgram prog, int n_options, const char **options))                   \
    X(hiprtcGetProgramLogSize, hiprtcResult, (hiprtcProgram prog, size_t *size))                                       \
    X(hiprtcGetProgramLog, hiprtcResult, (hiprtcProgram prog, char *log))                                              \
    X(hiprtcGetCodeSize, hiprtcResult, (hiprtcProgram prog, size_t *size))                                             \
    X(hiprtcGetCode, hiprtcResult, (hiprtcProgram prog, char *code))                                                   \
    X(hiprtcDestroyProgram, hiprtcResult, (hiprtcProgram * prog))

#endif /* STARK_HIP_API_H */
