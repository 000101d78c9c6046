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
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* ---- devices -------------------------------------------------------------- */

enum {
    F_FILL,
    F_SCALE,
    F_AXPY,
    F_ADD,
    F_MUL,
    F_RELU,
    F_RSUM,
    F_RMAX,
    F_SOFTMAX,
    F_MM_NN,
    F_MM_NT,
    F_MM_TN,
    F_MM_TT,
    F_N
};

static const char *const fn_names[F_N] = {
    "stark_fill",       "stark_scale",      "stark_axpy",    "stark_add",      "stark_mul",
    "stark_relu",       "stark_reduce_sum", "stark_reduce_max", "stark_softmax", "stark_sgemm_nn",
    "stark_sgemm_nt",   "stark_sgemm_tn",   "stark_sgemm_tt",
};

typedef struct cu_dev {
    int ordinal;
    CUdevice cu;
    CUcontext ctx;
    int cc_major, cc_minor, sms, integrated;
    char name[128];
    uint64_t total;
    CUmodule kmod;          /* the built-in kernels; NULL: none */
    CUfunction fn[F_N];
    char kinfo[256];        /* where the kernels came from */
    char kerr[1024];        /* why there are none */
    atomic_int lost;
    char lost_why[256];
} cu_dev;

static struct {
    atomic_int up;
    int ndev;
    cu_dev *devs;
    sk_table tab;
    char kernels[16];       /* auto, nvrtc, ptx, none */
    char nvrtc[512];        /* a path, or "" */
    int verbose;
} g = {.tab = {.mu = PTHREAD_MUTEX_INITIALIZER}};

static int cu_sticky(CUresult r) {
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

/* cu_status turns a driver result into a status and the thread's error;
 * errors that poison the context mark the device lost (sticky). */
static int32_t cu_status(cu_dev *d, CUresult r, const char *what) {
    if (r == CUDA_SUCCESS)
        return STARK_DEV_OK;
    if (d != NULL && cu_sticky(r)) {
        if (atomic_exchange(&d->lost, 1) == 0)
            sk_fmt(d->lost_why, sizeof d->lost_why, "%s: %s (%s)", what, cu_errname(r), cu_errstr(r));
        return sk_fail(STARK_DEV_LOST, "cuda: %s: %s (%s): the device's context is lost; every later call on device %d fails",
                       what, cu_errname(r), cu_errstr(r), d->ordinal);
    }
    int32_t st = STARK_DEV_INTERNAL;
    switch (r) {
    case CUDA_ERROR_OUT_OF_MEMORY:
        st = STARK_DEV_EXHAUSTED;
        break;
    case CUDA_ERROR_INVALID_VALUE:
    case CUDA_ERROR_INVALID_IMAGE:
    case CUDA_ERROR_INVALID_PTX:
    case CUDA_ERROR_INVALID_SOURCE:
    case CUDA_ERROR_INVALID_HANDLE:
        st = STARK_DEV_INVALID;
        break;
    case CUDA_ERROR_NOT_FOUND:
        st = STARK_DEV_NOT_FOUND;
        break;
    case CUDA_ERROR_NO_BINARY_FOR_GPU:
    case CUDA_ERROR_UNSUPPORTED_PTX_VERSION:
    case CUDA_ERROR_JIT_COMPILER_NOT_FOUND:
    case CUDA_ERROR_NOT_SUPPORTED:
        st = STARK_DEV_UNSUPPORTED;
        break;
    case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES:
        st = STARK_DEV_TOO_LARGE;
        break;
    case CUDA_ERROR_DEINITIALIZED:
        st = STARK_DEV_STOPPED;
        break;
    }
    return sk_fail(st, "cuda: %s: %s (%s)", what, cu_errname(r), cu_errstr(r));
}

/* cu_enter: the plugin is up, the device exists and is not lost; its
 * context is made current on the calling thread. */
static int32_t cu_enter(uint32_t device, cu_dev **out) {
    if (!atomic_load(&g.up))
        return sk_fail(STARK_DEV_STOPPED, "cuda: not initialised (or shut down)");
    if (device >= (uint32_t)g.ndev)
        return sk_fail(STARK_DEV_NOT_FOUND, "cuda: no device %u (%d device%s)", device, g.ndev, g.ndev == 1 ? "" : "s");
    cu_dev *d = &g.devs[device];
    *out = d;
    if (atomic_load(&d->lost))
        return sk_fail(STARK_DEV_LOST, "cuda: device %u was lost: %s", device, d->lost_why);
    CUresult r = CU.cuCtxSetCurrent(d->ctx);
    if (r != CUDA_SUCCESS)
        return cu_status(d, r, "cuCtxSetCurrent");
    return STARK_DEV_OK;
}

/* ---- objects -------------------------------------------------------------- */

static void cu_set_ctx(uint32_t device) {
    if (device < (uint32_t)g.ndev)
        CU.cuCtxSetCurrent(g.devs[device].ctx);
}

static void cu_destroy_buf(sk_obj *o) {
    cu_set_ctx(o->device);
    CU.cuMemFree_v2((CUdeviceptr)o->native);
}

static void cu_destroy_stream(sk_obj *o) {
    cu_set_ctx(o->device);
    CU.cuStreamDestroy_v2((CUstream)o->native);
}

static void cu_destroy_event(sk_obj *o) {
    cu_set_ctx(o->device);
    CU.cuEventDestroy_v2((CUevent)o->native);
}

static void cu_destroy_module(sk_obj *o) {
    cu_set_ctx(o->device);
    CU.cuCtxSynchronize(); /* no kernel of it may still be queued */
    CU.cuModuleUnload((CUmodule)o->native);
}

static sk_obj *cu_new_obj(uint32_t type, uint32_t device, uintptr_t native, uint64_t size, void (*destroy)(sk_obj *)) {
    sk_obj *o = (sk_obj *)calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->type = type;
    o->device = device;
    o->native = native;
    o->size = size;
    o->destroy = destroy;
    return o;
}

/* cu_publish puts o in the table and returns its handle in *out; on
 * failure o is released. */
static int32_t cu_publish(sk_obj *o, uint64_t *out) {
    uint64_t h = sk_insert(&g.tab, o);
    if (h == 0) {
        sk_release(o);
        return sk_fail(STARK_DEV_EXHAUSTED, "cuda: out of host memory for the handle table");
    }
    *out = h;
    return STARK_DEV_OK;
}

/* cu_stream resolves a stream handle: 0 is the calling thread's default
 * stream (*so stays NULL: the call is synchronous). */
static int32_t cu_stream(uint32_t device, uint64_t stream, sk_obj **so, CUstream *s) {
    *so = NULL;
    *s = CU_STREAM_PER_THREAD;
    if (stream == 0)
        return STARK_DEV_OK;
    int32_t st = STARK_DEV_OK;
    *so = sk_get(&g.tab, stream, SK_STREAM, device, &st);
    if (*so == NULL)
        return st;
    *s = (CUstream)(*so)->native;
    return STARK_DEV_OK;
}

/* cu_finish ends a call that queued work: a synchronous call (no stream
 * object) waits for the thread's stream. */
static int32_t cu_finish(cu_dev *d, int32_t st, sk_obj *so, const char *what) {
    if (st == STARK_DEV_OK && so == NULL)
        st = cu_status(d, CU.cuStreamSynchronize(CU_STREAM_PER_THREAD), what);
    sk_put(&g.tab, so);
    return st;
}

/* ---- the table's entries -------------------------------------------------- */

static int32_t cu_last_error(char *buf, uint64_t cap) { return sk_last_error(buf, cap); }

static int32_t cu_device_count(uint32_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "device_count: NULL");
    if (!atomic_load(&g.up))
        return sk_fail(STARK_DEV_STOPPED, "cuda: not initialised (or shut down)");
    *out = (uint32_t)g.ndev;
    return STARK_DEV_OK;
}

static int32_t cu_device_info(uint32_t device, stark_dev_info *out) {
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    stark_dev_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    info.type = d->integrated ? STARK_DEV_TYPE_INTEGRATED : STARK_DEV_TYPE_DISCRETE;
    sk_copy_name(info.name, sizeof info.name, d->name);
    sk_copy_name(info.vendor, sizeof info.vendor, "NVIDIA");
    info.memory_total = d->total;
    size_t fr = 0, tot = 0;
    CUresult r = CU.cuMemGetInfo_v2(&fr, &tot);
    if (r == CUDA_SUCCESS)
        info.memory_free = fr;
    else if (cu_sticky(r)) /* an earlier kernel's fault surfaces here */
        return cu_status(d, r, "cuMemGetInfo");
    info.max_alloc = d->total;
    info.max_binding = d->total; /* 64-bit pointers: no binding limit below the memory */
    info.compute_units = (uint32_t)d->sms;
    return sk_write_info(out, &info);
}

static int32_t cu_mem_alloc(uint32_t device, uint64_t bytes, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "mem_alloc: NULL out_handle");
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    if (bytes == 0)
        return sk_fail(STARK_DEV_INVALID, "mem_alloc: zero bytes");
    if (bytes > SIZE_MAX)
        return sk_fail(STARK_DEV_TOO_LARGE, "mem_alloc: %llu bytes", (unsigned long long)bytes);
    CUdeviceptr p = 0;
    CUresult r = CU.cuMemAlloc_v2(&p, (size_t)bytes);
    if (r != CUDA_SUCCESS) {
        st = cu_status(d, r, "cuMemAlloc");
        if (st == STARK_DEV_EXHAUSTED)
            st = sk_fail(st, "cuda: cuMemAlloc of %llu bytes on device %u: out of device memory (%llu MiB in all)",
                         (unsigned long long)bytes, device, (unsigned long long)(d->total >> 20));
        return st;
    }
    sk_obj *o = cu_new_obj(SK_BUF, device, (uintptr_t)p, bytes, cu_destroy_buf);
    if (o == NULL) {
        CU.cuMemFree_v2(p);
        return sk_fail(STARK_DEV_EXHAUSTED, "cuda: out of host memory");
    }
    return cu_publish(o, out);
}

static int32_t cu_mem_free(uint32_t device, uint64_t handle) {
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK && st != STARK_DEV_LOST)
        return st;
    int32_t rst = sk_remove(&g.tab, handle, SK_BUF, device);
    if (st == STARK_DEV_LOST) /* the handle is gone all the same */
        return sk_fail(STARK_DEV_LOST, "cuda: device %u was lost: %s", device, d->lost_why);
    return rst;
}

static int32_t cu_memcpy(const stark_dev_copy *in) {
    stark_dev_copy c;
    int32_t st = sk_read_struct(in, sizeof c, &c, sizeof c, "memcpy");
    if (st != STARK_DEV_OK)
        return st;
    cu_dev *d;
    if ((st = cu_enter(c.device, &d)) != STARK_DEV_OK)
        return st;
    if (c.kind > STARK_COPY_D2D)
        return sk_fail(STARK_DEV_INVALID, "memcpy: unknown kind %u", c.kind);
    if (c.kind == STARK_COPY_H2D && c.host_src == NULL && c.bytes > 0)
        return sk_fail(STARK_DEV_INVALID, "memcpy: host_src is NULL");
    if (c.kind == STARK_COPY_D2H && c.host_dst == NULL && c.bytes > 0)
        return sk_fail(STARK_DEV_INVALID, "memcpy: host_dst is NULL");
    sk_obj *src = NULL, *dst = NULL, *so = NULL;
    CUstream s;
    if (c.kind != STARK_COPY_H2D && (src = sk_get(&g.tab, c.src.handle, SK_BUF, c.device, &st)) == NULL)
        goto out;
    if (c.kind != STARK_COPY_D2H && (dst = sk_get(&g.tab, c.dst.handle, SK_BUF, c.device, &st)) == NULL)
        goto out;
    if (src != NULL && (st = sk_check_bytes("memcpy: src", src, c.src.offset, c.bytes)) != STARK_DEV_OK)
        goto out;
    if (dst != NULL && (st = sk_check_bytes("memcpy: dst", dst, c.dst.offset, c.bytes)) != STARK_DEV_OK)
        goto out;
    if (src != NULL && dst != NULL && sk_overlap(src, c.src.offset, c.bytes, dst, c.dst.offset, c.bytes) &&
        c.src.offset != c.dst.offset) {
        st = sk_fail(STARK_DEV_INVALID, "memcpy: the source and destination ranges overlap");
        goto out;
    }
    if ((st = cu_stream(c.device, c.stream, &so, &s)) != STARK_DEV_OK)
        goto out;
    if (c.bytes > 0) {
        CUresult r = CUDA_SUCCESS;
        switch (c.kind) {
        case STARK_COPY_H2D:
            r = CU.cuMemcpyHtoDAsync_v2((CUdeviceptr)dst->native + c.dst.offset, c.host_src, (size_t)c.bytes, s);
            break;
        case STARK_COPY_D2H:
            r = CU.cuMemcpyDtoHAsync_v2(c.host_dst, (CUdeviceptr)src->native + c.src.offset, (size_t)c.bytes, s);
            break;
        default:
            if (src != dst || c.src.offset != c.dst.offset)
                r = CU.cuMemcpyDtoDAsync_v2((CUdeviceptr)dst->native + c.dst.offset,
                                            (CUdeviceptr)src->native + c.src.offset, (size_t)c.bytes, s);
        }
        st = cu_status(d, r, "memcpy");
        st = cu_finish(d, st, so, "memcpy");
    } else {
        sk_put(&g.tab, so);
    }
out:
    sk_put(&g.tab, src);
    sk_put(&g.tab, dst);
    return st;
}

static int32_t cu_stream_create(uint32_t device, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "stream_create: NULL");
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    CUstream s;
    if ((st = cu_status(d, CU.cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate")) != STARK_DEV_OK)
        return st;
    sk_obj *o = cu_new_obj(SK_STREAM, device, (uintptr_t)s, 0, cu_destroy_stream);
    if (o == NULL) {
        CU.cuStreamDestroy_v2(s);
        return sk_fail(STARK_DEV_EXHAUSTED, "cuda: out of host memory");
    }
    return cu_publish(o, out);
}

static int32_t cu_stream_destroy(uint32_t device, uint64_t stream) {
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK && st != STARK_DEV_LOST)
        return st;
    int32_t rst = sk_remove(&g.tab, stream, SK_STREAM, device);
    return st == STARK_DEV_LOST ? st : rst;
}

static int32_t cu_stream_sync(uint32_t device, uint64_t stream) {
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    sk_obj *so;
    CUstream s;
    if ((st = cu_stream(device, stream, &so, &s)) != STARK_DEV_OK)
        return st;
    st = cu_status(d, CU.cuStreamSynchronize(s), "cuStreamSynchronize");
    sk_put(&g.tab, so);
    return st;
}

static int32_t cu_event_record(uint32_t device, uint64_t stream, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "event_record: NULL");
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    sk_obj *so;
    CUstream s;
    if ((st = cu_stream(device, stream, &so, &s)) != STARK_DEV_OK)
        return st;
    CUevent e;
    st = cu_status(d, CU.cuEventCreate(&e, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
    if (st == STARK_DEV_OK) {
        st = cu_status(d, CU.cuEventRecord(e, s), "cuEventRecord");
        if (st != STARK_DEV_OK) {
            CU.cuEventDestroy_v2(e);
        } else {
            sk_obj *o = cu_new_obj(SK_EVENT, device, (uintptr_t)e, 0, cu_destroy_event);
            if (o == NULL) {
                CU.cuEventDestroy_v2(e);
                st = sk_fail(STARK_DEV_EXHAUSTED, "cuda: out of host memory");
            } else {
                st = cu_publish(o, out);
            }
        }
    }
    sk_put(&g.tab, so);
    return st;
}

static int32_t cu_event_sync(uint32_t device, uint64_t event) {
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    sk_obj *o = sk_get(&g.tab, event, SK_EVENT, device, &st);
    if (o == NULL)
        return st;
    st = cu_status(d, CU.cuEventSynchronize((CUevent)o->native), "cuEventSynchronize");
    sk_put(&g.tab, o);
    return st;
}

static int32_t cu_event_destroy(uint32_t device, uint64_t event) {
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK && st != STARK_DEV_LOST)
        return st;
    int32_t rst = sk_remove(&g.tab, event, SK_EVENT, device);
    return st == STARK_DEV_LOST ? st : rst;
}

static int32_t cu_synchronize(uint32_t device) {
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    return cu_status(d, CU.cuCtxSynchronize(), "cuCtxSynchronize");
}

/* ---- ops ------------------------------------------------------------------ */

static unsigned cu_grid(const cu_dev *d, uint64_t blocks) {
    uint64_t cap = (uint64_t)(d->sms > 0 ? d->sms : 1) * 32;
    if (blocks > cap)
        blocks = cap;
    return blocks == 0 ? 1 : (unsigned)blocks;
}

static CUresult cu_launch(cu_dev *d, int fn, unsigned grid, void *args, CUstream s) {
    void *params[1] = {args};
    return CU.cuLaunchKernel(d->fn[fn], grid, 1, 1, SK_THREADS, 1, 1, 0, s, params, NULL);
}

static CUresult cu_ew(cu_dev *d, int fn, CUdeviceptr c, CUdeviceptr a, CUdeviceptr b, uint64_t n, float alpha,
                      int use_a, int use_b, CUstream s) {
    sk_ew_args x;
    memset(&x, 0, sizeof x);
    x.c = (float *)(uintptr_t)c;
    x.a = (const float *)(uintptr_t)a;
    x.b = (const float *)(uintptr_t)b;
    x.n = n;
    x.alpha = alpha;
    x.vec = c % 16 == 0 && (!use_a || a % 16 == 0) && (!use_b || b % 16 == 0);
    uint64_t items = x.vec ? (n / 4 > 0 ? n / 4 : 1) : n;
    return cu_launch(d, fn, cu_grid(d, (items + SK_THREADS - 1) / SK_THREADS), &x, s);
}

static CUresult cu_run_op(cu_dev *d, const sk_plan *p, CUdeviceptr A, CUdeviceptr B, CUdeviceptr C, CUstream s) {
    switch (p->kind) {
    case STARK_OP_COPY:
        if (A == C || p->n == 0)
            return CUDA_SUCCESS;
        return CU.cuMemcpyDtoDAsync_v2(C, A, (size_t)(p->n * 4), s);
    case STARK_OP_FILL:
    case STARK_OP_SCALE:
    case STARK_OP_AXPY:
    case STARK_OP_ADD:
    case STARK_OP_MUL:
    case STARK_OP_RELU: {
        static const int fns[] = {[STARK_OP_FILL] = F_FILL, [STARK_OP_SCALE] = F_SCALE, [STARK_OP_AXPY] = F_AXPY,
                                  [STARK_OP_ADD] = F_ADD,   [STARK_OP_MUL] = F_MUL,     [STARK_OP_RELU] = F_RELU};
        if (p->n == 0)
            return CUDA_SUCCESS;
        return cu_ew(d, fns[p->kind], C, A, B, p->n, p->alpha, p->use_a, p->use_b, s);
    }
    case STARK_OP_REDUCE_SUM:
    case STARK_OP_REDUCE_MAX: {
        int max = p->kind == STARK_OP_REDUCE_MAX;
        /* Few long rows: split each row over several blocks (partial
         * results combined with atomics) so that the device fills up. */
        const uint64_t per_block = 4096, want = (uint64_t)(d->sms > 0 ? d->sms : 1) * 4;
        uint64_t parts = 1;
        if (p->m < want && p->n > 2 * per_block) {
            parts = (want + p->m - 1) / p->m;
            uint64_t most = (p->n + per_block - 1) / per_block;
            if (parts > most)
                parts = most;
        }
        uint64_t chunk = (p->n + parts - 1) / parts;
        parts = (p->n + chunk - 1) / chunk;
        if (parts > 1) {
            CUresult r = cu_ew(d, F_FILL, C, 0, 0, p->m, max ? -INFINITY : 0.0f, 0, 0, s);
            if (r != CUDA_SUCCESS)
                return r;
        }
        sk_rows_args x;
        memset(&x, 0, sizeof x);
        x.c = (float *)(uintptr_t)C;
        x.a = (const float *)(uintptr_t)A;
        x.m = p->m;
        x.n = p->n;
        x.lda = p->lda;
        x.ldc = 1;
        x.parts = parts;
        x.chunk = chunk;
        return cu_launch(d, max ? F_RMAX : F_RSUM, cu_grid(d, p->m * parts), &x, s);
    }
    case STARK_OP_SOFTMAX: {
        sk_rows_args x;
        memset(&x, 0, sizeof x);
        x.c = (float *)(uintptr_t)C;
        x.a = (const float *)(uintptr_t)A;
        x.m = p->m;
        x.n = p->n;
        x.lda = p->lda;
        x.ldc = p->ldc;
        x.parts = 1;
        x.chunk = p->n;
        return cu_launch(d, F_SOFTMAX, cu_grid(d, p->m), &x, s);
    }
    case STARK_OP_MATMUL: {
        sk_mm_args x;
        memset(&x, 0, sizeof x);
        x.c = (float *)(uintptr_t)C;
        x.a = (const float *)(uintptr_t)A;
        x.b = (const float *)(uintptr_t)B;
        x.m = p->m;
        x.n = p->n;
        x.k = p->k;
        x.lda = p->lda;
        x.ldb = p->ldb;
        x.ldc = p->ldc;
        x.alpha = p->alpha;
        x.beta = p->beta;
        x.vec_a = A % 16 == 0 && p->lda % 4 == 0;
        x.vec_b = B % 16 == 0 && p->ldb % 4 == 0;
        x.vec_c = C % 16 == 0 && p->ldc % 4 == 0;
        uint64_t tiles = ((p->m + 127) / 128) * ((p->n + 127) / 128);
        int fn = F_MM_NN + (p->trans_a ? 2 : 0) + (p->trans_b ? 1 : 0);
        return cu_launch(d, fn, (unsigned)tiles, &x, s);
    }
    }
    return CUDA_ERROR_INVALID_VALUE;
}

/* cu_op_check: what op_supported and launch_op share. */
static int32_t cu_op_check(const stark_dev_op *in, stark_dev_op *op, sk_plan *p, cu_dev **d) {
    int32_t st = sk_read_struct(in, sizeof *op, op, sizeof *op, "op");
    if (st != STARK_DEV_OK)
        return st;
    if (!atomic_load(&g.up))
        return sk_fail(STARK_DEV_STOPPED, "cuda: not initialised (or shut down)");
    if (op->device >= (uint32_t)g.ndev)
        return sk_fail(STARK_DEV_NOT_FOUND, "cuda: no device %u (%d devices)", op->device, g.ndev);
    *d = &g.devs[op->device];
    if (atomic_load(&(*d)->lost))
        return sk_fail(STARK_DEV_LOST, "cuda: device %u was lost: %s", op->device, (*d)->lost_why);
    if ((st = sk_plan_op(op, p)) != STARK_DEV_OK)
        return st;
    if (p->kind == STARK_OP_MATMUL && ((p->m + 127) / 128) * ((p->n + 127) / 128) > 0x7fffffffull)
        return sk_fail(STARK_DEV_TOO_LARGE, "matmul: %llux%llu is more tiles than a grid holds",
                       (unsigned long long)p->m, (unsigned long long)p->n);
    if ((*d)->kmod == NULL && p->kind != STARK_OP_COPY)
        return sk_fail(STARK_DEV_UNSUPPORTED, "cuda: %s: the built-in kernels are unavailable on device %u: %s",
                       sk_op_name(p->kind), op->device, (*d)->kerr);
    return STARK_DEV_OK;
}

static int32_t cu_op_supported(const stark_dev_op *in) {
    stark_dev_op op;
    sk_plan p;
    cu_dev *d;
    return cu_op_check(in, &op, &p, &d);
}

static int32_t cu_launch_op(const stark_dev_op *in) {
    stark_dev_op op;
    sk_plan p;
    cu_dev *d;
    int32_t st = cu_op_check(in, &op, &p, &d);
    if (st != STARK_DEV_OK)
        return st;
    if ((st = cu_enter(op.device, &d)) != STARK_DEV_OK)
        return st;
    const char *name = sk_op_name(p.kind);
    sk_obj *a = NULL, *b = NULL, *c = NULL, *so = NULL;
    CUstream s;
    if (p.use_a && (a = sk_get(&g.tab, op.a.handle, SK_BUF, op.device, &st)) == NULL)
        goto out;
    if (p.use_b && (b = sk_get(&g.tab, op.b.handle, SK_BUF, op.device, &st)) == NULL)
        goto out;
    if ((c = sk_get(&g.tab, op.c.handle, SK_BUF, op.device, &st)) == NULL)
        goto out;
    if (a != NULL && (st = sk_check_view(name, "a", a, op.a.offset, p.ext_a)) != STARK_DEV_OK)
        goto out;
    if (b != NULL && (st = sk_check_view(name, "b", b, op.b.offset, p.ext_b)) != STARK_DEV_OK)
        goto out;
    if ((st = sk_check_view(name, "c", c, op.c.offset, p.ext_c)) != STARK_DEV_OK)
        goto out;
    if ((st = sk_check_alias(&p, a, op.a.offset, b, op.b.offset, c, op.c.offset)) != STARK_DEV_OK)
        goto out;
    if ((st = cu_stream(op.device, op.stream, &so, &s)) != STARK_DEV_OK)
        goto out;
    {
        CUdeviceptr A = a ? (CUdeviceptr)a->native + op.a.offset : 0;
        CUdeviceptr B = b ? (CUdeviceptr)b->native + op.b.offset : 0;
        CUdeviceptr C = (CUdeviceptr)c->native + op.c.offset;
        st = cu_status(d, cu_run_op(d, &p, A, B, C, s), name);
        st = cu_finish(d, st, so, name);
    }
out:
    sk_put(&g.tab, a);
    sk_put(&g.tab, b);
    sk_put(&g.tab, c);
    return st;
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

static int32_t cu_module_load(uint32_t device, uint32_t format, const void *bytes, uint64_t len, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "module_load: NULL out_module");
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
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
    CUmodule m;
    CUresult r = cu_load_image(img, &m, log, sizeof log);
    free(img);
    if (r != CUDA_SUCCESS) {
        st = cu_status(d, r, format == STARK_MOD_PTX ? "cuModuleLoadData (PTX)" : "cuModuleLoadData (CUBIN)");
        if (log[0] && st != STARK_DEV_LOST)
            st = sk_fail(st, "cuda: module_load: %s: %s", cu_errname(r), log);
        return st;
    }
    sk_obj *o = cu_new_obj(SK_MODULE, device, (uintptr_t)m, 0, cu_destroy_module);
    if (o == NULL) {
        CU.cuModuleUnload(m);
        return sk_fail(STARK_DEV_EXHAUSTED, "cuda: out of host memory");
    }
    return cu_publish(o, out);
}

static int32_t cu_module_unload(uint32_t device, uint64_t module) {
    cu_dev *d;
    int32_t st = cu_enter(device, &d);
    if (st != STARK_DEV_OK && st != STARK_DEV_LOST)
        return st;
    int32_t rst = sk_remove(&g.tab, module, SK_MODULE, device);
    return st == STARK_DEV_LOST ? st : rst;
}

/* module_launch: the kernel's parameters are the bindings, as device
 * pointers (8 bytes each, base + offset), followed by the push bytes laid
 * out as the kernel's remaining parameters (C struct layout, starting
 * 8-byte aligned). */
static int32_t cu_module_launch(const stark_dev_launch *in) {
    stark_dev_launch l;
    int32_t st = sk_read_struct(in, sizeof l, &l, sizeof l, "module_launch");
    if (st != STARK_DEV_OK)
        return st;
    cu_dev *d;
    if ((st = cu_enter(l.device, &d)) != STARK_DEV_OK)
        return st;
    if (l.function == NULL || l.function[0] == 0)
        return sk_fail(STARK_DEV_INVALID, "module_launch: no function name");
    if (l.n_bindings > 0 && l.bindings == NULL)
        return sk_fail(STARK_DEV_INVALID, "module_launch: %u bindings but bindings is NULL", l.n_bindings);
    if (l.push_size > 0 && l.push == NULL)
        return sk_fail(STARK_DEV_INVALID, "module_launch: push_size %u but push is NULL", l.push_size);
    if (l.n_bindings > 512 || l.push_size > 32768)
        return sk_fail(STARK_DEV_TOO_LARGE, "module_launch: %u bindings and %u push bytes are too many parameters",
                       l.n_bindings, l.push_size);
    unsigned grid[3], block[3];
    for (int i = 0; i < 3; i++) {
        grid[i] = l.grid[i] ? l.grid[i] : (i ? 1 : 0);
        block[i] = l.block[i] ? l.block[i] : (i ? 1 : 0);
    }
    if (grid[0] == 0 || block[0] == 0)
        return sk_fail(STARK_DEV_INVALID, "module_launch: grid[0] and block[0] must be at least 1 (0 in y and z means 1)");
    sk_obj *mo = sk_get(&g.tab, l.module, SK_MODULE, l.device, &st);
    if (mo == NULL)
        return st;
    size_t psize = 8 * (size_t)l.n_bindings + l.push_size;
    unsigned char *pbuf = (unsigned char *)calloc(1, psize ? psize : 1);
    sk_obj **bufs = (sk_obj **)calloc(l.n_bindings ? l.n_bindings : 1, sizeof *bufs);
    sk_obj *so = NULL;
    CUstream s;
    if (pbuf == NULL || bufs == NULL) {
        st = sk_fail(STARK_DEV_EXHAUSTED, "cuda: out of host memory");
        goto out;
    }
    for (uint32_t i = 0; i < l.n_bindings; i++) {
        if ((bufs[i] = sk_get(&g.tab, l.bindings[i].handle, SK_BUF, l.device, &st)) == NULL) {
            char why[512];
            sk_copy_name(why, sizeof why, sk_tls_err);
            st = sk_fail(st, "module_launch: binding %u: %s", i, why);
            goto out;
        }
        if (l.bindings[i].offset > bufs[i]->size) {
            st = sk_fail(STARK_DEV_INVALID, "module_launch: binding %u: offset %llu is past the end of the %llu-byte buffer",
                         i, (unsigned long long)l.bindings[i].offset, (unsigned long long)bufs[i]->size);
            goto out;
        }
        CUdeviceptr ptr = (CUdeviceptr)bufs[i]->native + l.bindings[i].offset;
        memcpy(pbuf + 8 * (size_t)i, &ptr, 8);
    }
    if (l.push_size > 0)
        memcpy(pbuf + 8 * (size_t)l.n_bindings, l.push, l.push_size);
    CUfunction fn;
    CUresult r = CU.cuModuleGetFunction(&fn, (CUmodule)mo->native, l.function);
    if (r != CUDA_SUCCESS) {
        st = cu_status(d, r, "cuModuleGetFunction");
        if (r == CUDA_ERROR_NOT_FOUND)
            st = sk_fail(STARK_DEV_NOT_FOUND, "module_launch: the module has no function \"%s\"", l.function);
        goto out;
    }
    if ((st = cu_stream(l.device, l.stream, &so, &s)) != STARK_DEV_OK)
        goto out;
    {
        size_t size = psize;
        void *extra[5] = {CU_LAUNCH_PARAM_BUFFER_POINTER, pbuf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
        r = CU.cuLaunchKernel(fn, grid[0], grid[1], grid[2], block[0], block[1], block[2], 0, s, NULL,
                              psize ? extra : NULL);
        st = cu_status(d, r, "cuLaunchKernel");
        st = cu_finish(d, st, so, "module_launch");
        so = NULL; /* cu_finish dropped it */
    }
out:
    sk_put(&g.tab, so);
    for (uint32_t i = 0; bufs != NULL && i < l.n_bindings; i++)
        sk_put(&g.tab, bufs[i]);
    free(bufs);
    free(pbuf);
    sk_put(&g.tab, mo);
    return st;
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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
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
static int k_load(cu_dev *d, const char *image, const char *what, char *err, size_t cap) {
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
static int k_build(cu_dev *d) {
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

static void cu_release_devices(void) {
    for (int i = 0; i < g.ndev; i++) {
        cu_dev *d = &g.devs[i];
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

static int32_t cu_init(const stark_dev_init *opts) {
    if (atomic_load(&g.up))
        return STARK_DEV_OK;
    const char *options = NULL;
    if (opts != NULL) {
        stark_dev_init in;
        int32_t st = sk_read_struct(opts, sizeof in, &in, sizeof in, "init");
        if (st != STARK_DEV_OK)
            return st;
        options = in.options;
    }
    if (options == NULL || options[0] == 0)
        options = getenv("STARK_CUDA_OPTIONS");
    static const char *const known[] = {"kernels", "nvrtc", "verbose", NULL};
    int32_t st = sk_opts_check(options, known, "cuda");
    if (st != STARK_DEV_OK)
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
        return cu_status(NULL, r, "cuDeviceGetCount");
    if (count <= 0)
        return sk_fail(STARK_DEV_NOT_FOUND, "cuda: no CUDA device");
    g.devs = (cu_dev *)calloc((size_t)count, sizeof *g.devs);
    if (g.devs == NULL)
        return sk_fail(STARK_DEV_EXHAUSTED, "cuda: out of host memory");
    char skipped[512] = "";
    int nd = 0;
    for (int i = 0; i < count; i++) {
        cu_dev *d = &g.devs[nd];
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
        CU.cuDeviceGetAttribute(&d->sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d->cu);
        CU.cuDeviceGetAttribute(&d->integrated, CU_DEVICE_ATTRIBUTE_INTEGRATED, d->cu);
        if (d->sms <= 0)
            d->sms = 1;
        g.ndev = ++nd; /* counted now: cu_release_devices releases it on failure */
        int ok = k_build(d);
        if (g.verbose)
            fprintf(stderr, "stark cuda: device %d: %s (sm_%d%d, %d SMs, %llu MiB): %s%s\n", d->ordinal, d->name,
                    d->cc_major, d->cc_minor, d->sms, (unsigned long long)(d->total >> 20),
                    ok ? "kernels from " : "", ok ? d->kinfo : d->kerr);
        if (!ok && strcmp(g.kernels, "auto") != 0 && strcmp(g.kernels, "none") != 0) {
            st = sk_fail(STARK_DEV_UNSUPPORTED, "cuda: device %d (%s): %s (init option kernels=%s)", d->ordinal,
                         d->name, d->kerr, g.kernels);
            cu_release_devices();
            return st;
        }
    }
    CU.cuCtxSetCurrent(NULL);
    if (nd == 0) {
        cu_release_devices();
        return sk_fail(STARK_DEV_NOT_FOUND, "cuda: no usable CUDA device: %s", skipped);
    }
    atomic_store(&g.up, 1);
    return STARK_DEV_OK;
}

static int32_t cu_shutdown(void) {
    if (!atomic_load(&g.up))
        return STARK_DEV_OK;
    atomic_store(&g.up, 0);
    for (int i = 0; i < g.ndev; i++) {
        CU.cuCtxSetCurrent(g.devs[i].ctx);
        CU.cuCtxSynchronize(); /* finishes pending work (errors: the device is going anyway) */
    }
    sk_drain(&g.tab, UINT32_MAX);
    cu_release_devices();
    return STARK_DEV_OK;
}

/* ---- exports -------------------------------------------------------------- */

static const stark_device_api cu_api = {
    .struct_size = sizeof(stark_device_api),
    .abi_version = STARK_DEVICE_ABI_VERSION,
    .name = "cuda",
    .caps = STARK_DEV_CAP_ASYNC | STARK_DEV_CAP_EVENTS | STARK_DEV_CAP_PTX | STARK_DEV_CAP_CUBIN,
    .init = cu_init,
    .shutdown = cu_shutdown,
    .last_error = cu_last_error,
    .device_count = cu_device_count,
    .device_info = cu_device_info,
    .mem_alloc = cu_mem_alloc,
    .mem_free = cu_mem_free,
    .memcpy = cu_memcpy,
    .stream_create = cu_stream_create,
    .stream_destroy = cu_stream_destroy,
    .stream_sync = cu_stream_sync,
    .event_record = cu_event_record,
    .event_sync = cu_event_sync,
    .event_destroy = cu_event_destroy,
    .synchronize = cu_synchronize,
    .op_supported = cu_op_supported,
    .launch_op = cu_launch_op,
    .module_load = cu_module_load,
    .module_unload = cu_module_unload,
    .module_launch = cu_module_launch,
};

/* 100 for a discrete GPU, 50 for an integrated one (Jetson), 0 without a
 * driver or a device. Loads the driver (kept loaded for init). */
SK_EXPORT uint32_t stark_device_score(void) {
    pthread_once(&drv_once, drv_load);
    if (!drv.ok)
        return 0;
    int n = 0;
    if (CU.cuDeviceGetCount(&n) != CUDA_SUCCESS || n <= 0)
        return 0;
    uint32_t best = 0;
    for (int i = 0; i < n; i++) {
        CUdevice dev;
        int integrated = 0;
        if (CU.cuDeviceGet(&dev, i) != CUDA_SUCCESS)
            continue;
        CU.cuDeviceGetAttribute(&integrated, CU_DEVICE_ATTRIBUTE_INTEGRATED, dev);
        uint32_t s = integrated ? 50 : 100;
        if (s > best)
            best = s;
    }
    return best;
}

SK_EXPORT const stark_device_api *stark_device_query(uint32_t host_abi_version) {
    return host_abi_version == STARK_DEVICE_ABI_VERSION ? &cu_api : NULL;
}
