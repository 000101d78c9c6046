#version 450
// C = alpha * op(A) * op(B) + beta * C, row-major, f32, for CPU devices
// (lavapipe/llvmpipe, SwiftShader): no shared memory and no barriers, which
// a CPU implementation runs as coroutine switches, but a large register
// block per invocation. llvmpipe runs the 8 invocations of a row of the
// workgroup as the lanes of one vector: lane tx reads B[k][j0 + tx + 8q]
// (contiguous across lanes) and every lane of the row reads the same
// A[i][k]. Invocation (tx, ty) computes rows i0 + ty*R + r (r < R) and
// columns j0 + tx + 8q (q < Q): a workgroup covers (8R) x (8Q) of C.
// Loads are clamped into the matrices; results outside are not stored.
// beta == 0 never reads C. Each invocation loops over all of k: the host
// keeps k per dispatch far below llvmpipe's 65535 loop iterations.
layout(local_size_x = 8, local_size_y = 8) in;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) buffer C { float c[]; };

layout(push_constant) uniform P {
    uint m, n, k;
    uint a_off, b_off, c_off;
    uint lda, ldb, ldc;
    uint trans_a, trans_b;
    float alpha, beta;
} p;

const uint R = 16, Q = 16;

void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint i0 = gl_WorkGroupID.y * 8 * R + ty * R, j0 = gl_WorkGroupID.x * 8 * Q + tx;
    uint ai[R], bj[Q];
    // element (i, kk) of op(A) is a[a_off + i * as_i + kk * as_k]; (kk, j) of op(B) b[b_off + kk * bs_k + j * bs_j]
    uint as_i = p.trans_a == 0 ? p.lda : 1, as_k = p.trans_a == 0 ? 1 : p.lda;
    uint bs_k = p.trans_b == 0 ? p.ldb : 1, bs_j = p.trans_b == 0 ? 1 : p.ldb;
    for (uint r = 0; r < R; r++) ai[r] = p.a_off + min(i0 + r, p.m - 1) * as_i;
    for (uint q = 0; q < Q; q++) bj[q] = p.b_off + min(j0 + 8 * q, p.n - 1) * bs_j;
    float acc[R][Q];
    for (uint r = 0; r < R; r++)
        for (uint q = 0; q < Q; q++) acc[r][q] = 0.0;
    for (uint kk = 0; kk < p.k; kk++) {
        float bv[Q];
        for (uint q = 0; q < Q; q++) bv[q] = b[bj[q] + kk * bs_k];
        for (uint r = 0; r < R; r++) {
            float av = a[ai[r] + kk * as_k];
            for (uint q = 0; q < Q; q++) acc[r][q] += av * bv[q];
        }
    }
    for (uint r = 0; r < R; r++) {
        uint gi = i0 + r;
        if (gi >= p.m) break;
        for (uint q = 0; q < Q; q++) {
            uint gj = j0 + 8 * q;
            if (gj >= p.n) break;
            uint idx = p.c_off + gi * p.ldc + gj;
            float v = p.alpha * acc[r][q];
            if (p.beta != 0.0) v += p.beta * c[idx];
            c[idx] = v;
        }
    }
}
