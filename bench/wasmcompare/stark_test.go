package wasmcompare

import (
	"context"
	"testing"
	"time"
)

func guest(tb testing.TB, name string) string {
	tb.Helper()
	return pluginPath(tb, name)
}

func newStark(tb testing.TB) *Stark {
	tb.Helper()
	s, err := NewStark(context.Background(), 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

// TestStarkHarness runs every STARK measurement briefly: each checks the
// guest's reply before it times anything.
func TestStarkHarness(t *testing.T) {
	ctx := context.Background()
	s := newStark(t)
	for _, g := range []string{"c-bench.wasm", "go-bench.wasm"} {
		p := guest(t, g)
		for _, interruptible := range []bool{false, true} {
			if _, err := MeasureRaw(ctx, p, interruptible, 10); err != nil {
				t.Fatalf("%s raw: %v", g, err)
			}
			if _, err := s.MeasureActor(ctx, p, !interruptible, 100, 16); err != nil {
				t.Fatalf("%s actor: %v", g, err)
			}
			if _, err := s.MeasureAsk(ctx, p, !interruptible, 10); err != nil {
				t.Fatalf("%s ask: %v", g, err)
			}
		}
	}
	counter := guest(t, "counter-c.wasm")
	if _, err := s.MeasureSpawn(ctx, counter, 10); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LiveMemory(ctx, counter, 100); err != nil {
		t.Fatal(err)
	}
}

func benchRaw(b *testing.B, file string, interruptible bool) {
	c, err := MeasureRaw(context.Background(), guest(b, file), interruptible, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(c.Wall, "ns/msg")
	b.ReportMetric(c.CPU, "cpu-ns/msg")
}

func benchActor(b *testing.B, file string, trusted bool) {
	s := newStark(b)
	c, err := s.MeasureActor(context.Background(), guest(b, file), trusted, max(b.N, 1000), 256)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(c.Wall, "ns/msg")
	b.ReportMetric(c.CPU, "cpu-ns/msg")
}

func BenchmarkRawCTrusted1KiB(b *testing.B)      { benchRaw(b, "c-bench.wasm", false) }
func BenchmarkRawCSandboxed1KiB(b *testing.B)    { benchRaw(b, "c-bench.wasm", true) }
func BenchmarkActorCTrusted1KiB(b *testing.B)    { benchActor(b, "c-bench.wasm", true) }
func BenchmarkActorCSandboxed1KiB(b *testing.B)  { benchActor(b, "c-bench.wasm", false) }
func BenchmarkRawGoTrusted1KiB(b *testing.B)     { benchRaw(b, "go-bench.wasm", false) }
func BenchmarkActorGoSandboxed1KiB(b *testing.B) { benchActor(b, "go-bench.wasm", false) }
func BenchmarkActorGoTrusted1KiB(b *testing.B)   { benchActor(b, "go-bench.wasm", true) }
func BenchmarkRawGoSandboxed1KiB(b *testing.B)   { benchRaw(b, "go-bench.wasm", true) }
