package wasmcompare

import (
	"context"
	"testing"
)

func BenchmarkSpawnC(b *testing.B) {
	s := newStark(b)
	ns, err := s.MeasureSpawn(context.Background(), guest(b, "counter-c.wasm"), max(b.N, 100))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(ns, "ns/spawn")
}
