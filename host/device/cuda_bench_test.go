package device_test

import (
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"unsafe"

	"github.com/stark-rt/stark/host/device"
)

// BenchmarkCUDAMatmul4096 times the cuda plugin's f32 matmul at 4096 x 4096
// x 4096 (synchronous launches, stream 0) and reports TFLOP/s; it first
// checks sampled entries against a float64 reference. Skipped where the
// plugin is not built or scores 0 (STARK_REQUIRE_CUDA=1 makes that a
// failure). plugins/cuda/gpu_check.sh runs it next to cuBLAS (PyTorch).
// STARK_CUDA_BENCH_N sets another size (for a try on the emulated driver).
func BenchmarkCUDAMatmul4096(b *testing.B) {
	n := 4096
	if s := os.Getenv("STARK_CUDA_BENCH_N"); s != "" {
		if v, err := strconv.Atoi(s); err == nil && v > 0 && v <= 1<<14 {
			n = v
		}
	}
	path := pluginPath("cuda")
	required := os.Getenv("STARK_REQUIRE_CUDA") != ""
	if _, err := os.Stat(path); err != nil {
		if required {
			b.Fatalf("cuda plugin not built at %s: %v", path, err)
		}
		b.Skipf("cuda plugin not built at %s: %v", path, err)
	}
	info, err := device.Probe(path)
	if err != nil {
		b.Fatalf("probe %s: %v", path, err)
	}
	if info.Score == 0 {
		if required {
			b.Fatalf("cuda scores 0 here: its driver or device is missing")
		}
		b.Skipf("cuda scores 0 here (no driver or no device)")
	}
	p, err := device.LoadPlugin(path, "")
	if err != nil {
		b.Fatalf("load %s: %v", path, err)
	}
	defer p.Close()

	rng := rand.New(rand.NewPCG(1, 2))
	av, bv := make([]float32, n*n), make([]float32, n*n)
	for i := range av {
		av[i] = rng.Float32()*2 - 1
		bv[i] = rng.Float32()*2 - 1
	}
	bytes := func(v []float32) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)) }
	var h [3]uint64
	for i := range h {
		if h[i], err = p.Alloc(0, uint64(4*n*n)); err != nil {
			b.Fatalf("alloc: %v", err)
		}
		defer p.Free(0, h[i])
	}
	if err := p.CopyIn(0, device.Ptr{Handle: h[0]}, bytes(av), 0); err != nil {
		b.Fatal(err)
	}
	if err := p.CopyIn(0, device.Ptr{Handle: h[1]}, bytes(bv), 0); err != nil {
		b.Fatal(err)
	}
	op := device.Op{Kind: device.OpMatmul, A: device.Ptr{Handle: h[0]}, B: device.Ptr{Handle: h[1]},
		C: device.Ptr{Handle: h[2]}, M: uint64(n), N: uint64(n), K: uint64(n), Alpha: 1}
	if err := p.Launch(&op); err != nil {
		b.Fatalf("matmul: %v", err)
	}
	cv := make([]float32, n*n)
	if err := p.CopyOut(0, bytes(cv), device.Ptr{Handle: h[2]}, 0); err != nil {
		b.Fatal(err)
	}
	for s := 0; s < 32; s++ {
		i, j := rng.IntN(n), rng.IntN(n)
		var want float64
		for k := 0; k < n; k++ {
			want += float64(av[i*n+k]) * float64(bv[k*n+j])
		}
		if got := float64(cv[i*n+j]); math.Abs(got-want) > 1e-3*math.Max(1, math.Abs(want)) {
			b.Fatalf("C[%d,%d] = %v, want %v", i, j, got, want)
		}
	}

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Launch(&op); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e12, "TFLOP/s")
}
