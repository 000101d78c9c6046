/*
 * vk_ops.c - the built-in f32 ops (abi/stark_device.h), split so that no
 * binding exceeds maxStorageBufferRange.
 *
 * A view is bound at its byte offset aligned down to bind_align
 * (minStorageBufferOffsetAlignment, at least 16); the rest goes to the
 * shader as an element offset in push constants. d->range_elems is what
 * any such binding can hold.
 *   elementwise (elem.comp, one pipeline per op): chunks of range_elems
 *     elements, one dispatch each; vec4 access where the views allow it.
 *   reduce/softmax (rows.comp, one pipeline per pass mode): blocks of
 *     whole rows per dispatch. Rows longer than ROW_SINGLE go in passes:
 *     partial results per segment of ROW_SEG into scratch memory, then a
 *     pass combining them (softmax: max, sum of exp(x - max), then the
 *     write); a row longer than a binding is bound in pieces.
 *   matmul (matmul.comp on GPUs: 64x64 tiles staged in shared memory;
 *     matmul_reg.comp on CPU implementations: 16x16 register blocks per
 *     invocation, no shared memory): blocks of rows of A/C, and panels of
 *     K (beta 1 after the first) when B or a transposed A spans more than
 *     a binding; only a single row of C, B or transposed A past a binding
 *     is STARK_DEV_TOO_LARGE.
 * All dispatches of an op go into one command buffer, one submission.
 *
 * Loops per invocation are bounded too: llvmpipe (lavapipe) silently ends
 * every loop of a shader invocation once 65535 iterations have run in
 * total (LP_MAX_TGSI_LOOP_ITERATIONS), so a matmul dispatch covers at
 * most MM_KMAX of K (matmul.comp: 512 panels of 16, about 36 loop
 * iterations each; matmul_reg.comp: one iteration per k), and a row-op
 * workgroup loops at most 128 times over its elements.
 */
#include "vk.h"

#include <string.h>

#define ELEM_WG 128    /* elem.comp local size */
#define MM_KMAX 8192   /* K per matmul dispatch */
#define ROW_SEG 8192   /* elements per workgroup in the multi-pass row ops */
#define ROW_SINGLE 16384 /* the longest row done by one workgroup in one pass */

enum { MODE_SUM = 0, MODE_MAX = 1, MODE_SUMEXP = 2, MODE_SOFTMAX = 3, MODE_WRITE = 4 };

typedef struct { uint32_t n, a_off, b_off, c_off; float alpha; } elem_push;
typedef struct {
    uint32_t m, n, k, a_off, b_off, c_off, lda, ldb, ldc, trans_a, trans_b;
    float alpha, beta;
} mm_push;
typedef struct { uint32_t total, len, seg, segs, a_off, lda, c_off, c_rs, b_off, b_rs; } rows_push;

/* The normalised shape of an op and the bytes each operand spans. */
typedef struct op_plan {
    uint64_t m, n, k, lda, ldb, ldc;
    uint64_t need[3];          /* bytes of a, b, c */
    int uses[3];
    uint64_t mb, kb;           /* matmul: rows and K per dispatch */
    int multi;                 /* rows ops: multi-pass */
} op_plan;

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The square tile of C a matmul workgroup covers: matmul.comp (GPUs) or
 * matmul_reg.comp (CPU implementations). */
static uint64_t mm_tile(const vk_dev *d) { return d->cpu ? 128 : 64; }
static uint64_t cdiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/* bytes of rows x cols f32 with row stride ld; 0 on overflow */
static int span_bytes(uint64_t rows, uint64_t cols, uint64_t ld, uint64_t *out) {
    uint64_t e;
    if (__builtin_mul_overflow(rows - 1, ld, &e) || __builtin_add_overflow(e, cols, &e) || e > (UINT64_MAX >> 3))
        return 0;
    *out = 4 * e;
    return 1;
}

static int plan_matmul(vk_dev *d, const stark_dev_op *op, op_plan *p) {
    uint64_t m = op->m, n = op->n, k = op->k;
    if (m == 0 || n == 0 || k == 0 || m > (1ull << 31) || n > (1ull << 31) || k > (1ull << 31))
        return vk_err(STARK_DEV_INVALID, "matmul: shape %llux%llux%llu", (unsigned long long)m, (unsigned long long)n,
                      (unsigned long long)k);
    int ta = op->trans_a != 0, tb = op->trans_b != 0;
    uint64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    p->lda = op->lda ? op->lda : ac;
    p->ldb = op->ldb ? op->ldb : bc;
    p->ldc = op->ldc ? op->ldc : n;
    if (p->lda < ac || p->ldb < bc || p->ldc < n)
        return vk_err(STARK_DEV_INVALID, "matmul: leading dimensions %llu/%llu/%llu below the row lengths %llu/%llu/%llu",
                      (unsigned long long)p->lda, (unsigned long long)p->ldb, (unsigned long long)p->ldc,
                      (unsigned long long)ac, (unsigned long long)bc, (unsigned long long)n);
    if (!span_bytes(ar, ac, p->lda, &p->need[0]) || !span_bytes(br, bc, p->ldb, &p->need[1]) ||
        !span_bytes(m, n, p->ldc, &p->need[2]))
        return vk_err(STARK_DEV_INVALID, "matmul: operands too large");
    p->uses[0] = p->uses[1] = p->uses[2] = 1;
    p->m = m, p->n = n, p->k = k;

    /* Blocks: kb rows of K and mb rows of C per dispatch, every binding within R. */
    uint64_t R = d->range_elems, lda = p->lda, ldb = p->ldb, ldc = p->ldc;
    uint64_t max_n = (uint64_t)d->max_groups[0] * mm_tile(d), max_m = (uint64_t)d->max_groups[1] * mm_tile(d);
    if (n > max_n || n > R)
        return vk_err(STARK_DEV_TOO_LARGE, "matmul: n = %llu columns is over what one dispatch can cover (%llu)",
                      (unsigned long long)n, (unsigned long long)min64(max_n, R));
    uint64_t kb = min64(k, MM_KMAX);
    if (!tb) {
        kb = min64(kb, (R - n) / ldb + 1);
    } else {
        if ((n - 1) > (R - 1) / ldb)
            return vk_err(STARK_DEV_TOO_LARGE,
                          "matmul: B^T spans %llu rows of stride %llu, more than one binding holds (%llu bytes): "
                          "B must fit one binding's range",
                          (unsigned long long)n, (unsigned long long)ldb, (unsigned long long)d->max_range);
        kb = min64(kb, R - (n - 1) * ldb);
    }
    kb = ta ? min64(kb, (R - 1) / lda + 1) : min64(kb, R);
    uint64_t mb = min64(m, (R - n) / ldc + 1);
    mb = ta ? min64(mb, R - (kb - 1) * lda) : min64(mb, (R - kb) / lda + 1);
    mb = min64(mb, max_m);
    if (kb == 0 || mb == 0)
        return vk_err(STARK_DEV_TOO_LARGE, "matmul: no block of A/B/C fits one binding (%llu bytes)",
                      (unsigned long long)d->max_range);
    p->mb = mb;
    p->kb = kb;
    return STARK_DEV_OK;
}

/* Validates op (without touching its buffers) and plans it. */
static int plan_op(vk_dev *d, const stark_dev_op *op, op_plan *p) {
    memset(p, 0, sizeof *p);
    if (op->kind < STARK_OP_FILL || op->kind > STARK_OP_SOFTMAX)
        return vk_err(STARK_DEV_UNSUPPORTED, "op kind %u is not offered", op->kind);
    if (op->dtype != STARK_DT_F32)
        return vk_err(STARK_DEV_UNSUPPORTED, "dtype %u (the vulkan backend computes f32 only)", op->dtype);
    switch (op->kind) {
    case STARK_OP_FILL: case STARK_OP_COPY: case STARK_OP_SCALE: case STARK_OP_AXPY:
    case STARK_OP_ADD: case STARK_OP_MUL: case STARK_OP_RELU:
        if (op->n > (UINT64_MAX >> 3)) return vk_err(STARK_DEV_INVALID, "%llu elements", (unsigned long long)op->n);
        p->n = op->n;
        p->uses[2] = 1;
        p->uses[0] = op->kind != STARK_OP_FILL;
        p->uses[1] = op->kind == STARK_OP_ADD || op->kind == STARK_OP_MUL;
        for (int i = 0; i < 3; i++) p->need[i] = p->uses[i] ? 4 * op->n : 0;
        return STARK_DEV_OK;
    case STARK_OP_REDUCE_SUM: case STARK_OP_REDUCE_MAX: case STARK_OP_SOFTMAX: {
        p->m = op->m ? op->m : 1;
        p->n = op->n;
        if (p->n == 0) return vk_err(STARK_DEV_INVALID, "rows of 0 elements");
        p->lda = op->lda ? op->lda : p->n;
        if (p->lda < p->n) return vk_err(STARK_DEV_INVALID, "lda %llu < n %llu", (unsigned long long)p->lda, (unsigned long long)p->n);
        if (!span_bytes(p->m, p->n, p->lda, &p->need[0])) return vk_err(STARK_DEV_INVALID, "rows too large");
        p->uses[0] = p->uses[2] = 1;
        if (op->kind == STARK_OP_SOFTMAX) {
            p->ldc = op->ldc ? op->ldc : p->n;
            if (p->ldc < p->n) return vk_err(STARK_DEV_INVALID, "softmax: ldc %llu < n %llu", (unsigned long long)p->ldc, (unsigned long long)p->n);
            if (!span_bytes(p->m, p->n, p->ldc, &p->need[2])) return vk_err(STARK_DEV_INVALID, "rows too large");
        } else {
            if (!span_bytes(1, p->m, 1, &p->need[2])) return vk_err(STARK_DEV_INVALID, "rows too large");
        }
        p->multi = p->n > ROW_SINGLE;
        return STARK_DEV_OK;
    }
    default:
        return plan_matmul(d, op, p);
    }
}

/* ---- elementwise ---- */

static int run_elem(vk_dev *d, vk_ctx *c, const stark_dev_op *op, vk_buf *const v[3], uint64_t n) {
    int st = STARK_DEV_OK;
    uint64_t vec4s = d->cpu ? 4 : 1; /* vec4s per invocation in elem.comp's VEC mode */
    for (uint64_t i = 0; i < n && !st; i += d->range_elems) {
        uint64_t len = min64(d->range_elems, n - i);
        elem_push pc = {.n = (uint32_t)len, .alpha = (float)op->alpha};
        vk_bind b[3];
        vk_bind_at(d, v[2], op->c.offset + 4 * i, 4 * len, &b[2], &pc.c_off);
        if (v[0]) vk_bind_at(d, v[0], op->a.offset + 4 * i, 4 * len, &b[0], &pc.a_off);
        else b[0] = b[2], pc.a_off = pc.c_off;
        if (v[1]) vk_bind_at(d, v[1], op->b.offset + 4 * i, 4 * len, &b[1], &pc.b_off);
        else b[1] = b[0], pc.b_off = pc.a_off;
        /* vec4 access when every view starts 16-byte aligned within its (16-byte aligned) binding */
        int vec = (pc.a_off | pc.b_off | pc.c_off) % 4 == 0;
        uint64_t inv = vec ? cdiv(len / 4, vec4s) : len;
        if (inv < 3) inv = 3; /* the tail (n % 4 floats) is done by invocations 0..2 */
        uint64_t groups = cdiv(inv, ELEM_WG);
        uint32_t gx = (uint32_t)min64(groups, d->max_groups[0]);
        VkPipeline pipe;
        if (!(st = vk_pipeline(d, PIPE_ELEM_OF(op->kind, vec), &pipe)))
            st = vk_rec_dispatch(d, c, pipe, 3, b, &pc, sizeof pc, gx, (uint32_t)cdiv(groups, gx), 1);
    }
    return st;
}

/* ---- rows ---- */

/* One pass of rows.comp over rows x len elements of a (row stride lda),
 * seg elements per workgroup. c gets, per row (stride c_rs), len elements
 * (c_elem: WRITE, SOFTMAX) or one partial per segment; b holds per-row
 * stats (stride b_rs: max, sum). Split into dispatches whose bindings fit. */
typedef struct rows_pass {
    uint32_t mode;
    const vk_buf *a; uint64_t a_byte, lda;
    const vk_buf *b; uint64_t b_byte, b_rs;
    const vk_buf *c; uint64_t c_byte, c_rs;
    uint64_t rows, len, seg;
    int c_elem;
} rows_pass;

static int rows_dispatch(vk_dev *d, vk_ctx *c, const rows_pass *p, uint64_t r0, uint64_t nr, uint64_t j0, uint64_t len) {
    VkPipeline pipe;
    int st = vk_pipeline(d, PIPE_ROWS + (int)p->mode, &pipe);
    if (st) return st;
    uint64_t segs = cdiv(len, p->seg), cext = p->c_elem ? len : segs;
    uint64_t c_first = p->c_elem ? j0 : j0 / p->seg; /* j0 is a multiple of seg */
    rows_push pc = {.total = (uint32_t)(nr * segs), .len = (uint32_t)len, .seg = (uint32_t)p->seg,
                    .segs = (uint32_t)segs, .lda = nr > 1 ? (uint32_t)p->lda : 0, .c_rs = nr > 1 ? (uint32_t)p->c_rs : 0,
                    .b_rs = nr > 1 ? (uint32_t)p->b_rs : 0};
    vk_bind b[3];
    vk_bind_at(d, p->a, p->a_byte + 4 * (r0 * p->lda + j0), 4 * ((nr - 1) * p->lda + len), &b[0], &pc.a_off);
    vk_bind_at(d, p->c, p->c_byte + 4 * (r0 * p->c_rs + c_first), 4 * ((nr - 1) * p->c_rs + cext), &b[2], &pc.c_off);
    if (p->b) vk_bind_at(d, p->b, p->b_byte + 4 * r0 * p->b_rs, 4 * ((nr - 1) * p->b_rs + 2), &b[1], &pc.b_off);
    else b[1] = b[0], pc.b_off = pc.a_off;
    uint32_t gx = (uint32_t)min64(pc.total, d->max_groups[0]);
    uint32_t gy = (uint32_t)cdiv(pc.total, gx);
    return vk_rec_dispatch(d, c, pipe, 3, b, &pc, sizeof pc, gx, gy, 1);
}

static int run_rows(vk_dev *d, vk_ctx *c, const rows_pass *p) {
    uint64_t R = d->range_elems, segs = cdiv(p->len, p->seg), cext = p->c_elem ? p->len : segs;
    int st = STARK_DEV_OK;
    if (p->len <= R && cext <= R) { /* blocks of whole rows */
        uint64_t rpc = p->rows;
        if (p->lda) rpc = min64(rpc, (R - p->len) / p->lda + 1);
        if (p->c_rs) rpc = min64(rpc, (R - cext) / p->c_rs + 1);
        if (p->b && p->b_rs) rpc = min64(rpc, (R - 2) / p->b_rs + 1);
        uint64_t maxw = min64((uint64_t)d->max_groups[0] * d->max_groups[1], 1ull << 31);
        rpc = min64(rpc, maxw / segs);
        if (rpc == 0) rpc = 1;
        for (uint64_t r0 = 0; r0 < p->rows && !st; r0 += rpc)
            st = rows_dispatch(d, c, p, r0, min64(rpc, p->rows - r0), 0, p->len);
        return st;
    }
    /* rows longer than a binding: each row in pieces of whole segments */
    uint64_t piece = (R / p->seg) * p->seg;
    for (uint64_t r = 0; r < p->rows && !st; r++)
        for (uint64_t j0 = 0; j0 < p->len && !st; j0 += piece)
            st = rows_dispatch(d, c, p, r, 1, j0, min64(piece, p->len - j0));
    return st;
}

static uint64_t rows_scratch(const vk_dev *d, const stark_dev_op *op, const op_plan *p, uint64_t *partials_at) {
    if (!p->multi) return 0;
    uint64_t segs = cdiv(p->n, ROW_SEG);
    *partials_at = op->kind == STARK_OP_SOFTMAX ? ((8 * p->m + d->bind_align - 1) & ~(d->bind_align - 1)) : 0;
    return *partials_at + 4 * p->m * segs;
}

static int run_rows_op(vk_dev *d, vk_ctx *c, const stark_dev_op *op, const op_plan *p, vk_buf *const v[3]) {
    int st;
    int softmax = op->kind == STARK_OP_SOFTMAX;
    uint32_t red = op->kind == STARK_OP_REDUCE_MAX ? MODE_MAX : MODE_SUM;
    if (!p->multi) {
        rows_pass rp = {.mode = softmax ? MODE_SOFTMAX : red, .a = v[0], .a_byte = op->a.offset, .lda = p->lda,
                        .c = v[2], .c_byte = op->c.offset, .c_rs = softmax ? p->ldc : 1,
                        .rows = p->m, .len = p->n, .seg = p->n, .c_elem = softmax};
        return run_rows(d, c, &rp);
    }
    uint64_t segs = cdiv(p->n, ROW_SEG), at = 0;
    rows_scratch(d, op, p, &at);
    const vk_buf *s = &c->scratch;
    /* partials of each segment of each row: scratch[at + (r * segs + s)] */
    rows_pass part = {.mode = softmax ? MODE_MAX : red, .a = v[0], .a_byte = op->a.offset, .lda = p->lda,
                      .c = s, .c_byte = at, .c_rs = segs, .rows = p->m, .len = p->n, .seg = ROW_SEG};
    rows_pass comb = {.mode = part.mode, .a = s, .a_byte = at, .lda = segs, .c = v[2], .c_byte = op->c.offset,
                      .c_rs = 1, .rows = p->m, .len = segs, .seg = segs};
    if (!softmax) {
        if ((st = run_rows(d, c, &part))) return st;
        vk_rec_barrier(d, c);
        return run_rows(d, c, &comb);
    }
    /* softmax: stats[2r] = max, stats[2r+1] = sum of exp(x - max), at scratch 0 */
    comb.c = s, comb.c_byte = 0, comb.c_rs = 2;
    if ((st = run_rows(d, c, &part))) return st;           /* partial maxima */
    vk_rec_barrier(d, c);
    if ((st = run_rows(d, c, &comb))) return st;           /* row maxima */
    vk_rec_barrier(d, c);
    part.mode = MODE_SUMEXP, part.b = s, part.b_byte = 0, part.b_rs = 2;
    if ((st = run_rows(d, c, &part))) return st;           /* partial sums */
    vk_rec_barrier(d, c);
    comb.mode = MODE_SUM, comb.c_byte = 4;
    if ((st = run_rows(d, c, &comb))) return st;           /* row sums */
    vk_rec_barrier(d, c);
    rows_pass out = {.mode = MODE_WRITE, .a = v[0], .a_byte = op->a.offset, .lda = p->lda, .b = s, .b_byte = 0, .b_rs = 2,
                     .c = v[2], .c_byte = op->c.offset, .c_rs = p->ldc, .rows = p->m, .len = p->n, .seg = ROW_SEG,
                     .c_elem = 1};
    return run_rows(d, c, &out);
}

/* ---- matmul ---- */

static int run_matmul(vk_dev *d, vk_ctx *c, const stark_dev_op *op, const op_plan *p, vk_buf *const v[3]) {
    VkPipeline pipe;
    int st = vk_pipeline(d, d->cpu ? PIPE_MATMUL_REG : PIPE_MATMUL, &pipe);
    if (st) return st;
    int ta = op->trans_a != 0, tb = op->trans_b != 0;
    uint64_t lda = p->lda, ldb = p->ldb, ldc = p->ldc, n = p->n;
    for (uint64_t k0 = 0; k0 < p->k && !st; k0 += p->kb) {
        uint64_t kl = min64(p->kb, p->k - k0);
        if (k0 > 0) vk_rec_barrier(d, c); /* the next panel accumulates into C */
        for (uint64_t i0 = 0; i0 < p->m && !st; i0 += p->mb) {
            uint64_t ml = min64(p->mb, p->m - i0);
            /* a stride is only multiplied when its index runs past 0, and then it is below the range */
            mm_push pc = {.m = (uint32_t)ml, .n = (uint32_t)n, .k = (uint32_t)kl,
                          .lda = lda <= UINT32_MAX ? (uint32_t)lda : 0, .ldb = ldb <= UINT32_MAX ? (uint32_t)ldb : 0,
                          .ldc = ldc <= UINT32_MAX ? (uint32_t)ldc : 0, .trans_a = ta, .trans_b = tb,
                          .alpha = (float)op->alpha, .beta = k0 == 0 ? (float)op->beta : 1.0f};
            uint64_t a0 = ta ? k0 * lda + i0 : i0 * lda + k0, an = ta ? (kl - 1) * lda + ml : (ml - 1) * lda + kl;
            uint64_t b0 = tb ? k0 : k0 * ldb, bn = tb ? (n - 1) * ldb + kl : (kl - 1) * ldb + n;
            vk_bind b[3];
            vk_bind_at(d, v[0], op->a.offset + 4 * a0, 4 * an, &b[0], &pc.a_off);
            vk_bind_at(d, v[1], op->b.offset + 4 * b0, 4 * bn, &b[1], &pc.b_off);
            vk_bind_at(d, v[2], op->c.offset + 4 * i0 * ldc, 4 * ((ml - 1) * ldc + n), &b[2], &pc.c_off);
            st = vk_rec_dispatch(d, c, pipe, 3, b, &pc, sizeof pc, (uint32_t)cdiv(n, mm_tile(d)),
                                 (uint32_t)cdiv(ml, mm_tile(d)), 1);
        }
    }
    return st;
}

/* ---- entries ---- */

int32_t vk_op_supported(const stark_dev_op *op) {
    if (!op || op->struct_size < sizeof *op) return vk_err(STARK_DEV_INVALID, "op_supported: NULL op or struct_size too small");
    vk_dev *d;
    int st = vk_get_dev(op->device, &d);
    if (st) return st;
    op_plan p;
    return plan_op(d, op, &p);
}

int32_t vk_launch_op(const stark_dev_op *op) {
    if (!op || op->struct_size < sizeof *op) return vk_err(STARK_DEV_INVALID, "launch_op: NULL op or struct_size too small");
    vk_dev *d;
    int st = vk_get_dev(op->device, &d);
    if (st) return st;
    op_plan p;
    if ((st = plan_op(d, op, &p)) || (st = vk_check_stream(d, op->stream))) return st;
    static const char *what[3] = {"a", "b", "c"};
    const stark_dev_buf *views[3] = {&op->a, &op->b, &op->c};
    vk_buf *v[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3 && !st; i++)
        if (p.uses[i]) st = vk_view(d, views[i], p.need[i], 1, &v[i], what[i]);
    int empty = op->kind <= STARK_OP_RELU && p.n == 0;
    if (!st && !empty) {
        vk_ctx *c;
        if (!(st = vk_ctx_get(d, &c))) {
            uint64_t at, scratch = op->kind >= STARK_OP_REDUCE_SUM ? rows_scratch(d, op, &p, &at) : 0;
            if (!(scratch && (st = vk_ctx_scratch(d, c, scratch))) && !(st = vk_rec_begin(d, c))) {
                if (op->kind <= STARK_OP_RELU) st = run_elem(d, c, op, v, p.n);
                else if (op->kind == STARK_OP_MATMUL) st = run_matmul(d, c, op, &p, v);
                else st = run_rows_op(d, c, op, &p, v);
                if (!st) st = vk_rec_submit(d, c);
            }
            vk_ctx_put(d, c);
        }
    }
    for (int i = 0; i < 3; i++) vk_buf_unref(d, v[i]);
    return st;
}
