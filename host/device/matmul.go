package device

// sgemm computes C = alpha * op(A) * op(B) + beta * C for row-major f32
// matrices (C is m x n; op(A) m x k; op(B) k x n). The work is split into
// row blocks of C that run in parallel; each block walks k in panels that
// stay in cache.
func sgemm(c *CPU, m, n, k int, alpha float32, a []float32, lda int, transA bool,
	b []float32, ldb int, transB bool, beta float32, dst []float32, ldc int) {
	const rowBlock, kBlock = 32, 256
	blocks := (m + rowBlock - 1) / rowBlock
	c.forChunks(blocks, 1, func(lo, hi int) {
		row := make([]float32, n)
		for blk := lo; blk < hi; blk++ {
			for i := blk * rowBlock; i < min(m, (blk+1)*rowBlock); i++ {
				crow := dst[i*ldc : i*ldc+n]
				clear(row)
				for p0 := 0; p0 < k; p0 += kBlock {
					for p := p0; p < min(k, p0+kBlock); p++ {
						var aip float32
						if transA {
							aip = a[p*lda+i]
						} else {
							aip = a[i*lda+p]
						}
						if transB {
							for j := range row {
								row[j] += aip * b[j*ldb+p]
							}
						} else {
							brow := b[p*ldb : p*ldb+n]
							for j, bv := range brow {
								row[j] += aip * bv
							}
						}
					}
				}
				if beta == 0 {
					for j := range crow {
						crow[j] = alpha * row[j]
					}
				} else {
					for j := range crow {
						crow[j] = alpha*row[j] + beta*crow[j]
					}
				}
			}
		}
	})
}
