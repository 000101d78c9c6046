// Package devicetest is the conformance suite every device backend must
// pass: the built-in cpu backend in its own tests, each plugin (vulkan on
// lavapipe in CI; cuda, rocm, metal where the hardware is) through
// host/device's plugin tests. Every op is checked against a float64
// reference on fresh random inputs (never zeros), with outputs poisoned
// (NaN) before each run, at odd sizes and, where the device has a binding
// limit, past it; error paths (exhaustion, bad and freed handles,
// out-of-range views) and many goroutines at once.
package devicetest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stark-rt/stark/host/device"
)

// Options tune the suite for a backend.
type Options struct {
	// BigBytes bounds the memory the past-the-binding-limit case may use
	// (0: 1 GiB). The case is skipped, with a log line, when the device
	// has no binding limit below it.
	BigBytes uint64
	// Seed for the random inputs (0: a fixed seed).
	Seed uint64
}

// Run runs the whole suite against device 0 of b (and a device count check).
func Run(t *testing.T, b device.Backend, o Options) {
	if o.BigBytes == 0 {
		o.BigBytes = 1 << 30
	}
	if o.Seed == 0 {
		o.Seed = 0x5eed
	}
	devs, err := b.Devices()
	if err != nil || len(devs) == 0 {
		t.Fatalf("%s: devices: %v (%d)", b.Name(), err, len(devs))
	}
	t.Logf("%s: device 0 is %q (%v), %d MiB, max binding %d MiB", b.Name(), devs[0].Name, devs[0].Type,
		devs[0].MemoryTotal>>20, devs[0].MaxBinding>>20)
	s := &suite{t: t, b: b, info: devs[0], rng: rand.New(rand.NewPCG(o.Seed, 7)), o: o}
	t.Run("memory", s.memory)
	t.Run("copies", s.copies)
	t.Run("elementwise", s.elementwise)
	t.Run("rows", s.rowOps)
	t.Run("matmul", s.matmul)
	t.Run("past-binding-limit", s.big)
	t.Run("errors", s.errors)
	t.Run("concurrent", s.concurrent)
	t.Run("streams", s.streams)
}

type suite struct {
	t    *testing.T
	b    device.Backend
	info device.Info
	rng  *rand.Rand
	o    Options
	mu   sync.Mutex
}

// random returns n floats in ±[0.25, 2): never zero, never tiny.
func (s *suite) random(n int) []float32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := make([]float32, n)
	for i := range v {
		x := 0.25 + 1.75*s.rng.Float32()
		if s.rng.IntN(2) == 0 {
			x = -x
		}
		v[i] = x
	}
	return v
}

func bytesOf(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func floatsOf(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// buf is a device buffer of floats for a test.
type buf struct {
	h uint64
	n int
}

func (s *suite) alloc(t testing.TB, n int) buf {
	t.Helper()
	h, err := s.b.Alloc(0, uint64(4*n))
	if err != nil {
		t.Fatalf("alloc %d floats: %v", n, err)
	}
	t.Cleanup(func() { _ = s.b.Free(0, h) })
	return buf{h, n}
}

func (s *suite) upload(t testing.TB, v []float32) buf {
	t.Helper()
	d := s.alloc(t, len(v))
	if err := s.b.CopyIn(0, device.Ptr{Handle: d.h}, bytesOf(v), 0); err != nil {
		t.Fatalf("copy in: %v", err)
	}
	return d
}

// poisoned allocates n floats filled with NaN (so an op that skips writing
// an element is caught).
func (s *suite) poisoned(t testing.TB, n int) buf {
	t.Helper()
	nan := make([]float32, n)
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	return s.upload(t, nan)
}

func (s *suite) download(t testing.TB, d buf) []float32 {
	t.Helper()
	out := make([]byte, 4*d.n)
	if err := s.b.CopyOut(0, out, device.Ptr{Handle: d.h}, 0); err != nil {
		t.Fatalf("copy out: %v", err)
	}
	return floatsOf(out)
}

func (s *suite) launch(t testing.TB, op device.Op) {
	t.Helper()
	if !s.b.Supported(&op) {
		t.Fatalf("%v f32 not supported: every backend must support the f32 op set", op.Kind)
	}
	if err := s.b.Launch(&op); err != nil {
		t.Fatalf("%v (m=%d n=%d k=%d): %v", op.Kind, op.M, op.N, op.K, err)
	}
}

// near reports whether got is within tol (relative, with an absolute floor) of want.
func near(got float32, want, tol float64) bool {
	g := float64(got)
	if math.IsNaN(g) || math.IsInf(g, 0) {
		return false
	}
	return math.Abs(g-want) <= tol*math.Max(1, math.Abs(want))
}

func check(t testing.TB, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s: %d results, want %d", what, len(got), len(want))
	}
	for i, w := range want {
		if !near(got[i], w, tol) {
			t.Fatalf("%s: element %d = %v, want %v (tolerance %g)", what, i, got[i], w, tol)
		}
	}
}

var oddSizes = []int{1, 3, 17, 255, 1023, 4097, 65537}

func (s *suite) memory(t *testing.T) {
	h, err := s.b.Alloc(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.b.Free(0, h); err != nil {
		t.Fatal(err)
	}
	if err := s.b.Free(0, h); !errors.Is(err, device.ErrNotFound) && !errors.Is(err, device.ErrInvalid) {
		t.Fatalf("double free: %v, want ErrNotFound", err)
	}
}

func (s *suite) copies(t *testing.T) {
	for _, n := range []int{1, 7, 4096, 100003} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i*31 + 7)
		}
		h, err := s.b.Alloc(0, uint64(n+64))
		if err != nil {
			t.Fatal(err)
		}
		defer s.b.Free(0, h)
		if err := s.b.CopyIn(0, device.Ptr{Handle: h, Offset: 64}, src, 0); err != nil {
			t.Fatalf("copy in %d at 64: %v", n, err)
		}
		h2, err := s.b.Alloc(0, uint64(n+64))
		if err != nil {
			t.Fatal(err)
		}
		defer s.b.Free(0, h2)
		if err := s.b.CopyDevice(0, device.Ptr{Handle: h2, Offset: 8}, device.Ptr{Handle: h, Offset: 64}, uint64(n), 0); err != nil {
			t.Fatalf("copy device: %v", err)
		}
		out := make([]byte, n)
		if err := s.b.CopyOut(0, out, device.Ptr{Handle: h2, Offset: 8}, 0); err != nil {
			t.Fatal(err)
		}
		for i := range out {
			if out[i] != src[i] {
				t.Fatalf("%d bytes: byte %d = %d, want %d", n, i, out[i], src[i])
			}
		}
	}
}

func (s *suite) elementwise(t *testing.T) {
	for _, n := range oddSizes {
		a, b := s.random(n), s.random(n)
		da, db := s.upload(t, a), s.upload(t, b)
		alpha := 1.5
		type tc struct {
			kind device.OpKind
			ref  func(i int) float64
		}
		for _, c := range []tc{
			{device.OpFill, func(int) float64 { return alpha }},
			{device.OpCopy, func(i int) float64 { return float64(a[i]) }},
			{device.OpScale, func(i int) float64 { return alpha * float64(a[i]) }},
			{device.OpAdd, func(i int) float64 { return float64(a[i]) + float64(b[i]) }},
			{device.OpMul, func(i int) float64 { return float64(a[i]) * float64(b[i]) }},
			{device.OpRelu, func(i int) float64 { return math.Max(float64(a[i]), 0) }},
		} {
			out := s.poisoned(t, n)
			s.launch(t, device.Op{Kind: c.kind, A: device.Ptr{Handle: da.h}, B: device.Ptr{Handle: db.h},
				C: device.Ptr{Handle: out.h}, N: uint64(n), Alpha: alpha})
			want := make([]float64, n)
			for i := range want {
				want[i] = c.ref(i)
			}
			check(t, fmt.Sprintf("%v n=%d", c.kind, n), s.download(t, out), want, 1e-6)
		}
		// axpy accumulates into c.
		y := s.random(n)
		dy := s.upload(t, y)
		s.launch(t, device.Op{Kind: device.OpAxpy, A: device.Ptr{Handle: da.h}, C: device.Ptr{Handle: dy.h}, N: uint64(n), Alpha: -0.75})
		want := make([]float64, n)
		for i := range want {
			want[i] = -0.75*float64(a[i]) + float64(y[i])
		}
		check(t, fmt.Sprintf("axpy n=%d", n), s.download(t, dy), want, 1e-5)
	}
	// A view at an offset: add on the second half only.
	n := 1000
	a := s.random(2 * n)
	da := s.upload(t, a)
	out := s.poisoned(t, n)
	s.launch(t, device.Op{Kind: device.OpAdd, A: device.Ptr{Handle: da.h, Offset: 4 * uint64(n)},
		B: device.Ptr{Handle: da.h}, C: device.Ptr{Handle: out.h}, N: uint64(n)})
	want := make([]float64, n)
	for i := range want {
		want[i] = float64(a[n+i]) + float64(a[i])
	}
	check(t, "add at an offset", s.download(t, out), want, 1e-6)
}

func (s *suite) rowOps(t *testing.T) {
	for _, shape := range [][2]int{{1, 1}, {1, 1000}, {7, 33}, {64, 1023}, {300, 5}} {
		m, n := shape[0], shape[1]
		lda := n + 3 // padded rows
		a := s.random(m * lda)
		da := s.upload(t, a)
		for _, kind := range []device.OpKind{device.OpReduceSum, device.OpReduceMax} {
			out := s.poisoned(t, m)
			s.launch(t, device.Op{Kind: kind, A: device.Ptr{Handle: da.h}, C: device.Ptr{Handle: out.h},
				M: uint64(m), N: uint64(n), LDA: uint64(lda)})
			want := make([]float64, m)
			for r := range want {
				acc := math.Inf(-1)
				if kind == device.OpReduceSum {
					acc = 0
				}
				for j := 0; j < n; j++ {
					v := float64(a[r*lda+j])
					if kind == device.OpReduceSum {
						acc += v
					} else {
						acc = math.Max(acc, v)
					}
				}
				want[r] = acc
			}
			check(t, fmt.Sprintf("%v %dx%d", kind, m, n), s.download(t, out), want, 1e-4*math.Sqrt(float64(n)))
		}
		out := s.poisoned(t, m*n)
		s.launch(t, device.Op{Kind: device.OpSoftmax, A: device.Ptr{Handle: da.h}, C: device.Ptr{Handle: out.h},
			M: uint64(m), N: uint64(n), LDA: uint64(lda)})
		want := make([]float64, m*n)
		for r := 0; r < m; r++ {
			mx := math.Inf(-1)
			for j := 0; j < n; j++ {
				mx = math.Max(mx, float64(a[r*lda+j]))
			}
			var sum float64
			for j := 0; j < n; j++ {
				sum += math.Exp(float64(a[r*lda+j]) - mx)
			}
			for j := 0; j < n; j++ {
				want[r*n+j] = math.Exp(float64(a[r*lda+j])-mx) / sum
			}
		}
		check(t, fmt.Sprintf("softmax %dx%d", m, n), s.download(t, out), want, 1e-4)
	}
}

func (s *suite) matmul(t *testing.T) {
	type tc struct {
		m, n, k     int
		ta, tb      bool
		pad         int
		alpha, beta float64
	}
	cases := []tc{
		{1, 1, 1, false, false, 0, 1, 0},
		{3, 5, 7, false, false, 0, 1, 0},
		{17, 31, 13, true, false, 2, 0.5, 0},
		{33, 9, 65, false, true, 1, 1, 0.25},
		{64, 64, 64, true, true, 0, -1, 1},
		{129, 257, 100, false, false, 3, 1, 0},
		{200, 150, 300, true, true, 5, 2, 0.5},
	}
	for _, c := range cases {
		ar, ac := c.m, c.k
		if c.ta {
			ar, ac = c.k, c.m
		}
		br, bc := c.k, c.n
		if c.tb {
			br, bc = c.n, c.k
		}
		lda, ldb, ldc := ac+c.pad, bc+c.pad, c.n+c.pad
		a, b := s.random(ar*lda), s.random(br*ldb)
		cv := s.random(c.m * ldc)
		if c.beta == 0 { // beta 0 must ignore C's contents, NaN included
			for i := range cv {
				cv[i] = float32(math.NaN())
			}
		}
		da, db, dc := s.upload(t, a), s.upload(t, b), s.upload(t, cv)
		s.launch(t, device.Op{Kind: device.OpMatmul, A: device.Ptr{Handle: da.h}, B: device.Ptr{Handle: db.h},
			C: device.Ptr{Handle: dc.h}, M: uint64(c.m), N: uint64(c.n), K: uint64(c.k),
			LDA: uint64(lda), LDB: uint64(ldb), LDC: uint64(ldc), TransA: c.ta, TransB: c.tb, Alpha: c.alpha, Beta: c.beta})
		got := s.download(t, dc)
		want := device.ReferenceMatmul(c.m, c.n, c.k, c.alpha, a, lda, c.ta, b, ldb, c.tb, c.beta, cv, ldc)
		tol := 2e-5 * math.Sqrt(float64(c.k)) * 4
		for i := 0; i < c.m; i++ {
			for j := 0; j < c.n; j++ {
				if !near(got[i*ldc+j], want[i*c.n+j], tol) {
					t.Fatalf("matmul %+v: C[%d,%d] = %v, want %v", c, i, j, got[i*ldc+j], want[i*c.n+j])
				}
			}
		}
	}
}

// big runs an op on a buffer larger than one binding can address.
func (s *suite) big(t *testing.T) {
	limit := s.info.MaxBinding
	if limit == 0 || limit+(1<<20) > s.o.BigBytes/3 {
		t.Logf("device binding limit %d MiB: no past-the-limit case within %d MiB (checked where the limit is small, e.g. lavapipe's 128 MiB)", limit>>20, s.o.BigBytes>>20)
		return
	}
	n := int(limit/4) + 4099 // past the limit, odd
	a, b := s.random(n), s.random(n)
	da, db := s.upload(t, a), s.upload(t, b)
	out := s.poisoned(t, n)
	s.launch(t, device.Op{Kind: device.OpAdd, A: device.Ptr{Handle: da.h}, B: device.Ptr{Handle: db.h}, C: device.Ptr{Handle: out.h}, N: uint64(n)})
	got := s.download(t, out)
	for _, i := range []int{0, n / 2, int(limit/4) - 1, int(limit / 4), n - 1} {
		if !near(got[i], float64(a[i])+float64(b[i]), 1e-6) {
			t.Fatalf("add past the binding limit: element %d = %v, want %v", i, got[i], a[i]+b[i])
		}
	}
	sum := s.poisoned(t, 1)
	s.launch(t, device.Op{Kind: device.OpReduceSum, A: device.Ptr{Handle: da.h}, C: device.Ptr{Handle: sum.h}, M: 1, N: uint64(n)})
	var want float64
	for _, v := range a {
		want += float64(v)
	}
	if g := s.download(t, sum)[0]; math.Abs(float64(g)-want) > 1e-3*math.Sqrt(float64(n)) {
		t.Fatalf("reduce_sum past the binding limit: %v, want %v", g, want)
	}
}

func (s *suite) errors(t *testing.T) {
	if _, err := s.b.Alloc(0, 1<<62); !errors.Is(err, device.ErrExhausted) && !errors.Is(err, device.ErrTooLarge) {
		t.Fatalf("alloc of 4 EiB: %v, want ErrExhausted or ErrTooLarge", err)
	}
	if _, err := s.b.Alloc(99, 16); !errors.Is(err, device.ErrNotFound) && !errors.Is(err, device.ErrInvalid) {
		t.Fatalf("alloc on device 99: %v", err)
	}
	forged := device.Ptr{Handle: 0xdead_beef_0bad_f00d}
	if err := s.b.CopyIn(0, forged, []byte{1, 2, 3, 4}, 0); !errors.Is(err, device.ErrNotFound) && !errors.Is(err, device.ErrInvalid) {
		t.Fatalf("copy into a forged handle: %v", err)
	}
	d := s.alloc(t, 16)
	if err := s.b.CopyIn(0, device.Ptr{Handle: d.h, Offset: 60}, make([]byte, 8), 0); !errors.Is(err, device.ErrInvalid) {
		t.Fatalf("copy past the end: %v, want ErrInvalid", err)
	}
	if err := s.b.Launch(&device.Op{Kind: device.OpAdd, A: device.Ptr{Handle: d.h}, B: device.Ptr{Handle: d.h}, C: device.Ptr{Handle: d.h}, N: 17}); !errors.Is(err, device.ErrInvalid) {
		t.Fatalf("op past the end: %v, want ErrInvalid", err)
	}
	h, err := s.b.Alloc(0, 64)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.b.Free(0, h)
	if err := s.b.Launch(&device.Op{Kind: device.OpFill, C: device.Ptr{Handle: h}, N: 4, Alpha: 1}); !errors.Is(err, device.ErrNotFound) && !errors.Is(err, device.ErrInvalid) {
		t.Fatalf("fill of a freed buffer: %v", err)
	}
	bad := device.Op{Kind: device.OpKind(999), C: device.Ptr{Handle: d.h}, N: 1}
	if s.b.Supported(&bad) || s.b.Launch(&bad) == nil {
		t.Fatal("an unknown op kind was accepted")
	}
	odd := device.Op{Kind: device.OpFill, DType: device.DType(77), C: device.Ptr{Handle: d.h}, N: 1}
	if s.b.Supported(&odd) || s.b.Launch(&odd) == nil {
		t.Fatal("an unknown dtype was accepted")
	}
	if _, err := s.b.LoadModule(0, device.ModuleFormat(99), []byte{1}); err == nil {
		t.Fatal("a module of an unknown format loaded")
	}
}

func (s *suite) concurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 1000 + g*37
			a := s.random(n)
			h, err := s.b.Alloc(0, uint64(4*n))
			if err != nil {
				errs <- err
				return
			}
			defer s.b.Free(0, h)
			for round := 0; round < 20; round++ {
				if err := s.b.CopyIn(0, device.Ptr{Handle: h}, bytesOf(a), 0); err != nil {
					errs <- err
					return
				}
				if err := s.b.Launch(&device.Op{Kind: device.OpScale, A: device.Ptr{Handle: h}, C: device.Ptr{Handle: h}, N: uint64(n), Alpha: 2}); err != nil {
					errs <- err
					return
				}
				out := make([]byte, 4*n)
				if err := s.b.CopyOut(0, out, device.Ptr{Handle: h}, 0); err != nil {
					errs <- err
					return
				}
				for i, v := range floatsOf(out) {
					if !near(v, 2*float64(a[i]), 1e-6) {
						errs <- fmt.Errorf("goroutine %d round %d: element %d = %v, want %v", g, round, i, v, 2*a[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func (s *suite) streams(t *testing.T) {
	st, err := s.b.NewStream(0)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	defer s.b.FreeStream(0, st)
	n := 5000
	a := s.random(n)
	da := s.alloc(t, n)
	if err := s.b.CopyIn(0, device.Ptr{Handle: da.h}, bytesOf(a), st); err != nil {
		t.Fatal(err)
	}
	out := s.poisoned(t, n)
	if err := s.b.Launch(&device.Op{Kind: device.OpRelu, Stream: st, A: device.Ptr{Handle: da.h}, C: device.Ptr{Handle: out.h}, N: uint64(n)}); err != nil {
		t.Fatal(err)
	}
	if err := s.b.SyncStream(0, st); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, n)
	for i := range want {
		want[i] = math.Max(float64(a[i]), 0)
	}
	check(t, "relu on a stream", s.download(t, out), want, 1e-6)
	if err := s.b.Sync(0); err != nil {
		t.Fatal(err)
	}
}
