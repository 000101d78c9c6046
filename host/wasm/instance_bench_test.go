package wasm

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkInstantiate: one instance of a cached C-guest module, created
// and closed (no actor): what each spawn and restart pays for the guest.
func BenchmarkInstantiate(b *testing.B) {
	ctx := context.Background()
	e, err := NewEngine(ctx, NewConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(ctx)
	bin, err := os.ReadFile(filepath.Join("..", "..", "build", "wasm", "counter-c.wasm"))
	if err != nil {
		b.Fatalf("%v (run make guests)", err)
	}
	for _, mode := range []struct {
		name string
		opts []CompileOption
	}{{"sandboxed", nil}, {"trusted", []CompileOption{Trusted()}}} {
		b.Run(mode.name, func(b *testing.B) {
			m, err := e.Compile(ctx, bin, mode.opts...)
			if err != nil {
				b.Fatal(err)
			}
			a := &wasmActor{spec: &spec{engine: e, lim: e.defaultLimits()}}
			for b.Loop() {
				in, err := newInstance(ctx, m, a.spec.lim, nil, a)
				if err != nil {
					b.Fatal(err)
				}
				if err := in.init(nil, nil); err != nil {
					b.Fatal(err)
				}
				in.close(ctx)
			}
		})
	}
}
