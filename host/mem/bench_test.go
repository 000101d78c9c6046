package mem

import (
	"strconv"
	"testing"
)

// BenchmarkGetRelease measures the cache-hit path: one Get and one Release
// of a 1 KiB buffer on a warm pool.
func BenchmarkGetRelease(b *testing.B) {
	for _, n := range []int{64, 1024, 64 << 10} {
		b.Run(byteSize(n), func(b *testing.B) {
			p := NewPool("bench", DefaultConfig())
			warm, _ := p.Get(n)
			warm.Release()
			b.ReportAllocs()
			for b.Loop() {
				buf, err := p.Get(n)
				if err != nil {
					b.Fatal(err)
				}
				buf.Release()
			}
		})
	}
}

// BenchmarkGetReleaseParallel runs the hit path on every P at once, all on
// the same size class (the worst case for the class lock).
func BenchmarkGetReleaseParallel(b *testing.B) {
	p := NewPool("bench", DefaultConfig())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			buf, err := p.Get(1024)
			if err != nil {
				b.Error(err)
				return
			}
			buf.Release()
		}
	})
}

// BenchmarkRetainRelease measures the reference count alone.
func BenchmarkRetainRelease(b *testing.B) {
	p := NewPool("bench", DefaultConfig())
	buf, _ := p.Get(1024)
	defer buf.Release()
	for b.Loop() {
		buf.Retain()
		buf.Release()
	}
}

// BenchmarkMakeBaseline is what the pool saves: a fresh 1 KiB allocation.
func BenchmarkMakeBaseline(b *testing.B) {
	b.ReportAllocs()
	var sink []byte
	for b.Loop() {
		sink = make([]byte, 1024)
	}
	_ = sink
}

func byteSize(n int) string {
	if n >= 1<<10 && n%(1<<10) == 0 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
