/*
 * gpu_common.h - host-side helpers shared by STARK's GPU device plugins
 * (plugins/cuda, plugins/rocm, plugins/metal): the calling thread's last
 * error, a table of opaque handles with reference counts, and the checks
 * of abi/stark_device.h's arguments (struct sizes, op shapes, views,
 * overlaps) that do not depend on the driver.
 *
 * Header-only: each plugin compiles its own copy (every function is static).
 */
#ifndef STARK_GPU_COMMON_H
#define STARK_GPU_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../abi/stark_device.h"

#define SK_EXPORT __attribute__((visibility("default")))
#define SK_UNUSED __attribute__((unused))

/* ---- the calling thread's last error ---------------------------------- */

static __thread char sk_tls_err[1024];

SK_UNUSED static int32_t sk_fail(int32_t status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
SK_UNUSED static int32_t sk_fail(int32_t status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sk_tls_err, sizeof sk_tls_err, fmt, ap);
    va_end(ap);
    return status;
}

/* sk_fmt: snprintf that may truncate (messages are best effort). */
SK_UNUSED static void sk_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
SK_UNUSED static void sk_fmt(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

SK_UNUSED static int32_t sk_last_error(char *buf, uint64_t cap) {
    if (buf == NULL || cap == 0)
        return STARK_DEV_INVALID;
    size_t n = strlen(sk_tls_err);
    if (n >= cap)
        n = (size_t)cap - 1;
    memcpy(buf, sk_tls_err, n);
    buf[n] = 0;
    return STARK_DEV_OK;
}

/* ---- handles ------------------------------------------------------------
 * Every object the host names (buffer, stream, event, module) is an sk_obj
 * in one table, found by an opaque 64-bit handle that is never reused and
 * never 0. A call that uses an object holds a reference for its duration,
 * so a concurrent free (or destroy) only unlinks the handle: the native
 * object is released by whoever drops the last reference. */

enum { SK_BUF = 1, SK_STREAM = 2, SK_EVENT = 3, SK_MODULE = 4 };

typedef struct sk_obj sk_obj;
struct sk_obj {
    uint64_t handle;
    uint32_t type;           /* SK_* */
    uint32_t device;
    uint64_t size;           /* bytes, for buffers */
    uintptr_t native;        /* CUdeviceptr, hipStream_t, id<MTLBuffer>, ... */
    uintptr_t native2;       /* a second native value where one is needed */
    int refs;                /* the table's reference + in-flight users */
    void (*destroy)(sk_obj *o); /* releases the native object (may be NULL) */
};

typedef struct sk_table {
    pthread_mutex_t mu;
    sk_obj **slots;          /* open addressing, linear probing, no tombstones */
    size_t cap;              /* a power of two (0: empty) */
    size_t len;
    uint64_t next;           /* the next handle's counter */
} sk_table;

static inline uint64_t sk_mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* sk_table_grow doubles the table (mu held). 0 on failure (out of memory). */
static int sk_table_grow(sk_table *t) {
    size_t ncap = t->cap ? t->cap * 2 : 64;
    sk_obj **ns = (sk_obj **)calloc(ncap, sizeof *ns);
    if (ns == NULL)
        return 0;
    for (size_t i = 0; i < t->cap; i++) {
        sk_obj *o = t->slots[i];
        if (o == NULL)
            continue;
        size_t j = sk_mix(o->handle) & (ncap - 1);
        while (ns[j] != NULL)
            j = (j + 1) & (ncap - 1);
        ns[j] = o;
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return 1;
}

/* sk_find returns the slot index of handle, or (size_t)-1 (mu held). */
static size_t sk_find(sk_table *t, uint64_t handle) {
    if (t->cap == 0 || handle == 0)
        return (size_t)-1;
    size_t i = sk_mix(handle) & (t->cap - 1);
    while (t->slots[i] != NULL) {
        if (t->slots[i]->handle == handle)
            return i;
        i = (i + 1) & (t->cap - 1);
    }
    return (size_t)-1;
}

/* sk_unlink removes slot i (mu held): backward-shift deletion. */
static void sk_unlink(sk_table *t, size_t i) {
    size_t mask = t->cap - 1;
    t->slots[i] = NULL;
    t->len--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        sk_obj *o = t->slots[j];
        if (o == NULL)
            return;
        size_t home = sk_mix(o->handle) & mask;
        /* move o back to i when its home is not within (i, j] (cyclically) */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            t->slots[i] = o;
            t->slots[j] = NULL;
            i = j;
        }
    }
}

/* sk_insert gives o a fresh handle and puts it in the table with one
 * reference (the table's). Returns the handle, 0 when out of memory. */
SK_UNUSED static uint64_t sk_insert(sk_table *t, sk_obj *o) {
    pthread_mutex_lock(&t->mu);
    if ((t->len + 1) * 2 > t->cap && !sk_table_grow(t)) {
        pthread_mutex_unlock(&t->mu);
        return 0;
    }
    /* Handles: a counter, scrambled so that neighbouring handles differ
     * in many bits (a forged or stale handle is very unlikely to name a
     * live object) and tagged with the type in the low byte. */
    uint64_t h;
    do {
        t->next++;
        h = (sk_mix(t->next ^ 0x5354524b) & ~(uint64_t)0xff) | o->type;
    } while (h == 0 || sk_find(t, h) != (size_t)-1);
    o->handle = h;
    o->refs = 1;
    size_t i = sk_mix(h) & (t->cap - 1);
    while (t->slots[i] != NULL)
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = o;
    t->len++;
    pthread_mutex_unlock(&t->mu);
    return h;
}

static void sk_release(sk_obj *o) {
    if (o->destroy != NULL)
        o->destroy(o);
    free(o);
}

/* sk_put drops a reference taken by sk_get. */
SK_UNUSED static void sk_put(sk_table *t, sk_obj *o) {
    if (o == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    int last = --o->refs == 0;
    pthread_mutex_unlock(&t->mu);
    if (last)
        sk_release(o);
}

static const char *sk_type_name(uint32_t type) {
    switch (type) {
    case SK_BUF:
        return "buffer";
    case SK_STREAM:
        return "stream";
    case SK_EVENT:
        return "event";
    case SK_MODULE:
        return "module";
    }
    return "object";
}

/* sk_get finds a live object of the type on the device and takes a
 * reference (drop it with sk_put). NULL with the error set otherwise. */
SK_UNUSED static sk_obj *sk_get(sk_table *t, uint64_t handle, uint32_t type, uint32_t device, int32_t *status) {
    pthread_mutex_lock(&t->mu);
    size_t i = sk_find(t, handle);
    sk_obj *o = i == (size_t)-1 ? NULL : t->slots[i];
    if (o != NULL && o->type == type && o->device == device) {
        o->refs++;
        pthread_mutex_unlock(&t->mu);
        return o;
    }
    pthread_mutex_unlock(&t->mu);
    if (o != NULL && o->type == type)
        *status = sk_fail(STARK_DEV_NOT_FOUND, "%s %#llx belongs to device %u, not device %u", sk_type_name(type),
                          (unsigned long long)handle, o->device, device);
    else
        *status = sk_fail(STARK_DEV_NOT_FOUND, "no %s %#llx (freed already, or never created)", sk_type_name(type),
                          (unsigned long long)handle);
    return NULL;
}

/* sk_remove unlinks a handle and drops the table's reference: the object
 * is released now, or when its last in-flight user is done. */
SK_UNUSED static int32_t sk_remove(sk_table *t, uint64_t handle, uint32_t type, uint32_t device) {
    pthread_mutex_lock(&t->mu);
    size_t i = sk_find(t, handle);
    sk_obj *o = i == (size_t)-1 ? NULL : t->slots[i];
    if (o == NULL || o->type != type || o->device != device) {
        pthread_mutex_unlock(&t->mu);
        int32_t st = STARK_DEV_OK;
        (void)sk_get(t, handle, type, device, &st); /* for the message; cannot succeed */
        return st;
    }
    sk_unlink(t, i);
    int last = --o->refs == 0;
    pthread_mutex_unlock(&t->mu);
    if (last)
        sk_release(o);
    return STARK_DEV_OK;
}

/* sk_drain unlinks every object (of the device, or all when device is
 * UINT32_MAX) and releases it: shutdown, when nothing else runs. */
SK_UNUSED static void sk_drain(sk_table *t, uint32_t device) {
    for (;;) {
        sk_obj *o = NULL;
        pthread_mutex_lock(&t->mu);
        /* modules last: a kernel of a module may still be queued with a buffer */
        for (int pass = 0; pass < 2 && o == NULL; pass++) {
            for (size_t i = 0; i < t->cap; i++) {
                sk_obj *c = t->slots[i];
                if (c == NULL || (device != UINT32_MAX && c->device != device))
                    continue;
                if (pass == 0 && c->type == SK_MODULE)
                    continue;
                o = c;
                sk_unlink(t, i);
                break;
            }
        }
        int last = o != NULL && --o->refs == 0;
        pthread_mutex_unlock(&t->mu);
        if (o == NULL)
            return;
        if (last)
            sk_release(o);
    }
}

SK_UNUSED static size_t sk_count(sk_table *t, uint32_t type) {
    size_t n = 0;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->cap; i++)
        if (t->slots[i] != NULL && t->slots[i]->type == type)
            n++;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* ---- argument structs ---------------------------------------------------
 * Structs start with struct_size and are append-only: a caller's struct
 * may be larger than this plugin's (a newer host: the extra fields are
 * ignored) but not smaller than version 1's. sk_read_* copy the known
 * prefix into a local copy. */

SK_UNUSED static int32_t sk_read_struct(const void *in, size_t min_size, void *out, size_t out_size, const char *what) {
    if (in == NULL)
        return sk_fail(STARK_DEV_INVALID, "%s: NULL", what);
    uint32_t size;
    memcpy(&size, in, sizeof size);
    if (size < min_size)
        return sk_fail(STARK_DEV_INVALID, "%s: struct_size %u is smaller than version 1's %zu bytes", what, size,
                       min_size);
    memset(out, 0, out_size);
    memcpy(out, in, size < out_size ? size : out_size);
    return STARK_DEV_OK;
}

/* sk_write_info copies info into the caller's struct: as many bytes as
 * both know, leaving the caller's struct_size as it was. */
SK_UNUSED static int32_t sk_write_info(stark_dev_info *out, const stark_dev_info *info) {
    if (out == NULL)
        return sk_fail(STARK_DEV_INVALID, "device_info: NULL");
    uint32_t size = out->struct_size;
    if (size < offsetof(stark_dev_info, name))
        return sk_fail(STARK_DEV_INVALID, "device_info: struct_size %u is too small", size);
    size_t n = size < sizeof *info ? size : sizeof *info;
    memcpy(out, info, n);
    out->struct_size = size;
    return STARK_DEV_OK;
}

/* sk_copy_name copies a NUL-terminated string into a fixed field. */
SK_UNUSED static void sk_copy_name(char *dst, size_t cap, const char *src) {
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* ---- ops ----------------------------------------------------------------
 * sk_plan checks an op's kind, dtype and shape (abi/stark_device.h's op
 * table) and says which views it reads and writes, with their extents in
 * elements. It does not look at the buffers (op_supported uses it alone). */

typedef struct sk_plan {
    uint32_t kind;
    uint64_t m, n, k;        /* normalised: rows of the row ops >= 1 */
    uint64_t lda, ldb, ldc;  /* normalised: 0 replaced by the dense stride */
    uint32_t trans_a, trans_b;
    int use_a, use_b;        /* the op reads a / b */
    int reads_c;             /* the op reads c (axpy; matmul with beta != 0) */
    uint64_t ext_a, ext_b, ext_c; /* elements spanned by each view */
    float alpha, beta;
} sk_plan;

#define SK_MAX_ELEMS (UINT64_C(1) << 61) /* so that bytes = 4 * elements never overflows */

static int sk_mul_ok(uint64_t a, uint64_t b, uint64_t *out) {
    if (a != 0 && b > UINT64_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

/* sk_extent: elements spanned by rows x cols with stride ld: (rows-1)*ld + cols. */
static int sk_extent(uint64_t rows, uint64_t cols, uint64_t ld, uint64_t *out) {
    uint64_t x;
    if (rows == 0 || cols == 0) {
        *out = 0;
        return 1;
    }
    if (!sk_mul_ok(rows - 1, ld, &x) || x > SK_MAX_ELEMS || cols > SK_MAX_ELEMS || x + cols > SK_MAX_ELEMS)
        return 0;
    *out = x + cols;
    return 1;
}

static const char *sk_op_name(uint32_t kind) {
    static const char *names[] = {"op 0", "fill", "copy", "scale", "axpy", "add", "mul", "relu", "matmul",
                                  "reduce_sum", "reduce_max", "softmax"};
    return kind < sizeof names / sizeof names[0] ? names[kind] : "unknown op";
}

SK_UNUSED static int32_t sk_plan_op(const stark_dev_op *op, sk_plan *p) {
    memset(p, 0, sizeof *p);
    p->kind = op->kind;
    p->alpha = (float)op->alpha;
    p->beta = (float)op->beta;
    if (op->kind < STARK_OP_FILL || op->kind > STARK_OP_SOFTMAX)
        return sk_fail(STARK_DEV_UNSUPPORTED, "unknown op kind %u", op->kind);
    const char *name = sk_op_name(op->kind);
    if (op->dtype != STARK_DT_F32)
        return sk_fail(STARK_DEV_UNSUPPORTED, "%s: dtype %u: this plugin computes f32 (dtype 0) only", name, op->dtype);
    switch (op->kind) {
    case STARK_OP_FILL:
    case STARK_OP_COPY:
    case STARK_OP_SCALE:
    case STARK_OP_AXPY:
    case STARK_OP_ADD:
    case STARK_OP_MUL:
    case STARK_OP_RELU:
        if (op->n > SK_MAX_ELEMS)
            return sk_fail(STARK_DEV_INVALID, "%s: n %llu is too large", name, (unsigned long long)op->n);
        p->n = op->n;
        p->use_a = op->kind != STARK_OP_FILL;
        p->use_b = op->kind == STARK_OP_ADD || op->kind == STARK_OP_MUL;
        p->reads_c = op->kind == STARK_OP_AXPY;
        p->ext_a = p->use_a ? p->n : 0;
        p->ext_b = p->use_b ? p->n : 0;
        p->ext_c = p->n;
        return STARK_DEV_OK;
    case STARK_OP_REDUCE_SUM:
    case STARK_OP_REDUCE_MAX:
    case STARK_OP_SOFTMAX:
        p->m = op->m ? op->m : 1;
        p->n = op->n;
        if (p->n == 0)
            return sk_fail(STARK_DEV_INVALID, "%s: rows of 0 elements (n is 0)", name);
        p->lda = op->lda ? op->lda : p->n;
        if (p->lda < p->n)
            return sk_fail(STARK_DEV_INVALID, "%s: lda %llu < n %llu", name, (unsigned long long)p->lda,
                           (unsigned long long)p->n);
        if (!sk_extent(p->m, p->n, p->lda, &p->ext_a))
            return sk_fail(STARK_DEV_INVALID, "%s: %llu rows of stride %llu are too large", name,
                           (unsigned long long)p->m, (unsigned long long)p->lda);
        p->use_a = 1;
        if (op->kind == STARK_OP_SOFTMAX) {
            p->ldc = op->ldc ? op->ldc : p->n;
            if (p->ldc < p->n)
                return sk_fail(STARK_DEV_INVALID, "softmax: ldc %llu < n %llu", (unsigned long long)p->ldc,
                               (unsigned long long)p->n);
            if (!sk_extent(p->m, p->n, p->ldc, &p->ext_c))
                return sk_fail(STARK_DEV_INVALID, "softmax: %llu rows of stride %llu are too large",
                               (unsigned long long)p->m, (unsigned long long)p->ldc);
        } else {
            if (p->m > SK_MAX_ELEMS)
                return sk_fail(STARK_DEV_INVALID, "%s: m %llu is too large", name, (unsigned long long)p->m);
            p->ext_c = p->m;
        }
        return STARK_DEV_OK;
    case STARK_OP_MATMUL: {
        const uint64_t lim = UINT64_C(1) << 31;
        p->m = op->m;
        p->n = op->n;
        p->k = op->k;
        if (p->m == 0 || p->n == 0 || p->k == 0 || p->m > lim || p->n > lim || p->k > lim)
            return sk_fail(STARK_DEV_INVALID, "matmul: shape %llux%llux%llu (each of m, n, k must be 1..2^31)",
                           (unsigned long long)p->m, (unsigned long long)p->n, (unsigned long long)p->k);
        /* stored shapes: A is m x k (k x m transposed), B k x n (n x k) */
        uint64_t ar = op->trans_a ? p->k : p->m, ac = op->trans_a ? p->m : p->k;
        uint64_t br = op->trans_b ? p->n : p->k, bc = op->trans_b ? p->k : p->n;
        if (op->trans_a > 1 || op->trans_b > 1)
            return sk_fail(STARK_DEV_INVALID, "matmul: trans_a %u / trans_b %u (0 or 1)", op->trans_a, op->trans_b);
        p->lda = op->lda ? op->lda : ac;
        p->ldb = op->ldb ? op->ldb : bc;
        p->ldc = op->ldc ? op->ldc : p->n;
        if (p->lda < ac || p->ldb < bc || p->ldc < p->n)
            return sk_fail(STARK_DEV_INVALID,
                           "matmul: leading dimensions %llu/%llu/%llu below the row lengths %llu/%llu/%llu",
                           (unsigned long long)p->lda, (unsigned long long)p->ldb, (unsigned long long)p->ldc,
                           (unsigned long long)ac, (unsigned long long)bc, (unsigned long long)p->n);
        if (!sk_extent(ar, ac, p->lda, &p->ext_a) || !sk_extent(br, bc, p->ldb, &p->ext_b) ||
            !sk_extent(p->m, p->n, p->ldc, &p->ext_c))
            return sk_fail(STARK_DEV_INVALID, "matmul: operands too large");
        p->trans_a = op->trans_a;
        p->trans_b = op->trans_b;
        p->use_a = p->use_b = 1;
        p->reads_c = p->beta != 0.0f;
        return STARK_DEV_OK;
    }
    }
    return sk_fail(STARK_DEV_UNSUPPORTED, "unknown op kind %u", op->kind);
}

/* sk_check_view: elems f32 elements at byte offset off of a buffer of size
 * bytes: aligned to 4 and inside. */
SK_UNUSED static int32_t sk_check_view(const char *what, const char *view, const sk_obj *b, uint64_t off, uint64_t elems) {
    if (off % 4 != 0)
        return sk_fail(STARK_DEV_INVALID, "%s: %s: offset %llu is not a multiple of 4 (f32)", what, view,
                       (unsigned long long)off);
    if (off > b->size || elems > (b->size - off) / 4)
        return sk_fail(STARK_DEV_INVALID, "%s: %s: %llu elements at byte %llu run past the end of the %llu-byte buffer",
                       what, view, (unsigned long long)elems, (unsigned long long)off, (unsigned long long)b->size);
    return STARK_DEV_OK;
}

/* sk_check_bytes: bytes at off inside a buffer. */
SK_UNUSED static int32_t sk_check_bytes(const char *what, const sk_obj *b, uint64_t off, uint64_t bytes) {
    if (off > b->size || bytes > b->size - off)
        return sk_fail(STARK_DEV_INVALID, "%s: bytes [%llu, %llu+%llu) run past the end of the %llu-byte buffer %#llx",
                       what, (unsigned long long)off, (unsigned long long)off, (unsigned long long)bytes,
                       (unsigned long long)b->size, (unsigned long long)b->handle);
    return STARK_DEV_OK;
}

/* sk_overlap: do [o1, o1+n1) and [o2, o2+n2) (bytes) of the same buffer meet? */
static int sk_overlap(const sk_obj *b1, uint64_t o1, uint64_t n1, const sk_obj *b2, uint64_t o2, uint64_t n2) {
    if (b1 != b2 || n1 == 0 || n2 == 0)
        return 0;
    return o1 < o2 + n2 && o2 < o1 + n1;
}

/* sk_check_alias: the output may not overlap an input, except the
 * elementwise ops with c == a (or c == b) exactly (in place). */
SK_UNUSED static int32_t sk_check_alias(const sk_plan *p, const sk_obj *a, uint64_t ao, const sk_obj *b, uint64_t bo,
                                        const sk_obj *c, uint64_t co) {
    int elementwise = p->kind >= STARK_OP_COPY && p->kind <= STARK_OP_RELU;
    if (p->use_a && sk_overlap(a, ao, 4 * p->ext_a, c, co, 4 * p->ext_c) && !(elementwise && ao == co))
        return sk_fail(STARK_DEV_INVALID, "%s: the output c overlaps the input a (only c == a exactly is allowed, for the elementwise ops)",
                       sk_op_name(p->kind));
    if (p->use_b && sk_overlap(b, bo, 4 * p->ext_b, c, co, 4 * p->ext_c) && !(elementwise && bo == co))
        return sk_fail(STARK_DEV_INVALID, "%s: the output c overlaps the input b (only c == b exactly is allowed, for the elementwise ops)",
                       sk_op_name(p->kind));
    return STARK_DEV_OK;
}

/* ---- options: "key=value;key=value" ------------------------------------ */

/* sk_opt finds key in opts and copies its value (NUL-terminated) into val.
 * 1 when found. */
SK_UNUSED static int sk_opt(const char *opts, const char *key, char *val, size_t cap) {
    if (opts == NULL)
        return 0;
    size_t klen = strlen(key);
    const char *s = opts;
    while (*s) {
        while (*s == ';' || *s == ' ')
            s++;
        const char *end = strchr(s, ';');
        if (end == NULL)
            end = s + strlen(s);
        if ((size_t)(end - s) > klen && strncmp(s, key, klen) == 0 && s[klen] == '=') {
            size_t n = (size_t)(end - s) - klen - 1;
            if (n >= cap)
                n = cap - 1;
            memcpy(val, s + klen + 1, n);
            val[n] = 0;
            return 1;
        }
        s = end;
    }
    return 0;
}

/* sk_opts_check: every key of opts is one of known (a NULL-terminated list). */
SK_UNUSED static int32_t sk_opts_check(const char *opts, const char *const *known, const char *plugin) {
    if (opts == NULL)
        return STARK_DEV_OK;
    const char *s = opts;
    while (*s) {
        while (*s == ';' || *s == ' ')
            s++;
        if (*s == 0)
            break;
        const char *end = strchr(s, ';');
        if (end == NULL)
            end = s + strlen(s);
        const char *eq = memchr(s, '=', (size_t)(end - s));
        size_t klen = eq ? (size_t)(eq - s) : (size_t)(end - s);
        int ok = 0;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strlen(*k) == klen && strncmp(*k, s, klen) == 0 && eq != NULL;
        if (!ok) {
            char list[256] = "";
            for (const char *const *k = known; *k; k++) {
                strncat(list, *k, sizeof list - strlen(list) - 1);
                if (k[1])
                    strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return sk_fail(STARK_DEV_INVALID, "%s: init option \"%.*s\" is not key=value with a known key (%s)", plugin,
                           (int)(end - s), s, list);
        }
        s = end;
    }
    return STARK_DEV_OK;
}

/* ---- embedding files ----------------------------------------------------
 * SK_INCBIN(sym, "file") puts the file's bytes, then a NUL, in .rodata as
 * `extern const char sym[]` (hidden). The assembler finds the file through
 * -Wa,-I<dir>. */
#define SK_INCBIN(sym, file)                                                                                           \
    __asm__(".section .rodata\n"                                                                                       \
            ".balign 16\n"                                                                                             \
            ".globl " #sym "\n"                                                                                        \
            ".hidden " #sym "\n" #sym ":\n"                                                                            \
            ".incbin \"" file "\"\n"                                                                                   \
            ".byte 0\n"                                                                                                \
            ".previous\n");                                                                                            \
    extern const char sym[]

#endif /* STARK_GPU_COMMON_H */
