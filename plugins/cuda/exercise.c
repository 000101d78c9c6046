/*
 * exercise.c - drives a STARK GPU device plugin through abi/stark_device.h
 * from C and checks every answer: the C twin of host/device/devicetest,
 * with more edge cases (alignment, in-place ops, the split reductions,
 * full and partial matmul tiles, modules, streams, device loss) and a
 * matmul benchmark. It needs no Go, so it runs wherever a plugin does:
 * against the CPU emulation of the drivers (plugins/cuda/test, make
 * plugin-cuda-check) and on a real GPU (plugins/cuda/gpu_check.sh).
 *
 *   exercise PLUGIN.so [--options STR] [--bench N] [--lost] [--quick]
 *
 * --bench N   time f32 matmuls of N x N x N (and check sampled entries)
 * --lost      end with a kernel that faults: every later call must report
 *             STARK_DEV_LOST, shutdown must still succeed
 * --quick     smaller sizes (for slow emulation under sanitizers)
 * Exit status 0 when every check passed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../abi/stark_device.h"

static const stark_device_api *api;
static int failures, checks, quick;
static char plugin_name[32];

static const char *status_name(int32_t st) {
    switch (st) {
    case STARK_DEV_OK:
        return "OK";
    case STARK_DEV_INVALID:
        return "INVALID";
    case STARK_DEV_NOT_FOUND:
        return "NOT_FOUND";
    case STARK_DEV_TIMEOUT:
        return "TIMEOUT";
    case STARK_DEV_EXHAUSTED:
        return "EXHAUSTED";
    case STARK_DEV_STOPPED:
        return "STOPPED";
    case STARK_DEV_UNSUPPORTED:
        return "UNSUPPORTED";
    case STARK_DEV_INTERNAL:
        return "INTERNAL";
    case STARK_DEV_TOO_LARGE:
        return "TOO_LARGE";
    case STARK_DEV_LOST:
        return "LOST";
    }
    return "?";
}

static const char *lasterr(void) {
    static __thread char buf[1024];
    buf[0] = 0;
    api->last_error(buf, sizeof buf);
    return buf;
}

#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        failures++;                                                                                                    \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                           \
        fprintf(stderr, __VA_ARGS__);                                                                                  \
        fprintf(stderr, "\n");                                                                                         \
    } while (0)

/* OK(call): the call must succeed; returns nonzero when it did. */
#define OK(call)                                                                                                       \
    ({                                                                                                                 \
        int32_t st_ = (call);                                                                                          \
        checks++;                                                                                                      \
        if (st_ != STARK_DEV_OK)                                                                                       \
            FAIL("%s -> %s: %s", #call, status_name(st_), lasterr());                                                  \
        st_ == STARK_DEV_OK;                                                                                           \
    })

/* EXPECT(call, s1, s2): the call must fail with s1 (or s2) and say why. */
#define EXPECT(call, s1, s2)                                                                                           \
    do {                                                                                                               \
        int32_t st_ = (call);                                                                                          \
        checks++;                                                                                                      \
        if (st_ != (s1) && st_ != (s2))                                                                                \
            FAIL("%s -> %s, want %s (%s)", #call, status_name(st_), status_name(s1), lasterr());                       \
        else if (st_ != STARK_DEV_OK && lasterr()[0] == 0)                                                             \
            FAIL("%s -> %s with no last_error message", #call, status_name(st_));                                      \
    } while (0)

/* ---- helpers ------------------------------------------------------------- */

static uint64_t rng_state = 0x5eed;
static float rnd(void) { /* +-[0.25, 2) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t r = (uint32_t)(rng_state >> 33);
    float x = 0.25f + 1.75f * (float)(r & 0xffffff) / 16777216.0f;
    return (r >> 30) & 1 ? -x : x;
}

static float *rnd_vec(size_t n) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = rnd();
    return v;
}

static uint64_t dalloc(uint64_t bytes) {
    uint64_t h = 0;
    if (!OK(api->mem_alloc(0, bytes, &h)))
        exit(2);
    return h;
}

static int32_t copy_in(uint64_t h, uint64_t off, const void *src, uint64_t bytes, uint64_t stream) {
    stark_dev_copy c = {.struct_size = sizeof c, .kind = STARK_COPY_H2D, .stream = stream, .dst = {h, off},
                        .host_src = src, .bytes = bytes};
    return api->memcpy(&c);
}

static int32_t copy_out(void *dst, uint64_t h, uint64_t off, uint64_t bytes, uint64_t stream) {
    stark_dev_copy c = {.struct_size = sizeof c, .kind = STARK_COPY_D2H, .stream = stream, .src = {h, off},
                        .host_dst = dst, .bytes = bytes};
    return api->memcpy(&c);
}

static int32_t copy_dev(uint64_t dh, uint64_t doff, uint64_t sh, uint64_t soff, uint64_t bytes) {
    stark_dev_copy c = {.struct_size = sizeof c, .kind = STARK_COPY_D2D, .src = {sh, soff}, .dst = {dh, doff},
                        .bytes = bytes};
    return api->memcpy(&c);
}

/* upload n floats at byte offset off of a new buffer (with slack) */
static uint64_t upload(const float *v, size_t n, uint64_t off) {
    uint64_t h = dalloc(off + 4 * n + 64);
    OK(copy_in(h, off, v, 4 * n, 0));
    return h;
}

static float *download(uint64_t h, uint64_t off, size_t n) {
    float *v = malloc(4 * n + 4);
    OK(copy_out(v, h, off, 4 * n, 0));
    return v;
}

static void poison(uint64_t h, uint64_t off, size_t n) {
    float *v = malloc(4 * n + 4);
    for (size_t i = 0; i < n; i++)
        v[i] = NAN;
    OK(copy_in(h, off, v, 4 * n, 0));
    free(v);
}

static int near(float got, double want, double tol) {
    if (isnan(got) || isinf(got))
        return isnan(want) ? isnan(got) : (isinf(want) && got == want);
    return fabs((double)got - want) <= tol * fmax(1.0, fabs(want));
}

/* check n results; reports the first mismatch */
static int check(const char *what, const float *got, const double *want, size_t n, double tol) {
    checks++;
    for (size_t i = 0; i < n; i++) {
        if (!near(got[i], want[i], tol)) {
            FAIL("%s: element %zu = %.9g, want %.9g (tolerance %g)", what, i, got[i], want[i], tol);
            return 0;
        }
    }
    return 1;
}

static stark_dev_op mkop(uint32_t kind) {
    stark_dev_op op;
    memset(&op, 0, sizeof op);
    op.struct_size = sizeof op;
    op.kind = kind;
    op.dtype = STARK_DT_F32;
    return op;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the checks ------------------------------------------------------------ */

static stark_dev_info info0;

static void t_info(void) {
    uint32_t n = 0;
    OK(api->device_count(&n));
    if (n == 0)
        FAIL("no devices");
    memset(&info0, 0, sizeof info0);
    info0.struct_size = sizeof info0;
    OK(api->device_info(0, &info0));
    if (info0.name[0] == 0 || info0.vendor[0] == 0 || info0.memory_total == 0 || info0.max_alloc == 0 ||
        (info0.compute_units == 0 && strcmp(plugin_name, "metal") != 0) || info0.struct_size != sizeof info0)
        FAIL("device_info: incomplete: name \"%s\" vendor \"%s\" total %llu max_alloc %llu units %u size %u",
             info0.name, info0.vendor, (unsigned long long)info0.memory_total, (unsigned long long)info0.max_alloc,
             info0.compute_units, info0.struct_size);
    printf("device 0: %s (%s), type %u, %llu MiB (%llu free), %u compute units\n", info0.name, info0.vendor,
           info0.type, (unsigned long long)(info0.memory_total >> 20), (unsigned long long)(info0.memory_free >> 20),
           info0.compute_units);
    /* an older, smaller struct gets the prefix; a too small one is refused */
    struct {
        uint32_t struct_size, type;
        char name[128];
    } small = {.struct_size = sizeof small};
    OK(api->device_info(0, (stark_dev_info *)&small));
    if (strcmp(small.name, info0.name) != 0 || small.struct_size != sizeof small)
        FAIL("device_info into a %zu-byte struct: name \"%s\", struct_size %u", sizeof small, small.name,
             small.struct_size);
    uint32_t tiny = 4;
    EXPECT(api->device_info(0, (stark_dev_info *)&tiny), STARK_DEV_INVALID, STARK_DEV_INVALID);
    EXPECT(api->device_info(99, &info0), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
}

static void t_memory(void) {
    uint64_t h = 0;
    OK(api->mem_alloc(0, 1000, &h));
    if (h == 0)
        FAIL("mem_alloc gave handle 0");
    OK(api->mem_free(0, h));
    EXPECT(api->mem_free(0, h), STARK_DEV_NOT_FOUND, STARK_DEV_NOT_FOUND);
    EXPECT(api->mem_free(0, 0), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    EXPECT(api->mem_alloc(0, 0, &h), STARK_DEV_INVALID, STARK_DEV_INVALID);
    EXPECT(api->mem_alloc(0, 1ull << 62, &h), STARK_DEV_EXHAUSTED, STARK_DEV_TOO_LARGE);
    EXPECT(api->mem_alloc(99, 16, &h), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    /* many handles, all distinct, freed in another order */
    uint64_t hs[200];
    for (int i = 0; i < 200; i++)
        hs[i] = dalloc(64 + (uint64_t)i);
    for (int i = 0; i < 200; i++)
        for (int j = i + 1; j < 200; j += 37)
            if (hs[i] == hs[j])
                FAIL("handles %d and %d are equal", i, j);
    for (int i = 0; i < 200; i += 2)
        OK(api->mem_free(0, hs[i]));
    for (int i = 1; i < 200; i += 2)
        OK(api->mem_free(0, hs[i]));
}

static void t_copies(void) {
    size_t sizes[] = {1, 7, 4096, 100003};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        unsigned char *src = malloc(n), *out = malloc(n);
        for (size_t i = 0; i < n; i++)
            src[i] = (unsigned char)(i * 31 + 7);
        uint64_t h = dalloc(n + 64), h2 = dalloc(n + 64);
        OK(copy_in(h, 64, src, n, 0));
        OK(copy_dev(h2, 8, h, 64, n));
        memset(out, 0, n);
        OK(copy_out(out, h2, 8, n, 0));
        checks++;
        if (memcmp(out, src, n) != 0)
            FAIL("copies of %zu bytes differ", n);
        OK(copy_dev(h, 0, h, 0, n)); /* onto itself: nothing to do */
        if (n > 1)
            EXPECT(copy_dev(h, 1, h, 0, n), STARK_DEV_INVALID, STARK_DEV_INVALID); /* overlapping */
        EXPECT(copy_in(h, 65, src, n, 0), STARK_DEV_INVALID, STARK_DEV_INVALID); /* past the end */
        OK(copy_in(h, n + 64, src, 0, 0)); /* zero bytes at the end */
        OK(api->mem_free(0, h));
        OK(api->mem_free(0, h2));
        free(src);
        free(out);
    }
    stark_dev_copy c = {.struct_size = 8, .kind = STARK_COPY_H2D};
    EXPECT(api->memcpy(&c), STARK_DEV_INVALID, STARK_DEV_INVALID); /* struct too small */
    EXPECT(api->memcpy(NULL), STARK_DEV_INVALID, STARK_DEV_INVALID);
    uint64_t h = dalloc(64);
    c = (stark_dev_copy){.struct_size = sizeof c, .kind = 7, .dst = {h, 0}, .host_src = &c, .bytes = 4};
    EXPECT(api->memcpy(&c), STARK_DEV_INVALID, STARK_DEV_INVALID);
    /* a newer host's larger struct is fine */
    struct {
        stark_dev_copy c;
        uint64_t more[4];
    } big;
    memset(&big, 0, sizeof big);
    float v = 3.5f, back = 0;
    big.c = (stark_dev_copy){.struct_size = sizeof big, .kind = STARK_COPY_H2D, .dst = {h, 4}, .host_src = &v, .bytes = 4};
    OK(api->memcpy(&big.c));
    OK(copy_out(&back, h, 4, 4, 0));
    if (back != 3.5f)
        FAIL("copy through a larger struct: %g", back);
    OK(api->mem_free(0, h));
}

static double ew_ref(uint32_t kind, double a, double b, double c, double alpha) {
    switch (kind) {
    case STARK_OP_FILL:
        return alpha;
    case STARK_OP_COPY:
        return a;
    case STARK_OP_SCALE:
        return alpha * a;
    case STARK_OP_AXPY:
        return alpha * a + c;
    case STARK_OP_ADD:
        return a + b;
    case STARK_OP_MUL:
        return a * b;
    case STARK_OP_RELU:
        return a < 0 ? 0 : a;
    }
    return NAN;
}

static void t_elementwise(void) {
    size_t sizes[] = {0, 1, 3, 4, 17, 255, 1023, 4097, 65537};
    uint32_t kinds[] = {STARK_OP_FILL, STARK_OP_COPY, STARK_OP_SCALE, STARK_OP_AXPY,
                        STARK_OP_ADD,  STARK_OP_MUL,  STARK_OP_RELU};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        if (quick && n > 5000)
            continue;
        for (int misalign = 0; misalign < 2; misalign++) {
            uint64_t off = misalign ? 4 : 0; /* 4-byte aligned, not 16: the scalar path */
            float *a = rnd_vec(n + 1), *b = rnd_vec(n + 1), *c0 = rnd_vec(n + 1);
            uint64_t da = upload(a, n, off), db = upload(b, n, 0);
            for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++) {
                uint32_t kind = kinds[ki];
                uint64_t dc = upload(c0, n, off);
                if (kind != STARK_OP_AXPY)
                    poison(dc, off, n);
                stark_dev_op op = mkop(kind);
                op.a = (stark_dev_buf){da, off};
                op.b = (stark_dev_buf){db, 0};
                op.c = (stark_dev_buf){dc, off};
                op.n = n;
                op.alpha = kind == STARK_OP_AXPY ? -0.75 : 1.5;
                OK(api->op_supported(&op));
                OK(api->launch_op(&op));
                float *got = download(dc, off, n);
                double *want = malloc(8 * n + 8);
                for (size_t i = 0; i < n; i++)
                    want[i] = ew_ref(kind, a[i], b[i], c0[i], op.alpha);
                char what[64];
                snprintf(what, sizeof what, "op %u n=%zu off=%llu", kind, n, (unsigned long long)off);
                check(what, got, want, n, 1e-6);
                free(got);
                /* in place: c == a */
                if (kind != STARK_OP_FILL && n > 0) {
                    uint64_t dx = upload(a, n, off);
                    op.a = (stark_dev_buf){dx, off};
                    op.c = (stark_dev_buf){dx, off};
                    if (kind == STARK_OP_AXPY) { /* c == a: c = alpha c + c */
                        for (size_t i = 0; i < n; i++)
                            want[i] = op.alpha * a[i] + a[i];
                    }
                    OK(api->launch_op(&op));
                    got = download(dx, off, n);
                    snprintf(what, sizeof what, "op %u in place n=%zu", kind, n);
                    check(what, got, want, n, 1e-6);
                    free(got);
                    OK(api->mem_free(0, dx));
                }
                free(want);
                OK(api->mem_free(0, dc));
            }
            OK(api->mem_free(0, da));
            OK(api->mem_free(0, db));
            free(a);
            free(b);
            free(c0);
        }
    }
}

static void t_rows(void) {
    size_t shapes[][2] = {{1, 1}, {1, 1000}, {7, 33}, {64, 1023}, {300, 5}, {5, 8193}, {2, 100000}, {1, 1 << 20}, {3, 70001}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        size_t m = shapes[si][0], n = shapes[si][1];
        if (quick && m * n > 70000)
            continue;
        size_t lda = n + 3, ldc = n + 1;
        float *a = rnd_vec(m * lda);
        uint64_t da = upload(a, m * lda, 0);
        for (int kind = STARK_OP_REDUCE_SUM; kind <= STARK_OP_SOFTMAX; kind++) {
            size_t outn = kind == STARK_OP_SOFTMAX ? m * ldc : m;
            uint64_t dc = dalloc(4 * outn + 16);
            poison(dc, 0, outn);
            stark_dev_op op = mkop((uint32_t)kind);
            op.a = (stark_dev_buf){da, 0};
            op.c = (stark_dev_buf){dc, 0};
            op.m = m == 1 && si % 2 ? 0 : m; /* m 0 means 1 */
            op.n = n;
            op.lda = lda;
            op.ldc = kind == STARK_OP_SOFTMAX ? ldc : 0;
            OK(api->launch_op(&op));
            float *got = download(dc, 0, outn);
            double *want = malloc(8 * outn);
            float *gotc = malloc(4 * outn);
            size_t cnt = 0;
            for (size_t r = 0; r < m; r++) {
                const float *row = a + r * lda;
                double mx = -INFINITY, sum = 0;
                for (size_t j = 0; j < n; j++)
                    mx = fmax(mx, row[j]);
                for (size_t j = 0; j < n; j++)
                    sum += kind == STARK_OP_SOFTMAX ? exp(row[j] - mx) : row[j];
                if (kind == STARK_OP_REDUCE_SUM) {
                    want[cnt] = sum;
                    gotc[cnt++] = got[r];
                } else if (kind == STARK_OP_REDUCE_MAX) {
                    want[cnt] = mx;
                    gotc[cnt++] = got[r];
                } else {
                    for (size_t j = 0; j < n; j++) {
                        want[cnt] = exp(row[j] - mx) / sum;
                        gotc[cnt++] = got[r * ldc + j];
                    }
                }
            }
            char what[64];
            snprintf(what, sizeof what, "op %d %zux%zu", kind, m, n);
            check(what, gotc, want, cnt, kind == STARK_OP_REDUCE_SUM ? 1e-5 * sqrt((double)n) : 1e-5);
            if (kind == STARK_OP_SOFTMAX) { /* the padding between rows is untouched */
                for (size_t r = 0; r + 1 < m; r++)
                    if (!isnan(got[r * ldc + n])) {
                        FAIL("softmax wrote into the padding of row %zu", r);
                        break;
                    }
            }
            free(got);
            free(gotc);
            free(want);
            OK(api->mem_free(0, dc));
        }
        OK(api->mem_free(0, da));
        free(a);
    }
    /* max with -inf and ties, sum of zeros */
    float special[8] = {-INFINITY, -INFINITY, -5, -5, 0, -0.0f, 0, 0};
    uint64_t ds = upload(special, 8, 0), dc = dalloc(16);
    stark_dev_op op = mkop(STARK_OP_REDUCE_MAX);
    op.a = (stark_dev_buf){ds, 0};
    op.c = (stark_dev_buf){dc, 0};
    op.m = 2;
    op.n = 4;
    OK(api->launch_op(&op));
    float got[2];
    OK(copy_out(got, dc, 0, 8, 0));
    if (got[0] != -5.0f || got[1] != 0.0f)
        FAIL("reduce_max of special rows: %g %g, want -5 0", got[0], got[1]);
    OK(api->mem_free(0, ds));
    OK(api->mem_free(0, dc));
}

typedef struct mm_case {
    int m, n, k, ta, tb, pad;
    double alpha, beta;
    int off; /* bytes: 4 makes every operand misaligned for float4 */
} mm_case;

static void ref_mm(const mm_case *c, const float *a, int lda, const float *b, int ldb, const float *c0, int ldc,
                   double *out) {
    for (int i = 0; i < c->m; i++)
        for (int j = 0; j < c->n; j++) {
            double acc = 0;
            for (int p = 0; p < c->k; p++) {
                double av = c->ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double bv = c->tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                acc += av * bv;
            }
            double v = c->alpha * acc;
            if (c->beta != 0)
                v += c->beta * c0[(size_t)i * ldc + j];
            out[(size_t)i * c->n + j] = v;
        }
}

static void run_mm(const mm_case *c) {
    int ar = c->ta ? c->k : c->m, ac = c->ta ? c->m : c->k;
    int br = c->tb ? c->n : c->k, bc = c->tb ? c->k : c->n;
    int lda = ac + c->pad, ldb = bc + c->pad, ldc = c->n + c->pad;
    float *a = rnd_vec((size_t)ar * lda), *b = rnd_vec((size_t)br * ldb), *c0 = rnd_vec((size_t)c->m * ldc);
    if (c->beta == 0)
        for (size_t i = 0; i < (size_t)c->m * ldc; i++)
            c0[i] = NAN; /* beta 0 ignores C, NaN included */
    uint64_t da = upload(a, (size_t)ar * lda, c->off), db = upload(b, (size_t)br * ldb, c->off);
    uint64_t dc = upload(c0, (size_t)c->m * ldc, c->off);
    stark_dev_op op = mkop(STARK_OP_MATMUL);
    op.a = (stark_dev_buf){da, (uint64_t)c->off};
    op.b = (stark_dev_buf){db, (uint64_t)c->off};
    op.c = (stark_dev_buf){dc, (uint64_t)c->off};
    op.m = (uint64_t)c->m;
    op.n = (uint64_t)c->n;
    op.k = (uint64_t)c->k;
    op.lda = c->pad || c->ta ? (uint64_t)lda : 0; /* 0: dense */
    op.ldb = (uint64_t)ldb;
    op.ldc = (uint64_t)ldc;
    op.trans_a = (uint32_t)c->ta;
    op.trans_b = (uint32_t)c->tb;
    op.alpha = c->alpha;
    op.beta = c->beta;
    OK(api->launch_op(&op));
    float *got = download(dc, (uint64_t)c->off, (size_t)c->m * ldc);
    double *want = malloc(8 * (size_t)c->m * c->n);
    ref_mm(c, a, lda, b, ldb, c0, ldc, want);
    double tol = 2e-5 * sqrt((double)c->k) * 4;
    checks++;
    int bad = 0;
    for (int i = 0; i < c->m && !bad; i++)
        for (int j = 0; j < c->n && !bad; j++)
            if (!near(got[(size_t)i * ldc + j], want[(size_t)i * c->n + j], tol)) {
                FAIL("matmul %dx%dx%d ta=%d tb=%d pad=%d off=%d alpha=%g beta=%g: C[%d,%d] = %.8g, want %.8g", c->m,
                     c->n, c->k, c->ta, c->tb, c->pad, c->off, c->alpha, c->beta, i, j, got[(size_t)i * ldc + j],
                     want[(size_t)i * c->n + j]);
                bad = 1;
            }
    /* the padding of C is untouched */
    for (int i = 0; i < c->m && !bad && c->pad; i++)
        for (int j = c->n; j < ldc; j++)
            if (memcmp(&got[(size_t)i * ldc + j], &c0[(size_t)i * ldc + j], 4) != 0) {
                FAIL("matmul %dx%dx%d wrote into C's padding at [%d,%d]", c->m, c->n, c->k, i, j);
                bad = 1;
                break;
            }
    free(got);
    free(want);
    free(a);
    free(b);
    free(c0);
    OK(api->mem_free(0, da));
    OK(api->mem_free(0, db));
    OK(api->mem_free(0, dc));
}

static void t_matmul(void) {
    const mm_case base[] = {
        {1, 1, 1, 0, 0, 0, 1, 0, 0},      {3, 5, 7, 0, 0, 0, 1, 0, 0},        {17, 31, 13, 0, 0, 2, 0.5, 0, 0},
        {33, 9, 65, 0, 0, 1, 1, 0.25, 0}, {64, 64, 64, 0, 0, 0, -1, 1, 0},    {129, 257, 100, 0, 0, 3, 1, 0, 0},
        {200, 150, 300, 0, 0, 5, 2, 0.5, 0}, {256, 256, 256, 0, 0, 0, 1, 0, 0}, {128, 128, 8, 0, 0, 0, 1, 0.5, 0},
        {130, 260, 17, 0, 0, 4, 1, 0, 0}, {256, 128, 64, 0, 0, 0, 1, 0, 4},   {1, 300, 129, 0, 0, 0, 1, 1, 0},
        {300, 1, 129, 0, 0, 0, 1, 0, 0},  {1030, 9, 33, 0, 0, 0, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        for (int t = 0; t < 4; t++) {
            mm_case c = base[i];
            c.ta = t >> 1;
            c.tb = t & 1;
            if (quick && (size_t)c.m * c.n * c.k > 3000000)
                continue;
            run_mm(&c);
        }
    }
    /* shapes the plugin must refuse */
    uint64_t h = dalloc(4096);
    stark_dev_op op = mkop(STARK_OP_MATMUL);
    op.a = op.b = op.c = (stark_dev_buf){h, 0};
    op.m = 4;
    op.n = 4;
    op.k = 0;
    EXPECT(api->op_supported(&op), STARK_DEV_INVALID, STARK_DEV_INVALID);
    op.k = 4;
    op.lda = 3;
    EXPECT(api->launch_op(&op), STARK_DEV_INVALID, STARK_DEV_INVALID);
    op.lda = 0;
    EXPECT(api->launch_op(&op), STARK_DEV_INVALID, STARK_DEV_INVALID); /* C overlaps A */
    OK(api->mem_free(0, h));
}

static void t_errors(void) {
    uint64_t d = dalloc(64);
    unsigned char bytes[8] = {1, 2, 3, 4};
    EXPECT(copy_in(0xdeadbeef0badf00dull, 0, bytes, 4, 0), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    EXPECT(copy_in(d, 60, bytes, 8, 0), STARK_DEV_INVALID, STARK_DEV_INVALID);
    EXPECT(copy_in(d, ~0ull - 2, bytes, 8, 0), STARK_DEV_INVALID, STARK_DEV_INVALID);
    stark_dev_op op = mkop(STARK_OP_ADD);
    op.a = op.b = op.c = (stark_dev_buf){d, 0};
    op.n = 17;
    EXPECT(api->launch_op(&op), STARK_DEV_INVALID, STARK_DEV_INVALID);
    op.n = 16;
    OK(api->launch_op(&op)); /* c == a == b: in place */
    op.c.offset = 4;
    op.n = 15;
    EXPECT(api->launch_op(&op), STARK_DEV_INVALID, STARK_DEV_INVALID); /* overlaps, not equal */
    op.c.offset = 2;
    op.a.offset = op.b.offset = 2;
    op.n = 1;
    EXPECT(api->launch_op(&op), STARK_DEV_INVALID, STARK_DEV_INVALID); /* misaligned f32 */
    uint64_t h;
    OK(api->mem_alloc(0, 64, &h));
    OK(api->mem_free(0, h));
    op = mkop(STARK_OP_FILL);
    op.c = (stark_dev_buf){h, 0};
    op.n = 4;
    op.alpha = 1;
    EXPECT(api->launch_op(&op), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    op.c = (stark_dev_buf){d, 0};
    op.kind = 999;
    EXPECT(api->op_supported(&op), STARK_DEV_UNSUPPORTED, STARK_DEV_INVALID);
    EXPECT(api->launch_op(&op), STARK_DEV_UNSUPPORTED, STARK_DEV_INVALID);
    op.kind = STARK_OP_FILL;
    op.dtype = 77;
    EXPECT(api->op_supported(&op), STARK_DEV_UNSUPPORTED, STARK_DEV_INVALID);
    EXPECT(api->launch_op(&op), STARK_DEV_UNSUPPORTED, STARK_DEV_INVALID);
    op.dtype = STARK_DT_F16;
    EXPECT(api->op_supported(&op), STARK_DEV_UNSUPPORTED, STARK_DEV_UNSUPPORTED);
    op.dtype = STARK_DT_F32;
    op.device = 5;
    EXPECT(api->launch_op(&op), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    op.device = 0;
    op.struct_size = 16;
    EXPECT(api->launch_op(&op), STARK_DEV_INVALID, STARK_DEV_INVALID);
    op.struct_size = sizeof op;
    op.kind = STARK_OP_SOFTMAX;
    op.n = 0;
    EXPECT(api->launch_op(&op), STARK_DEV_INVALID, STARK_DEV_INVALID);
    op.kind = STARK_OP_FILL;
    op.n = 4;
    op.stream = 0x1234567ull; /* not a stream */
    EXPECT(api->launch_op(&op), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    op.stream = 0;
    op.c = (stark_dev_buf){d, 0};
    uint64_t s;
    OK(api->stream_create(0, &s));
    op.c.handle = s; /* a stream is not a buffer */
    EXPECT(api->launch_op(&op), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    OK(api->stream_destroy(0, s));
    EXPECT(api->stream_destroy(0, s), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    EXPECT(api->mem_free(0, s), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    EXPECT(api->event_sync(0, d), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    EXPECT(api->stream_sync(0, 77), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    EXPECT(api->synchronize(3), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    EXPECT(api->last_error(NULL, 0), STARK_DEV_INVALID, STARK_DEV_INVALID);
    char small[8];
    OK(api->last_error(small, sizeof small));
    if (strlen(small) != 7)
        FAIL("last_error into 8 bytes: \"%s\" (%zu), want 7 characters", small, strlen(small));
    OK(api->mem_free(0, d));
}

/* a PTX module with stark_test_scale(float *p, unsigned n, float alpha)
 * and stark_test_fault(u64 addr), which stores to addr (clang output) */
static const char test_ptx[] =
    ".version 4.1\n.target sm_52\n.address_size 64\n"
    ".visible .entry stark_test_scale(\n\t.param .u64 stark_test_scale_param_0,\n"
    "\t.param .u32 stark_test_scale_param_1,\n\t.param .f32 stark_test_scale_param_2\n)\n{\n"
    "\t.reg .pred %p<2>;\n\t.reg .b32 %r<6>;\n\t.reg .f32 %f<4>;\n\t.reg .b64 %rd<5>;\n"
    "\tld.param.u32 %r1, [stark_test_scale_param_1];\n\tmov.u32 %r2, %ctaid.x;\n\tmov.u32 %r3, %ntid.x;\n"
    "\tmov.u32 %r4, %tid.x;\n\tmad.lo.s32 %r5, %r2, %r3, %r4;\n\tsetp.ge.u32 %p1, %r5, %r1;\n\t@%p1 bra LBB0_2;\n"
    "\tld.param.f32 %f1, [stark_test_scale_param_2];\n\tld.param.u64 %rd2, [stark_test_scale_param_0];\n"
    "\tcvta.to.global.u64 %rd3, %rd2;\n\tmul.wide.u32 %rd4, %r5, 4;\n\tadd.s64 %rd1, %rd3, %rd4;\n"
    "\tld.global.f32 %f2, [%rd1];\n\tmul.f32 %f3, %f2, %f1;\n\tst.global.f32 [%rd1], %f3;\nLBB0_2:\n\tret;\n}\n"
    ".visible .entry stark_test_fault(\n\t.param .u64 stark_test_fault_param_0\n)\n{\n"
    "\t.reg .b32 %r<2>;\n\t.reg .b64 %rd<2>;\n\tld.param.u64 %rd1, [stark_test_fault_param_0];\n"
    "\tmov.u32 %r1, 1;\n\tst.volatile.u32 [%rd1], %r1;\n\tret;\n}\n";

static int is_cuda(void) { return strcmp(plugin_name, "cuda") == 0; }

static void t_modules(void) {
    uint64_t m = 0;
    unsigned char junk[] = {1, 2, 3, 4, 5};
    EXPECT(api->module_load(0, 99, junk, sizeof junk, &m), STARK_DEV_INVALID, STARK_DEV_UNSUPPORTED);
    EXPECT(api->module_load(0, is_cuda() ? STARK_MOD_PTX : STARK_MOD_HSACO, junk, 0, &m), STARK_DEV_INVALID,
           STARK_DEV_INVALID);
    if (!is_cuda())
        EXPECT(api->module_load(0, STARK_MOD_PTX, test_ptx, sizeof test_ptx - 1, &m), STARK_DEV_UNSUPPORTED,
               STARK_DEV_UNSUPPORTED);
    EXPECT(api->module_load(0, STARK_MOD_METALLIB, junk, sizeof junk, &m), STARK_DEV_UNSUPPORTED,
           STARK_DEV_UNSUPPORTED);
    if (!is_cuda()) {
        EXPECT(api->module_load(0, STARK_MOD_HSACO, junk, sizeof junk, &m), STARK_DEV_INVALID, STARK_DEV_INVALID);
        return; /* no HSACO to test with here */
    }
    EXPECT(api->module_load(0, STARK_MOD_CUBIN, junk, sizeof junk, &m), STARK_DEV_INVALID, STARK_DEV_INVALID);
    char nul[] = "abc\0def";
    EXPECT(api->module_load(0, STARK_MOD_PTX, nul, sizeof nul, &m), STARK_DEV_INVALID, STARK_DEV_INVALID);
    const char bad_ptx[] = ".version 4.1\n.target sm_52\n.address_size 64\nthis is not ptx\n";
    EXPECT(api->module_load(0, STARK_MOD_PTX, bad_ptx, sizeof bad_ptx - 1, &m), STARK_DEV_INVALID,
           STARK_DEV_INTERNAL);
    if (!OK(api->module_load(0, STARK_MOD_PTX, test_ptx, sizeof test_ptx - 1, &m)))
        return;
    size_t n = 1000;
    float *v = rnd_vec(n);
    uint64_t d = upload(v, n, 16);
    struct {
        uint32_t n;
        float alpha;
    } push = {(uint32_t)n, -2.0f};
    stark_dev_buf bind = {d, 16};
    stark_dev_launch l = {.struct_size = sizeof l, .module = m, .function = "stark_test_scale", .grid = {4},
                          .block = {256, 0, 0}, .bindings = &bind, .n_bindings = 1, .push_size = sizeof push,
                          .push = &push};
    OK(api->module_launch(&l));
    float *got = download(d, 16, n);
    double *want = malloc(8 * n);
    for (size_t i = 0; i < n; i++)
        want[i] = -2.0 * v[i];
    check("stark_test_scale", got, want, n, 1e-6);
    free(got);
    free(want);
    l.function = "no_such_kernel";
    EXPECT(api->module_launch(&l), STARK_DEV_NOT_FOUND, STARK_DEV_NOT_FOUND);
    l.function = "stark_test_scale";
    l.grid[0] = 0;
    EXPECT(api->module_launch(&l), STARK_DEV_INVALID, STARK_DEV_INVALID);
    l.grid[0] = 4;
    bind.handle = 0xabcdef;
    EXPECT(api->module_launch(&l), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    bind.handle = d;
    OK(api->module_unload(0, m));
    EXPECT(api->module_unload(0, m), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    EXPECT(api->module_launch(&l), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    OK(api->mem_free(0, d));
    free(v);
}

static void t_streams(void) {
    uint64_t s = 0, s2 = 0, e = 0;
    OK(api->stream_create(0, &s));
    OK(api->stream_create(0, &s2));
    size_t n = 5000;
    float *a = rnd_vec(n);
    uint64_t da = dalloc(4 * n), dc = dalloc(4 * n);
    poison(dc, 0, n);
    OK(copy_in(da, 0, a, 4 * n, s));
    stark_dev_op op = mkop(STARK_OP_RELU);
    op.stream = s;
    op.a = (stark_dev_buf){da, 0};
    op.c = (stark_dev_buf){dc, 0};
    op.n = n;
    OK(api->launch_op(&op));
    OK(api->event_record(0, s, &e));
    OK(api->event_sync(0, e));
    OK(api->event_destroy(0, e));
    EXPECT(api->event_destroy(0, e), STARK_DEV_NOT_FOUND, STARK_DEV_INVALID);
    float *got = malloc(4 * n);
    OK(copy_out(got, dc, 0, 4 * n, s)); /* ordered after the relu */
    OK(api->stream_sync(0, s));
    double *want = malloc(8 * n);
    for (size_t i = 0; i < n; i++)
        want[i] = a[i] < 0 ? 0 : a[i];
    check("relu on a stream", got, want, n, 1e-6);
    OK(api->event_record(0, 0, &e)); /* on stream 0 */
    OK(api->event_sync(0, e));
    OK(api->event_destroy(0, e));
    OK(api->stream_sync(0, 0));
    OK(api->synchronize(0));
    OK(api->stream_destroy(0, s));
    OK(api->stream_destroy(0, s2));
    OK(api->mem_free(0, da));
    OK(api->mem_free(0, dc));
    free(a);
    free(got);
    free(want);
}

static void *concurrent_worker(void *arg) {
    int g = (int)(intptr_t)arg;
    size_t n = 1000 + (size_t)g * 37;
    float *a = malloc(4 * n), *out = malloc(4 * n);
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(i % 97) - 40.0f + 0.25f * (float)g;
    for (int round = 0; round < (quick ? 5 : 20); round++) {
        uint64_t h = 0;
        if (api->mem_alloc(0, 4 * n, &h) != STARK_DEV_OK) {
            FAIL("thread %d: alloc: %s", g, lasterr());
            break;
        }
        int32_t st = copy_in(h, 0, a, 4 * n, 0);
        stark_dev_op op = mkop(STARK_OP_SCALE);
        op.a = op.c = (stark_dev_buf){h, 0};
        op.n = n;
        op.alpha = 2;
        if (st == STARK_DEV_OK)
            st = api->launch_op(&op);
        if (st == STARK_DEV_OK)
            st = copy_out(out, h, 0, 4 * n, 0);
        if (st != STARK_DEV_OK)
            FAIL("thread %d round %d: %s: %s", g, round, status_name(st), lasterr());
        for (size_t i = 0; i < n && st == STARK_DEV_OK; i++)
            if (out[i] != 2 * a[i]) {
                FAIL("thread %d round %d: element %zu = %g, want %g", g, round, i, out[i], 2 * a[i]);
                break;
            }
        if (api->mem_free(0, h) != STARK_DEV_OK)
            FAIL("thread %d: free: %s", g, lasterr());
    }
    free(a);
    free(out);
    return NULL;
}

static void t_concurrent(void) {
    pthread_t th[8];
    for (int g = 0; g < 8; g++)
        pthread_create(&th[g], NULL, concurrent_worker, (void *)(intptr_t)g);
    for (int g = 0; g < 8; g++)
        pthread_join(th[g], NULL);
    checks++;
}

/* ---- the benchmark ----------------------------------------------------------- */

static void bench(int n, int iters) {
    size_t nn = (size_t)n * n;
    float *a = rnd_vec(nn), *b = rnd_vec(nn);
    uint64_t da = upload(a, nn, 0), db = upload(b, nn, 0), dc = dalloc(4 * nn);
    stark_dev_op op = mkop(STARK_OP_MATMUL);
    op.a = (stark_dev_buf){da, 0};
    op.b = (stark_dev_buf){db, 0};
    op.c = (stark_dev_buf){dc, 0};
    op.m = op.n = op.k = (uint64_t)n;
    op.alpha = 1;
    for (int t = 0; t < 4; t++) {
        op.trans_a = (uint32_t)(t >> 1);
        op.trans_b = (uint32_t)(t & 1);
        OK(api->launch_op(&op)); /* warm up */
        int it = t == 0 ? iters : (iters + 3) / 4;
        double t0 = now_s();
        for (int i = 0; i < it; i++)
            api->launch_op(&op);
        double dt = (now_s() - t0) / it;
        printf("matmul f32 %dx%dx%d %s%s: %.3f ms, %.1f TFLOP/s\n", n, n, n, op.trans_a ? "T" : "N",
               op.trans_b ? "T" : "N", dt * 1e3, 2.0 * n * (double)n * n / dt / 1e12);
        /* sampled entries against a double reference */
        float *c = download(dc, 0, nn);
        int bad = 0;
        for (int s = 0; s < 64 && !bad; s++) {
            int i = (int)((s * 2654435761u) % (unsigned)n), j = (int)((s * 40503u + 17) % (unsigned)n);
            double acc = 0;
            for (int p = 0; p < n; p++)
                acc += (double)(op.trans_a ? a[(size_t)p * n + i] : a[(size_t)i * n + p]) *
                       (double)(op.trans_b ? b[(size_t)j * n + p] : b[(size_t)p * n + j]);
            checks++;
            if (!near(c[(size_t)i * n + j], acc, 2e-5 * sqrt((double)n) * 4)) {
                FAIL("bench matmul C[%d,%d] = %.8g, want %.8g", i, j, c[(size_t)i * n + j], acc);
                bad = 1;
            }
        }
        free(c);
    }
    OK(api->mem_free(0, da));
    OK(api->mem_free(0, db));
    OK(api->mem_free(0, dc));
    free(a);
    free(b);
}

/* ---- device loss ---------------------------------------------------------- */

static void t_lost(void) {
    uint64_t m = 0, d = dalloc(64);
    if (!is_cuda()) {
        printf("lost: only the cuda plugin has a faulting test module\n");
        return;
    }
    if (!OK(api->module_load(0, STARK_MOD_PTX, test_ptx, sizeof test_ptx - 1, &m)))
        return;
    uint64_t addr = 16; /* unmapped on every GPU */
    stark_dev_launch l = {.struct_size = sizeof l, .module = m, .function = "stark_test_fault", .grid = {1},
                          .block = {1}, .push_size = sizeof addr, .push = &addr};
    EXPECT(api->module_launch(&l), STARK_DEV_LOST, STARK_DEV_LOST);
    EXPECT(api->synchronize(0), STARK_DEV_LOST, STARK_DEV_LOST);
    uint64_t h;
    EXPECT(api->mem_alloc(0, 64, &h), STARK_DEV_LOST, STARK_DEV_LOST);
    stark_dev_op op = mkop(STARK_OP_FILL);
    op.c = (stark_dev_buf){d, 0};
    op.n = 4;
    EXPECT(api->launch_op(&op), STARK_DEV_LOST, STARK_DEV_LOST);
    EXPECT(api->op_supported(&op), STARK_DEV_LOST, STARK_DEV_LOST);
    EXPECT(api->mem_free(0, d), STARK_DEV_LOST, STARK_DEV_LOST);
    EXPECT(api->device_info(0, &info0), STARK_DEV_LOST, STARK_DEV_LOST);
    printf("lost: %s\n", lasterr());
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLUGIN.so [--options STR] [--bench N] [--iters N] [--lost] [--quick]\n", argv[0]);
        return 2;
    }
    const char *options = NULL;
    int bench_n = 0, iters = 20, lost = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--options") == 0 && i + 1 < argc)
            options = argv[++i];
        else if (strcmp(argv[i], "--bench") == 0 && i + 1 < argc)
            bench_n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (strcmp(argv[i], "--lost") == 0)
            lost = 1;
        else if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else {
            fprintf(stderr, "unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "FAIL: dlopen %s: %s\n", argv[1], dlerror());
        return 1;
    }
    stark_device_score_fn score = (stark_device_score_fn)dlsym(lib, "stark_device_score");
    stark_device_query_fn query = (stark_device_query_fn)dlsym(lib, "stark_device_query");
    if (score == NULL || query == NULL || (api = query(STARK_DEVICE_ABI_VERSION)) == NULL) {
        fprintf(stderr, "FAIL: %s is not a STARK device plugin of ABI %d\n", argv[1], STARK_DEVICE_ABI_VERSION);
        return 1;
    }
    snprintf(plugin_name, sizeof plugin_name, "%s", api->name);
    uint32_t sc = score();
    printf("plugin %s (%s): score %u\n", api->name, argv[1], sc);
    if (sc == 0) {
        fprintf(stderr, "FAIL: the plugin scores 0 here: no driver or no device\n");
        return 1;
    }
    uint32_t n;
    EXPECT(api->device_count(&n), STARK_DEV_STOPPED, STARK_DEV_STOPPED);
    stark_dev_init in = {.struct_size = sizeof in, .options = options};
    double t0 = now_s();
    if (!OK(api->init(&in)))
        return 1;
    printf("init: %.2f s\n", now_s() - t0);
    OK(api->init(&in)); /* again: nothing to do */

    struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {{"info", t_info},       {"memory", t_memory},   {"copies", t_copies},
                 {"elementwise", t_elementwise}, {"rows", t_rows}, {"matmul", t_matmul},
                 {"errors", t_errors},   {"modules", t_modules}, {"streams", t_streams},
                 {"concurrent", t_concurrent}};
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = failures;
        double ts = now_s();
        tests[i].fn();
        printf("%s %s (%.2f s)\n", failures == before ? "ok  " : "FAIL", tests[i].name, now_s() - ts);
        fflush(stdout);
    }
    if (bench_n > 0)
        bench(bench_n, iters);
    if (lost) {
        int before = failures;
        t_lost();
        printf("%s lost\n", failures == before ? "ok  " : "FAIL");
    }
    OK(api->shutdown());
    EXPECT(api->device_count(&n), STARK_DEV_STOPPED, STARK_DEV_STOPPED);
    OK(api->shutdown()); /* again: nothing to do */
    if (!lost) { /* init after shutdown works */
        if (OK(api->init(&in))) {
            uint64_t h;
            OK(api->mem_alloc(0, 64, &h));
            OK(api->shutdown());
        }
    }
    printf("%s: %d checks, %d failures\n", failures ? "FAIL" : "PASS", checks, failures);
    return failures ? 1 : 0;
}
