package wasmcompare

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stark-rt/stark/host/codec"
)

// plugins are the Extism plugins that make guests-extism builds.
var plugins = []struct{ name, file string }{
	{"Go", "extism-go.wasm"},
	{"C", "extism-c.wasm"},
}

// pluginPath returns the path of a built guest or plugin; a missing one
// fails the test (make guests builds them all; make test always does).
func pluginPath(tb testing.TB, file string) string {
	tb.Helper()
	path := filepath.Join(WasmDir("../.."), file)
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("%s not built (run make guests from the repository root): %v", path, err)
	}
	return path
}

func TestExtismBench(t *testing.T) {
	ctx := context.Background()
	data := Payload1KiB()
	for _, pl := range plugins {
		t.Run(pl.name, func(t *testing.T) {
			p, err := LoadExtism(ctx, pluginPath(t, pl.file), "handle")
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(ctx)
			for _, c := range []struct {
				id   uint64
				data []byte
			}{
				{41, data},
				{0, []byte{}},
				{127, []byte{1}},                  // id + 1 needs the uint8 form
				{1<<32 - 1, data[:300]},           // id + 1 needs 8 bytes; bin8 -> bin16
				{1 << 40, bytes.Repeat(data, 70)}, // 70 KiB: bin32
			} {
				out, err := p.Call(ctx, BenchInput(c.id, c.data))
				if err != nil {
					t.Fatalf("id %d: %v", c.id, err)
				}
				var got Item
				if err := codec.Unmarshal(out, &got); err != nil {
					t.Fatalf("id %d: output % x: %v", c.id, head(out), err)
				}
				if got.ID != c.id+1 || !bytes.Equal(got.Data, c.data) {
					t.Fatalf("id %d: got [%d, %d bytes]", c.id, got.ID, len(got.Data))
				}
				if want := BenchOutput(c.id, c.data); !bytes.Equal(out, want) {
					t.Fatalf("id %d: output % x, want % x", c.id, head(out), head(want))
				}
			}
			// Malformed input is the plugin's error, and the plugin keeps
			// working after it.
			for _, bad := range [][]byte{nil, {0x91, 0x01}, {0x92, 0xa1, 'x', 0xc4, 0x00}, {0x92, 0x01, 0xc4, 0x05, 1}} {
				if _, err := p.Call(ctx, bad); err == nil {
					t.Errorf("input % x accepted", bad)
				}
			}
			if _, err := p.Call(ctx, BenchInput(1, data)); err != nil {
				t.Fatalf("after malformed input: %v", err)
			}
		})
	}
}

func TestMeasureExtism(t *testing.T) {
	data := Payload1KiB()
	for _, pl := range plugins {
		path := pluginPath(t, pl.file)
		ns, err := MeasureExtism(context.Background(), path, "handle", BenchInput(7, data), BenchOutput(7, data), 50)
		if err != nil {
			t.Fatalf("%s: %v", pl.name, err)
		}
		if ns <= 0 {
			t.Fatalf("%s: %v ns per call", pl.name, ns)
		}
		t.Logf("%s: %.0f ns per call", pl.name, ns)
		_, err = MeasureExtism(context.Background(), path, "handle", BenchInput(7, data), BenchOutput(8, data), 1)
		if err == nil || !strings.Contains(err.Error(), "output") {
			t.Fatalf("%s: wrong output not reported: %v", pl.name, err)
		}
	}
}

func benchmarkExtism(b *testing.B, file string) {
	ctx := context.Background()
	p, err := LoadExtism(ctx, pluginPath(b, file), "handle")
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(ctx)
	data := Payload1KiB()
	input, want := BenchInput(41, data), BenchOutput(41, data)
	if err := p.check(ctx, input, want); err != nil { // runs _initialize
		b.Fatal(err)
	}
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.check(ctx, input, want); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtismGo1KiB: one Extism call of the Go plugin (standard Go,
// Extism Go PDK) with [id, 1 KiB], output checked.
func BenchmarkExtismGo1KiB(b *testing.B) { benchmarkExtism(b, "extism-go.wasm") }

// BenchmarkExtismC1KiB: the same with the C plugin.
func BenchmarkExtismC1KiB(b *testing.B) { benchmarkExtism(b, "extism-c.wasm") }
