package device_test

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stark-rt/stark/host/device"
	"github.com/stark-rt/stark/host/device/devicetest"
)

// loadVulkan loads the vulkan plugin with init options, or skips with the
// reason (a failure when STARK_REQUIRE_VULKAN is set).
func loadVulkan(tb testing.TB, options string) *device.Plugin {
	tb.Helper()
	required := os.Getenv("STARK_REQUIRE_VULKAN") != ""
	path := pluginPath("vulkan")
	skip := func(format string, args ...any) {
		tb.Helper()
		if required {
			tb.Fatalf(format, args...)
		}
		tb.Skipf(format, args...)
	}
	if _, err := os.Stat(path); err != nil {
		skip("vulkan plugin not built at %s (make plugin-vulkan): %v", path, err)
	}
	info, err := device.Probe(path)
	if err != nil {
		tb.Fatalf("probe %s: %v", path, err)
	}
	if info.Score == 0 {
		skip("vulkan scores 0 here (no Vulkan loader or no device with a compute queue)")
	}
	p, err := device.LoadPlugin(path, options)
	if err != nil {
		tb.Fatalf("load %s: %v", path, err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return p
}

func vkF32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

func vkUpload(tb testing.TB, b device.Backend, v []float32) uint64 {
	tb.Helper()
	h, err := b.Alloc(0, uint64(4*len(v)))
	if err != nil {
		tb.Fatalf("alloc %d floats: %v", len(v), err)
	}
	tb.Cleanup(func() { _ = b.Free(0, h) })
	if err := b.CopyIn(0, device.Ptr{Handle: h}, vkF32Bytes(v), 0); err != nil {
		tb.Fatalf("copy in: %v", err)
	}
	return h
}

func vkDownload(tb testing.TB, b device.Backend, h uint64, off uint64, n int) []float32 {
	tb.Helper()
	out := make([]float32, n)
	if err := b.CopyOut(0, vkF32Bytes(out), device.Ptr{Handle: h, Offset: off}, 0); err != nil {
		tb.Fatalf("copy out: %v", err)
	}
	return out
}

// TestVulkanModule loads testdata/square.spv (built next to the plugin
// from plugins/vulkan/testdata/square.comp: y[i] = scale*x[i]^2 + bias for
// i < n) and launches its entry point; then the module error paths.
func TestVulkanModule(t *testing.T) {
	p := loadVulkan(t, "")
	if p.Caps()&device.CapSPIRV == 0 {
		t.Fatal("the vulkan plugin does not claim SPIR-V modules")
	}
	spv := filepath.Join(filepath.Dir(pluginPath("vulkan")), "testdata", "square.spv")
	code, err := os.ReadFile(spv)
	if err != nil {
		t.Fatalf("%v (make plugin-vulkan builds it)", err)
	}
	mod, err := p.LoadModule(0, device.ModSPIRV, code)
	if err != nil {
		t.Fatalf("load module: %v", err)
	}
	const n = 1001 // not a multiple of the workgroup size (64)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i%97)/8 - 6
	}
	hx := vkUpload(t, p, x)
	const yOff = 256 // a binding at an offset (256 is a multiple of any minStorageBufferOffsetAlignment)
	nan := make([]float32, n+yOff/4+1)
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	hy := vkUpload(t, p, nan)
	push := make([]byte, 12)
	binary.LittleEndian.PutUint32(push[0:], n)
	binary.LittleEndian.PutUint32(push[4:], math.Float32bits(1.5))
	binary.LittleEndian.PutUint32(push[8:], math.Float32bits(-0.25))
	launch := device.Launch{Module: mod, Function: "main", Grid: [3]uint32{(n + 63) / 64, 1, 1},
		Bindings: []device.Ptr{{Handle: hx}, {Handle: hy, Offset: yOff}}, Push: push}
	for round := 0; round < 2; round++ { // the second launch reuses the cached pipeline
		if err := p.LaunchModule(&launch); err != nil {
			t.Fatalf("launch: %v", err)
		}
	}
	y := vkDownload(t, p, hy, 0, n+yOff/4+1)
	for i := 0; i < yOff/4; i++ {
		if !math.IsNaN(float64(y[i])) {
			t.Fatalf("y[%d] before the binding's offset was written: %v", i, y[i])
		}
	}
	for i := 0; i < n; i++ {
		want := 1.5*float64(x[i])*float64(x[i]) - 0.25
		if got := float64(y[yOff/4+i]); math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Fatalf("y[%d] = %v, want %v", i, got, want)
		}
	}
	if got := y[yOff/4+n]; !math.IsNaN(float64(got)) {
		t.Fatalf("the element past n was written: %v", got)
	}

	bad := launch
	bad.Function = "nope"
	if err := p.LaunchModule(&bad); !errors.Is(err, device.ErrNotFound) {
		t.Errorf("launch of a missing entry point: %v, want ErrNotFound", err)
	}
	bad = launch
	bad.Bindings = launch.Bindings[:1]
	if err := p.LaunchModule(&bad); !errors.Is(err, device.ErrInvalid) {
		t.Errorf("launch with a binding missing: %v, want ErrInvalid", err)
	}
	bad = launch
	bad.Bindings = []device.Ptr{{Handle: hx}, {Handle: 0xdead_beef_0bad_f00d}}
	if err := p.LaunchModule(&bad); !errors.Is(err, device.ErrNotFound) {
		t.Errorf("launch with a forged buffer: %v, want ErrNotFound", err)
	}
	bad = launch
	bad.Bindings = []device.Ptr{{Handle: hx}, {Handle: hy, Offset: 4}}
	if err := p.LaunchModule(&bad); !errors.Is(err, device.ErrInvalid) {
		t.Errorf("launch with a misaligned binding: %v, want ErrInvalid", err)
	}
	bad = launch
	bad.Push = make([]byte, 4096)
	if err := p.LaunchModule(&bad); !errors.Is(err, device.ErrInvalid) {
		t.Errorf("launch with 4 KiB of push constants: %v, want ErrInvalid", err)
	}
	if _, err := p.LoadModule(0, device.ModPTX, code); !errors.Is(err, device.ErrUnsupported) {
		t.Errorf("load of a PTX module: %v, want ErrUnsupported", err)
	}
	if _, err := p.LoadModule(0, device.ModSPIRV, []byte("not spir-v, not at all!!")); !errors.Is(err, device.ErrInvalid) {
		t.Errorf("load of garbage: %v, want ErrInvalid", err)
	}
	if _, err := p.LoadModule(0, device.ModSPIRV, code[:len(code)-8]); !errors.Is(err, device.ErrInvalid) {
		t.Errorf("load of a truncated module: %v, want ErrInvalid", err)
	}
	if err := p.UnloadModule(0, mod); err != nil {
		t.Fatalf("unload: %v", err)
	}
	if err := p.UnloadModule(0, mod); !errors.Is(err, device.ErrNotFound) {
		t.Errorf("second unload: %v, want ErrNotFound", err)
	}
	if err := p.LaunchModule(&launch); !errors.Is(err, device.ErrNotFound) {
		t.Errorf("launch of an unloaded module: %v, want ErrNotFound", err)
	}
}

// TestVulkanConformanceFallbacks runs the conformance suite with the
// paths lavapipe would otherwise skip: descriptor sets instead of
// VK_KHR_push_descriptor, staging copies (vkCmdCopyBuffer) instead of
// mapped memory, as on a discrete GPU without resizable BAR, and the GPU
// kernels (the tiled matmul, one vec4 per invocation) instead of the ones
// tuned for CPU implementations.
func TestVulkanConformanceFallbacks(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	p := loadVulkan(t, "push_descriptors=0;mapped=0;cpu_kernels=0")
	// The past-the-limit case is TestVulkanSplitting's and the main run's;
	// TestVulkanStagingCopies takes the staging copies past one chunk.
	devicetest.Run(t, p, devicetest.Options{Seed: 99, BigBytes: 1 << 20})
}

// TestVulkanStagingCopies: copies through the staging buffer (16 MiB
// chunks) when memory is not mapped: host to device and back at odd
// sizes and offsets, and device-to-device copies that overlap within one
// buffer, forwards and backwards.
func TestVulkanStagingCopies(t *testing.T) {
	p := loadVulkan(t, "mapped=0")
	const n = 40<<20 + 3 // bytes: three chunks and a bit
	src := make([]byte, n)
	for i := range src {
		src[i] = byte(i*131 + i>>11)
	}
	h, err := p.Alloc(0, n+64)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Free(0, h)
	if err := p.CopyIn(0, device.Ptr{Handle: h, Offset: 5}, src, 0); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, n)
	if err := p.CopyOut(0, out, device.Ptr{Handle: h, Offset: 5}, 0); err != nil {
		t.Fatal(err)
	}
	for i := range out {
		if out[i] != src[i] {
			t.Fatalf("round trip: byte %d = %d, want %d", i, out[i], src[i])
		}
	}
	// Overlapping device copies: shift the data up by 40 bytes, then back down.
	for _, c := range []struct{ dst, src uint64 }{{45, 5}, {5, 45}} {
		if err := p.CopyDevice(0, device.Ptr{Handle: h, Offset: c.dst}, device.Ptr{Handle: h, Offset: c.src}, n-40, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.CopyOut(0, out[:n-40], device.Ptr{Handle: h, Offset: 5}, 0); err != nil {
		t.Fatal(err)
	}
	for i := range out[:n-40] {
		if out[i] != src[i] {
			t.Fatalf("after overlapping copies: byte %d = %d, want %d", i, out[i], src[i])
		}
	}
}

// TestVulkanSplitting checks the ops the conformance suite does not take
// past the binding range (maxStorageBufferRange, 128 MiB on lavapipe):
// matmul split by rows and by K panels, softmax and reductions in several
// passes, elementwise views at unaligned offsets.
func TestVulkanSplitting(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	p := loadVulkan(t, "")
	devs, err := p.Devices()
	if err != nil {
		t.Fatal(err)
	}
	limit := devs[0].MaxBinding
	if limit == 0 || limit > 256<<20 {
		t.Skipf("binding limit %d MiB: the split cases are sized for lavapipe's 128 MiB", limit>>20)
	}
	lim := int(limit / 4)                                                      // floats in one binding
	val := func(i int) float32 { return float32((i*7919)%2001)/1000 - 1.0005 } // in ±1, never 0
	fill := func(n, seed int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = val(i + seed)
		}
		return v
	}
	near := func(what string, got float32, want, tol float64) {
		t.Helper()
		if g := float64(got); math.IsNaN(g) || math.Abs(g-want) > tol*math.Max(1, math.Abs(want)) {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}

	t.Run("scale-unaligned", func(t *testing.T) {
		n := lim + 5000
		a := fill(n+1, 1)
		ha := vkUpload(t, p, a)
		hc := vkUpload(t, p, make([]float32, n+2))
		if err := p.Launch(&device.Op{Kind: device.OpScale, A: device.Ptr{Handle: ha, Offset: 4},
			C: device.Ptr{Handle: hc, Offset: 8}, N: uint64(n), Alpha: -2}); err != nil {
			t.Fatal(err)
		}
		c := vkDownload(t, p, hc, 0, n+2)
		for _, i := range []int{0, 1, lim - 3, lim - 2, lim - 1, lim, lim + 1, n - 1} {
			near("c[2+i]", c[2+i], -2*float64(a[1+i]), 1e-6)
		}
		if c[0] != 0 || c[1] != 0 {
			t.Fatalf("elements before the view were written: %v %v", c[0], c[1])
		}
	})

	t.Run("reduce-rows-in-blocks", func(t *testing.T) {
		m, n := 3000, 12000 // 144 MB of rows
		a := fill(m*n, 3)
		ha := vkUpload(t, p, a)
		hc := vkUpload(t, p, make([]float32, m))
		if err := p.Launch(&device.Op{Kind: device.OpReduceSum, A: device.Ptr{Handle: ha}, C: device.Ptr{Handle: hc},
			M: uint64(m), N: uint64(n)}); err != nil {
			t.Fatal(err)
		}
		c := vkDownload(t, p, hc, 0, m)
		for r := 0; r < m; r++ {
			var s float64
			for _, v := range a[r*n : (r+1)*n] {
				s += float64(v)
			}
			near("row sum", c[r], s, 1e-4)
		}
	})

	t.Run("reduce-max-long-row", func(t *testing.T) {
		n := lim + lim/4 // one row longer than a binding
		a := fill(n, 5)
		a[n-7] = 3.5 // the maximum, in the second piece
		ha := vkUpload(t, p, a)
		hc := vkUpload(t, p, []float32{float32(math.NaN())})
		if err := p.Launch(&device.Op{Kind: device.OpReduceMax, A: device.Ptr{Handle: ha}, C: device.Ptr{Handle: hc},
			M: 1, N: uint64(n)}); err != nil {
			t.Fatal(err)
		}
		near("max", vkDownload(t, p, hc, 0, 1)[0], 3.5, 0)
	})

	t.Run("softmax-multipass", func(t *testing.T) {
		m, n := 2, lim/2+1000 // two rows, one per binding
		a := fill(m*n, 7)
		ha := vkUpload(t, p, a)
		hc := vkUpload(t, p, make([]float32, m*n))
		if err := p.Launch(&device.Op{Kind: device.OpSoftmax, A: device.Ptr{Handle: ha}, C: device.Ptr{Handle: hc},
			M: uint64(m), N: uint64(n)}); err != nil {
			t.Fatal(err)
		}
		c := vkDownload(t, p, hc, 0, m*n)
		for r := 0; r < m; r++ {
			row := a[r*n : (r+1)*n]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var sum float64
			for _, v := range row {
				sum += math.Exp(float64(v) - mx)
			}
			for _, j := range []int{0, 1, n / 2, n - 2, n - 1} {
				want := math.Exp(float64(row[j])-mx) / sum
				if g := float64(c[r*n+j]); math.Abs(g-want) > 1e-3*want {
					t.Fatalf("softmax row %d [%d] = %v, want %v", r, j, g, want)
				}
			}
		}
	})

	t.Run("matmul-row-blocks", func(t *testing.T) {
		m, k, n := lim/1000+700, 1000, 8 // A is past the limit
		a, b := fill(m*k, 11), fill(k*n, 13)
		ha, hb := vkUpload(t, p, a), vkUpload(t, p, b)
		hc := vkUpload(t, p, make([]float32, m*n))
		if err := p.Launch(&device.Op{Kind: device.OpMatmul, A: device.Ptr{Handle: ha}, B: device.Ptr{Handle: hb},
			C: device.Ptr{Handle: hc}, M: uint64(m), N: uint64(n), K: uint64(k), Alpha: 1}); err != nil {
			t.Fatal(err)
		}
		c := vkDownload(t, p, hc, 0, m*n)
		for _, i := range []int{0, 1, lim/1000 - 1, lim / 1000, lim/1000 + 1, m - 1} {
			for j := 0; j < n; j++ {
				var s float64
				for q := 0; q < k; q++ {
					s += float64(a[i*k+q]) * float64(b[q*n+j])
				}
				near("C", c[i*n+j], s, 1e-4)
			}
		}
	})

	t.Run("matmul-k-panels", func(t *testing.T) {
		m, k, n := 4, lim/1000+3000, 1000 // B (k x n) is past the limit; A stored transposed (k x m)
		at, b := fill(k*m, 17), fill(k*n, 19)
		c0 := fill(m*n, 23)
		ha, hb, hc := vkUpload(t, p, at), vkUpload(t, p, b), vkUpload(t, p, c0)
		if err := p.Launch(&device.Op{Kind: device.OpMatmul, A: device.Ptr{Handle: ha}, B: device.Ptr{Handle: hb},
			C: device.Ptr{Handle: hc}, M: uint64(m), N: uint64(n), K: uint64(k), TransA: true,
			Alpha: 0.5, Beta: -1}); err != nil {
			t.Fatal(err)
		}
		c := vkDownload(t, p, hc, 0, m*n)
		for i := 0; i < m; i++ {
			for _, j := range []int{0, 1, 500, n - 1} {
				var s float64
				for q := 0; q < k; q++ {
					s += float64(at[q*m+i]) * float64(b[q*n+j])
				}
				near("C", c[i*n+j], 0.5*s-float64(c0[i*n+j]), 1e-4)
			}
		}
	})

	t.Run("matmul-too-large", func(t *testing.T) {
		// B^T stored n x k with n rows spanning more than a binding: no split helps.
		k, n := 10, (1<<22)-1000
		op := device.Op{Kind: device.OpMatmul, M: 1, N: uint64(n), K: uint64(k), LDB: uint64(k), TransB: true, Alpha: 1}
		if p.Supported(&op) {
			t.Fatal("a matmul whose B^T cannot be bound was reported supported")
		}
		hb, err := p.Alloc(0, uint64(4*n*k))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Free(0, hb)
		ha, hc := vkUpload(t, p, make([]float32, k)), vkUpload(t, p, make([]float32, n))
		op.A, op.B, op.C = device.Ptr{Handle: ha}, device.Ptr{Handle: hb}, device.Ptr{Handle: hc}
		if err := p.Launch(&op); !errors.Is(err, device.ErrTooLarge) {
			t.Fatalf("launch: %v, want ErrTooLarge", err)
		}
	})
}
