package stark

import (
	"errors"
	"strconv"
)

// Status is a status code of the guest contract: what an import returns and
// what an export hands back to the host. The numbers are the contract's
// (docs/wasm-abi.md) and the C ABI's; 0 is OK.
type Status int32

// The contract's status codes.
const (
	StatusOK          Status = 0  // done
	StatusInvalid     Status = 1  // bad argument (unknown level, negative delay, ...)
	StatusNotFound    Status = 2  // stale or unknown ref, unknown name or timer
	StatusTimeout     Status = 3  // a deadline passed
	StatusFull        Status = 4  // the target's mailbox is full
	StatusExhausted   Status = 5  // a limit of the host was reached (actors, memory)
	StatusStopped     Status = 6  // the target or the runtime is stopping
	StatusUnsupported Status = 7  // the host does not offer this here
	StatusInternal    Status = 8  // a bug in the host (or, from an export, a failed guest)
	StatusDenied      Status = 9  // the actor's spawn options do not grant this
	StatusTooLarge    Status = 10 // a payload over the actor's message limit
)

var statusNames = [...]string{
	StatusOK:          "OK",
	StatusInvalid:     "INVALID",
	StatusNotFound:    "NOT_FOUND",
	StatusTimeout:     "TIMEOUT",
	StatusFull:        "FULL",
	StatusExhausted:   "EXHAUSTED",
	StatusStopped:     "STOPPED",
	StatusUnsupported: "UNSUPPORTED",
	StatusInternal:    "INTERNAL",
	StatusDenied:      "DENIED",
	StatusTooLarge:    "TOO_LARGE",
}

var statusMeanings = [...]string{
	StatusOK:          "done",
	StatusInvalid:     "bad argument",
	StatusNotFound:    "stale or unknown ref, unknown name or timer",
	StatusTimeout:     "a deadline passed",
	StatusFull:        "the target's mailbox is full",
	StatusExhausted:   "a limit of the host was reached",
	StatusStopped:     "the target or the runtime is stopping",
	StatusUnsupported: "the host does not offer this here",
	StatusInternal:    "internal error in the host",
	StatusDenied:      "not granted by the actor's spawn options",
	StatusTooLarge:    "payload over the actor's message limit",
}

// String returns the contract's name of the code ("NOT_FOUND"), or
// "status N" for a code this SDK does not know (a newer host's). Cost: none
// (no allocation for known codes).
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "status " + strconv.Itoa(int(s))
}

// Err returns nil for StatusOK and otherwise the sentinel error for the
// code (ErrNotFound for StatusNotFound, ...), or a *StatusError for a code
// this SDK does not know. Cost: none.
func (s Status) Err() error {
	if s == StatusOK {
		return nil
	}
	if s > 0 && int(s) < len(sentinels) {
		return sentinels[s]
	}
	return &StatusError{Status: s}
}

// StatusError is the error for a non-OK status returned by the host. Op
// names the call that failed ("send", "spawn", ...) and is empty in the
// sentinels below. errors.Is(err, ErrFull) is true for every *StatusError
// whose Status is StatusFull, whatever its Op.
type StatusError struct {
	Op     string // the import that returned the status, or ""
	Status Status
}

// Error returns "stark: OP: NAME (meaning)". Cost: builds the string.
func (e *StatusError) Error() string {
	s := "stark: "
	if e.Op != "" {
		s += e.Op + ": "
	}
	s += e.Status.String()
	if e.Status >= 0 && int(e.Status) < len(statusMeanings) {
		s += " (" + statusMeanings[e.Status] + ")"
	}
	return s
}

// Is reports whether target is a *StatusError with the same Status, so that
// errors.Is(err, stark.ErrNotFound) matches an error from any call. Cost:
// none.
func (e *StatusError) Is(target error) bool {
	t, ok := target.(*StatusError)
	return ok && t.Status == e.Status
}

// Sentinel errors, one per non-OK status code; test with errors.Is. The
// errors the calls return are *StatusError values naming the call, which
// match these.
var (
	ErrInvalid     = &StatusError{Status: StatusInvalid}
	ErrNotFound    = &StatusError{Status: StatusNotFound}
	ErrTimeout     = &StatusError{Status: StatusTimeout}
	ErrFull        = &StatusError{Status: StatusFull}
	ErrExhausted   = &StatusError{Status: StatusExhausted}
	ErrStopped     = &StatusError{Status: StatusStopped}
	ErrUnsupported = &StatusError{Status: StatusUnsupported}
	ErrInternal    = &StatusError{Status: StatusInternal}
	ErrDenied      = &StatusError{Status: StatusDenied}
	ErrTooLarge    = &StatusError{Status: StatusTooLarge}
)

var sentinels = [...]error{
	StatusInvalid:     ErrInvalid,
	StatusNotFound:    ErrNotFound,
	StatusTimeout:     ErrTimeout,
	StatusFull:        ErrFull,
	StatusExhausted:   ErrExhausted,
	StatusStopped:     ErrStopped,
	StatusUnsupported: ErrUnsupported,
	StatusInternal:    ErrInternal,
	StatusDenied:      ErrDenied,
	StatusTooLarge:    ErrTooLarge,
}

// ErrNotInGuest is returned by the calls that need the host (Send, Reply,
// Spawn, ...) when the package is compiled for anything but GOOS=wasip1,
// for example in unit tests of a guest's pure logic on the developer's
// machine. errors.Is(ErrNotInGuest, ErrUnsupported) is false; StatusOf
// maps it to StatusUnsupported.
var ErrNotInGuest = errors.New("stark: only available inside a WASM guest")

// statusErr turns the status an import returned into nil or a
// *StatusError naming the import. Cost: one small allocation on failure.
func statusErr(op string, code int32) error {
	switch code {
	case int32(StatusOK):
		return nil
	case codeNotInGuest:
		return ErrNotInGuest
	}
	return &StatusError{Op: op, Status: Status(code)}
}

// codeNotInGuest is what the stand-in imports of a non-wasip1 build return;
// no host ever returns a negative status.
const codeNotInGuest = -1

// StatusOf returns the status code that err carries: StatusOK for nil, the
// Status of a *StatusError in err's chain, StatusUnsupported for
// ErrNotInGuest, and StatusInternal for any other error. A guest that
// reports a call's outcome to another language (as a number) uses it.
// Cost: errors.As.
func StatusOf(err error) Status {
	if err == nil {
		return StatusOK
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	if errors.Is(err, ErrNotInGuest) {
		return StatusUnsupported
	}
	return StatusInternal
}
