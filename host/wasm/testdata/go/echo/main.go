//go:build wasip1

// Command echo is the host's Go test guest for the stark imports (built to
// go-echo.wasm by make guests-go). Every reply goes to the waiting ask or
// the sender; integers are little-endian.
//
//	tag 1  reply tag 1 with the payload, unchanged
//	tag 2  payload: a ref (8 bytes); Send "ping" with tag 7 to it and reply
//	       tag 2 with the send's status as an int32 (4 bytes): 0 OK,
//	       2 NOT_FOUND, 4 FULL, ...; a payload that is not 8 bytes fails
//	       the actor
//	tag 3  reply tag 3 with Self() then Sender() (16 bytes)
//	tag 4  write the payload to the host's log at level info; reply tag 4,
//	       empty
//	tag 5  reply tag 5 with Now().UnixNano() (8 bytes)
//	other  reply tag 0, empty
package main

import (
	"encoding/binary"
	"fmt"

	"github.com/stark-rt/stark/wasmguest/go/stark"
)

func main() {}

func init() { stark.Handle(handle) }

func handle(m stark.Message) error {
	switch m.Tag {
	case 1:
		return stark.Reply(1, m.Data)
	case 2:
		if len(m.Data) != 8 {
			return fmt.Errorf("echo: tag 2 wants an 8-byte ref, got %d bytes", len(m.Data))
		}
		to := stark.Ref(binary.LittleEndian.Uint64(m.Data))
		status := stark.StatusOf(stark.Send(to, 7, []byte("ping")))
		return stark.Reply(2, binary.LittleEndian.AppendUint32(nil, uint32(status)))
	case 3:
		var b [16]byte
		binary.LittleEndian.PutUint64(b[0:], uint64(stark.Self()))
		binary.LittleEndian.PutUint64(b[8:], uint64(stark.Sender()))
		return stark.Reply(3, b[:])
	case 4:
		stark.Log(stark.LevelInfo, string(m.Data))
		return stark.Reply(4, nil)
	case 5:
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(stark.Now().UnixNano()))
		return stark.Reply(5, b[:])
	}
	return stark.Reply(0, nil)
}
