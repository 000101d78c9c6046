//go:build wasip1

// Command bench is the guest of the WASM benchmarks (built to go-bench.wasm
// by make guests-go), written the way a Go guest author naturally would:
// the SDK's msgpack helpers (stark.Unmarshal and stark.ReplyValue, over
// github.com/vmihailenco/msgpack/v5 with a struct encoded as an array), not
// a hand-written decoder. The Extism comparison plugin
// (bench/wasm/extism/go) does the same work with the same codec.
//
//	tag 1  payload: msgpack array [id (uint), data (bin)]; reply tag 1
//	       with the msgpack array [id + 1, data]. A payload that is not
//	       such an array fails the actor.
//	other  fails the actor
package main

import (
	"fmt"

	"github.com/stark-rt/stark/wasmguest/go/stark"
)

// item is the request and the response: [id, data].
type item struct {
	_msgpack struct{} `msgpack:",as_array"`
	ID       uint64
	Data     []byte
}

func main() {}

func init() { stark.Handle(handle) }

func handle(m stark.Message) error {
	if m.Tag != 1 {
		return fmt.Errorf("bench: unknown tag %d", m.Tag)
	}
	var in item
	if err := stark.Unmarshal(m.Data, &in); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	in.ID++
	return stark.ReplyValue(1, &in)
}
