//go:build wasip1

// Command panic is the host's Go test guest for failures (built to
// go-panic.wasm by make guests-go).
//
//	tag 1  panics with "guest panicked on purpose": the SDK recovers, calls
//	       fail with "panic: guest panicked on purpose" and a short stack,
//	       and stark_handle returns 8 (INTERNAL)
//	tag 2  returns the error "handler error on purpose": fail gets that
//	       text, stark_handle returns 8
//	tag 3  indexes a slice out of range (a runtime error panic), recovered
//	       like tag 1: "panic: runtime error: index out of range [...]"
//	tag 4  appends 1 MiB slices to a package-level slice without bound:
//	       under the actor's memory limit the Go runtime aborts with a fatal
//	       "out of memory" that no recover catches, so the call traps
//	       (the runtime's message goes to stderr)
//	other  reply with the same tag and payload (echo)
package main

import (
	"errors"

	"github.com/stark-rt/stark/wasmguest/go/stark"
)

// hog keeps every allocation of tag 4 reachable.
var hog [][]byte

// index is a variable so the compiler cannot see the out-of-range index.
var index = 3

func main() {}

func init() { stark.Handle(handle) }

func handle(m stark.Message) error {
	switch m.Tag {
	case 1:
		panic("guest panicked on purpose")
	case 2:
		return errors.New("handler error on purpose")
	case 3:
		s := make([]byte, 2)
		s[index] = 1
		return nil
	case 4:
		for {
			b := make([]byte, 1<<20)
			b[0] = 1 // touch it so the memory is really used
			hog = append(hog, b)
		}
	}
	return stark.Reply(m.Tag, m.Data)
}
