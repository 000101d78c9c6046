//go:build amd64

package device

import "golang.org/x/sys/cpu"

// sgemmAVX2 is the AVX2+FMA kernel: a 6x16 tile of C in twelve YMM
// accumulators (two per row), with two YMM loads of B and six broadcasts of
// A feeding twelve FMAs per k step. kc*nr*4 = 16 KiB of B sliver stays in
// L1 (32 KiB); the A block (mc x kc, up to 264 KiB) in L2; packed B (up to
// 16 MiB) in L3.
var sgemmAVX2 = sgemmKernel{name: "avx2-6x16", mr: 6, nr: 16, kc: 256, mc: 264, bFloats: 1 << 22, tiny: 512, fn: sgemmKernelAVX2}

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		sgemmBest = sgemmAVX2
	}
}

// sgemmKernelAVX2 checks the operands' lengths and runs the assembly kernel.
func sgemmKernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	_ = a[6*k-1]
	_ = b[16*k-1]
	_ = c[5*ldc+15]
	sgemmKernel6x16(k, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// sgemmKernel6x16 computes the 6x16 tile C = alpha * Ap * Bp + beta * C
// (beta 0: C is not read) from k >= 1 steps of packed A (6 floats a step)
// and B (16 floats a step); C's rows are ldc floats apart.
//
//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)
