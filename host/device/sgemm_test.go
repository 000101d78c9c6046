package device

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// sgemmRef is ReferenceMatmul with the sgemm signature's f32 scalars.
func sgemmRef(m, n, k int, alpha float32, a []float32, lda int, ta bool, b []float32, ldb int, tb bool,
	beta float32, c []float32, ldc int) []float64 {
	return ReferenceMatmul(m, n, k, float64(alpha), a, lda, ta, b, ldb, tb, float64(beta), c, ldc)
}

type sgemmCase struct {
	m, n, k     int
	ta, tb      bool
	pad         [3]int // extra leading dimension of A, B, C
	alpha, beta float32
}

func (tc sgemmCase) String() string {
	return fmt.Sprintf("%dx%dx%d ta=%v tb=%v pad=%v alpha=%g beta=%g", tc.m, tc.n, tc.k, tc.ta, tc.tb, tc.pad, tc.alpha, tc.beta)
}

// sentinel marks C's elements outside the m x n result (between rows when
// ldc > n): sgemm must leave them alone.
const sentinel = float32(-12345.5)

func runSgemmCase(t testing.TB, c *CPU, kn *sgemmKernel, tc sgemmCase, rng *rand.Rand) {
	t.Helper()
	if err := sgemmCheck(c, kn, tc, rng); err != nil {
		t.Fatal(err)
	}
}

// sgemmCheck runs one case and compares it with the float64 reference.
func sgemmCheck(c *CPU, kn *sgemmKernel, tc sgemmCase, rng *rand.Rand) error {
	ar, ac := tc.m, tc.k
	if tc.ta {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.tb {
		br, bc = tc.n, tc.k
	}
	lda, ldb, ldc := ac+tc.pad[0], bc+tc.pad[1], tc.n+tc.pad[2]
	rnd := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = rng.Float32()*2 - 1
		}
		return s
	}
	// The exact lengths the backend hands over: no slack after the last row.
	a := rnd(max(0, (ar-1)*lda+ac))
	b := rnd(max(0, (br-1)*ldb+bc))
	cv := make([]float32, (tc.m-1)*ldc+tc.n)
	for i := range cv {
		switch {
		case i%ldc >= tc.n:
			cv[i] = sentinel
		case tc.beta == 0:
			cv[i] = float32(math.NaN()) // beta 0 must ignore C, NaN included
		default:
			cv[i] = rng.Float32()*2 - 1
		}
	}
	want := sgemmRef(tc.m, tc.n, tc.k, tc.alpha, a, lda, tc.ta, b, ldb, tc.tb, tc.beta, cv, ldc)
	sgemmWith(c, kn, tc.m, tc.n, tc.k, tc.alpha, a, lda, tc.ta, b, ldb, tc.tb, tc.beta, cv, ldc)
	tol := 1e-5 * (math.Sqrt(float64(tc.k)) + 1) * 4
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc && i*ldc+j < len(cv); j++ {
			got := cv[i*ldc+j]
			if j >= tc.n {
				if got != sentinel {
					return fmt.Errorf("%s %v: C[%d,%d] (past n) = %v, was overwritten", kn.name, tc, i, j, got)
				}
				continue
			}
			w := want[i*tc.n+j]
			if g := float64(got); math.IsNaN(g) || math.Abs(g-w) > tol*math.Max(1, math.Abs(w)) {
				return fmt.Errorf("%s %v: C[%d,%d] = %v, want %v", kn.name, tc, i, j, got, w)
			}
		}
	}
	return nil
}

// sgemmKernels returns the kernels to test: the machine's best and the Go
// one as sgemm runs them, both with packing down to 1x1x1 (no direct loop
// for tiny shapes), and both with tiny blocking as well, so that small
// shapes cross every k, m and n block boundary and the parallel split of
// short m.
func sgemmKernels() []*sgemmKernel {
	noTiny := func(k sgemmKernel) *sgemmKernel {
		k.name += "-packed"
		k.tiny = 0
		return &k
	}
	small := func(k sgemmKernel) *sgemmKernel {
		k.name += "-small"
		k.kc, k.mc, k.bFloats, k.tiny = 7, 2*k.mr, 60*k.nr, 0
		return &k
	}
	best, gok := sgemmBest, sgemmGo
	if best.name == gok.name {
		return []*sgemmKernel{&gok, noTiny(gok), small(gok)}
	}
	return []*sgemmKernel{&best, &gok, noTiny(best), noTiny(gok), small(best), small(gok)}
}

func TestSgemmEdges(t *testing.T) {
	c := NewCPU()
	rng := rand.New(rand.NewPCG(1, 2))
	dims := []int{1, 2, 3, 5, 6, 7, 11, 15, 16, 17, 31, 33}
	for _, kn := range sgemmKernels() {
		for _, m := range dims {
			for _, n := range dims {
				for _, k := range []int{1, 2, 5, 9, 16, 17} {
					tc := sgemmCase{m: m, n: n, k: k, ta: rng.IntN(2) == 0, tb: rng.IntN(2) == 0,
						pad: [3]int{rng.IntN(3), rng.IntN(3), rng.IntN(3)}, alpha: 1, beta: 0}
					switch rng.IntN(4) {
					case 1:
						tc.alpha, tc.beta = -0.5, 1
					case 2:
						tc.alpha, tc.beta = 2, 0.25
					case 3:
						tc.alpha, tc.beta = 1.5, 0
					}
					runSgemmCase(t, c, kn, tc, rng)
				}
			}
		}
	}
}

func TestSgemmShapes(t *testing.T) {
	c := NewCPU()
	rng := rand.New(rand.NewPCG(3, 4))
	cases := []sgemmCase{
		{m: 1, n: 1, k: 1, alpha: 1},
		{m: 1, n: 1, k: 1, alpha: 2, beta: 3},
		{m: 6, n: 16, k: 1, alpha: 1},
		{m: 1, n: 1, k: 20000, alpha: 1},                      // huge k: many k blocks
		{m: 7, n: 19, k: 5003, tb: true, alpha: 1, beta: 0.5}, // huge k, odd tiles
		{m: 1, n: 1000, k: 300, alpha: 1},                     // a row: parallel over slivers
		{m: 1000, n: 1, k: 300, ta: true, alpha: 1},           // a column
		{m: 2, n: 4500, k: 70, tb: true, alpha: 1},            // n past nc
		{m: 129, n: 257, k: 100, pad: [3]int{3, 3, 3}, alpha: 1},
		{m: 200, n: 150, k: 300, ta: true, tb: true, pad: [3]int{5, 5, 5}, alpha: 2, beta: 0.5},
		{m: 64, n: 64, k: 64, ta: true, tb: true, alpha: -1, beta: 1},
		{m: 301, n: 277, k: 513, ta: true, alpha: 1, beta: 0},
		{m: 300, n: 300, k: 257, tb: true, pad: [3]int{1, 0, 17}, alpha: 0.5, beta: -2},
	}
	for range 12 {
		cases = append(cases, sgemmCase{m: 1 + rng.IntN(300), n: 1 + rng.IntN(300), k: 1 + rng.IntN(600),
			ta: rng.IntN(2) == 0, tb: rng.IntN(2) == 0, pad: [3]int{rng.IntN(9), rng.IntN(9), rng.IntN(9)},
			alpha: rng.Float32()*4 - 2, beta: []float32{0, 1, rng.Float32()*2 - 1}[rng.IntN(3)]})
	}
	for _, kn := range sgemmKernels() {
		for _, tc := range cases {
			if testing.Short() && tc.m*tc.n*tc.k > 1<<24 {
				continue
			}
			runSgemmCase(t, c, kn, tc, rng)
		}
	}
}

// TestSgemmKZero: no products, so C = beta*C (beta 0: zeros, NaN or not).
func TestSgemmKZero(t *testing.T) {
	c := NewCPU()
	nan := float32(math.NaN())
	dst := []float32{nan, 2, sentinel, 3, 4}
	sgemm(c, 2, 2, 0, 1, nil, 1, false, nil, 2, false, 0, dst, 3)
	if dst[0] != 0 || dst[1] != 0 || dst[2] != sentinel || dst[3] != 0 || dst[4] != 0 {
		t.Fatalf("k=0 beta=0: %v", dst)
	}
	dst = []float32{1, 2, 3, 4}
	sgemm(c, 2, 2, 0, 1, nil, 1, false, nil, 2, false, 0.5, dst, 2)
	if dst[0] != 0.5 || dst[3] != 2 {
		t.Fatalf("k=0 beta=0.5: %v", dst)
	}
}

// TestSgemmConcurrent runs matmuls from several goroutines at once (shared
// packing pools; run with -race).
func TestSgemmConcurrent(t *testing.T) {
	c := NewCPU()
	errs := make(chan error)
	for g := range 4 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			var err error
			for range 3 {
				tc := sgemmCase{m: 50 + rng.IntN(150), n: 50 + rng.IntN(150), k: 50 + rng.IntN(200),
					ta: rng.IntN(2) == 0, tb: rng.IntN(2) == 0, alpha: 1}
				if err = sgemmCheck(c, &sgemmBest, tc, rng); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
