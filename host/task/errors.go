package task

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

// Errors returned by this package. Test for them with errors.Is.
var (
	// ErrTimeout is wrapped by the error Timeout returns when its deadline
	// ran out. errors.Is(ErrTimeout, context.DeadlineExceeded) holds too, so
	// code that only knows about contexts still recognises it.
	ErrTimeout error = &timeoutError{}

	// ErrPoolFull is returned by BlockingPool.TrySubmit when the pool has
	// no room for another function.
	ErrPoolFull = errors.New("task: blocking pool is full")

	// ErrPoolClosed is returned by BlockingPool submissions after Close.
	ErrPoolClosed = errors.New("task: blocking pool is closed")

	// ErrNoFuncs is returned by Select when it is given no functions.
	ErrNoFuncs = errors.New("task: select of no functions")

	// ErrGoexit is the error recorded for a child that called
	// runtime.Goexit (for example through testing.T.FailNow) instead of
	// returning.
	ErrGoexit = errors.New("task: child called runtime.Goexit")
)

type timeoutError struct{}

func (*timeoutError) Error() string { return "task: timed out" }

// Is makes errors.Is(ErrTimeout, context.DeadlineExceeded) true.
func (*timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true, like context.DeadlineExceeded and net.Error.
func (*timeoutError) Timeout() bool { return true }

// PanicError is the error a recovered panic becomes. It keeps the panic
// value and the stack of the goroutine that panicked.
type PanicError struct {
	// Value is the value passed to panic.
	Value any
	// Stack is the panicking goroutine's stack, as runtime/debug.Stack
	// formats it.
	Stack []byte
}

func newPanicError(v any) *PanicError {
	return &PanicError{Value: v, Stack: debug.Stack()}
}

// Error returns the panic value followed by the stack.
func (e *PanicError) Error() string {
	return fmt.Sprintf("task: panic: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error, so errors.Is and
// errors.As see through the panic; otherwise nil.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// guard runs fn and hands its outcome to done. A panic becomes a
// *PanicError and runtime.Goexit becomes ErrGoexit; done runs in every case,
// even while the goroutine is exiting through Goexit.
func guard(fn func() error, done func(error)) {
	returned := false
	var err error
	defer func() {
		if !returned {
			if r := recover(); r != nil {
				err = newPanicError(r)
			} else {
				err = ErrGoexit
			}
		}
		done(err)
	}()
	err = fn()
	returned = true
}
