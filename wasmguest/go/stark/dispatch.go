package stark

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// The guest's hooks, set from init() in the guest's main package before the
// host calls any export. Nothing else writes them.
var (
	handler   func(Message) error
	onInit    func(args []byte) error
	onStop    func()
	onSnap    func() ([]byte, error)
	onRestore func(state []byte) error
)

// Handle registers the function that handles every message (stark_handle).
// Call it from init() in the guest's main package; a guest without a
// handler fails its first message. A second call replaces the first.
//
// The handler runs once per message, one message at a time. Returning nil
// means the message was handled; the SDK then asks the host for the next
// queued message (the contract's batching with next) and calls the handler
// again in the same host call, so a busy actor pays one host-to-guest
// transition per batch, not per message. Returning an error fails the
// actor: the SDK records the error's text as the failure's reason and
// returns INTERNAL (8) to the host, which closes the instance; a panic does
// the same, with "panic: " and a short stack in the reason. m.Data is only
// valid until the handler returns.
//
// Cost: registering stores the function. Per message the SDK adds a
// deferred recover and, after each success, one next host call; it
// allocates nothing of its own.
func Handle(h func(m Message) error) { handler = h }

// OnInit registers the function called once per instance with the spawn's
// init bytes (stark_init), before the first message. args is a view of
// host-written memory valid only during the call (copy what you keep) and
// may be empty. An error or a panic fails the actor. Without a hook the
// init bytes are ignored. Cost: registering stores the function.
func OnInit(f func(args []byte) error) { onInit = f }

// OnStop registers the function called before the instance is dropped at a
// stop or a restart (stark_stop). A panic in it is recovered and reported
// to the host (fail and an error-level log line). Calls such as Send still
// work inside it. Cost: registering stores the function.
func OnStop(f func()) { onStop = f }

// OnSnapshot registers the function that returns the actor's state at a hot
// upgrade (stark_snapshot); the SDK hands the bytes to the host, which
// passes them to the new module's OnRestore hook. An error or a panic fails
// the upgrade. Without a hook nothing is saved (the new instance starts
// from its init bytes alone). Cost: registering stores the function; at
// the snapshot, one save host call that copies the bytes.
func OnSnapshot(f func() ([]byte, error)) { onSnap = f }

// OnRestore registers the function that receives, at a hot upgrade and
// after OnInit, the state the old instance saved (stark_restore). state is
// a view valid only during the call. An error or a panic fails the actor.
// Without a hook the state is dropped with a warning in the host's log.
// Cost: registering stores the function.
func OnRestore(f func(state []byte) error) { onRestore = f }

// exportHost is what the exports need from the host. In a WASM guest it is
// the stark imports; unit tests pass a fake.
type exportHost interface {
	// next asks for the next queued message: ok is false when the guest
	// must return.
	next() (m Message, ok bool)
	fail(reason string)
	save(state []byte) int32
	log(level Level, msg string)
}

// guard turns a panic in the export running on this goroutine into a
// failure: it calls fail with "panic: VALUE" and a short stack and sets
// *status to StatusInternal. It must be deferred directly by the export.
func guard(h exportHost, status *int32) {
	if v := recover(); v != nil {
		h.fail(panicReason(v))
		*status = int32(StatusInternal)
	}
}

// failWith reports err as the reason for a failure and returns INTERNAL.
func failWith(h exportHost, err error) int32 {
	h.fail(err.Error())
	return int32(StatusInternal)
}

// doInit runs the OnInit hook (stark_init).
func doInit(h exportHost, args []byte) (status int32) {
	defer guard(h, &status)
	if onInit == nil {
		return int32(StatusOK)
	}
	if err := onInit(args); err != nil {
		return failWith(h, err)
	}
	return int32(StatusOK)
}

// errNoHandler is the failure of a guest that never called Handle.
var errNoHandler = errors.New("stark: no message handler: call stark.Handle from init() in the guest's main package")

// doHandle handles one message and, while the handler succeeds, every
// message next hands over (stark_handle). It never calls next after a
// failure.
func doHandle(h exportHost, m Message) (status int32) {
	defer guard(h, &status)
	if handler == nil {
		return failWith(h, errNoHandler)
	}
	for {
		if err := handler(m); err != nil {
			return failWith(h, err)
		}
		var ok bool
		if m, ok = h.next(); !ok {
			return int32(StatusOK)
		}
	}
}

// doStop runs the OnStop hook (stark_stop), which has no status to return:
// a panic is reported through fail and the log.
func doStop(h exportHost) {
	defer func() {
		if v := recover(); v != nil {
			reason := panicReason(v)
			h.fail(reason)
			h.log(LevelError, "stark: OnStop hook: "+reason)
		}
	}()
	if onStop != nil {
		onStop()
	}
}

// doSnapshot runs the OnSnapshot hook and saves its bytes (stark_snapshot).
func doSnapshot(h exportHost) (status int32) {
	defer guard(h, &status)
	if onSnap == nil {
		return int32(StatusOK)
	}
	state, err := onSnap()
	if err != nil {
		return failWith(h, err)
	}
	if len(state) == 0 {
		return int32(StatusOK)
	}
	if err := statusErr("save", h.save(state)); err != nil {
		return failWith(h, fmt.Errorf("%w (snapshot of %d bytes)", err, len(state)))
	}
	return int32(StatusOK)
}

// doRestore hands the saved state to the OnRestore hook (stark_restore).
func doRestore(h exportHost, state []byte) (status int32) {
	defer guard(h, &status)
	if onRestore == nil {
		if len(state) > 0 {
			h.log(LevelWarn, "stark: "+strconv.Itoa(len(state))+
				" bytes of saved state dropped: the module registers no OnRestore hook")
		}
		return int32(StatusOK)
	}
	if err := onRestore(state); err != nil {
		return failWith(h, err)
	}
	return int32(StatusOK)
}

// maxStackFrames bounds the stack printed with a panic: the failure reason
// is meant for a log line, not a full dump.
const maxStackFrames = 12

// panicReason formats a recovered panic value and the stack that raised it,
// from the panicking frame outwards, without the runtime's and the SDK's
// own frames. Called from a deferred function during the panic.
func panicReason(v any) string {
	var b strings.Builder
	b.WriteString("panic: ")
	if err, ok := v.(error); ok {
		b.WriteString(err.Error())
	} else {
		fmt.Fprint(&b, v)
	}
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	written := 0
	for {
		f, more := frames.Next()
		if isInternalFrame(f.Function) {
			if written > 0 && strings.HasPrefix(f.Function, sdkPkg+".") {
				break // the export that called the guest's code: stop here
			}
		} else {
			if written == maxStackFrames {
				b.WriteString("\n...")
				break
			}
			b.WriteString("\n")
			b.WriteString(f.Function)
			b.WriteString("\n\t")
			b.WriteString(f.File)
			b.WriteString(":")
			b.WriteString(strconv.Itoa(f.Line))
			written++
		}
		if !more {
			break
		}
	}
	return b.String()
}

// sdkPkg is this package's import path, as runtime frames name it.
const sdkPkg = "github.com/stark-rt/stark/wasmguest/go/stark"

// isInternalFrame reports whether a frame belongs to the runtime or to this
// package (not to the guest's code).
func isInternalFrame(fn string) bool {
	return strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, sdkPkg+".")
}
