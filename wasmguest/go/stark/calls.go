package stark

import (
	"fmt"
	"time"
)

// The calls below are thin wrappers over the imports of module "stark"
// (docs/wasm-abi.md). Each costs one host call (a few tens of ns for the
// transition, plus what the host does); none allocates on success. Outside
// a WASM guest (any build but GOOS=wasip1) the ones that return an error
// return ErrNotInGuest, Self and Sender return 0, Log writes to stderr and
// Now reads the local clock.

// Send sends tag and a copy of data to the actor to, with this actor as the
// sender. The host copies data before Send returns, so the caller may reuse
// it. Errors (test with errors.Is): ErrNotFound for a stale or unknown ref,
// ErrFull when the target's mailbox is full, ErrStopped when the target or
// the runtime is stopping, ErrTooLarge for a payload over the actor's
// message limit. Cost: one host call and the host's copy of data.
func Send(to Ref, tag uint32, data []byte) error {
	return statusErr("send", hostSend(uint64(to), tag, data))
}

// Reply answers the message in hand (the one the running handler
// received): the waiting ask, or a message to its sender. The host copies
// data. It fails with ErrNotFound when the message has no one to answer
// (no sender, or the sender is gone), ErrTooLarge over the message limit.
// Cost: one host call and the host's copy of data.
func Reply(tag uint32, data []byte) error {
	return statusErr("reply", hostReply(tag, data))
}

// Self returns this actor's ref. Cost: one host call.
func Self() Ref { return Ref(hostSelf()) }

// Sender returns the sender of the message in hand, or 0 when it has none
// (a message from outside any actor, a timer's message). Cost: one host
// call.
func Sender() Ref { return Ref(hostSender()) }

// Log writes msg as one line to the host's log at level. Cost: one host
// call; the host copies msg.
func Log(level Level, msg string) { hostLog(int32(level), msg) }

// Logf formats like fmt.Sprintf and writes the line with Log. Cost: the
// formatting (allocates) and one host call.
func Logf(level Level, format string, args ...any) {
	Log(level, fmt.Sprintf(format, args...))
}

// Now returns the runtime's clock (the host's notion of now, which a
// deterministic test host may control), as a time.Time. Cost: one host
// call. time.Now also works inside a guest (it reads WASI's real clock),
// but only Now agrees with the host's timers and deadlines.
func Now() time.Time { return time.Unix(0, hostNow()) }

// After asks the host to send tag and a copy of data to this actor once,
// after d. It returns the timer, which Cancel stops. A negative d is
// refused by the host with ErrInvalid. Cost: one host call.
func After(d time.Duration, tag uint32, data []byte) (Timer, error) {
	id, code := hostSetTimer(int64(d), tag, data, false)
	if err := statusErr("set_timer", code); err != nil {
		return 0, err
	}
	return Timer(id), nil
}

// Every asks the host to send tag and a copy of data to this actor every d
// until the timer is cancelled or the actor stops. A d that is not positive
// is refused by the host with ErrInvalid. Cost: one host call.
func Every(d time.Duration, tag uint32, data []byte) (Timer, error) {
	id, code := hostSetTimer(int64(d), tag, data, true)
	if err := statusErr("set_timer", code); err != nil {
		return 0, err
	}
	return Timer(id), nil
}

// Cancel stops the timer. It returns ErrNotFound when a one-shot timer has
// already fired or the id is unknown; a message already queued by the timer
// may still arrive. Cost: one host call.
func (t Timer) Cancel() error {
	return statusErr("cancel_timer", hostCancelTimer(uint64(t)))
}

// Spawn starts a child actor from the module registered in the host under
// the name module, handing it init (copied) as its init bytes, and returns
// the child's ref. It fails with ErrDenied unless this actor's spawn
// options allow spawning, ErrNotFound for an unknown module, ErrExhausted
// when the host's actor limit is reached. Cost: one host call plus the
// child's instantiation, which the host does before Spawn returns.
func Spawn(module string, init []byte) (Ref, error) {
	ref, code := hostSpawn(module, init)
	if err := statusErr("spawn", code); err != nil {
		return 0, err
	}
	return Ref(ref), nil
}

// Lookup returns the ref of the actor registered under name, or
// ErrNotFound. Cost: one host call.
func Lookup(name string) (Ref, error) {
	ref, code := hostLookup(name)
	if err := statusErr("lookup", code); err != nil {
		return 0, err
	}
	return Ref(ref), nil
}
