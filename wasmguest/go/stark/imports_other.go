//go:build !wasip1

package stark

import (
	"fmt"
	"os"
	"time"
)

// Stand-ins for the stark imports when the package is built for anything
// but a WASM guest (go vet, unit tests of a guest's pure logic): the calls
// that need the host fail with ErrNotInGuest, Self and Sender return 0, Log
// writes to stderr and Now reads the local clock. No exports exist here.

func hostSend(uint64, uint32, []byte) int32                    { return codeNotInGuest }
func hostReply(uint32, []byte) int32                           { return codeNotInGuest }
func hostSelf() uint64                                         { return 0 }
func hostSender() uint64                                       { return 0 }
func hostNow() int64                                           { return time.Now().UnixNano() }
func hostCancelTimer(uint64) int32                             { return codeNotInGuest }
func hostSpawn(string, []byte) (uint64, int32)                 { return 0, codeNotInGuest }
func hostLookup(string) (uint64, int32)                        { return 0, codeNotInGuest }
func hostSetTimer(int64, uint32, []byte, bool) (uint64, int32) { return 0, codeNotInGuest }

func hostLog(level int32, msg string) {
	fmt.Fprintf(os.Stderr, "stark guest [%v] %s\n", Level(level), msg)
}
