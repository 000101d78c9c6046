/*
 * rocm.c - STARK's ROCm device plugin (abi/stark_device.h), over HIP.
 *
 * libamdhip64.so is opened at run time (never linked): the plugin builds
 * and loads where ROCm is absent, and then scores 0. The calling thread's
 * current device is set on every call (calls come from any thread).
 * Stream 0 work runs on the device's null stream and is waited for;
 * streams from stream_create are non-blocking.
 *
 * The built-in ops are the cuda plugin's kernels.cu (HIP-compatible
 * source, embedded), compiled at init by hiprtc (libhiprtc, also opened at
 * run time) for the device's gfx architecture, read from the device
 * properties by its text (so that no struct layout of any ROCm version is
 * assumed). Without hiprtc the ops report STARK_DEV_UNSUPPORTED with the
 * reason; memory, copies, streams and HSACO modules still work. Init
 * options ("key=value;...", or $STARK_ROCM_OPTIONS when the host gives none):
 *   hiprtc=/path/to/libhiprtc.so   the hiprtc library to use
 *   arch=gfx90a                    compile for this architecture
 *   kernels=auto|hiprtc|none       auto: hiprtc, else no ops; hiprtc: or
 *                                  init fails; none: no ops
 *   verbose=1                      print what init found on stderr
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../cuda/gpu_common.h"
#include "hip_api.h"
#define SK_HOST 1
#include "../cuda/kernels.cu"

SK_INCBIN(sk_rocm_kernels_src, "kernels.cu");

/* ---- the runtime ---------------------------------------------------------- */

typedef struct hip_fns {
#define X(name, ret, args) ret(*name) args;
    SK_HIP_FUNCS(X)
#undef X
    hipError_t (*props)(void *props, int ordinal); /* hipGetDevicePropertiesR0600, or the older one */
} hip_fns;

static struct {
    void *lib;
    hip_fns f;
    int ok;
    char path[256];
    char why[768];
} drv;
static pthread_once_t drv_once = PTHREAD_ONCE_INIT;

#define HIP (drv.f)

static const char *hip_errname(hipError_t r) {
    const char *s = HIP.hipGetErrorName ? HIP.hipGetErrorName(r) : NULL;
    return s ? s : "hipErrorUnknownCode";
}

static const char *hip_errstr(hipError_t r) {
    const char *s = HIP.hipGetErrorString ? HIP.hipGetErrorString(r) : NULL;
    return s ? s : "no description";
}

static int drv_try(const char *path) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        return 0;
    drv.lib = lib;
    sk_copy_name(drv.path, sizeof drv.path, path);
    return 1;
}

static void drv_load(void) {
    const char *names[] = {"libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.7", "libamdhip64.so.5",
                           "/opt/rocm/lib/libamdhip64.so"};
    char first[256] = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0] && drv.lib == NULL; i++) {
        if (!drv_try(names[i]) && i == 0) {
            const char *e = dlerror();
            sk_copy_name(first, sizeof first, e ? e : "not found");
        }
    }
    if (drv.lib == NULL) {
        sk_fmt(drv.why, sizeof drv.why, "libamdhip64.so cannot be loaded (%s): no ROCm (HIP) runtime on this machine",
               first);
        return;
    }
#define X(fn, ret, args)                                                                                               \
    *(void **)(&drv.f.fn) = dlsym(drv.lib, #fn);                                                                       \
    if (drv.f.fn == NULL) {                                                                                            \
        sk_fmt(drv.why, sizeof drv.why, "%s has no %s: the ROCm runtime is too old (ROCm 5 or later is needed)",       \
               drv.path, #fn);                                                                                         \
        return;                                                                                                        \
    }
    SK_HIP_FUNCS(X)
#undef X
    /* ROCm 6 renamed hipGetDeviceProperties (a macro) to this, with a new layout */
    *(void **)(&drv.f.props) = dlsym(drv.lib, "hipGetDevicePropertiesR0600");
    if (drv.f.props == NULL)
        *(void **)(&drv.f.props) = dlsym(drv.lib, "hipGetDeviceProperties");
    hipError_t r = HIP.hipInit(0);
    if (r != hipSuccess) {
        sk_fmt(drv.why, sizeof drv.why, "hipInit failed: %s (%s)%s", hip_errname(r), hip_errstr(r),
               r == hipErrorNoDevice ? ": no ROCm device" : "");
        return;
    }
    drv.ok = 1;
}

/* ---- the driver layer for gpu_plugin.h ------------------------------------- */

typedef hipError_t gp_result;
typedef hipStream_t gp_stream;
typedef hipEvent_t gp_event;
typedef hipModule_t gp_module;
typedef hipFunction_t gp_function;

#define GP_NAME "rocm"
#define GP_VENDOR "AMD"
#define GP_CAPS (STARK_DEV_CAP_ASYNC | STARK_DEV_CAP_EVENTS | STARK_DEV_CAP_HSACO)
#define GP_SUCCESS hipSuccess
#define GP_INVALID_VALUE hipErrorInvalidValue
#define GP_DEFAULT_STREAM NULL /* the device's null stream */
#define GP_LOST_TEXT "the device is lost"
#define GP_ALLOC_CHECK_TOTAL 1
#define GP_SYNC_COPIES 1 /* without a stream, hipMemcpy (synchronous) */
#define GP_FN_SET_CURRENT "hipSetDevice"
#define GP_FN_MEM_INFO "hipMemGetInfo"
#define GP_FN_ALLOC "hipMalloc"
#define GP_FN_STREAM_CREATE "hipStreamCreateWithFlags"
#define GP_FN_STREAM_SYNC "hipStreamSynchronize"
#define GP_FN_EVENT_CREATE "hipEventCreateWithFlags"
#define GP_FN_EVENT_RECORD "hipEventRecord"
#define GP_FN_EVENT_SYNC "hipEventSynchronize"
#define GP_FN_CTX_SYNC "hipDeviceSynchronize"
#define GP_FN_GET_FUNCTION "hipModuleGetFunction"
#define GP_FN_LAUNCH "hipModuleLaunchKernel"
#define GP_DEV_FIELDS                                                                                                  \
    int hip; /* HIP's ordinal */                                                                                       \
    hipDevice_t dev;                                                                                                   \
    int warp;                                                                                                          \
    char arch[64]; /* gfx90a, ... ("" unknown) */
#define GP_GLOBAL_FIELDS                                                                                               \
    char hiprtc[512];                                                                                                  \
    char arch[64];

#include "../cuda/gpu_plugin.h"

static const char *be_errname(hipError_t r) { return hip_errname(r); }
static const char *be_errstr(hipError_t r) { return hip_errstr(r); }

static int be_sticky(hipError_t r) {
    switch (r) {
    case hipErrorIllegalAddress:
    case hipErrorLaunchTimeOut:
    case hipErrorContextIsDestroyed:
    case hipErrorAssert:
    case hipErrorLaunchFailure:
    case hipErrorECCNotCorrectable:
        return 1;
    }
    return 0;
}

static int32_t be_status_of(hipError_t r) {
    switch (r) {
    case hipErrorOutOfMemory:
        return STARK_DEV_EXHAUSTED;
    case hipErrorInvalidValue:
    case hipErrorInvalidImage:
    case hipErrorInvalidKernelFile:
    case hipErrorInvalidSource:
    case hipErrorInvalidHandle:
    case hipErrorInvalidDevicePointer:
    case hipErrorInvalidConfiguration:
        return STARK_DEV_INVALID;
    case hipErrorNotFound:
    case hipErrorInvalidDeviceFunction:
        return STARK_DEV_NOT_FOUND;
    case hipErrorNoBinaryForGpu:
    case hipErrorNotSupported:
        return STARK_DEV_UNSUPPORTED;
    case hipErrorLaunchOutOfResources:
        return STARK_DEV_TOO_LARGE;
    case hipErrorDeinitialized:
        return STARK_DEV_STOPPED;
    }
    return STARK_DEV_INTERNAL;
}

static int be_no_function(hipError_t r) { return r == hipErrorNotFound || r == hipErrorInvalidDeviceFunction; }

/* the calling thread's current device */
static hipError_t be_set_current(gp_dev *d) { return HIP.hipSetDevice(d->hip); }
static hipError_t be_ctx_sync(void) { return HIP.hipDeviceSynchronize(); }
static hipError_t be_mem_info(size_t *fr, size_t *tot) { return HIP.hipMemGetInfo(fr, tot); }

static hipError_t be_malloc(uintptr_t *p, size_t bytes) {
    void *dp = NULL;
    hipError_t r = HIP.hipMalloc(&dp, bytes);
    *p = (uintptr_t)dp;
    return r;
}

static void be_free(uintptr_t p) { HIP.hipFree((void *)p); }

static hipError_t be_memcpy(uint32_t kind, uintptr_t dst, uintptr_t src, size_t bytes, hipStream_t s, int sync) {
    int k = kind == STARK_COPY_H2D   ? hipMemcpyHostToDevice
            : kind == STARK_COPY_D2H ? hipMemcpyDeviceToHost
                                     : hipMemcpyDeviceToDevice;
    return sync ? HIP.hipMemcpy((void *)dst, (const void *)src, bytes, k)
                : HIP.hipMemcpyAsync((void *)dst, (const void *)src, bytes, k, s);
}

static hipError_t be_stream_create(hipStream_t *s) { return HIP.hipStreamCreateWithFlags(s, hipStreamNonBlocking); }
static void be_stream_destroy(hipStream_t s) { HIP.hipStreamDestroy(s); }
static hipError_t be_stream_sync(hipStream_t s) { return HIP.hipStreamSynchronize(s); }
static hipError_t be_event_create(hipEvent_t *e) { return HIP.hipEventCreateWithFlags(e, hipEventDisableTiming); }
static hipError_t be_event_record(hipEvent_t e, hipStream_t s) { return HIP.hipEventRecord(e, s); }
static hipError_t be_event_sync(hipEvent_t e) { return HIP.hipEventSynchronize(e); }
static void be_event_destroy(hipEvent_t e) { HIP.hipEventDestroy(e); }
static void be_module_unload(hipModule_t m) { HIP.hipModuleUnload(m); }

static hipError_t be_module_get_function(hipFunction_t *f, hipModule_t m, const char *name) {
    return HIP.hipModuleGetFunction(f, m, name);
}

/* the argument struct goes as the kernel's parameter buffer */
static hipError_t be_launch_args(hipFunction_t f, unsigned grid, void *args, size_t size, hipStream_t s) {
    void *extra[5] = {HIP_LAUNCH_PARAM_BUFFER_POINTER, args, HIP_LAUNCH_PARAM_BUFFER_SIZE, &size, HIP_LAUNCH_PARAM_END};
    return HIP.hipModuleLaunchKernel(f, grid, 1, 1, SK_THREADS, 1, 1, 0, s, NULL, extra);
}

static hipError_t be_launch_buffer(hipFunction_t f, const unsigned grid[3], const unsigned block[3], hipStream_t s,
                                   void *buf, size_t size) {
    void *extra[5] = {HIP_LAUNCH_PARAM_BUFFER_POINTER, buf, HIP_LAUNCH_PARAM_BUFFER_SIZE, &size, HIP_LAUNCH_PARAM_END};
    return HIP.hipModuleLaunchKernel(f, grid[0], grid[1], grid[2], block[0], block[1], block[2], 0, s, NULL,
                                     size ? extra : NULL);
}

/* ---- modules -------------------------------------------------------------- */

static int32_t be_module_load(gp_dev *d, uint32_t format, const void *bytes, uint64_t len, hipModule_t *m) {
    if (format != STARK_MOD_HSACO) {
        if (format == STARK_MOD_SPIRV || format == STARK_MOD_PTX || format == STARK_MOD_METALLIB ||
            format == STARK_MOD_CUBIN)
            return sk_fail(STARK_DEV_UNSUPPORTED, "module_load: rocm loads HSACO (3) modules, not format %u", format);
        return sk_fail(STARK_DEV_INVALID, "module_load: unknown module format %u", format);
    }
    if (bytes == NULL || len == 0)
        return sk_fail(STARK_DEV_INVALID, "module_load: empty module");
    if (len > (uint64_t)1 << 31)
        return sk_fail(STARK_DEV_TOO_LARGE, "module_load: %llu bytes", (unsigned long long)len);
    const unsigned char *u = (const unsigned char *)bytes;
    int elf = len >= 4 && u[0] == 0x7f && u[1] == 'E' && u[2] == 'L' && u[3] == 'F';
    int bundle = len >= 24 && memcmp(u, "__CLANG_OFFLOAD_BUNDLE__", 24) == 0;
    if (!elf && !bundle)
        return sk_fail(STARK_DEV_INVALID, "module_load: not an HSACO (no ELF header) nor an offload bundle");
    char *img = (char *)malloc((size_t)len);
    if (img == NULL)
        return sk_fail(STARK_DEV_EXHAUSTED, "rocm: out of host memory");
    memcpy(img, bytes, (size_t)len);
    hipError_t r = HIP.hipModuleLoadData(m, img);
    free(img);
    return gp_status(d, r, "hipModuleLoadData");
}

/* ---- the built-in kernels: hiprtc ------------------------------------------- */

typedef struct rtc_fns {
#define X(name, ret, args) ret(*name) args;
    SK_HIPRTC_FUNCS(X)
#undef X
} rtc_fns;

static struct {
    void *lib;
    rtc_fns f;
    char path[512];
    char why[512];
} rtc;

static int rtc_try(const char *path) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        return 0;
    rtc_fns f;
#define X(fn, ret, args)                                                                                               \
    *(void **)(&f.fn) = dlsym(lib, #fn);                                                                               \
    if (f.fn == NULL) {                                                                                                \
        sk_fmt(rtc.why, sizeof rtc.why, "%s has no %s", path, #fn);                                                    \
        dlclose(lib);                                                                                                  \
        return 0;                                                                                                      \
    }
    SK_HIPRTC_FUNCS(X)
#undef X
    rtc.lib = lib;
    rtc.f = f;
    sk_copy_name(rtc.path, sizeof rtc.path, path);
    return 1;
}

static int rtc_open(void) {
    if (rtc.lib != NULL)
        return 1;
    if (g.hiprtc[0]) {
        if (rtc_try(g.hiprtc))
            return 1;
        if (!rtc.why[0])
            sk_fmt(rtc.why, sizeof rtc.why, "%s cannot be loaded: %s", g.hiprtc, dlerror());
        return 0;
    }
    const char *names[] = {"libhiprtc.so", "libhiprtc.so.6", "libhiprtc.so.7", "libhiprtc.so.5",
                           "/opt/rocm/lib/libhiprtc.so"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (rtc_try(names[i]))
            return 1;
    if (!rtc.why[0])
        sk_fmt(rtc.why, sizeof rtc.why,
               "hiprtc not found (libhiprtc.so in the loader's path or /opt/rocm/lib; the hiprtc= init option names one)");
    return 0;
}

/* compiled code objects, cached per architecture (and for later inits) */
typedef struct rtc_image {
    char arch[64];
    char *data;
    char err[768];
} rtc_image;
static rtc_image rtc_cache[8];
static int rtc_ncache;

static const rtc_image *rtc_compile(const char *arch) {
    for (int i = 0; i < rtc_ncache; i++)
        if (strcmp(rtc_cache[i].arch, arch) == 0)
            return &rtc_cache[i];
    if (rtc_ncache == (int)(sizeof rtc_cache / sizeof rtc_cache[0]))
        return NULL;
    rtc_image *im = &rtc_cache[rtc_ncache++];
    memset(im, 0, sizeof *im);
    sk_copy_name(im->arch, sizeof im->arch, arch);
    double t0 = now_s();
    hiprtcProgram prog = NULL;
    hiprtcResult r = rtc.f.hiprtcCreateProgram(&prog, sk_rocm_kernels_src, "stark_kernels.hip", 0, NULL, NULL);
    if (r != HIPRTC_SUCCESS) {
        sk_fmt(im->err, sizeof im->err, "hiprtcCreateProgram: %s", rtc.f.hiprtcGetErrorString(r));
        return im;
    }
    char archopt[96];
    sk_fmt(archopt, sizeof archopt, "--offload-arch=%s", arch);
    const char *opts[] = {archopt, "-O3"};
    r = rtc.f.hiprtcCompileProgram(prog, arch[0] ? 2 : 1, arch[0] ? opts : opts + 1);
    if (r != HIPRTC_SUCCESS) {
        size_t ls = 0;
        char log[512] = "";
        if (rtc.f.hiprtcGetProgramLogSize(prog, &ls) == HIPRTC_SUCCESS && ls > 1) {
            char *full = (char *)malloc(ls);
            if (full != NULL && rtc.f.hiprtcGetProgramLog(prog, full) == HIPRTC_SUCCESS)
                sk_copy_name(log, sizeof log, full);
            free(full);
        }
        sk_fmt(im->err, sizeof im->err, "hiprtcCompileProgram (%s): %s: %s", arch[0] ? archopt : "current device",
               rtc.f.hiprtcGetErrorString(r), log);
        rtc.f.hiprtcDestroyProgram(&prog);
        return im;
    }
    size_t size = 0;
    r = rtc.f.hiprtcGetCodeSize(prog, &size);
    if (r == HIPRTC_SUCCESS && size > 0 && (im->data = (char *)malloc(size)) != NULL) {
        r = rtc.f.hiprtcGetCode(prog, im->data);
        if (r != HIPRTC_SUCCESS) {
            free(im->data);
            im->data = NULL;
        }
    }
    if (im->data == NULL)
        sk_fmt(im->err, sizeof im->err, "hiprtc produced no code: %s", rtc.f.hiprtcGetErrorString(r));
    rtc.f.hiprtcDestroyProgram(&prog);
    if (g.verbose)
        fprintf(stderr, "stark rocm: hiprtc compiled the kernels for %s in %.2f s\n", arch[0] ? arch : "the device",
                now_s() - t0);
    return im;
}

static int k_build(gp_dev *d) {
    if (strcmp(g.kernels, "none") == 0) {
        sk_fmt(d->kerr, sizeof d->kerr, "disabled by the init option kernels=none");
        return 0;
    }
    if (!rtc_open()) {
        sk_fmt(d->kerr, sizeof d->kerr, "the built-in kernels could not be built: %s", rtc.why);
        return 0;
    }
    const rtc_image *im = rtc_compile(g.arch[0] ? g.arch : d->arch);
    if (im == NULL || im->data == NULL) {
        sk_fmt(d->kerr, sizeof d->kerr, "the built-in kernels could not be built: %s",
               im ? im->err : "too many architectures");
        return 0;
    }
    hipModule_t m;
    hipError_t r = HIP.hipModuleLoadData(&m, im->data);
    if (r != hipSuccess) {
        sk_fmt(d->kerr, sizeof d->kerr, "hiprtc's code for %s does not load: %s (%s)", im->arch[0] ? im->arch : "?",
               hip_errname(r), hip_errstr(r));
        return 0;
    }
    for (int i = 0; i < F_N; i++) {
        r = HIP.hipModuleGetFunction(&d->fn[i], m, fn_names[i]);
        if (r != hipSuccess) {
            sk_fmt(d->kerr, sizeof d->kerr, "hiprtc's code has no kernel %s: %s", fn_names[i], hip_errname(r));
            HIP.hipModuleUnload(m);
            return 0;
        }
    }
    d->kmod = m;
    sk_fmt(d->kinfo, sizeof d->kinfo, "hiprtc (%s), %s", rtc.path, im->arch[0] ? im->arch : "the device's architecture");
    return 1;
}

/* hip_arch finds the gfx architecture in the device properties by its text
 * ("gfx90a:sramecc+:xnack-" -> "gfx90a"), whatever the struct's layout. */
static void hip_arch(gp_dev *d) {
    d->arch[0] = 0;
    if (HIP.props == NULL)
        return;
    const size_t cap = 64 << 10; /* larger than any hipDeviceProp_t */
    unsigned char *blob = (unsigned char *)calloc(1, cap);
    if (blob == NULL)
        return;
    if (HIP.props(blob, d->hip) == hipSuccess) {
        for (size_t i = 0; i + 4 < cap; i++) {
            if (blob[i] != 'g' || blob[i + 1] != 'f' || blob[i + 2] != 'x')
                continue;
            size_t n = 3;
            while (i + n < cap && n < sizeof d->arch - 1 &&
                   ((blob[i + n] >= '0' && blob[i + n] <= '9') || (blob[i + n] >= 'a' && blob[i + n] <= 'z')))
                n++;
            if (n > 3 && i + n < cap && (blob[i + n] == 0 || blob[i + n] == ':')) {
                memcpy(d->arch, blob + i, n);
                d->arch[n] = 0;
                break;
            }
        }
    }
    free(blob);
}

/* ---- init and shutdown ---------------------------------------------------- */

static void be_release_devices(void) {
    for (int i = 0; i < g.ndev; i++) {
        gp_dev *d = &g.devs[i];
        if (d->kmod != NULL) {
            HIP.hipSetDevice(d->hip);
            HIP.hipModuleUnload(d->kmod);
        }
    }
    free(g.devs);
    g.devs = NULL;
    g.ndev = 0;
}

static int32_t be_init(const stark_dev_init *opts) {
    if (atomic_load(&g.up))
        return STARK_DEV_OK;
    const char *options;
    int32_t st = gp_read_options(opts, "STARK_ROCM_OPTIONS", &options);
    if (st != STARK_DEV_OK)
        return st;
    static const char *const known[] = {"kernels", "hiprtc", "arch", "verbose", NULL};
    if ((st = sk_opts_check(options, known, "rocm")) != STARK_DEV_OK)
        return st;
    char v[16];
    sk_copy_name(g.kernels, sizeof g.kernels, "auto");
    if (sk_opt(options, "kernels", v, sizeof v)) {
        if (strcmp(v, "auto") && strcmp(v, "hiprtc") && strcmp(v, "none"))
            return sk_fail(STARK_DEV_INVALID, "rocm: init option kernels=%s (auto, hiprtc or none)", v);
        sk_copy_name(g.kernels, sizeof g.kernels, v);
    }
    g.hiprtc[0] = g.arch[0] = 0;
    sk_opt(options, "hiprtc", g.hiprtc, sizeof g.hiprtc);
    sk_opt(options, "arch", g.arch, sizeof g.arch);
    g.verbose = sk_opt(options, "verbose", v, sizeof v) && strcmp(v, "0") != 0;

    pthread_once(&drv_once, drv_load);
    if (!drv.ok)
        return sk_fail(STARK_DEV_NOT_FOUND, "rocm: %s", drv.why);
    int count = 0;
    hipError_t r = HIP.hipGetDeviceCount(&count);
    if (r != hipSuccess && r != hipErrorNoDevice)
        return gp_status(NULL, r, "hipGetDeviceCount");
    if (count <= 0)
        return sk_fail(STARK_DEV_NOT_FOUND, "rocm: no ROCm device");
    g.devs = (gp_dev *)calloc((size_t)count, sizeof *g.devs);
    if (g.devs == NULL)
        return sk_fail(STARK_DEV_EXHAUSTED, "rocm: out of host memory");
    char skipped[512] = "";
    int nd = 0;
    for (int i = 0; i < count; i++) {
        gp_dev *d = &g.devs[nd];
        memset(d, 0, sizeof *d);
        d->ordinal = nd;
        d->hip = i;
        if ((r = HIP.hipDeviceGet(&d->dev, i)) != hipSuccess || (r = HIP.hipSetDevice(i)) != hipSuccess) {
            size_t len = strlen(skipped);
            sk_fmt(skipped + len, sizeof skipped - len, "%sHIP device %d: %s (%s)", len ? "; " : "", i, hip_errname(r),
                   hip_errstr(r));
            continue;
        }
        if (HIP.hipDeviceGetName(d->name, sizeof d->name, d->dev) != hipSuccess)
            sk_fmt(d->name, sizeof d->name, "HIP device %d", i);
        d->name[sizeof d->name - 1] = 0;
        size_t total = 0;
        HIP.hipDeviceTotalMem(&total, d->dev);
        d->total = total;
        /* values checked for sense: the attribute numbers are ROCm 5/6's */
        if (HIP.hipDeviceGetAttribute(&d->units, hipDeviceAttributeMultiprocessorCount, i) != hipSuccess || d->units <= 0 ||
            d->units > 65536)
            d->units = 1;
        if (HIP.hipDeviceGetAttribute(&d->integrated, hipDeviceAttributeIntegrated, i) != hipSuccess ||
            (d->integrated != 0 && d->integrated != 1))
            d->integrated = 0;
        if (HIP.hipDeviceGetAttribute(&d->warp, hipDeviceAttributeWarpSize, i) != hipSuccess ||
            (d->warp != 32 && d->warp != 64))
            d->warp = 0;
        hip_arch(d);
        g.ndev = ++nd;
        int ok = k_build(d);
        if (g.verbose)
            fprintf(stderr, "stark rocm: device %d: %s (%s, %d CUs, wave%d, %llu MiB): %s%s\n", d->ordinal, d->name,
                    d->arch[0] ? d->arch : "arch unknown", d->units, d->warp, (unsigned long long)(d->total >> 20),
                    ok ? "kernels from " : "", ok ? d->kinfo : d->kerr);
        if (!ok && strcmp(g.kernels, "hiprtc") == 0) {
            st = sk_fail(STARK_DEV_UNSUPPORTED, "rocm: device %d (%s): %s (init option kernels=hiprtc)", d->ordinal,
                         d->name, d->kerr);
            be_release_devices();
            return st;
        }
    }
    if (nd == 0) {
        be_release_devices();
        return sk_fail(STARK_DEV_NOT_FOUND, "rocm: no usable ROCm device: %s", skipped);
    }
    atomic_store(&g.up, 1);
    return STARK_DEV_OK;
}

/* the score (gpu_plugin.h): loads the runtime (kept loaded for init) */
static int be_score_count(void) {
    pthread_once(&drv_once, drv_load);
    int n = 0;
    if (!drv.ok || HIP.hipGetDeviceCount(&n) != hipSuccess)
        return 0;
    return n;
}

static int be_score_integrated(int i) {
    int integrated = 0;
    if (HIP.hipDeviceGetAttribute(&integrated, hipDeviceAttributeIntegrated, i) != hipSuccess)
        integrated = 0;
    return integrated == 1; /* an APU */
}
