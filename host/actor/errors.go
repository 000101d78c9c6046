package actor

import (
	"errors"
	"fmt"
)

// Errors returned by the actor system. Test for them with errors.Is.
var (
	// ErrStaleRef: the ref names no live actor (it stopped, or the ref was
	// never valid). A stale ref is never routed to a newer actor in the same slot.
	ErrStaleRef = errors.New("stark: stale or unknown actor ref")
	// ErrStopped: the target is stopping or stopped, or the system is shut down.
	ErrStopped = errors.New("stark: actor stopped")
	// ErrMailboxFull: the target's mailbox is at capacity.
	ErrMailboxFull = errors.New("stark: mailbox full")
	// ErrTimeout: an ask or a waiting send ran out of time.
	ErrTimeout = errors.New("stark: timeout")
	// ErrNameTaken: the name is already registered to a live actor.
	ErrNameTaken = errors.New("stark: name already registered")
	// ErrNotFound: no actor is registered under the name.
	ErrNotFound = errors.New("stark: name not found")
	// ErrTooManyActors: the actor table is at its configured limit.
	ErrTooManyActors = errors.New("stark: actor limit reached")
	// ErrNoReplyTarget: Reply was called for a message that has no sender and no pending ask.
	ErrNoReplyTarget = errors.New("stark: message has no reply target")
	// ErrAskAbandoned: a reply arrived after the asker stopped waiting.
	ErrAskAbandoned = errors.New("stark: ask already ended")
	// ErrKilled: the actor was killed; messages still queued were dead-lettered.
	ErrKilled = errors.New("stark: actor killed")
	// ErrNotChild: a supervision call named an actor that is not a child of the caller.
	ErrNotChild = errors.New("stark: not a child of this actor")
	// ErrInvalid: a bad argument (nil producer, negative capacity, ...).
	ErrInvalid = errors.New("stark: invalid argument")
)

// Failure is the reason recorded when an actor's handler returned an error
// or panicked. It wraps the handler's error (errors.Is/As see through it).
type Failure struct {
	Actor Ref
	Err   error
	// Stack is set when the failure was a panic.
	Stack []byte
}

func (f *Failure) Error() string {
	var p *PanicError
	if errors.As(f.Err, &p) {
		return fmt.Sprintf("actor %v panicked: %v", f.Actor, p.Value)
	}
	return fmt.Sprintf("actor %v failed: %v", f.Actor, f.Err)
}

// Unwrap returns the handler's error.
func (f *Failure) Unwrap() error { return f.Err }

// PanicError carries the value of a recovered panic.
type PanicError struct{ Value any }

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v", p.Value) }
