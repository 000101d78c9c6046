package task

import (
	"context"
	"testing"
)

const benchN = 1 << 20

func benchInput() []float64 {
	in := make([]float64, benchN)
	for i := range in {
		in[i] = float64(i)
	}
	return in
}

// BenchmarkSquareLoop is the baseline: a plain loop into a new slice.
func BenchmarkSquareLoop(b *testing.B) {
	in := benchInput()
	b.SetBytes(benchN * 8)
	for b.Loop() {
		out := make([]float64, len(in))
		for i, x := range in {
			out[i] = x * x
		}
		_ = out
	}
}

// BenchmarkSquareMap is Map with one call of fn per element.
func BenchmarkSquareMap(b *testing.B) {
	in := benchInput()
	b.SetBytes(benchN * 8)
	for b.Loop() {
		if _, err := Map(context.Background(), GoExecutor{}, in, 0, func(x float64) float64 { return x * x }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSquareRange is Range writing a preallocated slice with a tight
// loop per chunk: the form to use on hot numeric paths.
func BenchmarkSquareRange(b *testing.B) {
	in := benchInput()
	out := make([]float64, len(in))
	b.SetBytes(benchN * 8)
	for b.Loop() {
		err := Range(context.Background(), GoExecutor{}, len(in), 0, func(lo, hi int) error {
			dst := out[lo:hi]
			for i, x := range in[lo:hi] {
				dst[i] = x * x
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSquareLoopPrealloc is the baseline for Range.
func BenchmarkSquareLoopPrealloc(b *testing.B) {
	in := benchInput()
	out := make([]float64, len(in))
	b.SetBytes(benchN * 8)
	for b.Loop() {
		for i, x := range in {
			out[i] = x * x
		}
	}
}

func BenchmarkScopeGoWait100(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		s := NewScope(context.Background())
		for range 100 {
			s.Go(func(context.Context) error { return nil })
		}
		if err := s.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJoin4(b *testing.B) {
	b.ReportAllocs()
	fn := func(context.Context) (int, error) { return 1, nil }
	for b.Loop() {
		if _, err := Join(context.Background(), fn, fn, fn, fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPoolSubmit(b *testing.B) {
	b.ReportAllocs()
	p := NewBlockingPool(2, 1024)
	defer p.Close()
	fn := func() {}
	for b.Loop() {
		if err := p.Submit(context.Background(), fn); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenChildCancel(b *testing.B) {
	b.ReportAllocs()
	root := NewToken()
	for b.Loop() {
		root.Child().Cancel(nil)
	}
}
