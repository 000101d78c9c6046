/*
 * kernels.cu - the built-in ops of abi/stark_device.h (f32) for STARK's GPU
 * plugins. One source, compiled by:
 *   - NVRTC at the cuda plugin's init (__CUDACC_RTC__),
 *   - hiprtc at the rocm plugin's init (__HIPCC_RTC__ / __HIP__),
 *   - clang to PTX for sm_52, the cuda plugin's fallback when NVRTC is
 *     missing (kernels_sm52.ptx, `make plugin-cuda-ptx`),
 *   - the host C++ compiler for the CPU emulator of the plugin tests (SK_EMU).
 * The plugins include it with SK_HOST defined for the argument structs.
 * No #include: NVRTC and hiprtc take it as it is.
 *
 * Every kernel takes one argument, a struct (its layout is the same on the
 * host and the device: pointers and 64-bit integers first, then 32-bit
 * fields), and is launched with blockDim.x = 256 on a 1-D grid.
 */

/* ---- argument structs (shared with the host) ---------------------------- */

typedef struct sk_ew_args {
    float *c;
    const float *a;
    const float *b;
    unsigned long long n;
    float alpha;
    int vec; /* 1: a, b and c are 16-byte aligned: float4 accesses */
} sk_ew_args;

typedef struct sk_rows_args {
    float *c;
    const float *a;
    unsigned long long m, n, lda, ldc;
    unsigned long long parts; /* reduce: blocks per row; > 1: partial results are combined with atomics into c */
    unsigned long long chunk; /* reduce: elements of a row per block */
} sk_rows_args;

typedef struct sk_mm_args {
    float *c;
    const float *a;
    const float *b;
    unsigned long long m, n, k, lda, ldb, ldc;
    float alpha, beta;
    int vec_a, vec_b, vec_c; /* 1: base 16-byte aligned and leading dimension a multiple of 4 */
    int pad_;
} sk_mm_args;

#define SK_THREADS 256

#ifndef SK_HOST

/* ---- one prelude per compiler -------------------------------------------- */

#if defined(SK_EMU)
/* the emulator (plugins/cuda/test/mockgpu.cc) defined everything */

#elif defined(__HIPCC_RTC__) || defined(__HIP__)
#define SK_DEV static __device__ inline
#define SK_KERNEL(name, T, minblocks) extern "C" __global__ void __launch_bounds__(SK_THREADS) name(const T p)
#define SK_TID ((unsigned)threadIdx.x)
#define SK_BID ((unsigned long long)blockIdx.x)
#define SK_BDIM ((unsigned)blockDim.x)
#define SK_GDIM ((unsigned long long)gridDim.x)
#define SK_SYNC() __syncthreads()
#define SK_WARP ((int)warpSize)
#define SK_SHFL_XOR(v, o) __shfl_xor((v), (o))
#define SK_EXPF(x) expf(x)
#define SK_ALIGN16 __attribute__((aligned(16)))
#define SK_ATOMIC_ADDF(p, v) atomicAdd((p), (v))
#define SK_ATOMIC_MAXI(p, v) atomicMax((p), (v))
#define SK_ATOMIC_MINU(p, v) atomicMin((p), (v))
#define SK_I2F(i) __int_as_float(i)
#define SK_F2I(f) __float_as_int(f)
#define SK_F2U(f) __float_as_uint(f)
typedef float sk_f4 __attribute__((ext_vector_type(4))); /* HIP-Clang: no header needed */
SK_DEV sk_f4 sk_make_f4(float x, float y, float z, float w) { return (sk_f4){x, y, z, w}; }

#elif defined(__CUDACC_RTC__) || defined(__NVCC__)
#define SK_DEV static __device__ __forceinline__
#define SK_KERNEL(name, T, minblocks) extern "C" __global__ void __launch_bounds__(SK_THREADS, minblocks) name(const T p)
#define SK_TID ((unsigned)threadIdx.x)
#define SK_BID ((unsigned long long)blockIdx.x)
#define SK_BDIM ((unsigned)blockDim.x)
#define SK_GDIM ((unsigned long long)gridDim.x)
#define SK_SYNC() __syncthreads()
#define SK_WARP 32
#define SK_SHFL_XOR(v, o) __shfl_xor_sync(0xffffffffu, (v), (o))
#define SK_EXPF(x) expf(x)
#define SK_ALIGN16 __align__(16)
#define SK_ATOMIC_ADDF(p, v) atomicAdd((p), (v))
#define SK_ATOMIC_MAXI(p, v) atomicMax((p), (v))
#define SK_ATOMIC_MINU(p, v) atomicMin((p), (v))
#define SK_I2F(i) __int_as_float(i)
#define SK_F2I(f) __float_as_int(f)
#define SK_F2U(f) __float_as_uint(f)
typedef float4 sk_f4; /* NVRTC's built-in vector type */
#define sk_make_f4 make_float4

#elif defined(__clang__) && defined(__CUDA__)
/* clang -x cuda --cuda-device-only -nocudainc -nocudalib: no CUDA headers */
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define SK_DEV static __device__ inline __attribute__((always_inline))
#define SK_KERNEL(name, T, minblocks)                                                                                  \
    extern "C" __global__ void __attribute__((launch_bounds(SK_THREADS, minblocks))) name(const T p)
#define SK_TID ((unsigned)__nvvm_read_ptx_sreg_tid_x())
#define SK_BID ((unsigned long long)(unsigned)__nvvm_read_ptx_sreg_ctaid_x())
#define SK_BDIM ((unsigned)__nvvm_read_ptx_sreg_ntid_x())
#define SK_GDIM ((unsigned long long)(unsigned)__nvvm_read_ptx_sreg_nctaid_x())
#define SK_SYNC() __syncthreads()
#define SK_WARP 32
typedef float sk_f4 __attribute__((ext_vector_type(4))); /* a vector type: 16-byte loads and stores */
SK_DEV sk_f4 sk_make_f4(float x, float y, float z, float w) { return (sk_f4){x, y, z, w}; }
SK_DEV float sk_shfl_xor(float v, int o) { return __nvvm_shfl_sync_bfly_f32(0xffffffffu, v, o, 0x1f); }
SK_DEV double sk_shfl_xor(double v, int o) {
    long long b = __nvvm_bitcast_d2ll(v);
    int lo = __nvvm_shfl_sync_bfly_i32(0xffffffffu, (int)b, o, 0x1f);
    int hi = __nvvm_shfl_sync_bfly_i32(0xffffffffu, (int)(b >> 32), o, 0x1f);
    return __nvvm_bitcast_ll2d(((long long)hi << 32) | (unsigned)lo);
}
#define SK_SHFL_XOR(v, o) sk_shfl_xor((v), (o))
/* 16-byte shared memory loads: clang splits a vector load whose elements
 * are used one by one into four scalar loads; ld.shared.v4 keeps it one. */
SK_DEV sk_f4 sk_lds4(const float *p) {
    float x, y, z, w;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %4; ld.shared.v4.f32 {%0, %1, %2, %3}, [t]; }"
        : "=f"(x), "=f"(y), "=f"(z), "=f"(w)
        : "l"(p)
        : "memory");
    return sk_make_f4(x, y, z, w);
}
#define SK_LDS4(p) sk_lds4(p)
/* exp(x) = 2^(x log2 e): ex2.approx has a relative error near 2^-22 */
#define SK_EXPF(x) __nvvm_ex2_approx_f((x) * 1.4426950408889634f)
#define SK_ALIGN16 __attribute__((aligned(16)))
#define SK_ATOMIC_ADDF(p, v) __nvvm_atom_add_gen_f((p), (v))
#define SK_ATOMIC_MAXI(p, v) __nvvm_atom_max_gen_i((p), (v))
#define SK_ATOMIC_MINU(p, v) __nvvm_atom_min_gen_ui((p), (v))
#define SK_I2F(i) __nvvm_bitcast_i2f(i)
#define SK_F2I(f) __nvvm_bitcast_f2i(f)
#define SK_F2U(f) ((unsigned)__nvvm_bitcast_f2i(f))

#else
#error "kernels.cu: unknown compiler (NVRTC, hiprtc, clang CUDA or SK_EMU)"
#endif

#ifndef SK_LDS4
#define SK_LDS4(p) (*(const sk_f4 *)(p))
#endif
#define SK_NEG_INF SK_I2F((int)0xff800000u)

/* max that propagates NaN (as Go's max does) */
SK_DEV float sk_maxf(float x, float y) { return (x > y || x != x) ? x : y; }

/* ---- elementwise: FILL SCALE AXPY ADD MUL RELU ----------------------------
 * (COPY is a device-to-device copy.) Grid-stride loops over n; sk_f4
 * accesses when every view is 16-byte aligned, then the tail. */

template <int OP> SK_DEV float sk_ew1(float a, float b, float c, float alpha) {
    if (OP == 1) /* FILL */
        return alpha;
    if (OP == 3) /* SCALE */
        return alpha * a;
    if (OP == 4) /* AXPY */
        return alpha * a + c;
    if (OP == 5) /* ADD */
        return a + b;
    if (OP == 6) /* MUL */
        return a * b;
    return a < 0.0f ? 0.0f : a; /* RELU (NaN stays NaN) */
}

template <int OP> SK_DEV void sk_ew(const sk_ew_args &p) {
    const bool ua = OP != 1, ub = OP == 5 || OP == 6, uc = OP == 4;
    const unsigned long long stride = SK_GDIM * SK_BDIM;
    const unsigned long long t0 = SK_BID * SK_BDIM + SK_TID;
    unsigned long long done = 0;
    if (p.vec) {
        const unsigned long long n4 = p.n >> 2;
        sk_f4 *c4 = (sk_f4 *)p.c;
        const sk_f4 *a4 = (const sk_f4 *)p.a;
        const sk_f4 *b4 = (const sk_f4 *)p.b;
        for (unsigned long long i = t0; i < n4; i += stride) {
            sk_f4 va = sk_make_f4(0.0f, 0.0f, 0.0f, 0.0f), vb = va, vc = va;
            if (ua)
                va = a4[i];
            if (ub)
                vb = b4[i];
            if (uc)
                vc = c4[i];
            c4[i] = sk_make_f4(sk_ew1<OP>(va.x, vb.x, vc.x, p.alpha), sk_ew1<OP>(va.y, vb.y, vc.y, p.alpha),
                                sk_ew1<OP>(va.z, vb.z, vc.z, p.alpha), sk_ew1<OP>(va.w, vb.w, vc.w, p.alpha));
        }
        done = n4 << 2;
    }
    for (unsigned long long i = done + t0; i < p.n; i += stride) {
        const float va = ua ? p.a[i] : 0.0f;
        const float vb = ub ? p.b[i] : 0.0f;
        const float vc = uc ? p.c[i] : 0.0f;
        p.c[i] = sk_ew1<OP>(va, vb, vc, p.alpha);
    }
}

SK_KERNEL(stark_fill, sk_ew_args, 1) { sk_ew<1>(p); }
SK_KERNEL(stark_scale, sk_ew_args, 1) { sk_ew<3>(p); }
SK_KERNEL(stark_axpy, sk_ew_args, 1) { sk_ew<4>(p); }
SK_KERNEL(stark_add, sk_ew_args, 1) { sk_ew<5>(p); }
SK_KERNEL(stark_mul, sk_ew_args, 1) { sk_ew<6>(p); }
SK_KERNEL(stark_relu, sk_ew_args, 1) { sk_ew<7>(p); }

/* ---- block reductions ----------------------------------------------------
 * Called by every thread of the block (block-uniform control flow); sh
 * holds one value per warp (at most 32 warps). Every thread gets the
 * result. The first barrier makes sh safe to reuse across calls. */

SK_DEV double sk_block_sum(double v, double *sh) {
    for (int o = SK_WARP / 2; o > 0; o >>= 1)
        v += SK_SHFL_XOR(v, o);
    const int lane = (int)(SK_TID % (unsigned)SK_WARP), w = (int)(SK_TID / (unsigned)SK_WARP);
    const int nw = (int)((SK_BDIM + (unsigned)SK_WARP - 1) / (unsigned)SK_WARP);
    SK_SYNC();
    if (lane == 0)
        sh[w] = v;
    SK_SYNC();
    double t = 0.0;
    for (int i = 0; i < nw; i++)
        t += sh[i];
    return t;
}

SK_DEV float sk_block_sumf(float v, float *sh) {
    for (int o = SK_WARP / 2; o > 0; o >>= 1)
        v += SK_SHFL_XOR(v, o);
    const int lane = (int)(SK_TID % (unsigned)SK_WARP), w = (int)(SK_TID / (unsigned)SK_WARP);
    const int nw = (int)((SK_BDIM + (unsigned)SK_WARP - 1) / (unsigned)SK_WARP);
    SK_SYNC();
    if (lane == 0)
        sh[w] = v;
    SK_SYNC();
    float t = 0.0f;
    for (int i = 0; i < nw; i++)
        t += sh[i];
    return t;
}

SK_DEV float sk_block_maxf(float v, float *sh) {
    for (int o = SK_WARP / 2; o > 0; o >>= 1)
        v = sk_maxf(v, SK_SHFL_XOR(v, o));
    const int lane = (int)(SK_TID % (unsigned)SK_WARP), w = (int)(SK_TID / (unsigned)SK_WARP);
    const int nw = (int)((SK_BDIM + (unsigned)SK_WARP - 1) / (unsigned)SK_WARP);
    SK_SYNC();
    if (lane == 0)
        sh[w] = v;
    SK_SYNC();
    float t = sh[0];
    for (int i = 1; i < nw; i++)
        t = sk_maxf(t, sh[i]);
    return t;
}

/* atomic max of floats through the integer orderings: non-negative floats
 * order as signed ints, negative ones reversed as unsigned ints. c must
 * start at -inf (or any float). NaN wins. */
SK_DEV void sk_atomic_maxf(float *c, float v) {
    if (v != v)
        v = SK_I2F(0x7fffffff); /* one NaN, above every float as a signed int */
    v = v + 0.0f;               /* -0 -> +0 */
    if (v >= 0.0f || v != v)
        SK_ATOMIC_MAXI((int *)c, SK_F2I(v));
    else
        SK_ATOMIC_MINU((unsigned *)c, SK_F2U(v));
}

/* ---- REDUCE_SUM / REDUCE_MAX ----------------------------------------------
 * Work item w = (row, part): a block reduces elements [part*chunk,
 * (part+1)*chunk) of a row. With one part per row it writes c[row]; with
 * more, the host filled c with 0 / -inf and the parts combine atomically.
 * Sums accumulate in double. */

template <int MAX> SK_DEV void sk_reduce(const sk_rows_args &p) {
    __shared__ double shd[32];
    __shared__ float shf[32];
    const unsigned long long work = p.m * p.parts;
    for (unsigned long long w = SK_BID; w < work; w += SK_GDIM) {
        const unsigned long long r = w / p.parts, part = w - r * p.parts;
        const unsigned long long lo = part * p.chunk;
        const unsigned long long hi = lo + p.chunk < p.n ? lo + p.chunk : p.n;
        const float *row = p.a + r * p.lda;
        if (MAX) {
            float v = SK_NEG_INF;
            for (unsigned long long j = lo + SK_TID; j < hi; j += SK_BDIM)
                v = sk_maxf(v, row[j]);
            v = sk_block_maxf(v, shf);
            if (SK_TID == 0) {
                if (p.parts == 1)
                    p.c[r] = v;
                else
                    sk_atomic_maxf(p.c + r, v);
            }
        } else {
            double v = 0.0;
            for (unsigned long long j = lo + SK_TID; j < hi; j += SK_BDIM)
                v += (double)row[j];
            v = sk_block_sum(v, shd);
            if (SK_TID == 0) {
                if (p.parts == 1)
                    p.c[r] = (float)v;
                else
                    SK_ATOMIC_ADDF(p.c + r, (float)v);
            }
        }
    }
}

SK_KERNEL(stark_reduce_sum, sk_rows_args, 1) { sk_reduce<0>(p); }
SK_KERNEL(stark_reduce_max, sk_rows_args, 1) { sk_reduce<1>(p); }

/* ---- SOFTMAX: a block per row (grid-stride over rows) --------------------- */

SK_KERNEL(stark_softmax, sk_rows_args, 1) {
    __shared__ float sh[32];
    for (unsigned long long r = SK_BID; r < p.m; r += SK_GDIM) {
        const float *row = p.a + r * p.lda;
        float *out = p.c + r * p.ldc;
        float mx = SK_NEG_INF;
        for (unsigned long long j = SK_TID; j < p.n; j += SK_BDIM)
            mx = sk_maxf(mx, row[j]);
        mx = sk_block_maxf(mx, sh);
        float s = 0.0f;
        for (unsigned long long j = SK_TID; j < p.n; j += SK_BDIM)
            s += SK_EXPF(row[j] - mx);
        s = sk_block_sumf(s, sh);
        const float inv = 1.0f / s;
        for (unsigned long long j = SK_TID; j < p.n; j += SK_BDIM)
            out[j] = SK_EXPF(row[j] - mx) * inv;
    }
}

/* ---- MATMUL: C = alpha op(A) op(B) + beta C (row-major) -------------------
 * A 128x128 tile of C per block of 256 threads, each thread 8x8 outputs
 * (rows ty*4+{0..3} and 64+ty*4+{0..3}, the same for columns with tx), k
 * in steps of 8 through double-buffered shared memory: the next step's
 * tile is loaded from global memory into registers (one sk_f4 of A and
 * one of B per thread) while the current one is multiplied. Tiles are
 * stored k-major (As[k][i], Bs[k][j]) so that the inner loop reads two
 * sk_f4 of each; a transposed store goes through a padded row (+4) that
 * keeps it free of bank conflicts. Edges and unaligned operands take
 * checked scalar loads; beta 0 never reads C. Tiles are walked in groups
 * of 8 tile rows for L2 reuse. */

#define SK_BM 128
#define SK_BN 128
#define SK_BK 8
#define SK_PAD 4

/* four elements base[row*ld + col .. +3], zero outside rows x cols */
SK_DEV sk_f4 sk_load4(const float *base, unsigned long long row, unsigned long long rows, unsigned long long col,
                       unsigned long long cols, unsigned long long ld, int vec) {
    sk_f4 v = sk_make_f4(0.0f, 0.0f, 0.0f, 0.0f);
    if (row < rows) {
        const float *q = base + row * ld + col;
        if (vec && col + 4 <= cols) {
            v = *(const sk_f4 *)q;
        } else {
            if (col < cols)
                v.x = q[0];
            if (col + 1 < cols)
                v.y = q[1];
            if (col + 2 < cols)
                v.z = q[2];
            if (col + 3 < cols)
                v.w = q[3];
        }
    }
    return v;
}

template <int TA, int TB> SK_DEV void sk_sgemm(const sk_mm_args &p) {
    __shared__ SK_ALIGN16 float As[2][SK_BK][SK_BM + SK_PAD];
    __shared__ SK_ALIGN16 float Bs[2][SK_BK][SK_BN + SK_PAD];
    const int tid = (int)SK_TID;
    const int tx = tid & 15, ty = tid >> 4;

    const unsigned long long tiles_m = (p.m + SK_BM - 1) / SK_BM, tiles_n = (p.n + SK_BN - 1) / SK_BN;
    const unsigned long long bid = SK_BID, per_group = 8 * tiles_n;
    const unsigned long long first = (bid / per_group) * 8;
    const unsigned long long gsize = tiles_m - first < 8 ? tiles_m - first : 8;
    const unsigned long long in_group = bid % per_group;
    const unsigned long long row0 = (first + in_group % gsize) * SK_BM;
    const unsigned long long col0 = (in_group / gsize) * SK_BN;

    /* this thread's loads: A not transposed is 128 rows of 8 (row tid/2,
     * k (tid%2)*4), transposed 8 k-rows of 128 (k tid/32, row (tid%32)*4);
     * the same for B with rows and columns swapped. */
    const int a_r = TA ? (tid >> 5) : (tid >> 1);
    const int a_c = TA ? ((tid & 31) << 2) : ((tid & 1) << 2);
    const int b_r = TB ? (tid >> 1) : (tid >> 5);
    const int b_c = TB ? ((tid & 1) << 2) : ((tid & 31) << 2);

    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++)
            acc[i][j] = 0.0f;

    const unsigned long long ktiles = (p.k + SK_BK - 1) / SK_BK;
    sk_f4 ra, rb;

#define SK_LOAD_A(k0)                                                                                                  \
    (TA ? sk_load4(p.a, (k0) + a_r, p.k, row0 + a_c, p.m, p.lda, p.vec_a)                                              \
        : sk_load4(p.a, row0 + a_r, p.m, (k0) + a_c, p.k, p.lda, p.vec_a))
#define SK_LOAD_B(k0)                                                                                                  \
    (TB ? sk_load4(p.b, col0 + b_r, p.n, (k0) + b_c, p.k, p.ldb, p.vec_b)                                              \
        : sk_load4(p.b, (k0) + b_r, p.k, col0 + b_c, p.n, p.ldb, p.vec_b))
#define SK_STORE(S, buf, r, c, v, T)                                                                                   \
    do {                                                                                                               \
        if (T) {                                                                                                       \
            *(sk_f4 *)&S[buf][r][c] = v;                                                                              \
        } else {                                                                                                       \
            S[buf][(c) + 0][r] = v.x;                                                                                  \
            S[buf][(c) + 1][r] = v.y;                                                                                  \
            S[buf][(c) + 2][r] = v.z;                                                                                  \
            S[buf][(c) + 3][r] = v.w;                                                                                  \
        }                                                                                                              \
    } while (0)

    ra = SK_LOAD_A(0ull);
    rb = SK_LOAD_B(0ull);
    SK_STORE(As, 0, a_r, a_c, ra, TA);
    SK_STORE(Bs, 0, b_r, b_c, rb, !TB);
    SK_SYNC();

    for (unsigned long long t = 0; t < ktiles; ++t) {
        const int cur = (int)(t & 1);
        const bool more = t + 1 < ktiles;
        if (more) {
            ra = SK_LOAD_A((t + 1) * SK_BK);
            rb = SK_LOAD_B((t + 1) * SK_BK);
        }
#pragma unroll
        for (int kk = 0; kk < SK_BK; ++kk) {
            const sk_f4 a0 = SK_LDS4(&As[cur][kk][ty * 4]);
            const sk_f4 a1 = SK_LDS4(&As[cur][kk][ty * 4 + 64]);
            const sk_f4 b0 = SK_LDS4(&Bs[cur][kk][tx * 4]);
            const sk_f4 b1 = SK_LDS4(&Bs[cur][kk][tx * 4 + 64]);
            const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int j = 0; j < 8; j++)
                    acc[i][j] += av[i] * bv[j];
        }
        if (more) {
            SK_STORE(As, cur ^ 1, a_r, a_c, ra, TA);
            SK_STORE(Bs, cur ^ 1, b_r, b_c, rb, !TB);
        }
        SK_SYNC();
    }
#undef SK_LOAD_A
#undef SK_LOAD_B
#undef SK_STORE

    const float alpha = p.alpha, beta = p.beta;
#pragma unroll
    for (int i = 0; i < 8; i++) {
        const unsigned long long r = row0 + (unsigned long long)(i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
        if (r >= p.m)
            continue;
        float *crow = p.c + r * p.ldc;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const unsigned long long c0 = col0 + (unsigned long long)(h * 64 + tx * 4);
            float v0 = alpha * acc[i][h * 4 + 0], v1 = alpha * acc[i][h * 4 + 1];
            float v2 = alpha * acc[i][h * 4 + 2], v3 = alpha * acc[i][h * 4 + 3];
            if (p.vec_c && c0 + 4 <= p.n) {
                sk_f4 *q = (sk_f4 *)(crow + c0);
                if (beta != 0.0f) {
                    const sk_f4 o = *q;
                    v0 += beta * o.x;
                    v1 += beta * o.y;
                    v2 += beta * o.z;
                    v3 += beta * o.w;
                }
                *q = sk_make_f4(v0, v1, v2, v3);
            } else {
                const float v[4] = {v0, v1, v2, v3};
                for (int j = 0; j < 4; j++) {
                    if (c0 + j < p.n) {
                        float o = v[j];
                        if (beta != 0.0f)
                            o += beta * crow[c0 + j];
                        crow[c0 + j] = o;
                    }
                }
            }
        }
    }
}

SK_KERNEL(stark_sgemm_nn, sk_mm_args, 2) { sk_sgemm<0, 0>(p); }
SK_KERNEL(stark_sgemm_nt, sk_mm_args, 2) { sk_sgemm<0, 1>(p); }
SK_KERNEL(stark_sgemm_tn, sk_mm_args, 2) { sk_sgemm<1, 0>(p); }
SK_KERNEL(stark_sgemm_tt, sk_mm_args, 2) { sk_sgemm<1, 1>(p); }

#endif /* SK_HOST */
