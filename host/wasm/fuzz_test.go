package wasm_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stark-rt/stark/host/wasm"
)

// FuzzCompile feeds arbitrary bytes to Compile: every input is refused
// with one of the package's errors or compiles; nothing panics. The seeds
// (real modules) run in make test; run it longer with
//
//	go test ./host/wasm -run '^$' -fuzz FuzzCompile -fuzztime 5m
func FuzzCompile(f *testing.F) {
	for _, name := range []string{"c-echo", "counter-c", "c-bad-signature", "c-command"} {
		f.Add(guestBytes(f, name))
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	e, err := wasm.NewEngine(context.Background(), wasm.NewConfig().WithDeadline(50*time.Millisecond))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = e.Close(context.Background()) })
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := e.Compile(context.Background(), b)
		if err == nil {
			_ = e.Evict(m) // keep a long fuzz run's cache small
		}
		if err != nil && !errors.Is(err, wasm.ErrMalformed) && !errors.Is(err, wasm.ErrContract) &&
			!errors.Is(err, wasm.ErrTrap) && !errors.Is(err, wasm.ErrDeadline) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
