package wasm

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/mem"
)

// Errors of the wasm package. Test for them with errors.Is.
var (
	// ErrMalformed: the bytes are not a WebAssembly module wazero can compile.
	ErrMalformed = errors.New("stark/wasm: malformed module")
	// ErrContract: the module does not fit the guest contract (an export
	// missing or mistyped, an unknown import, a command instead of a
	// reactor, another ABI version). The message names what is wrong.
	ErrContract = errors.New("stark/wasm: module does not fit the guest contract")
	// ErrTrap: the guest trapped (unreachable, out-of-bounds access, stack
	// exhaustion, a pointer outside its memory given to a host function,
	// an exit) and its instance was closed.
	ErrTrap = errors.New("stark/wasm: guest trapped")
	// ErrDeadline: a message ran past its deadline and the instance was closed.
	ErrDeadline = errors.New("stark/wasm: message deadline exceeded")
	// ErrGuestStatus: an export returned a non-zero status.
	ErrGuestStatus = errors.New("stark/wasm: guest reported a failure")
	// ErrTooLarge: a payload is over the actor's message limit.
	ErrTooLarge = errors.New("stark/wasm: payload over the message limit")
	// ErrDenied: the actor's spawn options do not grant this.
	ErrDenied = errors.New("stark/wasm: not granted")
	// ErrUnknownModule: no module is registered under the name.
	ErrUnknownModule = errors.New("stark/wasm: no module registered under that name")
	// ErrClosed: the engine was closed.
	ErrClosed = errors.New("stark/wasm: engine closed")
	// ErrNotWASM: a message sent to a WASM actor carries a Go value, not bytes.
	ErrNotWASM = errors.New("stark/wasm: WASM actors take byte payloads")
)

// GuestError is the reason recorded when a guest fails: which export, the
// status it returned (for ErrGuestStatus), the reason the guest gave
// through stark.fail, and the tail of what it wrote to stderr (where a Go
// guest's runtime prints a fatal error). It unwraps to one of ErrTrap,
// ErrDeadline, ErrGuestStatus, ErrTooLarge, ErrNotWASM and to the
// underlying error.
type GuestError struct {
	Module string // the module's name (file name or hash prefix)
	Export string // the export that was running
	Kind   error  // ErrTrap, ErrDeadline, ErrGuestStatus, ...
	Status int32  // for ErrGuestStatus
	Reason string // what the guest said (stark.fail), if anything
	Stderr string // the last bytes the guest wrote to stderr
	Err    error  // the underlying error (wazero's trap), if any
}

func (e *GuestError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "wasm %s: %s", e.Module, e.Export)
	switch {
	case errors.Is(e.Kind, ErrGuestStatus):
		fmt.Fprintf(&b, " returned status %d (%s)", e.Status, Status(e.Status))
	default:
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "stark/wasm: "))
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(firstLine(e.Err.Error()))
	}
	if e.Stderr != "" {
		b.WriteString("; stderr: ")
		b.WriteString(e.Stderr)
	}
	return b.String()
}

// Unwrap returns the kind and the underlying error.
func (e *GuestError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Status is a status code of the guest contract (docs/wasm-abi.md); the C
// ABI uses the same numbers.
type Status int32

// The contract's status codes.
const (
	StatusOK          Status = 0
	StatusInvalid     Status = 1
	StatusNotFound    Status = 2
	StatusTimeout     Status = 3
	StatusFull        Status = 4
	StatusExhausted   Status = 5
	StatusStopped     Status = 6
	StatusUnsupported Status = 7
	StatusInternal    Status = 8
	StatusDenied      Status = 9
	StatusTooLarge    Status = 10
)

var statusNames = [...]string{"ok", "invalid argument", "not found", "timeout", "full",
	"exhausted", "stopped", "unsupported", "internal error", "denied", "too large"}

func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status %d", int32(s))
}

// StatusOf maps an error of the runtime to the status a guest sees.
func StatusOf(err error) Status {
	switch {
	case err == nil:
		return StatusOK
	case errors.Is(err, actor.ErrStaleRef), errors.Is(err, actor.ErrNotFound),
		errors.Is(err, actor.ErrNoReplyTarget), errors.Is(err, ErrUnknownModule):
		return StatusNotFound
	case errors.Is(err, actor.ErrMailboxFull):
		return StatusFull
	case errors.Is(err, actor.ErrStopped), errors.Is(err, actor.ErrKilled), errors.Is(err, ErrClosed):
		return StatusStopped
	case errors.Is(err, actor.ErrTimeout), errors.Is(err, actor.ErrAskAbandoned):
		return StatusTimeout
	case errors.Is(err, actor.ErrTooManyActors), errors.Is(err, mem.ErrPoolExhausted):
		return StatusExhausted
	case errors.Is(err, ErrDenied):
		return StatusDenied
	case errors.Is(err, ErrTooLarge):
		return StatusTooLarge
	case errors.Is(err, actor.ErrInvalid), errors.Is(err, actor.ErrNameTaken):
		return StatusInvalid
	}
	return StatusInternal
}
