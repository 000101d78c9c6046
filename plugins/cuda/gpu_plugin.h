/*
 * gpu_plugin.h - the stark_device_api entries shared by the cuda and rocm
 * plugins: device validation, the handle table's objects, memory, copies,
 * streams, events, the built-in ops, module launches, device-loss
 * stickiness and the exported table. What differs between CUDA and HIP is
 * a small driver layer each backend defines (static wrappers, no function
 * pointers to chase):
 *
 * Before including this file a backend defines
 *   types   gp_result (the driver's error code), gp_stream, gp_event,
 *           gp_module, gp_function
 *   macros  GP_NAME ("cuda"), GP_VENDOR, GP_CAPS, GP_SUCCESS,
 *           GP_INVALID_VALUE, GP_DEFAULT_STREAM (what stream 0 runs on),
 *           GP_LOST_TEXT (how a lost device is described),
 *           GP_ALLOC_CHECK_TOTAL (1: refuse allocations larger than the
 *           device before asking the driver), GP_SYNC_COPIES (1: copies
 *           without a stream are synchronous driver calls, 0: they are
 *           queued on GP_DEFAULT_STREAM and waited for),
 *           GP_FN_* (the driver function names errors mention),
 *           GP_DEV_FIELDS / GP_GLOBAL_FIELDS (its own members of gp_dev
 *           and of the plugin's state g)
 * and after it the be_* functions declared below (its init entry point
 * be_init among them).
 *
 * Header-only, included once by each plugin (every function is static).
 */
#ifndef STARK_GPU_PLUGIN_H
#define STARK_GPU_PLUGIN_H

#include <math.h>
#include <stdatomic.h>
#include <time.h>

#include "gpu_common.h"

/* ---- the built-in kernels (kernels.cu) ------------------------------------ */

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

/* ---- devices and the plugin's state --------------------------------------- */

typedef struct gp_dev {
    int ordinal;            /* ours */
    int units, integrated;  /* SMs / CUs */
    char name[128];
    uint64_t total;
    gp_module kmod;         /* the built-in kernels; NULL: none */
    gp_function fn[F_N];
    char kinfo[256];        /* where the kernels came from */
    char kerr[1024];        /* why there are none */
    atomic_int lost;
    char lost_why[256];
    GP_DEV_FIELDS
} gp_dev;

static struct {
    atomic_int up;
    int ndev;
    gp_dev *devs;
    sk_table tab;
    char kernels[16];       /* the kernels= init option */
    int verbose;
    GP_GLOBAL_FIELDS
} g = {.tab = {.mu = PTHREAD_MUTEX_INITIALIZER}};

/* ---- the driver layer: each backend defines these ------------------------- */

static const char *be_errname(gp_result r);
static const char *be_errstr(gp_result r);
static int be_sticky(gp_result r);              /* the error poisons the device */
static int32_t be_status_of(gp_result r);       /* the STARK_DEV_* of a (non-sticky) error */
static int be_no_function(gp_result r);         /* the error means "no such function" */
static gp_result be_set_current(gp_dev *d);     /* d's context on the calling thread */
static gp_result be_ctx_sync(void);             /* waits for the current device */
static gp_result be_mem_info(size_t *free_bytes, size_t *total);
static gp_result be_malloc(uintptr_t *p, size_t bytes);
static void be_free(uintptr_t p);
/* be_memcpy: kind is a STARK_COPY_*; host pointers and device addresses
 * alike as uintptr_t. sync: no stream object (the caller waits). */
static gp_result be_memcpy(uint32_t kind, uintptr_t dst, uintptr_t src, size_t bytes, gp_stream s, int sync);
static gp_result be_stream_create(gp_stream *s);     /* non-blocking */
static void be_stream_destroy(gp_stream s);
static gp_result be_stream_sync(gp_stream s);
static gp_result be_event_create(gp_event *e);       /* without timing */
static gp_result be_event_record(gp_event e, gp_stream s);
static gp_result be_event_sync(gp_event e);
static void be_event_destroy(gp_event e);
static void be_module_unload(gp_module m);
static gp_result be_module_get_function(gp_function *f, gp_module m, const char *name);
/* be_module_load checks a module of the given format and loads it (the
 * error, as a status, when it does not) */
static int32_t be_module_load(gp_dev *d, uint32_t format, const void *bytes, uint64_t len, gp_module *m);
/* be_launch_args: a built-in kernel, 1-D, SK_THREADS per block, whose one
 * parameter is the argument struct args (size bytes) */
static gp_result be_launch_args(gp_function f, unsigned grid, void *args, size_t size, gp_stream s);
/* be_launch_buffer: a module's kernel, its parameters packed in buf */
static gp_result be_launch_buffer(gp_function f, const unsigned grid[3], const unsigned block[3], gp_stream s,
                                  void *buf, size_t size);
static void be_release_devices(void); /* the kernel modules, contexts and g.devs */
static int32_t be_init(const stark_dev_init *opts);
static int be_score_count(void);      /* loads the driver; its device count, 0 without one */
static int be_score_integrated(int i); /* device i (driver's ordinal): 1 integrated, 0 discrete, -1 skip */

/* ---- status --------------------------------------------------------------- */

/* gp_status turns a driver result into a status and the thread's error;
 * errors that poison the context mark the device lost (sticky). */
static int32_t gp_status(gp_dev *d, gp_result r, const char *what) {
    if (r == GP_SUCCESS)
        return STARK_DEV_OK;
    if (d != NULL && be_sticky(r)) {
        if (atomic_exchange(&d->lost, 1) == 0)
            sk_fmt(d->lost_why, sizeof d->lost_why, "%s: %s (%s)", what, be_errname(r), be_errstr(r));
        return sk_fail(STARK_DEV_LOST, GP_NAME ": %s: %s (%s): " GP_LOST_TEXT "; every later call on device %d fails",
                       what, be_errname(r), be_errstr(r), d->ordinal);
    }
    return sk_fail(be_status_of(r), GP_NAME ": %s: %s (%s)", what, be_errname(r), be_errstr(r));
}

/* gp_enter: the plugin is up, the device exists and is not lost; it is
 * made current on the calling thread. */
static int32_t gp_enter(uint32_t device, gp_dev **out) {
    if (!atomic_load(&g.up))
        return sk_fail(STARK_DEV_STOPPED, GP_NAME ": not initialised (or shut down)");
    if (device >= (uint32_t)g.ndev)
        return sk_fail(STARK_DEV_NOT_FOUND, GP_NAME ": no device %u (%d device%s)", device, g.ndev,
                       g.ndev == 1 ? "" : "s");
    gp_dev *d = &g.devs[device];
    *out = d;
    if (atomic_load(&d->lost))
        return sk_fail(STARK_DEV_LOST, GP_NAME ": device %u was lost: %s", device, d->lost_why);
    gp_result r = be_set_current(d);
    if (r != GP_SUCCESS)
        return gp_status(d, r, GP_FN_SET_CURRENT);
    return STARK_DEV_OK;
}

/* ---- objects -------------------------------------------------------------- */

static void gp_set_current(uint32_t device) {
    if (device < (uint32_t)g.ndev)
        be_set_current(&g.devs[device]);
}

static void gp_destroy_buf(sk_obj *o) {
    gp_set_current(o->device);
    be_free(o->native);
}

static void gp_destroy_stream(sk_obj *o) {
    gp_set_current(o->device);
    be_stream_destroy((gp_stream)o->native);
}

static void gp_destroy_event(sk_obj *o) {
    gp_set_current(o->device);
    be_event_destroy((gp_event)o->native);
}

static void gp_destroy_module(sk_obj *o) {
    gp_set_current(o->device);
    be_ctx_sync(); /* no kernel of it may still be queued */
    be_module_unload((gp_module)o->native);
}

static sk_obj *gp_new_obj(uint32_t type, uint32_t device, uintptr_t native, uint64_t size, void (*destroy)(sk_obj *)) {
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

/* gp_publish puts o in the table and returns its handle in *out; on
 * failure o is released. */
static int32_t gp_publish(sk_obj *o, uint64_t *out) {
    uint64_t h = sk_insert(&g.tab, o);
    if (h == 0) {
        sk_release(o);
        return sk_fail(STARK_DEV_EXHAUSTED, GP_NAME ": out of host memory for the handle table");
    }
    *out = h;
    return STARK_DEV_OK;
}

/* gp_stream resolves a stream handle: 0 is GP_DEFAULT_STREAM (*so stays
 * NULL: the call is synchronous). */
static int32_t gp_get_stream(uint32_t device, uint64_t stream, sk_obj **so, gp_stream *s) {
    *so = NULL;
    *s = GP_DEFAULT_STREAM;
    if (stream == 0)
        return STARK_DEV_OK;
    int32_t st = STARK_DEV_OK;
    *so = sk_get(&g.tab, stream, SK_STREAM, device, &st);
    if (*so == NULL)
        return st;
    *s = (gp_stream)(*so)->native;
    return STARK_DEV_OK;
}

/* gp_finish ends a call that queued work: a synchronous call (no stream
 * object) waits for the default stream. */
static int32_t gp_finish(gp_dev *d, int32_t st, sk_obj *so, const char *what) {
    if (st == STARK_DEV_OK && so == NULL)
        st = gp_status(d, be_stream_sync(GP_DEFAULT_STREAM), what);
    sk_put(&g.tab, so);
    return st;
}

/* gp_drop_handle: mem_free, stream_destroy, event_destroy and
 * module_unload: the handle goes even when the device was lost. */
static int32_t gp_drop_handle(uint32_t device, uint64_t handle, uint32_t type, gp_dev **d) {
    int32_t st = gp_enter(device, d);
    if (st != STARK_DEV_OK && st != STARK_DEV_LOST)
        return st;
    int32_t rst = sk_remove(&g.tab, handle, type, device);
    return st == STARK_DEV_LOST ? st : rst;
}

/* ---- the table's entries -------------------------------------------------- */

static int32_t gp_last_error(char *buf, uint64_t cap) { return sk_last_error(buf, cap); }

static int32_t gp_device_count(uint32_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "device_count: NULL");
    if (!atomic_load(&g.up))
        return sk_fail(STARK_DEV_STOPPED, GP_NAME ": not initialised (or shut down)");
    *out = (uint32_t)g.ndev;
    return STARK_DEV_OK;
}

static int32_t gp_device_info(uint32_t device, stark_dev_info *out) {
    gp_dev *d;
    int32_t st = gp_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    stark_dev_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    info.type = d->integrated ? STARK_DEV_TYPE_INTEGRATED : STARK_DEV_TYPE_DISCRETE;
    sk_copy_name(info.name, sizeof info.name, d->name);
    sk_copy_name(info.vendor, sizeof info.vendor, GP_VENDOR);
    info.memory_total = d->total;
    size_t fr = 0, tot = 0;
    gp_result r = be_mem_info(&fr, &tot);
    if (r == GP_SUCCESS)
        info.memory_free = fr;
    else if (be_sticky(r)) /* an earlier kernel's fault surfaces here */
        return gp_status(d, r, GP_FN_MEM_INFO);
    info.max_alloc = d->total;
    info.max_binding = d->total; /* 64-bit pointers: no binding limit below the memory */
    info.compute_units = (uint32_t)d->units;
    return sk_write_info(out, &info);
}

static int32_t gp_mem_alloc(uint32_t device, uint64_t bytes, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "mem_alloc: NULL out_handle");
    gp_dev *d;
    int32_t st = gp_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    if (bytes == 0)
        return sk_fail(STARK_DEV_INVALID, "mem_alloc: zero bytes");
    if (bytes > SIZE_MAX)
        return sk_fail(STARK_DEV_TOO_LARGE, "mem_alloc: %llu bytes", (unsigned long long)bytes);
    if (GP_ALLOC_CHECK_TOTAL && bytes > d->total)
        return sk_fail(STARK_DEV_EXHAUSTED, GP_NAME ": mem_alloc of %llu bytes on device %u: more than its %llu MiB",
                       (unsigned long long)bytes, device, (unsigned long long)(d->total >> 20));
    uintptr_t p = 0;
    gp_result r = be_malloc(&p, (size_t)bytes);
    if (r != GP_SUCCESS) {
        st = gp_status(d, r, GP_FN_ALLOC);
        if (st == STARK_DEV_EXHAUSTED)
            st = sk_fail(st, GP_NAME ": " GP_FN_ALLOC " of %llu bytes on device %u: out of device memory (%llu MiB in all)",
                         (unsigned long long)bytes, device, (unsigned long long)(d->total >> 20));
        return st;
    }
    sk_obj *o = gp_new_obj(SK_BUF, device, p, bytes, gp_destroy_buf);
    if (o == NULL) {
        be_free(p);
        return sk_fail(STARK_DEV_EXHAUSTED, GP_NAME ": out of host memory");
    }
    return gp_publish(o, out);
}

static int32_t gp_mem_free(uint32_t device, uint64_t handle) {
    gp_dev *d;
    int32_t st = gp_drop_handle(device, handle, SK_BUF, &d);
    if (st == STARK_DEV_LOST) /* the handle is gone all the same */
        return sk_fail(STARK_DEV_LOST, GP_NAME ": device %u was lost: %s", device, d->lost_why);
    return st;
}

static int32_t gp_memcpy(const stark_dev_copy *in) {
    stark_dev_copy c;
    int32_t st = sk_read_struct(in, sizeof c, &c, sizeof c, "memcpy");
    if (st != STARK_DEV_OK)
        return st;
    gp_dev *d;
    if ((st = gp_enter(c.device, &d)) != STARK_DEV_OK)
        return st;
    if (c.kind > STARK_COPY_D2D)
        return sk_fail(STARK_DEV_INVALID, "memcpy: unknown kind %u", c.kind);
    if (c.kind == STARK_COPY_H2D && c.host_src == NULL && c.bytes > 0)
        return sk_fail(STARK_DEV_INVALID, "memcpy: host_src is NULL");
    if (c.kind == STARK_COPY_D2H && c.host_dst == NULL && c.bytes > 0)
        return sk_fail(STARK_DEV_INVALID, "memcpy: host_dst is NULL");
    sk_obj *src = NULL, *dst = NULL, *so = NULL;
    gp_stream s;
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
    if ((st = gp_get_stream(c.device, c.stream, &so, &s)) != STARK_DEV_OK)
        goto out;
    if (c.bytes > 0) {
        gp_result r = GP_SUCCESS;
        if (!(src != NULL && src == dst && c.src.offset == c.dst.offset)) { /* a copy onto itself is no copy */
            uintptr_t sp = src != NULL ? src->native + c.src.offset : (uintptr_t)c.host_src;
            uintptr_t dp = dst != NULL ? dst->native + c.dst.offset : (uintptr_t)c.host_dst;
            r = be_memcpy(c.kind, dp, sp, (size_t)c.bytes, s, so == NULL);
        }
        st = gp_status(d, r, "memcpy");
        if (!GP_SYNC_COPIES) {
            st = gp_finish(d, st, so, "memcpy");
            so = NULL; /* gp_finish dropped it */
        }
    }
    sk_put(&g.tab, so);
out:
    sk_put(&g.tab, src);
    sk_put(&g.tab, dst);
    return st;
}

static int32_t gp_stream_create(uint32_t device, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "stream_create: NULL");
    gp_dev *d;
    int32_t st = gp_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    gp_stream s;
    if ((st = gp_status(d, be_stream_create(&s), GP_FN_STREAM_CREATE)) != STARK_DEV_OK)
        return st;
    sk_obj *o = gp_new_obj(SK_STREAM, device, (uintptr_t)s, 0, gp_destroy_stream);
    if (o == NULL) {
        be_stream_destroy(s);
        return sk_fail(STARK_DEV_EXHAUSTED, GP_NAME ": out of host memory");
    }
    return gp_publish(o, out);
}

static int32_t gp_stream_destroy(uint32_t device, uint64_t stream) {
    gp_dev *d;
    return gp_drop_handle(device, stream, SK_STREAM, &d);
}

static int32_t gp_stream_sync(uint32_t device, uint64_t stream) {
    gp_dev *d;
    int32_t st = gp_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    sk_obj *so;
    gp_stream s;
    if ((st = gp_get_stream(device, stream, &so, &s)) != STARK_DEV_OK)
        return st;
    st = gp_status(d, be_stream_sync(s), GP_FN_STREAM_SYNC);
    sk_put(&g.tab, so);
    return st;
}

static int32_t gp_event_record(uint32_t device, uint64_t stream, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "event_record: NULL");
    gp_dev *d;
    int32_t st = gp_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    sk_obj *so;
    gp_stream s;
    if ((st = gp_get_stream(device, stream, &so, &s)) != STARK_DEV_OK)
        return st;
    gp_event e;
    st = gp_status(d, be_event_create(&e), GP_FN_EVENT_CREATE);
    if (st == STARK_DEV_OK) {
        st = gp_status(d, be_event_record(e, s), GP_FN_EVENT_RECORD);
        if (st != STARK_DEV_OK) {
            be_event_destroy(e);
        } else {
            sk_obj *o = gp_new_obj(SK_EVENT, device, (uintptr_t)e, 0, gp_destroy_event);
            if (o == NULL) {
                be_event_destroy(e);
                st = sk_fail(STARK_DEV_EXHAUSTED, GP_NAME ": out of host memory");
            } else {
                st = gp_publish(o, out);
            }
        }
    }
    sk_put(&g.tab, so);
    return st;
}

static int32_t gp_event_sync(uint32_t device, uint64_t event) {
    gp_dev *d;
    int32_t st = gp_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    sk_obj *o = sk_get(&g.tab, event, SK_EVENT, device, &st);
    if (o == NULL)
        return st;
    st = gp_status(d, be_event_sync((gp_event)o->native), GP_FN_EVENT_SYNC);
    sk_put(&g.tab, o);
    return st;
}

static int32_t gp_event_destroy(uint32_t device, uint64_t event) {
    gp_dev *d;
    return gp_drop_handle(device, event, SK_EVENT, &d);
}

static int32_t gp_synchronize(uint32_t device) {
    gp_dev *d;
    int32_t st = gp_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    return gp_status(d, be_ctx_sync(), GP_FN_CTX_SYNC);
}

/* ---- ops ------------------------------------------------------------------ */

static unsigned gp_grid(const gp_dev *d, uint64_t blocks) {
    uint64_t cap = (uint64_t)(d->units > 0 ? d->units : 1) * 32;
    if (blocks > cap)
        blocks = cap;
    return blocks == 0 ? 1 : (unsigned)blocks;
}

static gp_result gp_launch(gp_dev *d, int fn, unsigned grid, void *args, size_t size, gp_stream s) {
    return be_launch_args(d->fn[fn], grid, args, size, s);
}

static gp_result gp_ew(gp_dev *d, int fn, uintptr_t c, uintptr_t a, uintptr_t b, uint64_t n, float alpha, int use_a,
                       int use_b, gp_stream s) {
    sk_ew_args x;
    memset(&x, 0, sizeof x);
    x.c = (float *)c;
    x.a = (const float *)a;
    x.b = (const float *)b;
    x.n = n;
    x.alpha = alpha;
    x.vec = c % 16 == 0 && (!use_a || a % 16 == 0) && (!use_b || b % 16 == 0);
    uint64_t items = x.vec ? (n / 4 > 0 ? n / 4 : 1) : n;
    return gp_launch(d, fn, gp_grid(d, (items + SK_THREADS - 1) / SK_THREADS), &x, sizeof x, s);
}

/* gp_run_op queues op p (sync: without a stream object; the caller waits) */
static gp_result gp_run_op(gp_dev *d, const sk_plan *p, uintptr_t A, uintptr_t B, uintptr_t C, gp_stream s, int sync) {
    switch (p->kind) {
    case STARK_OP_COPY:
        if (A == C || p->n == 0)
            return GP_SUCCESS;
        return be_memcpy(STARK_COPY_D2D, C, A, (size_t)(p->n * 4), s, sync);
    case STARK_OP_FILL:
    case STARK_OP_SCALE:
    case STARK_OP_AXPY:
    case STARK_OP_ADD:
    case STARK_OP_MUL:
    case STARK_OP_RELU: {
        static const int fns[] = {[STARK_OP_FILL] = F_FILL, [STARK_OP_SCALE] = F_SCALE, [STARK_OP_AXPY] = F_AXPY,
                                  [STARK_OP_ADD] = F_ADD,   [STARK_OP_MUL] = F_MUL,     [STARK_OP_RELU] = F_RELU};
        if (p->n == 0)
            return GP_SUCCESS;
        return gp_ew(d, fns[p->kind], C, A, B, p->n, p->alpha, p->use_a, p->use_b, s);
    }
    case STARK_OP_REDUCE_SUM:
    case STARK_OP_REDUCE_MAX: {
        int max = p->kind == STARK_OP_REDUCE_MAX;
        /* Few long rows: split each row over several blocks (partial
         * results combined with atomics) so that the device fills up. */
        const uint64_t per_block = 4096, want = (uint64_t)(d->units > 0 ? d->units : 1) * 4;
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
            gp_result r = gp_ew(d, F_FILL, C, 0, 0, p->m, max ? -INFINITY : 0.0f, 0, 0, s);
            if (r != GP_SUCCESS)
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
        return gp_launch(d, max ? F_RMAX : F_RSUM, gp_grid(d, p->m * parts), &x, sizeof x, s);
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
        return gp_launch(d, F_SOFTMAX, gp_grid(d, p->m), &x, sizeof x, s);
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
        return gp_launch(d, fn, (unsigned)tiles, &x, sizeof x, s);
    }
    }
    return GP_INVALID_VALUE;
}

/* gp_op_check: what op_supported and launch_op share. */
static int32_t gp_op_check(const stark_dev_op *in, stark_dev_op *op, sk_plan *p, gp_dev **d) {
    int32_t st = sk_read_struct(in, sizeof *op, op, sizeof *op, "op");
    if (st != STARK_DEV_OK)
        return st;
    if (!atomic_load(&g.up))
        return sk_fail(STARK_DEV_STOPPED, GP_NAME ": not initialised (or shut down)");
    if (op->device >= (uint32_t)g.ndev)
        return sk_fail(STARK_DEV_NOT_FOUND, GP_NAME ": no device %u (%d devices)", op->device, g.ndev);
    *d = &g.devs[op->device];
    if (atomic_load(&(*d)->lost))
        return sk_fail(STARK_DEV_LOST, GP_NAME ": device %u was lost: %s", op->device, (*d)->lost_why);
    if ((st = sk_plan_op(op, p)) != STARK_DEV_OK)
        return st;
    if (p->kind == STARK_OP_MATMUL && ((p->m + 127) / 128) * ((p->n + 127) / 128) > 0x7fffffffull)
        return sk_fail(STARK_DEV_TOO_LARGE, "matmul: %llux%llu is more tiles than a grid holds",
                       (unsigned long long)p->m, (unsigned long long)p->n);
    if ((*d)->kmod == NULL && p->kind != STARK_OP_COPY)
        return sk_fail(STARK_DEV_UNSUPPORTED, GP_NAME ": %s: the built-in kernels are unavailable on device %u: %s",
                       sk_op_name(p->kind), op->device, (*d)->kerr);
    return STARK_DEV_OK;
}

static int32_t gp_op_supported(const stark_dev_op *in) {
    stark_dev_op op;
    sk_plan p;
    gp_dev *d;
    return gp_op_check(in, &op, &p, &d);
}

static int32_t gp_launch_op(const stark_dev_op *in) {
    stark_dev_op op;
    sk_plan p;
    gp_dev *d;
    int32_t st = gp_op_check(in, &op, &p, &d);
    if (st != STARK_DEV_OK)
        return st;
    if ((st = gp_enter(op.device, &d)) != STARK_DEV_OK)
        return st;
    const char *name = sk_op_name(p.kind);
    sk_obj *a = NULL, *b = NULL, *c = NULL, *so = NULL;
    gp_stream s;
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
    if ((st = gp_get_stream(op.device, op.stream, &so, &s)) != STARK_DEV_OK)
        goto out;
    {
        uintptr_t A = a ? a->native + op.a.offset : 0;
        uintptr_t B = b ? b->native + op.b.offset : 0;
        uintptr_t C = c->native + op.c.offset;
        st = gp_status(d, gp_run_op(d, &p, A, B, C, s, so == NULL), name);
        st = gp_finish(d, st, so, name);
    }
out:
    sk_put(&g.tab, a);
    sk_put(&g.tab, b);
    sk_put(&g.tab, c);
    return st;
}

/* ---- modules -------------------------------------------------------------- */

static int32_t gp_module_load(uint32_t device, uint32_t format, const void *bytes, uint64_t len, uint64_t *out) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "module_load: NULL out_module");
    gp_dev *d;
    int32_t st = gp_enter(device, &d);
    if (st != STARK_DEV_OK)
        return st;
    gp_module m;
    if ((st = be_module_load(d, format, bytes, len, &m)) != STARK_DEV_OK)
        return st;
    sk_obj *o = gp_new_obj(SK_MODULE, device, (uintptr_t)m, 0, gp_destroy_module);
    if (o == NULL) {
        be_module_unload(m);
        return sk_fail(STARK_DEV_EXHAUSTED, GP_NAME ": out of host memory");
    }
    return gp_publish(o, out);
}

static int32_t gp_module_unload(uint32_t device, uint64_t module) {
    gp_dev *d;
    return gp_drop_handle(device, module, SK_MODULE, &d);
}

/* module_launch: the kernel's parameters are the bindings, as device
 * pointers (8 bytes each, base + offset), followed by the push bytes laid
 * out as the kernel's remaining parameters (C struct layout, starting
 * 8-byte aligned). */
static int32_t gp_module_launch(const stark_dev_launch *in) {
    stark_dev_launch l;
    int32_t st = sk_read_struct(in, sizeof l, &l, sizeof l, "module_launch");
    if (st != STARK_DEV_OK)
        return st;
    gp_dev *d;
    if ((st = gp_enter(l.device, &d)) != STARK_DEV_OK)
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
    gp_stream s;
    if (pbuf == NULL || bufs == NULL) {
        st = sk_fail(STARK_DEV_EXHAUSTED, GP_NAME ": out of host memory");
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
    gp_function fn;
    gp_result r = be_module_get_function(&fn, (gp_module)mo->native, l.function);
    if (r != GP_SUCCESS) {
        st = gp_status(d, r, GP_FN_GET_FUNCTION);
        if (be_no_function(r))
            st = sk_fail(STARK_DEV_NOT_FOUND, "module_launch: the module has no function \"%s\"", l.function);
        goto out;
    }
    if ((st = gp_get_stream(l.device, l.stream, &so, &s)) != STARK_DEV_OK)
        goto out;
    r = be_launch_buffer(fn, grid, block, s, pbuf, psize);
    st = gp_status(d, r, GP_FN_LAUNCH);
    st = gp_finish(d, st, so, "module_launch");
    so = NULL; /* gp_finish dropped it */
out:
    sk_put(&g.tab, so);
    for (uint32_t i = 0; bufs != NULL && i < l.n_bindings; i++)
        sk_put(&g.tab, bufs[i]);
    free(bufs);
    free(pbuf);
    sk_put(&g.tab, mo);
    return st;
}

/* ---- init and shutdown ---------------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* gp_read_options: the init options, else $env when the host gives none. */
static int32_t gp_read_options(const stark_dev_init *opts, const char *env, const char **options) {
    *options = NULL;
    if (opts != NULL) {
        stark_dev_init in;
        int32_t st = sk_read_struct(opts, sizeof in, &in, sizeof in, "init");
        if (st != STARK_DEV_OK)
            return st;
        *options = in.options;
    }
    if (*options == NULL || (*options)[0] == 0)
        *options = getenv(env);
    return STARK_DEV_OK;
}

static int32_t gp_shutdown(void) {
    if (!atomic_load(&g.up))
        return STARK_DEV_OK;
    atomic_store(&g.up, 0);
    for (int i = 0; i < g.ndev; i++) {
        be_set_current(&g.devs[i]);
        be_ctx_sync(); /* finishes pending work (errors: the device is going anyway) */
    }
    sk_drain(&g.tab, UINT32_MAX);
    be_release_devices();
    return STARK_DEV_OK;
}

/* ---- exports -------------------------------------------------------------- */

static const stark_device_api gp_api = {
    .struct_size = sizeof(stark_device_api),
    .abi_version = STARK_DEVICE_ABI_VERSION,
    .name = GP_NAME,
    .caps = GP_CAPS,
    .init = be_init,
    .shutdown = gp_shutdown,
    .last_error = gp_last_error,
    .device_count = gp_device_count,
    .device_info = gp_device_info,
    .mem_alloc = gp_mem_alloc,
    .mem_free = gp_mem_free,
    .memcpy = gp_memcpy,
    .stream_create = gp_stream_create,
    .stream_destroy = gp_stream_destroy,
    .stream_sync = gp_stream_sync,
    .event_record = gp_event_record,
    .event_sync = gp_event_sync,
    .event_destroy = gp_event_destroy,
    .synchronize = gp_synchronize,
    .op_supported = gp_op_supported,
    .launch_op = gp_launch_op,
    .module_load = gp_module_load,
    .module_unload = gp_module_unload,
    .module_launch = gp_module_launch,
};

/* 100 for a discrete GPU, 50 for an integrated one (Jetson, APU), 0
 * without a driver or a device. */
SK_EXPORT uint32_t stark_device_score(void) {
    int n = be_score_count();
    uint32_t best = 0;
    for (int i = 0; i < n; i++) {
        int integrated = be_score_integrated(i);
        if (integrated < 0)
            continue;
        uint32_t s = integrated ? 50 : 100;
        if (s > best)
            best = s;
    }
    return best;
}

SK_EXPORT const stark_device_api *stark_device_query(uint32_t host_abi_version) {
    return host_abi_version == STARK_DEVICE_ABI_VERSION ? &gp_api : NULL;
}

#endif /* STARK_GPU_PLUGIN_H */
