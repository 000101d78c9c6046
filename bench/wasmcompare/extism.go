// Package wasmcompare measures STARK's WASM actors against Extism's Go host
// (github.com/extism/go-sdk, also on wazero) on the same workload: the
// input is the msgpack array [id (uint), data (bin)], the output the
// msgpack array [id + 1, data]; the benchmark sends 1 KiB of data.
//
// The guests doing that work, all built from source by make guests-go
// (which runs guests-extism) into build/wasm:
//
//   - go-bench.wasm (host/wasm/testdata/go/bench): the STARK guest, Go SDK.
//   - extism-go.wasm (bench/wasm/extism/go): an Extism plugin built with the
//     standard Go toolchain (GOOS=wasip1 -buildmode=c-shared,
//     //go:wasmexport) and the Extism Go PDK github.com/extism/go-pdk
//     v1.1.3 from the module proxy; TinyGo is not needed. It decodes and
//     encodes with the same codec (host/codec) as the STARK Go guest.
//   - extism-c.wasm (bench/wasm/extism/c): an Extism plugin in C built with
//     clang-14 and wasi-libc, with the Extism kernel's imports
//     (extism:host/env) declared by hand, since the Extism C PDK is not a
//     registry package; its msgpack is hand-written.
//
// Both plugins build here from registry packages only. The Go PDK's README
// suggests TinyGo, but v1.1.3 is plain Go (//go:wasmimport) and works with
// the standard toolchain's //go:wasmexport (Go 1.24 and later). The module
// proxy answers 403 to listing go-pdk's versions (go get
// github.com/extism/go-pdk@latest fails) but serves v1.1.3 by version.
// go-sdk v1.7.1 asks for wazero v1.9.0; with the main module's v1.12.0 it
// builds, passes these tests and costs about the same per call.
//
// How the hosts differ on this workload: Extism keeps a call's input and
// output in its kernel's memory, a second WASM module, so a plugin copies
// the input in and the output out eight bytes per host call (the PDKs'
// input_load_u64 and store_u64 loops), and every call also resets the
// kernel and allocates input and output blocks through kernel exports.
// go-sdk looks each kernel export up again (api.Module.ExportedFunction)
// on every use, and wazero builds a new call engine, stack included, for
// each lookup: a call allocates about 230 KiB in 55 allocations on the
// host, whatever the plugin's language. STARK writes the payload straight
// into the guest's memory and the reply is one host call that copies the
// bytes out.
//
// Extism runs here with its defaults: wazero's compiler, WASI enabled, no
// manifest allowances (no files, no hosts, no config), no timeout.
package wasmcompare

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/stark-rt/stark/host/codec"
)

// Item is the benchmark's request and response: the msgpack array
// [id, data].
type Item struct {
	_msgpack struct{} `msgpack:",as_array"`
	ID       uint64
	Data     []byte
}

// BenchInput returns the request [id, data] as msgpack.
func BenchInput(id uint64, data []byte) []byte {
	b, err := codec.Marshal(&Item{ID: id, Data: data})
	if err != nil {
		panic(err) // an Item always encodes
	}
	return b
}

// BenchOutput returns the response the guests must produce for
// BenchInput(id, data): [id + 1, data] as msgpack, integers in their
// smallest form.
func BenchOutput(id uint64, data []byte) []byte { return BenchInput(id+1, data) }

// Payload1KiB returns the benchmark's 1 KiB of data (a fixed pattern).
func Payload1KiB() []byte {
	b := make([]byte, 1024)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// WasmDir is where make builds the guests: $WASM_OUT when set (relative
// paths are taken from the repository root, as in the Makefile), else
// build/wasm in the repository root. root is the path from the current
// directory to the repository root (a test in bench/wasmcompare passes
// "../..").
func WasmDir(root string) string {
	if d := os.Getenv("WASM_OUT"); d != "" {
		if filepath.IsAbs(d) {
			return d
		}
		return filepath.Join(root, d)
	}
	return filepath.Join(root, "build", "wasm")
}

// ExtismPlugin is one instance of an Extism plugin with one export to call.
type ExtismPlugin struct {
	plugin *extism.Plugin
	export string
}

// LoadExtism compiles and instantiates the Extism plugin at path with WASI
// enabled and a manifest that grants nothing, checks that it exports
// export, and runs its initialization (a reactor's _initialize) with one
// call so that the first measured call is not the first call.
func LoadExtism(ctx context.Context, path, export string) (*ExtismPlugin, error) {
	manifest := extism.Manifest{Wasm: []extism.Wasm{extism.WasmFile{Path: path}}}
	p, err := extism.NewPlugin(ctx, manifest, extism.PluginConfig{EnableWasi: true}, nil)
	if err != nil {
		return nil, fmt.Errorf("extism: load %s: %w", path, err)
	}
	if !p.FunctionExists(export) {
		p.Close(ctx)
		return nil, fmt.Errorf("extism: %s exports no function %q", path, export)
	}
	return &ExtismPlugin{plugin: p, export: export}, nil
}

// Call calls the plugin's export with input and returns its output (a copy
// the caller owns). A non-zero return code or an error the plugin set is
// an error.
func (p *ExtismPlugin) Call(ctx context.Context, input []byte) ([]byte, error) {
	rc, out, err := p.plugin.CallWithContext(ctx, p.export, input)
	if err != nil {
		return nil, fmt.Errorf("extism: %s: %w", p.export, err)
	}
	if rc != 0 {
		return nil, fmt.Errorf("extism: %s returned %d", p.export, rc)
	}
	return out, nil
}

// Close releases the plugin and its runtime.
func (p *ExtismPlugin) Close(ctx context.Context) error { return p.plugin.Close(ctx) }

// MeasureExtism loads the plugin at path, calls export once with input and
// checks that the output is want (this also runs the guest's
// initialization), then times n further calls, checking every output, and
// returns the mean time per call in nanoseconds.
func MeasureExtism(ctx context.Context, path, export string, input, want []byte, n int) (float64, error) {
	p, err := LoadExtism(ctx, path, export)
	if err != nil {
		return 0, err
	}
	defer p.Close(ctx)
	if err := p.check(ctx, input, want); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := p.check(ctx, input, want); err != nil {
			return 0, fmt.Errorf("call %d: %w", i, err)
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(max(n, 1)), nil
}

// check calls the export and compares the output with want.
func (p *ExtismPlugin) check(ctx context.Context, input, want []byte) error {
	out, err := p.Call(ctx, input)
	if err != nil {
		return err
	}
	if !bytes.Equal(out, want) {
		return fmt.Errorf("extism: %s: output % x, want % x", p.export, head(out), head(want))
	}
	return nil
}

// head returns at most the first 16 bytes of b, for error messages.
func head(b []byte) []byte { return b[:min(len(b), 16)] }
