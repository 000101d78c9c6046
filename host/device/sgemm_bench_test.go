package device

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSgemm times C = A*B for square f32 matrices on the cpu backend
// (all of GOMAXPROCS) and reports GFLOP/s (2n^3 per product): the mean
// over the b.N products, and the median (p50-GFLOP/s) and best
// (max-GFLOP/s) single product. bench/device/matmul.sh compares it with
// numpy.
func BenchmarkSgemm(b *testing.B) {
	benchSgemm(b, &sgemmBest, []int{1, 16, 64, 256, 512, 1024, 2048})
}

// BenchmarkSgemmGo times the portable kernel (the fallback where there is
// no assembly kernel).
func BenchmarkSgemmGo(b *testing.B) {
	benchSgemm(b, &sgemmGo, []int{256, 1024})
}

func benchSgemm(b *testing.B, kn *sgemmKernel, sizes []int) {
	c := NewCPU()
	b.Logf("kernel %s (mr %d, nr %d, kc %d, mc %d), %d workers", kn.name, kn.mr, kn.nr, kn.kc, kn.mc, c.workers())
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range sizes {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			x, y, z := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
			for i := range x {
				x[i], y[i] = rng.Float32()*2-1, rng.Float32()*2-1
			}
			for range 2 { // warm up the packing pools and the caches
				sgemmWith(c, kn, n, n, n, 1, x, n, false, y, n, false, 0, z, n)
			}
			flops := 2 * float64(n) * float64(n) * float64(n)
			var each []float64
			b.ResetTimer()
			for b.Loop() {
				t := time.Now()
				sgemmWith(c, kn, n, n, n, 1, x, n, false, y, n, false, 0, z, n)
				if n >= 256 {
					each = append(each, flops/time.Since(t).Seconds()/1e9)
				}
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			if len(each) > 0 {
				slices.Sort(each)
				b.ReportMetric(each[len(each)/2], "p50-GFLOP/s")
				b.ReportMetric(each[len(each)-1], "max-GFLOP/s")
			}
		})
	}
}
