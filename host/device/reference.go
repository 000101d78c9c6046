package device

// ReferenceMatmul computes alpha*op(A)*op(B) + beta*C in float64 for the
// row-major f32 operands of an OpMatmul (beta 0: C is not read) and returns
// the m x n result, dense. It is the slow, obviously right definition that
// backends are checked against (the conformance suite, the SGEMM tests).
func ReferenceMatmul(m, n, k int, alpha float64, a []float32, lda int, transA bool,
	b []float32, ldb int, transB bool, beta float64, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var acc float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				acc += float64(av) * float64(bv)
			}
			v := alpha * acc
			if beta != 0 {
				v += beta * float64(c[i*ldc+j])
			}
			out[i*n+j] = v
		}
	}
	return out
}
