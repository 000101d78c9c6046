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
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
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

typedef struct hip_dev {
    int ordinal;    /* ours */
    int hip;        /* HIP's ordinal */
    hipDevice_t dev;
    int cus, integrated, warp;
    char name[128];
    char arch[64];  /* gfx90a, ... ("" unknown) */
    uint64_t total;
    hipModule_t kmod;
    hipFunction_t fn[F_N];
    char kinfo[256];
    char kerr[1024];
    atomic_int lost;
    char lost_why[256];
} hip_dev;

static struct {
    atomic_int up;
    int ndev;
    hip_dev *devs;
    sk_table tab;
    char kernels[16];
    char hiprtc[512];
    char arch[64];
    int verbose;
} g = {.tab = {.mu = PTHREAD_MUTEX_INITIALIZER}};

static int hip_sticky(hipError_t r) {
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

static int32_t hip_status(hip_dev *d, hipError_t r, const char *what) {
    if (r == hipSuccess)
        return STARK_DEV_OK;
    if (d != NULL && hip_sticky(r)) {
        if (atomic_exchange(&d->lost, 1) == 0)
            sk_fmt(d->lost_why, sizeof d->lost_why, "%s: %s (%s)", what, hip_errname(r), hip_errstr(r));
        return sk_fail(STARK_DEV_LOST, "rocm: %s: %s (%s): the device is lost; every later call on device %d fails", what,
                       hip_errname(r), hip_errstr(r), d->ordinal);
    }
    int32_t st = STARK_DEV_INTERNAL;
    switch (r) {
    case hipErrorOutOfMemory:
        st = STARK_DEV_EXHAUSTED;
        break;
    case hipErrorInvalidValue:
    case hipErrorInvalidImage:
    case hipErrorInvalidKernelFile:
    case hipErrorInvalidSource:
    case hipErrorInvalidHandle:
    case hipErrorInvalidDevicePointer:
    case hipErrorInvalidConfiguration:
        st = STARK_DEV_INVALID;
        break;
    case hipErrorNotFound:
    case hipErrorInvalidDeviceFunction:
        st = STARK_DEV_NOT_FOUND;
        break;
    case hipErrorNoBinaryForGpu:
    case hipErrorNotSupported:
        st = STARK_DEV_UNSUPPORTED;
        break;
    case hipErrorLaunchOutOfResources:
        st = STARK_DEV_TOO_LARGE;
        break;
    case hipErrorDeinitialized:
        st = STARK_DEV_STOPPED;
        break;
    }
    return sk_fail(st, "rocm: %s: %s (%s)", what, hip_errname(r), hip_errstr(r));
}

static int32_t hip_enter(uint32_t device, hip_dev **out) {
    if (!atomic_load(&g.up))
        return sk_fail(STARK_DEV_STOPPED, "rocm: not initialised (or shut down)");
    if (device >= (uint32_t)g.ndev)
        return sk_fail(STARK_DEV_NOT_FOUND, "rocm: no device %u (%d device%s)", device, g.ndev, g.ndev == 1 ? "" : "s");
    hip_dev *d = &g.devs[device];
    *out = d;
    if (atomic_load(&d->lost))
        return sk_fail(STARK_DEV_LOST, "rocm: device %u was lost: %s", device, d->lost_why);
    hipError_t r = HIP.hipSetDevice(d->hip);
    if (r != hipSuccess)
        return hip_status(d, r, "hipSetDevice");
    return STARK_DEV_OK;
}

/* ---- objects -------------------------------------------------------------- */

static void hip_set(uint32_t device) {
    if (device < (uint32_t)g.ndev)
        HIP.hipSetDevice(g.devs[device].hip);
}

static void hip_destroy_buf(sk_obj *o) {
    hip_set(o->device);
    HIP.hipFree((void *)o->native);
}

static void hip_destroy_stream(sk_obj *o) {
    hip_set(o->device);
    HIP.hipStreamDestroy((hipStream_t)o->native);
}

static void hip_destroy_event(sk_obj *o) {
    hip_set(o->device);
    HIP.hipEventDestroy((hipEvent_t)o->native);
}

static void hip_destroy_module(sk_obj *o) {
    hip_set(o->device);
    HIP.hipDeviceSynchronize(); /* no kernel of it may still be queued */
    HIP.hipModuleUnload((hipModule_t)o->native);
}

static sk_obj *hip_new_obj(uint32_t type, uint32_t device, uintptr_t native, uint64_t size, void (*destroy)(sk_obj *)) {
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

static int32_t hip_publish(sk_obj *o, uint64_t *out) {
    uint64_t h = sk_insert(&g.tab, o);
    if (h == 0) {
        sk_release(o);
        return sk_fail(STARK_DEV_EXHAUSTED, "rocm: out of host memory for the handle table");
    }
    *out = h;
    return STARK_DEV_OK;
}

/* hip_stream: 0 is the null stream (*so stays NULL: the call is synchronous). */
static int32_t hip_stream(uint32_t device, uint64_t stream, sk_obj **so, hipStream_t *s) {
    *so = NULL;
    *s = NULL;
    if (stream == 0)
        return STARK_DEV_OK;
    int32_t st = STARK_DEV_OK;
    *so = sk_get(&g.tab, stream, SK_STREAM, device, &st);
    if (*so == NULL)
        return st;
    *s = (hipStream_t)(*so)->native;
    return STARK_DEV_OK;
}

static int32_t hip_finish(hip_dev *d, int32_t st, sk_obj *so, const char *what) {
    if (st == STARK_DEV_OK && so == NULL)
        st = hip_status(d, HIP.hipStreamSynchronize(NULL), what);
    sk_put(&g.tab, so);
    return st;
}

/* ---- the table's entries -------------------------------------------------- */

static int32_t hip_last_error(char *buf, uint64_t cap) { return sk_last_error(buf, cap); }

static int32_t hip_device_count(uint32_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "device_count: NULL");
    if (!atomic_load(&g.up))
        return sk_fail(STARK_DEV_STOPPED, "rocm: not initialised (or shut down)");
    *out = (uint32_t)g.ndev;
    return STARK_DEV_OK;
}

static int32_t hip_device_info(uint32_t device, stark_dev_info *out) {
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    stark_dev_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    info.type = d->integrated ? STARK_DEV_TYPE_INTEGRATED : STARK_DEV_TYPE_DISCRETE;
    sk_copy_name(info.name, sizeof info.name, d->name);
    sk_copy_name(info.vendor, sizeof info.vendor, "AMD");
    info.memory_total = d->total;
    size_t fr = 0, tot = 0;
    hipError_t r = HIP.hipMemGetInfo(&fr, &tot);
    if (r == hipSuccess)
        info.memory_free = fr;
    else if (hip_sticky(r)) /* an earlier kernel's fault surfaces here */
        return hip_status(d, r, "hipMemGetInfo");
    info.max_alloc = d->total;
    info.max_binding = d->total;
    info.compute_units = (uint32_t)d->cus;
    return sk_write_info(out, &info);
}

static int32_t hip_mem_alloc(uint32_t device, uint64_t bytes, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "mem_alloc: NULL out_handle");
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    if (bytes == 0)
        return sk_fail(STARK_DEV_INVALID, "mem_alloc: zero bytes");
    if (bytes > SIZE_MAX)
        return sk_fail(STARK_DEV_TOO_LARGE, "mem_alloc: %llu bytes", (unsigned long long)bytes);
    if (bytes > d->total)
        return sk_fail(STARK_DEV_EXHAUSTED, "rocm: mem_alloc of %llu bytes on device %u: more than its %llu MiB",
                       (unsigned long long)bytes, device, (unsigned long long)(d->total >> 20));
    void *p = NULL;
    hipError_t r = HIP.hipMalloc(&p, (size_t)bytes);
    if (r != hipSuccess) {
        st = hip_status(d, r, "hipMalloc");
        if (st == STARK_DEV_EXHAUSTED)
            st = sk_fail(st, "rocm: hipMalloc of %llu bytes on device %u: out of device memory (%llu MiB in all)",
                         (unsigned long long)bytes, device, (unsigned long long)(d->total >> 20));
        return st;
    }
    sk_obj *o = hip_new_obj(SK_BUF, device, (uintptr_t)p, bytes, hip_destroy_buf);
    if (o == NULL) {
        HIP.hipFree(p);
        return sk_fail(STARK_DEV_EXHAUSTED, "rocm: out of host memory");
    }
    return hip_publish(o, out);
}

static int32_t hip_mem_free(uint32_t device, uint64_t handle) {
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK && st != STARK_DEV_LOST)
        return st;
    int32_t rst = sk_remove(&g.tab, handle, SK_BUF, device);
    if (st == STARK_DEV_LOST)
        return sk_fail(STARK_DEV_LOST, "rocm: device %u was lost: %s", device, d->lost_why);
    return rst;
}

static int32_t hip_memcpy(const stark_dev_copy *in) {
    stark_dev_copy c;
    int32_t st = sk_read_struct(in, sizeof c, &c, sizeof c, "memcpy");
    if (st != STARK_DEV_OK)
        return st;
    hip_dev *d;
    if ((st = hip_enter(c.device, &d)) != STARK_DEV_OK)
        return st;
    if (c.kind > STARK_COPY_D2D)
        return sk_fail(STARK_DEV_INVALID, "memcpy: unknown kind %u", c.kind);
    if (c.kind == STARK_COPY_H2D && c.host_src == NULL && c.bytes > 0)
        return sk_fail(STARK_DEV_INVALID, "memcpy: host_src is NULL");
    if (c.kind == STARK_COPY_D2H && c.host_dst == NULL && c.bytes > 0)
        return sk_fail(STARK_DEV_INVALID, "memcpy: host_dst is NULL");
    sk_obj *src = NULL, *dst = NULL, *so = NULL;
    hipStream_t s;
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
    if ((st = hip_stream(c.device, c.stream, &so, &s)) != STARK_DEV_OK)
        goto out;
    if (c.bytes > 0 && !(src != NULL && src == dst && c.src.offset == c.dst.offset)) {
        void *dp = NULL;
        const void *sp = NULL;
        int kind = hipMemcpyHostToDevice;
        switch (c.kind) {
        case STARK_COPY_H2D:
            dp = (char *)dst->native + c.dst.offset;
            sp = c.host_src;
            break;
        case STARK_COPY_D2H:
            dp = c.host_dst;
            sp = (const char *)src->native + c.src.offset;
            kind = hipMemcpyDeviceToHost;
            break;
        default:
            dp = (char *)dst->native + c.dst.offset;
            sp = (const char *)src->native + c.src.offset;
            kind = hipMemcpyDeviceToDevice;
        }
        hipError_t r = so ? HIP.hipMemcpyAsync(dp, sp, (size_t)c.bytes, kind, s)
                          : HIP.hipMemcpy(dp, sp, (size_t)c.bytes, kind);
        st = hip_status(d, r, "memcpy");
    }
    sk_put(&g.tab, so);
out:
    sk_put(&g.tab, src);
    sk_put(&g.tab, dst);
    return st;
}

static int32_t hip_stream_create(uint32_t device, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "stream_create: NULL");
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    hipStream_t s;
    if ((st = hip_status(d, HIP.hipStreamCreateWithFlags(&s, hipStreamNonBlocking), "hipStreamCreateWithFlags")) !=
        STARK_DEV_OK)
        return st;
    sk_obj *o = hip_new_obj(SK_STREAM, device, (uintptr_t)s, 0, hip_destroy_stream);
    if (o == NULL) {
        HIP.hipStreamDestroy(s);
        return sk_fail(STARK_DEV_EXHAUSTED, "rocm: out of host memory");
    }
    return hip_publish(o, out);
}

static int32_t hip_stream_destroy(uint32_t device, uint64_t stream) {
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK && st != STARK_DEV_LOST)
        return st;
    int32_t rst = sk_remove(&g.tab, stream, SK_STREAM, device);
    return st == STARK_DEV_LOST ? st : rst;
}

static int32_t hip_stream_sync(uint32_t device, uint64_t stream) {
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    sk_obj *so;
    hipStream_t s;
    if ((st = hip_stream(device, stream, &so, &s)) != STARK_DEV_OK)
        return st;
    st = hip_status(d, HIP.hipStreamSynchronize(s), "hipStreamSynchronize");
    sk_put(&g.tab, so);
    return st;
}

static int32_t hip_event_record(uint32_t device, uint64_t stream, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "event_record: NULL");
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    sk_obj *so;
    hipStream_t s;
    if ((st = hip_stream(device, stream, &so, &s)) != STARK_DEV_OK)
        return st;
    hipEvent_t e;
    st = hip_status(d, HIP.hipEventCreateWithFlags(&e, hipEventDisableTiming), "hipEventCreateWithFlags");
    if (st == STARK_DEV_OK) {
        st = hip_status(d, HIP.hipEventRecord(e, s), "hipEventRecord");
        if (st != STARK_DEV_OK) {
            HIP.hipEventDestroy(e);
        } else {
            sk_obj *o = hip_new_obj(SK_EVENT, device, (uintptr_t)e, 0, hip_destroy_event);
            if (o == NULL) {
                HIP.hipEventDestroy(e);
                st = sk_fail(STARK_DEV_EXHAUSTED, "rocm: out of host memory");
            } else {
                st = hip_publish(o, out);
            }
        }
    }
    sk_put(&g.tab, so);
    return st;
}

static int32_t hip_event_sync(uint32_t device, uint64_t event) {
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    sk_obj *o = sk_get(&g.tab, event, SK_EVENT, device, &st);
    if (o == NULL)
        return st;
    st = hip_status(d, HIP.hipEventSynchronize((hipEvent_t)o->native), "hipEventSynchronize");
    sk_put(&g.tab, o);
    return st;
}

static int32_t hip_event_destroy(uint32_t device, uint64_t event) {
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK && st != STARK_DEV_LOST)
        return st;
    int32_t rst = sk_remove(&g.tab, event, SK_EVENT, device);
    return st == STARK_DEV_LOST ? st : rst;
}

static int32_t hip_synchronize(uint32_t device) {
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    return hip_status(d, HIP.hipDeviceSynchronize(), "hipDeviceSynchronize");
}

/* ---- ops ------------------------------------------------------------------ */

static unsigned hip_grid(const hip_dev *d, uint64_t blocks) {
    uint64_t cap = (uint64_t)(d->cus > 0 ? d->cus : 1) * 32;
    if (blocks > cap)
        blocks = cap;
    return blocks == 0 ? 1 : (unsigned)blocks;
}

/* hip_launch passes the argument struct as the kernel's parameter buffer */
static hipError_t hip_launch(hip_dev *d, int fn, unsigned grid, void *args, size_t size, hipStream_t s) {
    void *extra[5] = {HIP_LAUNCH_PARAM_BUFFER_POINTER, args, HIP_LAUNCH_PARAM_BUFFER_SIZE, &size, HIP_LAUNCH_PARAM_END};
    return HIP.hipModuleLaunchKernel(d->fn[fn], grid, 1, 1, SK_THREADS, 1, 1, 0, s, NULL, extra);
}

static hipError_t hip_ew(hip_dev *d, int fn, uintptr_t c, uintptr_t a, uintptr_t b, uint64_t n, float alpha, int use_a,
                         int use_b, hipStream_t s) {
    sk_ew_args x;
    memset(&x, 0, sizeof x);
    x.c = (float *)c;
    x.a = (const float *)a;
    x.b = (const float *)b;
    x.n = n;
    x.alpha = alpha;
    x.vec = c % 16 == 0 && (!use_a || a % 16 == 0) && (!use_b || b % 16 == 0);
    uint64_t items = x.vec ? (n / 4 > 0 ? n / 4 : 1) : n;
    return hip_launch(d, fn, hip_grid(d, (items + SK_THREADS - 1) / SK_THREADS), &x, sizeof x, s);
}

static hipError_t hip_run_op(hip_dev *d, const sk_plan *p, uintptr_t A, uintptr_t B, uintptr_t C, hipStream_t s,
                             int sync) {
    switch (p->kind) {
    case STARK_OP_COPY:
        if (A == C || p->n == 0)
            return hipSuccess;
        return sync ? HIP.hipMemcpy((void *)C, (const void *)A, (size_t)(p->n * 4), hipMemcpyDeviceToDevice)
                    : HIP.hipMemcpyAsync((void *)C, (const void *)A, (size_t)(p->n * 4), hipMemcpyDeviceToDevice, s);
    case STARK_OP_FILL:
    case STARK_OP_SCALE:
    case STARK_OP_AXPY:
    case STARK_OP_ADD:
    case STARK_OP_MUL:
    case STARK_OP_RELU: {
        static const int fns[] = {[STARK_OP_FILL] = F_FILL, [STARK_OP_SCALE] = F_SCALE, [STARK_OP_AXPY] = F_AXPY,
                                  [STARK_OP_ADD] = F_ADD,   [STARK_OP_MUL] = F_MUL,     [STARK_OP_RELU] = F_RELU};
        if (p->n == 0)
            return hipSuccess;
        return hip_ew(d, fns[p->kind], C, A, B, p->n, p->alpha, p->use_a, p->use_b, s);
    }
    case STARK_OP_REDUCE_SUM:
    case STARK_OP_REDUCE_MAX: {
        int max = p->kind == STARK_OP_REDUCE_MAX;
        const uint64_t per_block = 4096, want = (uint64_t)(d->cus > 0 ? d->cus : 1) * 4;
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
            hipError_t r = hip_ew(d, F_FILL, C, 0, 0, p->m, max ? -INFINITY : 0.0f, 0, 0, s);
            if (r != hipSuccess)
                return r;
        }
        sk_rows_args x;
        memset(&x, 0, sizeof x);
        x.c = (float *)C;
        x.a = (const float *)A;
        x.m = p->m;
        x.n = p->n;
        x.lda = p->lda;
        x.ldc = 1;
        x.parts = parts;
        x.chunk = chunk;
        return hip_launch(d, max ? F_RMAX : F_RSUM, hip_grid(d, p->m * parts), &x, sizeof x, s);
    }
    case STARK_OP_SOFTMAX: {
        sk_rows_args x;
        memset(&x, 0, sizeof x);
        x.c = (float *)C;
        x.a = (const float *)A;
        x.m = p->m;
        x.n = p->n;
        x.lda = p->lda;
        x.ldc = p->ldc;
        x.parts = 1;
        x.chunk = p->n;
        return hip_launch(d, F_SOFTMAX, hip_grid(d, p->m), &x, sizeof x, s);
    }
    case STARK_OP_MATMUL: {
        sk_mm_args x;
        memset(&x, 0, sizeof x);
        x.c = (float *)C;
        x.a = (const float *)A;
        x.b = (const float *)B;
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
        return hip_launch(d, fn, (unsigned)tiles, &x, sizeof x, s);
    }
    }
    return hipErrorInvalidValue;
}

static int32_t hip_op_check(const stark_dev_op *in, stark_dev_op *op, sk_plan *p, hip_dev **d) {
    int32_t st = sk_read_struct(in, sizeof *op, op, sizeof *op, "op");
    if (st != STARK_DEV_OK)
        return st;
    if (!atomic_load(&g.up))
        return sk_fail(STARK_DEV_STOPPED, "rocm: not initialised (or shut down)");
    if (op->device >= (uint32_t)g.ndev)
        return sk_fail(STARK_DEV_NOT_FOUND, "rocm: no device %u (%d devices)", op->device, g.ndev);
    *d = &g.devs[op->device];
    if (atomic_load(&(*d)->lost))
        return sk_fail(STARK_DEV_LOST, "rocm: device %u was lost: %s", op->device, (*d)->lost_why);
    if ((st = sk_plan_op(op, p)) != STARK_DEV_OK)
        return st;
    if (p->kind == STARK_OP_MATMUL && ((p->m + 127) / 128) * ((p->n + 127) / 128) > 0x7fffffffull)
        return sk_fail(STARK_DEV_TOO_LARGE, "matmul: %llux%llu is more tiles than a grid holds",
                       (unsigned long long)p->m, (unsigned long long)p->n);
    if ((*d)->kmod == NULL && p->kind != STARK_OP_COPY)
        return sk_fail(STARK_DEV_UNSUPPORTED, "rocm: %s: the built-in kernels are unavailable on device %u: %s",
                       sk_op_name(p->kind), op->device, (*d)->kerr);
    return STARK_DEV_OK;
}

static int32_t hip_op_supported(const stark_dev_op *in) {
    stark_dev_op op;
    sk_plan p;
    hip_dev *d;
    return hip_op_check(in, &op, &p, &d);
}

static int32_t hip_launch_op(const stark_dev_op *in) {
    stark_dev_op op;
    sk_plan p;
    hip_dev *d;
    int32_t st = hip_op_check(in, &op, &p, &d);
    if (st != STARK_DEV_OK)
        return st;
    if ((st = hip_enter(op.device, &d)) != STARK_DEV_OK)
        return st;
    const char *name = sk_op_name(p.kind);
    sk_obj *a = NULL, *b = NULL, *c = NULL, *so = NULL;
    hipStream_t s;
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
    if ((st = hip_stream(op.device, op.stream, &so, &s)) != STARK_DEV_OK)
        goto out;
    {
        uintptr_t A = a ? a->native + op.a.offset : 0;
        uintptr_t B = b ? b->native + op.b.offset : 0;
        uintptr_t C = c->native + op.c.offset;
        st = hip_status(d, hip_run_op(d, &p, A, B, C, s, so == NULL), name);
        st = hip_finish(d, st, so, name);
    }
out:
    sk_put(&g.tab, a);
    sk_put(&g.tab, b);
    sk_put(&g.tab, c);
    return st;
}

/* ---- modules -------------------------------------------------------------- */

static int32_t hip_module_load(uint32_t device, uint32_t format, const void *bytes, uint64_t len, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "module_load: NULL out_module");
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
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
    hipModule_t m;
    hipError_t r = HIP.hipModuleLoadData(&m, img);
    free(img);
    if (r != hipSuccess)
        return hip_status(d, r, "hipModuleLoadData");
    sk_obj *o = hip_new_obj(SK_MODULE, device, (uintptr_t)m, 0, hip_destroy_module);
    if (o == NULL) {
        HIP.hipModuleUnload(m);
        return sk_fail(STARK_DEV_EXHAUSTED, "rocm: out of host memory");
    }
    return hip_publish(o, out);
}

static int32_t hip_module_unload(uint32_t device, uint64_t module) {
    hip_dev *d;
    int32_t st = hip_enter(device, &d);
    if (st != STARK_DEV_OK && st != STARK_DEV_LOST)
        return st;
    int32_t rst = sk_remove(&g.tab, module, SK_MODULE, device);
    return st == STARK_DEV_LOST ? st : rst;
}

/* module_launch: the kernel's parameters are the bindings, as device
 * pointers (8 bytes each, base + offset), followed by the push bytes laid
 * out as the kernel's remaining parameters (C struct layout). */
static int32_t hip_module_launch(const stark_dev_launch *in) {
    stark_dev_launch l;
    int32_t st = sk_read_struct(in, sizeof l, &l, sizeof l, "module_launch");
    if (st != STARK_DEV_OK)
        return st;
    hip_dev *d;
    if ((st = hip_enter(l.device, &d)) != STARK_DEV_OK)
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
    hipStream_t s;
    if (pbuf == NULL || bufs == NULL) {
        st = sk_fail(STARK_DEV_EXHAUSTED, "rocm: out of host memory");
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
        uint64_t ptr = (uint64_t)bufs[i]->native + l.bindings[i].offset;
        memcpy(pbuf + 8 * (size_t)i, &ptr, 8);
    }
    if (l.push_size > 0)
        memcpy(pbuf + 8 * (size_t)l.n_bindings, l.push, l.push_size);
    hipFunction_t fn;
    hipError_t r = HIP.hipModuleGetFunction(&fn, (hipModule_t)mo->native, l.function);
    if (r != hipSuccess) {
        st = hip_status(d, r, "hipModuleGetFunction");
        if (r == hipErrorNotFound || r == hipErrorInvalidDeviceFunction)
            st = sk_fail(STARK_DEV_NOT_FOUND, "module_launch: the module has no function \"%s\"", l.function);
        goto out;
    }
    if ((st = hip_stream(l.device, l.stream, &so, &s)) != STARK_DEV_OK)
        goto out;
    {
        size_t size = psize;
        void *extra[5] = {HIP_LAUNCH_PARAM_BUFFER_POINTER, pbuf, HIP_LAUNCH_PARAM_BUFFER_SIZE, &size,
                          HIP_LAUNCH_PARAM_END};
        r = HIP.hipModuleLaunchKernel(fn, grid[0], grid[1], grid[2], block[0], block[1], block[2], 0, s, NULL,
                                      psize ? extra : NULL);
        st = hip_status(d, r, "hipModuleLaunchKernel");
        st = hip_finish(d, st, so, "module_launch");
        so = NULL;
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

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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

static int k_build(hip_dev *d) {
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
static void hip_arch(hip_dev *d) {
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

static void hip_release_devices(void) {
    for (int i = 0; i < g.ndev; i++) {
        hip_dev *d = &g.devs[i];
        if (d->kmod != NULL) {
            HIP.hipSetDevice(d->hip);
            HIP.hipModuleUnload(d->kmod);
        }
    }
    free(g.devs);
    g.devs = NULL;
    g.ndev = 0;
}

static int32_t hip_init(const stark_dev_init *opts) {
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
        options = getenv("STARK_ROCM_OPTIONS");
    static const char *const known[] = {"kernels", "hiprtc", "arch", "verbose", NULL};
    int32_t st = sk_opts_check(options, known, "rocm");
    if (st != STARK_DEV_OK)
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
        return hip_status(NULL, r, "hipGetDeviceCount");
    if (count <= 0)
        return sk_fail(STARK_DEV_NOT_FOUND, "rocm: no ROCm device");
    g.devs = (hip_dev *)calloc((size_t)count, sizeof *g.devs);
    if (g.devs == NULL)
        return sk_fail(STARK_DEV_EXHAUSTED, "rocm: out of host memory");
    char skipped[512] = "";
    int nd = 0;
    for (int i = 0; i < count; i++) {
        hip_dev *d = &g.devs[nd];
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
        if (HIP.hipDeviceGetAttribute(&d->cus, hipDeviceAttributeMultiprocessorCount, i) != hipSuccess || d->cus <= 0 ||
            d->cus > 65536)
            d->cus = 1;
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
                    d->arch[0] ? d->arch : "arch unknown", d->cus, d->warp, (unsigned long long)(d->total >> 20),
                    ok ? "kernels from " : "", ok ? d->kinfo : d->kerr);
        if (!ok && strcmp(g.kernels, "hiprtc") == 0) {
            st = sk_fail(STARK_DEV_UNSUPPORTED, "rocm: device %d (%s): %s (init option kernels=hiprtc)", d->ordinal,
                         d->name, d->kerr);
            hip_release_devices();
            return st;
        }
    }
    if (nd == 0) {
        hip_release_devices();
        return sk_fail(STARK_DEV_NOT_FOUND, "rocm: no usable ROCm device: %s", skipped);
    }
    atomic_store(&g.up, 1);
    return STARK_DEV_OK;
}

static int32_t hip_shutdown(void) {
    if (!atomic_load(&g.up))
        return STARK_DEV_OK;
    atomic_store(&g.up, 0);
    for (int i = 0; i < g.ndev; i++) {
        HIP.hipSetDevice(g.devs[i].hip);
        HIP.hipDeviceSynchronize();
    }
    sk_drain(&g.tab, UINT32_MAX);
    hip_release_devices();
    return STARK_DEV_OK;
}

/* ---- exports -------------------------------------------------------------- */

static const stark_device_api hip_api = {
    .struct_size = sizeof(stark_device_api),
    .abi_version = STARK_DEVICE_ABI_VERSION,
    .name = "rocm",
    .caps = STARK_DEV_CAP_ASYNC | STARK_DEV_CAP_EVENTS | STARK_DEV_CAP_HSACO,
    .init = hip_init,
    .shutdown = hip_shutdown,
    .last_error = hip_last_error,
    .device_count = hip_device_count,
    .device_info = hip_device_info,
    .mem_alloc = hip_mem_alloc,
    .mem_free = hip_mem_free,
    .memcpy = hip_memcpy,
    .stream_create = hip_stream_create,
    .stream_destroy = hip_stream_destroy,
    .stream_sync = hip_stream_sync,
    .event_record = hip_event_record,
    .event_sync = hip_event_sync,
    .event_destroy = hip_event_destroy,
    .synchronize = hip_synchronize,
    .op_supported = hip_op_supported,
    .launch_op = hip_launch_op,
    .module_load = hip_module_load,
    .module_unload = hip_module_unload,
    .module_launch = hip_module_launch,
};

/* 100 for a discrete GPU, 50 for an APU, 0 without the runtime or a device. */
SK_EXPORT uint32_t stark_device_score(void) {
    pthread_once(&drv_once, drv_load);
    if (!drv.ok)
        return 0;
    int n = 0;
    if (HIP.hipGetDeviceCount(&n) != hipSuccess || n <= 0)
        return 0;
    uint32_t best = 0;
    for (int i = 0; i < n; i++) {
        int integrated = 0;
        if (HIP.hipDeviceGetAttribute(&integrated, hipDeviceAttributeIntegrated, i) != hipSuccess)
            integrated = 0;
        uint32_t s = integrated == 1 ? 50 : 100;
        if (s > best)
            best = s;
    }
    return best;
}

SK_EXPORT const stark_device_api *stark_device_query(uint32_t host_abi_version) {
    return host_abi_version == STARK_DEVICE_ABI_VERSION ? &hip_api : NULL;
}
