//go:build wasip1

// Command counter-go is a STARK WASM actor written with the Go guest SDK: a
// 64-bit counter. The C example (examples/wasm/counter-c) speaks exactly the
// same protocol.
//
// Build (make guests-go does this into build/wasm/counter-go.wasm):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o counter-go.wasm ./examples/wasm/counter-go
//
// Protocol (payloads are MessagePack):
//
//	init bytes  empty, or a msgpack int: the starting total (default 0)
//	tag 1 add   payload: msgpack int n; adds n to the total (wrapping at
//	            64 bits) and replies tag 1 with the new total (msgpack int)
//	tag 2 get   payload ignored; replies tag 2 with the total (msgpack int)
//
// Any other tag, or an add whose payload is not exactly one msgpack
// integer, fails the actor (the handler returns an error; init bytes that
// are not one integer fail the spawn). Replies go to the waiting ask or to
// the sender; a message with neither cannot be answered, and, as in the C
// version, the reply's status is ignored.
package main

import (
	"fmt"

	"github.com/stark-rt/stark/wasmguest/go/stark"
)

// Tags of the counter protocol.
const (
	tagAdd = 1
	tagGet = 2
)

// total is the actor's state. Each instance is one actor, so a package
// variable is the natural place for it.
var total int64

func main() {}

func init() {
	stark.OnInit(func(args []byte) error {
		if len(args) == 0 {
			return nil
		}
		start, err := stark.Decode[int64](args)
		if err != nil {
			return fmt.Errorf("counter: init bytes: %w", err)
		}
		total = start
		return nil
	})
	stark.Handle(handle)
}

func handle(m stark.Message) error {
	switch m.Tag {
	case tagAdd:
		n, err := stark.Decode[int64](m.Data)
		if err != nil {
			return fmt.Errorf("counter: add: %w", err)
		}
		total += n // wraps around on overflow, as in C
		reply(tagAdd)
		return nil
	case tagGet:
		reply(tagGet)
		return nil
	}
	return fmt.Errorf("counter: unknown tag %d", m.Tag)
}

// reply answers with the total; a message nobody waits for (a plain send
// without a sender) cannot be answered, which is not the counter's failure.
func reply(tag uint32) {
	_ = stark.ReplyValue(tag, total)
}
