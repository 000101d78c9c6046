//go:build wasip1

// Command go is the Extism comparison plugin for the WASM benchmarks, built
// with the standard Go toolchain and the Extism Go PDK
// (github.com/extism/go-pdk, no TinyGo) into extism-go.wasm:
//
//	cd bench && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o ../build/wasm/extism-go.wasm ./wasm/extism/go
//
// It does the work of the STARK guest go-bench.wasm
// (host/wasm/testdata/go/bench) with the same msgpack codec (host/codec,
// which the STARK Go SDK's Unmarshal and ReplyValue wrap), so that the two
// measurements differ only in how the host calls the guest and moves the
// bytes.
//
// Export handle: input is the msgpack array [id (uint), data (bin)]; the
// output is the msgpack array [id + 1, data]. Malformed input sets the
// Extism error and returns 1.
package main

import (
	"github.com/extism/go-pdk"
	"github.com/stark-rt/stark/host/codec"
)

// item is the request and the response: [id, data].
type item struct {
	_msgpack struct{} `msgpack:",as_array"`
	ID       uint64
	Data     []byte
}

func main() {}

//go:wasmexport handle
func handle() int32 {
	var in item
	if err := codec.Unmarshal(pdk.Input(), &in); err != nil {
		pdk.SetError(err)
		return 1
	}
	in.ID++
	out, err := codec.Marshal(&in)
	if err != nil {
		pdk.SetError(err)
		return 1
	}
	pdk.Output(out)
	return 0
}
