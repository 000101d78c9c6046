#version 450
// Row ops over rows of a (row stride lda). A workgroup handles one segment
// (seg elements) of one row: w = row * segs + s, linear over the 2-D grid.
//   MODE_SUM / MODE_MAX: c[c_off + row*c_rs + s] = sum / max of the segment
//   MODE_SUMEXP:         c[...] = sum of exp(a - b[b_off + row*b_rs])
//   MODE_SOFTMAX:        the whole row (segs 1): c[c_off + row*c_rs + j]
//   MODE_WRITE:          c[c_off + row*c_rs + j] = exp(a - max) / sum for the
//                        segment's j, max and sum at b[b_off + row*b_rs + 0/1]
// Sums are compensated (Kahan) per invocation, then a tree over the group.
// MODE is a specialisation constant: one pipeline per mode, no branch on it.
layout(local_size_x = 128) in;
layout(constant_id = 0) const uint MODE = 0;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) buffer C { float c[]; };

layout(push_constant) uniform P {
    uint total;  // workgroups in this dispatch (rows * segs)
    uint len;    // elements of each row covered by this dispatch
    uint seg;    // elements per workgroup
    uint segs;   // workgroups per row
    uint a_off;
    uint lda;
    uint c_off;
    uint c_rs;
    uint b_off;
    uint b_rs;
} p;

const uint MODE_SUM = 0, MODE_MAX = 1, MODE_SUMEXP = 2, MODE_SOFTMAX = 3, MODE_WRITE = 4;
const uint G = 128;

shared float red[G];

float group_sum(float v) {
    uint t = gl_LocalInvocationID.x;
    red[t] = v;
    barrier();
    for (uint s = G / 2; s > 0; s >>= 1) {
        if (t < s) red[t] += red[t + s];
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
}

float group_max(float v) {
    uint t = gl_LocalInvocationID.x;
    red[t] = v;
    barrier();
    for (uint s = G / 2; s > 0; s >>= 1) {
        if (t < s) red[t] = max(red[t], red[t + s]);
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
}

void main() {
    uint w = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (w >= p.total) return; // uniform over the group
    uint row = w / p.segs, s = w % p.segs;
    uint j0 = s * p.seg, j1 = min(j0 + p.seg, p.len);
    uint base = p.a_off + row * p.lda;
    uint t = gl_LocalInvocationID.x;
    float ninf = uintBitsToFloat(0xff800000u);

    if (MODE == MODE_MAX) {
        float m = ninf;
        for (uint j = j0 + t; j < j1; j += G) m = max(m, a[base + j]);
        m = group_max(m);
        if (t == 0) c[p.c_off + row * p.c_rs + s] = m;
        return;
    }
    if (MODE == MODE_SUM || MODE == MODE_SUMEXP) {
        float sub = MODE == MODE_SUMEXP ? b[p.b_off + row * p.b_rs] : 0.0;
        precise float acc = 0.0, comp = 0.0;
        for (uint j = j0 + t; j < j1; j += G) {
            float v = a[base + j];
            if (MODE == MODE_SUMEXP) v = exp(v - sub);
            precise float y = v - comp;
            precise float x = acc + y;
            comp = (x - acc) - y;
            acc = x;
        }
        float r = group_sum(acc);
        if (t == 0) c[p.c_off + row * p.c_rs + s] = r;
        return;
    }
    uint cb = p.c_off + row * p.c_rs;
    if (MODE == MODE_SOFTMAX) {
        float m = ninf;
        for (uint j = j0 + t; j < j1; j += G) m = max(m, a[base + j]);
        m = group_max(m);
        precise float acc = 0.0, comp = 0.0;
        for (uint j = j0 + t; j < j1; j += G) {
            precise float y = exp(a[base + j] - m) - comp;
            precise float x = acc + y;
            comp = (x - acc) - y;
            acc = x;
        }
        float inv = 1.0 / group_sum(acc);
        for (uint j = j0 + t; j < j1; j += G) c[cb + j] = exp(a[base + j] - m) * inv;
        return;
    }
    // MODE_WRITE
    float m = b[p.b_off + row * p.b_rs], inv = 1.0 / b[p.b_off + row * p.b_rs + 1];
    for (uint j = j0 + t; j < j1; j += G) c[cb + j] = exp(a[base + j] - m) * inv;
}
