#version 450
// The module test's kernel: y[i] = scale * x[i] * x[i] + bias for i < n.
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; float scale; float bias; } p;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < p.n) y[i] = p.scale * x[i] * x[i] + p.bias;
}
