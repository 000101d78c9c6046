#version 450
// C = alpha * op(A) * op(B) + beta * C, row-major, f32. A workgroup of
// 16 x 8 invocations computes a 64 x 64 tile of C; each invocation an
// 8 x 4 block (rows ty + 8r, columns tx + 16q). K is walked in panels of
// 16 staged in shared memory. beta == 0 never reads C.
layout(local_size_x = 16, local_size_y = 8) in;

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

const uint BM = 64, BN = 64, BK = 16, NT = 128;
shared float As[BK][BM + 1];
shared float Bs[BK][BN + 1];

void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
    uint tid = ty * 16 + tx;
    uint i0 = gl_WorkGroupID.y * BM, j0 = gl_WorkGroupID.x * BN;
    float acc[8][4];
    for (uint r = 0; r < 8; r++)
        for (uint q = 0; q < 4; q++) acc[r][q] = 0.0;

    for (uint p0 = 0; p0 < p.k; p0 += BK) {
        for (uint e = tid; e < BM * BK; e += NT) {
            uint ii, kk;
            if (p.trans_a == 0) { ii = e / BK; kk = e % BK; } else { kk = e / BM; ii = e % BM; }
            uint gi = i0 + ii, gk = p0 + kk;
            float v = 0.0;
            if (gi < p.m && gk < p.k)
                v = p.trans_a == 0 ? a[p.a_off + gi * p.lda + gk] : a[p.a_off + gk * p.lda + gi];
            As[kk][ii] = v;
        }
        for (uint e = tid; e < BN * BK; e += NT) {
            uint jj, kk;
            if (p.trans_b == 0) { kk = e / BN; jj = e % BN; } else { jj = e / BK; kk = e % BK; }
            uint gj = j0 + jj, gk = p0 + kk;
            float v = 0.0;
            if (gj < p.n && gk < p.k)
                v = p.trans_b == 0 ? b[p.b_off + gk * p.ldb + gj] : b[p.b_off + gj * p.ldb + gk];
            Bs[kk][jj] = v;
        }
        barrier();
        for (uint kk = 0; kk < BK; kk++) {
            float bv[4];
            for (uint q = 0; q < 4; q++) bv[q] = Bs[kk][tx + 16 * q];
            for (uint r = 0; r < 8; r++) {
                float av = As[kk][ty + 8 * r];
                for (uint q = 0; q < 4; q++) acc[r][q] += av * bv[q];
            }
        }
        barrier();
    }
    for (uint r = 0; r < 8; r++) {
        uint gi = i0 + ty + 8 * r;
        if (gi >= p.m) continue;
        for (uint q = 0; q < 4; q++) {
            uint gj = j0 + tx + 16 * q;
            if (gj >= p.n) continue;
            uint idx = p.c_off + gi * p.ldc + gj;
            float v = p.alpha * acc[r][q];
            if (p.beta != 0.0) v += p.beta * c[idx];
            c[idx] = v;
        }
    }
}
