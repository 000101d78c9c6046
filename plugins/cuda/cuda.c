/*
 * cuda.c - STARK's CUDA device plugin (abi/stark_device.h).
 *
 * libcuda.so.1 is opened at run time (never linked): the plugin builds and
 * loads where CUDA is absent, and then scores 0. Each device runs on its
 * primary context, made current on every call (calls come from any
 * thread). Stream 0 work goes to the calling thread's per-thread default
 * stream and is waited for; streams from stream_create are non-blocking.
 *
 * The built-in ops are CUDA C (kernels.cu, embedded), compiled at init by
 * NVRTC (libnvrtc, also opened at run time) for the device's architecture:
 * a CUBIN where NVRTC offers one, else PTX. Without NVRTC (or when its
 * output does not load) the plugin loads kernels_sm52.ptx, the same source
 * compiled ahead of time to PTX for sm_52, which the driver JIT-compiles
 * for the device. Init options ("key=value;...", or $STARK_CUDA_OPTIONS
 * when the host gives none):
 *   kernels=auto|nvrtc|ptx|none  where the built-in ops come from (auto:
 *                                NVRTC, else the PTX; nvrtc / ptx: that
 *                                one or init fails; none: ops unsupported)
 *   nvrtc=/path/to/libnvrtc.so   the NVRTC library to use
 *   verbose=1                    print what init found on stderr
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu_common.h"
#include "cuda_api.h"
#define SK_HOST 1
#include "kernels.cu"

SK_INCBIN(sk_cuda_kernels_src, "kernels.cu");
SK_INCBIN(sk_cuda_kernels_ptx, "kernels_sm52.ptx");

/* ---- the driver ----------------------------------------------------------- */

typedef struct cu_fns {
#define X(name, ret, args) ret(*name) args;
    SK_CUDA_FUNCS(X)
#undef X
} cu_fns;

static struct {
    void *lib;
    cu_fns f;
    int ok;          /* loaded and cuInit succeeded */
    int version;     /* cuDriverGetVersion: 12040 is 12.4 */
    char why[512];   /* why not ok */
} drv;
static pthread_once_t drv_once = PTHREAD_ONCE_INIT;

#define CU (drv.f)

static const char *cu_errname(CUresult r) {
    const char *s = NULL;
    if (CU.cuGetErrorName != NULL && CU.cuGetErrorName(r, &s) == CUDA_SUCCESS && s != NULL)
        return s;
    return "CUDA_ERROR_UNKNOWN_CODE";
}

static const char *cu_errstr(CUresult r) {
    const char *s = NULL;
    if (CU.cuGetErrorString != NULL && CU.cuGetErrorString(r, &s) == CUDA_SUCCESS && s != NULL)
        return s;
    return "no description";
}

static void drv_load(void) {
    const char *name = "libcuda.so.1";
    drv.lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (drv.lib == NULL) {
        const char *e = dlerror();
        sk_fmt(drv.why, sizeof drv.why, "%s cannot be loaded (%s): no NVIDIA driver on this machine", name,
                 e ? e : "not found");
        return;
    }
#define X(fn, ret, args)                                                                                               \
    *(void **)(&drv.f.fn) = dlsym(drv.lib, #fn);                                                                       \
    if (drv.f.fn == NULL) {                                                                                            \
        sk_fmt(drv.why, sizeof drv.why, "%s has no %s: the NVIDIA driver is too old (CUDA 11 or later is needed)",   \
                 name, #fn);                                                                                           \
        return;                                                                                                        \
    }
    SK_CUDA_FUNCS(X)
#undef X
    CUresult r = CU.cuInit(0);
    if (r != CUDA_SUCCESS) {
        sk_fmt(drv.why, sizeof drv.why, "cuInit failed: %s (%s)%s", cu_errname(r), cu_errstr(r),
                 r == CUDA_ERROR_NO_DEVICE ? ": no CUDA device" : "");
        return;
    }
    if (CU.cuDriverGetVersion(&drv.version) != CUDA_SUCCESS)
        drv.version = 0;
    drv.ok = 1;
}

/* ---- the driver layer for gpu_plugin.h ------------------------------------- */

typedef CUresult gp_result;
typedef CUstream gp_stream;
typedef CUevent gp_event;
typedef CUmodule gp_module;
typedef CUfunction gp_function;

#define GP_NAME "cuda"
#define GP_VENDOR "NVIDIA"
#define GP_CAPS (STARK_DEV_CAP_ASYNC | STARK_DEV_CAP_EVENTS | STARK_DEV_CAP_PTX | STARK_DEV_CAP_CUBIN)
#define GP_SUCCESS CUDA_SUCCESS
#define GP_INVALID_VALUE CUDA_ERROR_INVALID_VALUE
#define GP_DEFAULT_STREAM CU_STREAM_PER_THREAD /* the calling thread's */
#define GP_LOST_TEXT "the device's context is lost"
#define GP_ALLOC_CHECK_TOTAL 0
#define GP_SYNC_COPIES 0 /* copies are queued, then waited for */
#define GP_FN_SET_CURRENT "cuCtxSetCurrent"
#define GP_FN_MEM_INFO "cuMemGetInfo"
#define GP_FN_ALLOC "cuMemAlloc"
#define GP_FN_STREAM_CREATE "cuStreamCreate"
#define GP_FN_STREAM_SYNC "cuStreamSynchronize"
#define GP_FN_EVENT_CREATE "cuEventCreate"
#define GP_FN_EVENT_RECORD "cuEventRecord"
#define GP_FN_EVENT_SYNC "cuEventSynchronize"
#define GP_FN_CTX_SYNC "cuCtxSynchronize"
#define GP_FN_GET_FUNCTION "cuModuleGetFunction"
#define GP_FN_LAUNCH "cuLaunchKernel"
#define GP_DEV_FIELDS                                                                                                  \
    CUdevice cu;                                                                                                       \
    CUcontext ctx;                                                                                                     \
    int cc_major, cc_minor;
#define GP_GLOBAL_FIELDS char nvrtc[512]; /* a path, or "" */

#include "gpu_plugin.h"

static const char *be_errname(CUresult r) { return cu_errname(r); }
static const char *be_errstr(CUresult r) { return cu_errstr(r); }

static int be_sticky(CUresult r) {
    switch (r) {
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_CONTEXT_IS_DESTROYED:
    case CUDA_ERROR_ASSERT:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_ECC_UNCORRECTABLE:
    case CUDA_ERROR_NVLINK_UNCORRECTABLE:
        return 1;
    }
    return 0;
}

static int32_t be_status_of(CUresult r) {
    switch (r) {
    case CUDA_ERROR_OUT_OF_MEMORY:
        return STARK_DEV_EXHAUSTED;
    case CUDA_ERROR_INVALID_VALUE:
    case CUDA_ERROR_INVALID_IMAGE:
    case CUDA_ERROR_INVALID_PTX:
    case CUDA_ERROR_INVALID_SOURCE:
    case CUDA_ERROR_INVALID_HANDLE:
        return STARK_DEV_INVALID;
    case CUDA_ERROR_NOT_FOUND:
        return STARK_DEV_NOT_FOUND;
    case CUDA_ERROR_NO_BINARY_FOR_GPU:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    case CUDA_ERROR_JIT_COMPILER_NOT_FOUND:
    case CUDA_ERROR_NOT_SUPPORTED:
        return STARK_DEV_UNSUPPORTED;
    case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
        return STARK_DEV_TOO_LARGE;
    case CUDA_ERROR_DEINITIALIZED:
        return STARK_DEV_STOPPED;
    }
    return STARK_DEV_INTERNAL;
}

static int be_no_function(CUresult r) { return r == CUDA_ERROR_NOT_FOUND; }

/* each device runs on its primary context */
static CUresult be_set_current(gp_dev *d) { return CU.cuCtxSetCurrent(d->ctx); }
static CUresult be_ctx_sync(void) { return CU.cuCtxSynchronize(); }
static CUresult be_mem_info(size_t *fr, size_t *tot) { return CU.cuMemGetInfo_v2(fr, tot); }

static CUresult be_malloc(uintptr_t *p, size_t bytes) {
    CUdeviceptr dp = 0;
    CUresult r = CU.cuMemAlloc_v2(&dp, bytes);
    *p = (uintptr_t)dp;
    return r;
}

static void be_free(uintptr_t p) { CU.cuMemFree_v2((CUdeviceptr)p); }

/* every copy is queued (sync: gp_finish then waits for the thread's stream) */
static CUresult be_memcpy(uint32_t kind, uintptr_t dst, uintptr_t src, size_t bytes, CUstream s, int sync) {
    (void)sync;
    switch (kind) {
    case STARK_COPY_H2D:
        return CU.cuMemcpyHtoDAsync_v2((CUdeviceptr)dst, (const void *)src, bytes, s);
    case STARK_COPY_D2H:
        return CU.cuMemcpyDtoHAsync_v2((void *)dst, (CUdeviceptr)src, bytes, s);
    }
    return CU.cuMemcpyDtoDAsync_v2((CUdeviceptr)dst, (CUdeviceptr)src, bytes, s);
}

static CUresult be_stream_create(CUstream *s) { return CU.cuStreamCreate(s, CU_STREAM_NON_BLOCKING); }
static void be_stream_destroy(CUstream s) { CU.cuStreamDestroy_v2(s); }
static CUresult be_stream_sync(CUstream s) { return CU.cuStreamSynchronize(s); }
static CUresult be_event_create(CUevent *e) { return CU.cuEventCreate(e, CU_EVENT_DISABLE_TIMING); }
static CUresult be_event_record(CUevent e, CUstream s) { return CU.cuEventRecord(e, s); }
static CUresult be_event_sync(CUevent e) { return CU.cuEventSynchronize(e); }
static void be_event_destroy(CUevent e) { CU.cuEventDestroy_v2(e); }
static void be_module_unload(CUmodule m) { CU.cuModuleUnload(m); }

static CUresult be_module_get_function(CUfunction *f, CUmodule m, const char *name) {
    return CU.cuModuleGetFunction(f, m, name);
}

static CUresult be_launch_args(CUfunction f, unsigned grid, void *args, size_t size, CUstream s) {
    (void)size;
    void *params[1] = {args};
    return CU.cuLaunchKernel(f, grid, 1, 1, SK_THREADS, 1, 1, 0, s, params, NULL);
}

static CUresult be_launch_buffer(CUfunction f, const unsigned grid[3], const unsigned block[3], CUstream s, void *buf,
                                 size_t size) {
    void *extra[5] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
    return CU.cuLaunchKernel(f, grid[0], grid[1], grid[2], block[0], block[1], block[2], 0, s, NULL,
                             size ? extra : NULL);
}

/* ---- modules -------------------------------------------------------------- */

static CUresult cu_load_image(const void *image, CUmodule *mod, char *log, size_t cap) {
    CUjit_option opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *vals[2] = {log, (void *)(uintptr_t)cap};
    log[0] = 0;
    CUresult r = CU.cuModuleLoadDataEx(mod, image, 2, opts, vals);
    log[cap - 1] = 0;
    return r;
}

static int32_t be_module_load(gp_dev *d, uint32_t format, const void *bytes, uint64_t len, CUmodule *m) {
    if (format != STARK_MOD_PTX && format != STARK_MOD_CUBIN) {
        if (format == STARK_MOD_SPIRV || format == STARK_MOD_HSACO || format == STARK_MOD_METALLIB)
            return sk_fail(STARK_DEV_UNSUPPORTED, "module_load: cuda loads PTX (2) and CUBIN (5) modules, not format %u",
                           format);
        return sk_fail(STARK_DEV_INVALID, "module_load: unknown module format %u", format);
    }
    if (bytes == NULL || len == 0)
        return sk_fail(STARK_DEV_INVALID, "module_load: empty module");
    if (len > (uint64_t)1 << 31)
        return sk_fail(STARK_DEV_TOO_LARGE, "module_load: %llu bytes", (unsigned long long)len);
    const unsigned char *u = (const unsigned char *)bytes;
    if (format == STARK_MOD_PTX) {
        uint64_t n = len;
        while (n > 0 && u[n - 1] == 0)
            n--;
        const void *nul = memchr(u, 0, (size_t)n);
        if (nul != NULL)
            return sk_fail(STARK_DEV_INVALID, "module_load: PTX text has a NUL byte at offset %zu",
                           (size_t)((const unsigned char *)nul - u));
    } else {
        int elf = len >= 4 && u[0] == 0x7f && u[1] == 'E' && u[2] == 'L' && u[3] == 'F';
        int fatbin = len >= 4 && u[0] == 0x50 && u[1] == 0xed && u[2] == 0x55 && u[3] == 0xba;
        if (!elf && !fatbin)
            return sk_fail(STARK_DEV_INVALID, "module_load: not a CUBIN (no ELF header) nor a fatbinary");
    }
    char *img = (char *)malloc((size_t)len + 1);
    if (img == NULL)
        return sk_fail(STARK_DEV_EXHAUSTED, "cuda: out of host memory");
    memcpy(img, bytes, (size_t)len);
    img[len] = 0;
    char log[2048];
    CUresult r = cu_load_image(img, m, log, sizeof log);
    free(img);
    if (r != CUDA_SUCCESS) {
        int32_t st = gp_status(d, r, format == STARK_MOD_PTX ? "cuModuleLoadData (PTX)" : "cuModuleLoadData (CUBIN)");
        if (log[0] && st != STARK_DEV_LOST)
            st = sk_fail(st, "cuda: module_load: %s: %s", cu_errname(r), log);
        return st;
    }
    return STARK_DEV_OK;
}

/* ---- the built-in kernels: NVRTC, else the embedded PTX ------------------- */

typedef struct nv_fns {
#define X(name, ret, args) ret(*name) args;
    SK_NVRTC_FUNCS(X) SK_NVRTC_OPT_FUNCS(X)
#undef X
} nv_fns;

static struct {
    void *lib;
    nv_fns f;
    int major, minor;
    char path[512];
    char why[512];
} nv;

static int nv_try(const char *path) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        return 0;
    nv_fns f;
    memset(&f, 0, sizeof f);
#define X(fn, ret, args)                                                                                               \
    *(void **)(&f.fn) = dlsym(lib, #fn);                                                                               \
    if (f.fn == NULL) {                                                                                                \
        sk_fmt(nv.why, sizeof nv.why, "%s has no %s", path, #fn);                                                   \
        dlclose(lib);                                                                                                  \
        return 0;                                                                                                      \
    }
    SK_NVRTC_FUNCS(X)
#undef X
#define X(fn, ret, args) *(void **)(&f.fn) = dlsym(lib, #fn);
    SK_NVRTC_OPT_FUNCS(X)
#undef X
    int major = 0, minor = 0;
    if (f.nvrtcVersion(&major, &minor) != NVRTC_SUCCESS) {
        sk_fmt(nv.why, sizeof nv.why, "%s: nvrtcVersion failed", path);
        dlclose(lib);
        return 0;
    }
    nv.lib = lib;
    nv.f = f;
    nv.major = major;
    nv.minor = minor;
    sk_copy_name(nv.path, sizeof nv.path, path);
    return 1;
}

/* nv_open finds NVRTC: the nvrtc= option, else by name (the one matching
 * the driver's major version first) in the loader's path and in the usual
 * CUDA directories. */
static int nv_open(void) {
    if (nv.lib != NULL)
        return 1;
    if (g.nvrtc[0]) {
        if (nv_try(g.nvrtc))
            return 1;
        if (!nv.why[0])
            sk_fmt(nv.why, sizeof nv.why, "%s cannot be loaded: %s", g.nvrtc, dlerror());
        return 0;
    }
    char names[8][32];
    int nn = 0;
    int dmajor = drv.version / 1000;
    if (dmajor >= 11)
        sk_fmt(names[nn++], sizeof names[0], "libnvrtc.so.%d", dmajor);
    sk_fmt(names[nn++], sizeof names[0], "libnvrtc.so");
    for (int v = 13; v >= 11; v--)
        if (v != dmajor)
            sk_fmt(names[nn++], sizeof names[0], "libnvrtc.so.%d", v);
    sk_fmt(names[nn++], sizeof names[0], "libnvrtc.so.11.2");
    const char *dirs[] = {NULL, getenv("CUDA_HOME"), getenv("CUDA_PATH"), "/usr/local/cuda", "/opt/cuda"};
    for (size_t di = 0; di < sizeof dirs / sizeof dirs[0]; di++) {
        if (di > 0 && (dirs[di] == NULL || dirs[di][0] == 0))
            continue;
        for (int i = 0; i < nn; i++) {
            char path[600];
            if (di == 0)
                sk_fmt(path, sizeof path, "%s", names[i]);
            else
                sk_fmt(path, sizeof path, "%s/lib64/%s", dirs[di], names[i]);
            if (nv_try(path))
                return 1;
        }
    }
    if (!nv.why[0])
        sk_fmt(nv.why, sizeof nv.why,
                 "NVRTC not found (libnvrtc.so[.%d] in the loader's path or under $CUDA_HOME, /usr/local/cuda; the "
                 "nvrtc= init option names one)",
                 dmajor);
    return 0;
}

/* a compiled image, cached for the devices of the same architecture and
 * for later inits (a shutdown and init again does not compile again) */
typedef struct nv_image {
    int arch;       /* 90 for sm_90 */
    int cubin;      /* 1: CUBIN, 0: PTX */
    char *data;
    char err[768];  /* why there is none */
} nv_image;

static nv_image nv_cache[16];
static int nv_ncache;

/* nv_arch: the highest architecture NVRTC supports up to the device's. */
static int nv_arch(int cc) {
    if (nv.f.nvrtcGetNumSupportedArchs == NULL || nv.f.nvrtcGetSupportedArchs == NULL)
        return cc;
    int n = 0;
    if (nv.f.nvrtcGetNumSupportedArchs(&n) != NVRTC_SUCCESS || n <= 0 || n > 256)
        return cc;
    int archs[256];
    if (nv.f.nvrtcGetSupportedArchs(archs) != NVRTC_SUCCESS)
        return cc;
    int best = 0;
    for (int i = 0; i < n; i++)
        if (archs[i] <= cc && archs[i] > best)
            best = archs[i];
    return best; /* 0: the device is older than every architecture NVRTC knows */
}

/* nv_compile compiles the kernels for arch as a CUBIN (cubin=1) or PTX. */
static const nv_image *nv_compile(int arch, int cubin) {
    for (int i = 0; i < nv_ncache; i++)
        if (nv_cache[i].arch == arch && nv_cache[i].cubin == cubin)
            return &nv_cache[i];
    if (nv_ncache == (int)(sizeof nv_cache / sizeof nv_cache[0]))
        return NULL;
    nv_image *im = &nv_cache[nv_ncache++];
    memset(im, 0, sizeof *im);
    im->arch = arch;
    im->cubin = cubin;
    if (cubin && (nv.f.nvrtcGetCUBINSize == NULL || nv.f.nvrtcGetCUBIN == NULL)) {
        sk_fmt(im->err, sizeof im->err, "NVRTC %d.%d makes no CUBIN", nv.major, nv.minor);
        return im;
    }
    double t0 = now_s();
    nvrtcProgram prog = NULL;
    nvrtcResult r = nv.f.nvrtcCreateProgram(&prog, sk_cuda_kernels_src, "stark_kernels.cu", 0, NULL, NULL);
    if (r != NVRTC_SUCCESS) {
        sk_fmt(im->err, sizeof im->err, "nvrtcCreateProgram: %s", nv.f.nvrtcGetErrorString(r));
        return im;
    }
    char archopt[64];
    sk_fmt(archopt, sizeof archopt, "--gpu-architecture=%s_%d", cubin ? "sm" : "compute", arch);
    const char *opts[] = {archopt, "--std=c++14"};
    r = nv.f.nvrtcCompileProgram(prog, 2, opts);
    if (r != NVRTC_SUCCESS) {
        size_t ls = 0;
        char log[512] = "";
        if (nv.f.nvrtcGetProgramLogSize(prog, &ls) == NVRTC_SUCCESS && ls > 1) {
            char *full = (char *)malloc(ls);
            if (full != NULL && nv.f.nvrtcGetProgramLog(prog, full) == NVRTC_SUCCESS)
                sk_copy_name(log, sizeof log, full);
            free(full);
        }
        sk_fmt(im->err, sizeof im->err, "nvrtcCompileProgram (%s): %s: %s", archopt, nv.f.nvrtcGetErrorString(r), log);
        nv.f.nvrtcDestroyProgram(&prog);
        return im;
    }
    size_t size = 0;
    r = cubin ? nv.f.nvrtcGetCUBINSize(prog, &size) : nv.f.nvrtcGetPTXSize(prog, &size);
    if (r == NVRTC_SUCCESS && size > 0 && (im->data = (char *)malloc(size + 1)) != NULL) {
        r = cubin ? nv.f.nvrtcGetCUBIN(prog, im->data) : nv.f.nvrtcGetPTX(prog, im->data);
        im->data[size] = 0;
        if (r != NVRTC_SUCCESS) {
            free(im->data);
            im->data = NULL;
        }
    }
    if (im->data == NULL)
        sk_fmt(im->err, sizeof im->err, "NVRTC produced no %s: %s", cubin ? "CUBIN" : "PTX",
                 nv.f.nvrtcGetErrorString(r));
    nv.f.nvrtcDestroyProgram(&prog);
    if (g.verbose)
        fprintf(stderr, "stark cuda: NVRTC %d.%d compiled the kernels for %s in %.2f s\n", nv.major, nv.minor, archopt,
                now_s() - t0);
    return im;
}

/* k_load loads an image as d's kernel module and finds every function. */
static int k_load(gp_dev *d, const char *image, const char *what, char *err, size_t cap) {
    char log[1024];
    CUmodule m;
    CUresult r = cu_load_image(image, &m, log, sizeof log);
    if (r != CUDA_SUCCESS) {
        sk_fmt(err, cap, "%s does not load: %s (%s)%s%s", what, cu_errname(r), cu_errstr(r), log[0] ? ": " : "", log);
        return 0;
    }
    for (int i = 0; i < F_N; i++) {
        r = CU.cuModuleGetFunction(&d->fn[i], m, fn_names[i]);
        if (r != CUDA_SUCCESS) {
            sk_fmt(err, cap, "%s has no kernel %s: %s", what, fn_names[i], cu_errname(r));
            CU.cuModuleUnload(m);
            return 0;
        }
    }
    d->kmod = m;
    sk_copy_name(d->kinfo, sizeof d->kinfo, what);
    return 1;
}

/* k_build gives device d its kernels; 0 (with d->kerr) when it has none. */
static int k_build(gp_dev *d) {
    char e1[1024] = "", e2[1024] = "";
    if (strcmp(g.kernels, "none") == 0) {
        sk_fmt(d->kerr, sizeof d->kerr, "disabled by the init option kernels=none");
        return 0;
    }
    if (strcmp(g.kernels, "ptx") != 0) {
        if (!nv_open()) {
            sk_fmt(e1, sizeof e1, "%s", nv.why);
        } else {
            int cc = d->cc_major * 10 + d->cc_minor, arch = nv_arch(cc);
            if (arch == 0) {
                sk_fmt(e1, sizeof e1, "NVRTC %d.%d (%s) cannot compile for sm_%d", nv.major, nv.minor, nv.path, cc);
            } else {
                for (int cubin = 1; cubin >= 0; cubin--) {
                    const nv_image *im = nv_compile(arch, cubin);
                    char what[160];
                    sk_fmt(what, sizeof what, "NVRTC %d.%d (%s), %s_%d %s", nv.major, nv.minor, nv.path,
                             cubin ? "sm" : "compute", arch, cubin ? "CUBIN" : "PTX");
                    char e[1024];
                    if (im == NULL)
                        sk_fmt(e, sizeof e, "too many architectures");
                    else if (im->data == NULL)
                        sk_fmt(e, sizeof e, "%s", im->err);
                    else if (k_load(d, im->data, what, e, sizeof e))
                        return 1;
                    size_t len = strlen(e1);
                    sk_fmt(e1 + len, sizeof e1 - len, "%s%s", len ? "; " : "", e);
                }
            }
        }
    }
    if (strcmp(g.kernels, "nvrtc") != 0) {
        if (k_load(d, sk_cuda_kernels_ptx, "embedded PTX (sm_52, JIT-compiled by the driver)", e2, sizeof e2))
            return 1;
    }
    sk_fmt(d->kerr, sizeof d->kerr, "the built-in kernels could not be built: %s%s%s", e1[0] ? e1 : "",
             e1[0] && e2[0] ? "; " : "", e2[0] ? e2 : "");
    return 0;
}

/* ---- init and shutdown ---------------------------------------------------- */

static void be_release_devices(void) {
    for (int i = 0; i < g.ndev; i++) {
        gp_dev *d = &g.devs[i];
        CU.cuCtxSetCurrent(d->ctx);
        if (d->kmod != NULL)
            CU.cuModuleUnload(d->kmod);
        CU.cuCtxSetCurrent(NULL);
        CU.cuDevicePrimaryCtxRelease_v2(d->cu);
    }
    free(g.devs);
    g.devs = NULL;
    g.ndev = 0;
}

static int32_t be_init(const stark_dev_init *opts) {
    if (atomic_load(&g.up))
        return STARK_DEV_OK;
    const char *options;
    int32_t st = gp_read_options(opts, "STARK_CUDA_OPTIONS", &options);
    if (st != STARK_DEV_OK)
        return st;
    static const char *const known[] = {"kernels", "nvrtc", "verbose", NULL};
    if ((st = sk_opts_check(options, known, "cuda")) != STARK_DEV_OK)
        return st;
    char v[16];
    sk_copy_name(g.kernels, sizeof g.kernels, "auto");
    if (sk_opt(options, "kernels", v, sizeof v)) {
        if (strcmp(v, "auto") && strcmp(v, "nvrtc") && strcmp(v, "ptx") && strcmp(v, "none"))
            return sk_fail(STARK_DEV_INVALID, "cuda: init option kernels=%s (auto, nvrtc, ptx or none)", v);
        sk_copy_name(g.kernels, sizeof g.kernels, v);
    }
    g.nvrtc[0] = 0;
    sk_opt(options, "nvrtc", g.nvrtc, sizeof g.nvrtc);
    g.verbose = sk_opt(options, "verbose", v, sizeof v) && strcmp(v, "0") != 0;

    pthread_once(&drv_once, drv_load);
    if (!drv.ok)
        return sk_fail(STARK_DEV_NOT_FOUND, "cuda: %s", drv.why);
    int count = 0;
    CUresult r = CU.cuDeviceGetCount(&count);
    if (r != CUDA_SUCCESS)
        return gp_status(NULL, r, "cuDeviceGetCount");
    if (count <= 0)
        return sk_fail(STARK_DEV_NOT_FOUND, "cuda: no CUDA device");
    g.devs = (gp_dev *)calloc((size_t)count, sizeof *g.devs);
    if (g.devs == NULL)
        return sk_fail(STARK_DEV_EXHAUSTED, "cuda: out of host memory");
    char skipped[512] = "";
    int nd = 0;
    for (int i = 0; i < count; i++) {
        gp_dev *d = &g.devs[nd];
        memset(d, 0, sizeof *d);
        d->ordinal = nd;
        if ((r = CU.cuDeviceGet(&d->cu, i)) != CUDA_SUCCESS ||
            (r = CU.cuDevicePrimaryCtxRetain(&d->ctx, d->cu)) != CUDA_SUCCESS) {
            size_t len = strlen(skipped);
            sk_fmt(skipped + len, sizeof skipped - len, "%sCUDA device %d: %s (%s)", len ? "; " : "", i,
                     cu_errname(r), cu_errstr(r));
            continue;
        }
        CU.cuCtxSetCurrent(d->ctx);
        if (CU.cuDeviceGetName(d->name, sizeof d->name, d->cu) != CUDA_SUCCESS)
            sk_fmt(d->name, sizeof d->name, "CUDA device %d", i);
        d->name[sizeof d->name - 1] = 0;
        size_t total = 0;
        CU.cuDeviceTotalMem_v2(&total, d->cu);
        d->total = total;
        CU.cuDeviceGetAttribute(&d->cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d->cu);
        CU.cuDeviceGetAttribute(&d->cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d->cu);
        CU.cuDeviceGetAttribute(&d->units, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d->cu);
        CU.cuDeviceGetAttribute(&d->integrated, CU_DEVICE_ATTRIBUTE_INTEGRATED, d->cu);
        if (d->units <= 0)
            d->units = 1;
        g.ndev = ++nd; /* counted now: cu_release_devices releases it on failure */
        int ok = k_build(d);
        if (g.verbose)
            fprintf(stderr, "stark cuda: device %d: %s (sm_%d%d, %d SMs, %llu MiB): %s%s\n", d->ordinal, d->name,
                    d->cc_major, d->cc_minor, d->units, (unsigned long long)(d->total >> 20),
                    ok ? "kernels from " : "", ok ? d->kinfo : d->kerr);
        if (!ok && strcmp(g.kernels, "auto") != 0 && strcmp(g.kernels, "none") != 0) {
            st = sk_fail(STARK_DEV_UNSUPPORTED, "cuda: device %d (%s): %s (init option kernels=%s)", d->ordinal,
                         d->name, d->kerr, g.kernels);
            be_release_devices();
            return st;
        }
    }
    CU.cuCtxSetCurrent(NULL);
    if (nd == 0) {
        be_release_devices();
        return sk_fail(STARK_DEV_NOT_FOUND, "cuda: no usable CUDA device: %s", skipped);
    }
    atomic_store(&g.up, 1);
    return STARK_DEV_OK;
}

/* the score (gpu_plugin.h): loads the driver (kept loaded for init) */
static int be_score_count(void) {
    pthread_once(&drv_once, drv_load);
    int n = 0;
    if (!drv.ok || CU.cuDeviceGetCount(&n) != CUDA_SUCCESS)
        return 0;
    return n;
}

static int be_score_integrated(int i) {
    CUdevice dev;
    int integrated = 0;
    if (CU.cuDeviceGet(&dev, i) != CUDA_SUCCESS)
        return -1;
    CU.cuDeviceGetAttribute(&integrated, CU_DEVICE_ATTRIBUTE_INTEGRATED, dev);
    return integrated != 0; /* Jetson */
}
