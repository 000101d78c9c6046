package device

import (
	"runtime"
	"sync"
	"unsafe"
)

// The cpu backend's f32 matmul is a Goto/BLIS-style GEMM:
//
//	for kq: k in super-blocks (only where k*nr floats of packed B are too many)
//	  for jc: columns of C in blocks of nc
//	    in parallel, for ic: rows of C in blocks of up to mc (shrinking)
//	      for pc: k in blocks of kc
//	        pack op(A)[ic, pc] into mr-tall panels (mc x kc, per task, in L2)
//	        for each group of 8 slivers of this task's columns:
//	          pack op(B)[pc, group] into nr-wide slivers, once, by the first
//	          task to get there (kq x nc packed in all, shared, in L3)
//	          for jr: each nr-wide sliver of the group (kc x nr, in L1)
//	            for ir: each mr-tall panel of the A block
//	              micro-kernel: the mr x nr tile of C in registers, kc
//	              rank-1 updates, then C = alpha*tile + beta*C (beta 1
//	              after the first k block)
//
// Every k block of B stays packed for the whole parallel loop, so the
// workers need no barrier between k blocks, and packing B is spread over
// them (a task that finds a group being packed waits for it). The row
// blocks are claimed in order and shrink towards the end, so the workers
// finish close together; where m is short, tasks also split the columns.
//
// Packing handles the transposes and leading dimensions, and pads the last
// panel and sliver with zeros, so the micro-kernel always sees full,
// contiguous operands; the tiles of C that stick out past m or n are
// computed into a scratch tile and copied. The micro-kernel is assembly
// where the machine has one (sgemm_amd64.s: AVX2+FMA, 6x16) and Go
// elsewhere (sgemmKernelGo, 4x4). Tiny products skip packing.

// sgemmMicro computes the mr x nr tile C = alpha * Ap * Bp + beta * C from
// k steps of packed A (mr floats a step) and packed B (nr floats a step).
// c holds the tile's rows ldc floats apart. beta 0 must not read C.
type sgemmMicro func(k int, a, b, c []float32, ldc int, alpha, beta float32)

// sgemmKernel is a micro-kernel with its tile and the cache blocking that
// suits it.
type sgemmKernel struct {
	name    string
	mr, nr  int // register tile
	kc, mc  int // k block (L1: kc x nr of B), A block (L2: mc x kc)
	bFloats int // bound of packed B (k x nc: all its k blocks for nc columns; L3)
	tiny    int // mnk up to which a direct loop beats packing
	fn      sgemmMicro
}

// maxTile bounds mr*nr for the scratch tile of the edges.
const maxTile = 256

// sgemmGo is the portable kernel.
var sgemmGo = sgemmKernel{name: "go4x4", mr: 4, nr: 4, kc: 256, mc: 128, bFloats: 1 << 22, tiny: 512, fn: sgemmKernelGo}

// sgemmBest is the kernel sgemm uses: the fastest one this machine runs
// (set by the architecture's init).
var sgemmBest = sgemmGo

// sgemmParallelFlops is the work (2mnk) below which sgemm runs on the
// calling goroutine alone.
const sgemmParallelFlops = 1 << 21

// sgemm computes C = alpha * op(A) * op(B) + beta * C for row-major f32
// matrices (C is m x n; op(A) m x k; op(B) k x n). beta 0 ignores C's old
// contents (NaN included).
func sgemm(c *CPU, m, n, k int, alpha float32, a []float32, lda int, transA bool,
	b []float32, ldb int, transB bool, beta float32, dst []float32, ldc int) {
	sgemmWith(c, &sgemmBest, m, n, k, alpha, a, lda, transA, b, ldb, transB, beta, dst, ldc)
}

func sgemmWith(c *CPU, kn *sgemmKernel, m, n, k int, alpha float32, a []float32, lda int, transA bool,
	b []float32, ldb int, transB bool, beta float32, dst []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		sgemmScale(m, n, beta, dst, ldc)
		return
	}
	if m <= kn.tiny && n <= kn.tiny && k <= kn.tiny && m*n*k <= kn.tiny {
		sgemmSmall(m, n, k, alpha, a, lda, transA, b, ldb, transB, beta, dst, ldc)
		return
	}
	mr, nr := kn.mr, kn.nr
	workers := 1
	if 2*float64(m)*float64(n)*float64(k) >= sgemmParallelFlops {
		workers = c.workers()
	}
	// k super-blocks of kq (a multiple of the k block) bound packed B where
	// even one sliver's worth of k would overflow it; then nc columns of
	// every k block of the super-block are packed at once.
	kq := k
	if k > kn.bFloats/nr {
		kq = max(kn.kc, kn.bFloats/nr/kn.kc*kn.kc)
	}
	nc := min(roundUp(n, nr), max(nr, kn.bFloats/kq/nr*nr))

	// The tasks: blocks of rows, times parts of the slivers where m is
	// too short to give every worker a few blocks.
	mPanels := (m + mr - 1) / mr
	target := 1
	if workers > 1 {
		target = 4 * workers
	}
	starts := sgemmBlocks(mPanels, kn.mc/mr, workers)
	mBlocks := len(starts) - 1
	mcMax := 0
	for i := range mBlocks {
		mcMax = max(mcMax, (starts[i+1]-starts[i])*mr)
	}

	bbuf := getFloats(min(kq, k) * nc)
	defer putFloats(bbuf)
	bpack := *bbuf

	for q0 := 0; q0 < k; q0 += kq {
		kcur := min(kq, k-q0)
		kBlocks := (kcur + kn.kc - 1) / kn.kc
		kc := (kcur + kBlocks - 1) / kBlocks // even k blocks: no thin last one
		betaQ := beta
		if q0 > 0 {
			betaQ = 1
		}
		for j0 := 0; j0 < n; j0 += nc {
			ncur := min(nc, n-j0)
			ncp := roundUp(ncur, nr)
			slivers := ncp / nr
			nParts := 1
			if mBlocks < target {
				nParts = min(slivers, (target+mBlocks-1)/mBlocks)
			}
			perPart := (slivers + nParts - 1) / nParts
			group := min(8, perPart)
			perPart = roundUp(perPart, group)
			nParts = (slivers + perPart - 1) / perPart
			groups := (slivers + group - 1) / group
			packed := make([]sync.Once, kBlocks*groups)
			run := func(lo, hi int) {
				abuf := getFloats(mcMax*kc + maxTile)
				defer putFloats(abuf)
				apack, tmp := (*abuf)[:mcMax*kc], (*abuf)[mcMax*kc:]
				for t := lo; t < hi; t++ {
					ib, part := t/nParts, t%nParts
					i0 := starts[ib] * mr
					mcur := min(m, starts[ib+1]*mr) - i0
					cblk := dst[i0*ldc+j0:]
					g0, g1 := part*perPart/group, min(groups, (part+1)*perPart/group)
					for kb := range kBlocks {
						p0 := kb * kc // within the super-block
						kb0 := min(kc, kcur-p0)
						betaEff := betaQ
						if kb > 0 {
							betaEff = 1
						}
						panel := bpack[p0*ncp : p0*ncp+kb0*ncp]
						packA(apack, a, lda, transA, i0, mcur, q0+p0, kb0, mr)
						for g := g0; g < g1; g++ {
							s0, s1 := g*group, min(slivers, (g+1)*group)
							packed[kb*groups+g].Do(func() {
								packB(panel, b, ldb, transB, q0+p0, kb0, j0, ncur, nr, s0, s1)
							})
							macroKernel(kn, kb0, mcur, ncur, apack, panel, s0, s1, alpha, betaEff, cblk, ldc, tmp)
						}
					}
				}
			}
			if tasks := mBlocks * nParts; workers > 1 {
				c.forChunks(tasks, 1, run)
			} else {
				run(0, tasks)
			}
		}
	}
}

// sgemmBlocks splits panels (of mr rows) into blocks of at most maxBlock
// for workers: each block takes its share of what is left, 1/(2*workers),
// but at least minBlock, so the blocks shrink towards the end. It returns
// the blocks' first panels and, last, panels.
func sgemmBlocks(panels, maxBlock, workers int) []int {
	maxBlock = max(1, maxBlock)
	if workers <= 1 {
		blocks := (panels + maxBlock - 1) / maxBlock
		starts := make([]int, 0, blocks+1)
		for i := range blocks {
			starts = append(starts, i*panels/blocks)
		}
		return append(starts, panels)
	}
	minBlock := min(2, max(1, panels/(4*workers)))
	starts := []int{0}
	for at := 0; at < panels; {
		size := min(maxBlock, max(minBlock, (panels-at+2*workers-1)/(2*workers)))
		at = min(panels, at+size)
		starts = append(starts, at)
	}
	return starts
}

// macroKernel runs the micro-kernel over slivers [s0, s1) of the packed B
// panel and every panel of the packed A block; c starts at the block's
// top-left element. The tiles that stick out past the block's rows or
// columns go through tmp (maxTile floats).
func macroKernel(kn *sgemmKernel, k, mcur, ncur int, apack, bpanel []float32, s0, s1 int,
	alpha, beta float32, c []float32, ldc int, tmp []float32) {
	mr, nr := kn.mr, kn.nr
	fn := kn.fn
	for js := s0; js < s1; js++ {
		bp := bpanel[js*nr*k : (js+1)*nr*k]
		j := js * nr
		cols := min(nr, ncur-j)
		for i := 0; i < mcur; i += mr {
			ap := apack[i*k : (i+mr)*k]
			rows := min(mr, mcur-i)
			if rows == mr && cols == nr {
				fn(k, ap, bp, c[i*ldc+j:], ldc, alpha, beta)
				continue
			}
			fn(k, ap, bp, tmp[:mr*nr], nr, 1, 0)
			for r := 0; r < rows; r++ {
				t := tmp[r*nr : r*nr+cols]
				cr := c[(i+r)*ldc+j : (i+r)*ldc+j+cols]
				if beta == 0 {
					for x, v := range t {
						cr[x] = alpha * v
					}
				} else {
					for x, v := range t {
						cr[x] = alpha*v + beta*cr[x]
					}
				}
			}
		}
	}
}

// packA copies rows [i0, i0+mcur) x columns [p0, p0+kcur) of op(A) into
// dst as mr-tall panels: panel p holds, for each of the kcur steps, its mr
// rows' elements in a row. Rows past mcur are zeros.
func packA(dst, a []float32, lda int, transA bool, i0, mcur, p0, kcur, mr int) {
	for ip := 0; ip < mcur; ip += mr {
		d := dst[ip*kcur : (ip+mr)*kcur]
		rows := min(mr, mcur-ip)
		if transA { // op(A)[i, p] = a[p*lda + i]: each step's rows are contiguous
			if mr == 6 && rows == 6 {
				for p := 0; p < kcur; p++ {
					o := (p0+p)*lda + i0 + ip
					*(*[6]float32)(d[p*6:]) = *(*[6]float32)(a[o : o+6])
				}
				continue
			}
			for p := 0; p < kcur; p++ {
				src := a[(p0+p)*lda+i0+ip:]
				dp := d[p*mr : p*mr+mr]
				copy(dp, src[:rows])
				clear(dp[rows:])
			}
			continue
		}
		if mr == 6 && rows == 6 {
			r := (i0+ip)*lda + p0
			s0 := a[r : r+kcur]
			s1 := a[r+lda : r+lda+kcur]
			s2 := a[r+2*lda : r+2*lda+kcur]
			s3 := a[r+3*lda : r+3*lda+kcur]
			s4 := a[r+4*lda : r+4*lda+kcur]
			s5 := a[r+5*lda : r+5*lda+kcur]
			for p := range s0 {
				dp := d[p*6 : p*6+6 : p*6+6]
				dp[0], dp[1], dp[2], dp[3], dp[4], dp[5] = s0[p], s1[p], s2[p], s3[p], s4[p], s5[p]
			}
			continue
		}
		for r := 0; r < mr; r++ {
			if r >= rows {
				for p := 0; p < kcur; p++ {
					d[p*mr+r] = 0
				}
				continue
			}
			src := a[(i0+ip+r)*lda+p0:]
			src = src[:kcur]
			for p, v := range src {
				d[p*mr+r] = v
			}
		}
	}
}

// packB copies slivers [lo, hi) of rows [p0, p0+kcur) x columns
// [j0, j0+ncur) of op(B) into dst: sliver s holds, for each of the kcur
// steps, nr columns' elements in a row. Columns past ncur are zeros.
func packB(dst, b []float32, ldb int, transB bool, p0, kcur, j0, ncur, nr, lo, hi int) {
	for s := lo; s < hi; s++ {
		d := dst[s*nr*kcur : (s+1)*nr*kcur]
		j := j0 + s*nr
		cols := min(nr, j0+ncur-j)
		if !transB { // op(B)[p, j] = b[p*ldb + j]: each step's columns are contiguous
			if nr == 16 && cols == 16 {
				for p := 0; p < kcur; p++ {
					o := (p0+p)*ldb + j
					*(*[16]float32)(d[p*16:]) = *(*[16]float32)(b[o : o+16])
				}
				continue
			}
			for p := 0; p < kcur; p++ {
				dp := d[p*nr : p*nr+nr]
				copy(dp, b[(p0+p)*ldb+j:(p0+p)*ldb+j+cols])
				clear(dp[cols:])
			}
			continue
		}
		for x := 0; x < nr; x++ {
			if x >= cols {
				for p := 0; p < kcur; p++ {
					d[p*nr+x] = 0
				}
				continue
			}
			src := b[(j+x)*ldb+p0:]
			src = src[:kcur]
			for p, v := range src {
				d[p*nr+x] = v
			}
		}
	}
}

// sgemmSmall is the direct loop for tiny products.
func sgemmSmall(m, n, k int, alpha float32, a []float32, lda int, transA bool,
	b []float32, ldb int, transB bool, beta float32, dst []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var acc float32
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
				acc += av * bv
			}
			if beta == 0 {
				dst[i*ldc+j] = alpha * acc
			} else {
				dst[i*ldc+j] = alpha*acc + beta*dst[i*ldc+j]
			}
		}
	}
}

// sgemmScale sets C = beta * C (k = 0: no products to add); beta 0 writes
// zeros whatever C held.
func sgemmScale(m, n int, beta float32, dst []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := dst[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// sgemmKernelGo is the portable 4x4 micro-kernel.
func sgemmKernelGo(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	a, b = a[:4*k], b[:4*k]
	for p := 0; p < k; p++ {
		av := a[p*4 : p*4+4 : p*4+4]
		bv := b[p*4 : p*4+4 : p*4+4]
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [16]float32{c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33}
	for r := 0; r < 4; r++ {
		row := c[r*ldc : r*ldc+4 : r*ldc+4]
		t := acc[r*4 : r*4+4]
		if beta == 0 {
			row[0], row[1], row[2], row[3] = alpha*t[0], alpha*t[1], alpha*t[2], alpha*t[3]
		} else {
			row[0] = alpha*t[0] + beta*row[0]
			row[1] = alpha*t[1] + beta*row[1]
			row[2] = alpha*t[2] + beta*row[2]
			row[3] = alpha*t[3] + beta*row[3]
		}
	}
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// workers is the number of goroutines the backend's executor runs loops on.
func (c *CPU) workers() int {
	if w, ok := c.exec.(interface{ Workers() int }); ok {
		return max(w.Workers(), 1)
	}
	return runtime.GOMAXPROCS(0)
}

// floatPool recycles the packing buffers (64-byte aligned views).
var floatPool sync.Pool

// getFloats returns a 64-byte aligned buffer of n floats (contents
// undefined); putFloats gives it back.
func getFloats(n int) *[]float32 {
	if p, ok := floatPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	raw := make([]float32, n+16)
	off := 0
	if rem := uintptr(unsafe.Pointer(unsafe.SliceData(raw))) % 64; rem != 0 {
		off = int(64-rem) / 4
	}
	s := raw[off : off+n : off+n]
	return &s
}

func putFloats(p *[]float32) {
	*p = (*p)[:cap(*p)]
	floatPool.Put(p)
}
