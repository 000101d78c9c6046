#version 450
// Elementwise f32 ops over n elements: c[i] = f(a[i], b[i], c[i]).
// OP (a specialisation constant, STARK_OP_FILL..RELU) selects f, so each op
// is its own pipeline with no branch on it. Offsets are in elements from
// the start of each binding (the host binds sub-ranges at aligned byte
// offsets and passes the rest here). VEC 0: one float per invocation. VEC
// v > 0 (every offset a multiple of 4 and every binding 16-byte aligned):
// v consecutive vec4s per invocation, and invocations 0..2 do the n % 4
// floats of the tail through the float views of the same bindings.
layout(local_size_x = 128) in;
layout(constant_id = 0) const uint OP = 5;
layout(constant_id = 1) const uint VEC = 0;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) buffer C { float c[]; };
layout(std430, set = 0, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, set = 0, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(std430, set = 0, binding = 2) buffer C4 { vec4 c4[]; };

layout(push_constant) uniform P {
    uint n;
    uint a_off;
    uint b_off;
    uint c_off;
    float alpha;
} p;

const uint FILL = 1, COPY = 2, SCALE = 3, AXPY = 4, ADD = 5, MUL = 6, RELU = 7;

float f1(uint i) {
    if (OP == FILL) return p.alpha;
    if (OP == COPY) return a[p.a_off + i];
    if (OP == SCALE) return p.alpha * a[p.a_off + i];
    if (OP == AXPY) return p.alpha * a[p.a_off + i] + c[p.c_off + i];
    if (OP == ADD) return a[p.a_off + i] + b[p.b_off + i];
    if (OP == MUL) return a[p.a_off + i] * b[p.b_off + i];
    return max(a[p.a_off + i], 0.0); // RELU
}

vec4 f4(uint j) {
    uint ja = p.a_off / 4 + j, jb = p.b_off / 4 + j, jc = p.c_off / 4 + j;
    if (OP == FILL) return vec4(p.alpha);
    if (OP == COPY) return a4[ja];
    if (OP == SCALE) return p.alpha * a4[ja];
    if (OP == AXPY) return p.alpha * a4[ja] + c4[jc];
    if (OP == ADD) return a4[ja] + b4[jb];
    if (OP == MUL) return a4[ja] * b4[jb];
    return max(a4[ja], vec4(0.0)); // RELU
}

void main() {
    uint gid = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (VEC == 0) {
        if (gid < p.n) c[p.c_off + gid] = f1(gid);
        return;
    }
    uint n4 = p.n / 4;
    for (uint t = 0; t < VEC; t++) {
        uint j = gid * VEC + t;
        if (j < n4) c4[p.c_off / 4 + j] = f4(j);
    }
    if (gid < (p.n & 3u)) {
        uint i = n4 * 4 + gid;
        c[p.c_off + i] = f1(i);
    }
}
