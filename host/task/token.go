package task

import (
	"context"
	"sync"
)

// Token is a cancellation token for code that has no context.Context at
// hand, such as callers on the far side of the C ABI. Cancelling a token
// cancels all its descendants (tokens made with Child); cancelling a child
// never touches its parent.
//
// The zero value is a live token with no parent. A Token is safe for
// concurrent use. A child stays registered with its parent, costing one map
// entry, until either of them is cancelled: cancel tokens you are done with,
// as you would call a context.CancelFunc.
type Token struct {
	mu        sync.Mutex
	done      chan struct{} // created lazily; closedChan once cancelled early
	err       error         // the cause, nil while live
	parent    *Token
	children  map[*Token]struct{}
	ctx       context.Context
	cancelCtx context.CancelCauseFunc
	stop      func() bool // detaches the context.AfterFunc of TokenFromContext
}

// closedChan is the Done channel of tokens cancelled before anyone asked for it.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// NewToken returns a live token with no parent. It costs one allocation.
func NewToken() *Token { return &Token{} }

// Child returns a new token that is cancelled, with the same cause, when t
// is. If t is already cancelled the child is born cancelled.
func (t *Token) Child() *Token {
	c := &Token{}
	t.mu.Lock()
	if t.err != nil {
		cause := t.err
		t.mu.Unlock()
		c.cancel(cause, false)
		return c
	}
	if t.children == nil {
		t.children = make(map[*Token]struct{})
	}
	t.children[c] = struct{}{}
	c.parent = t
	t.mu.Unlock()
	return c
}

// Cancel cancels t and all its descendants with cause (context.Canceled if
// cause is nil). Only the first call has an effect; later causes are dropped.
// It costs one lock per token cancelled and a walk of the subtree.
func (t *Token) Cancel(cause error) {
	if cause == nil {
		cause = context.Canceled
	}
	t.cancel(cause, true)
}

func (t *Token) cancel(cause error, detach bool) {
	t.mu.Lock()
	if t.err != nil {
		t.mu.Unlock()
		return
	}
	t.err = cause
	if t.done == nil {
		t.done = closedChan
	} else {
		close(t.done)
	}
	children := t.children
	t.children = nil
	parent := t.parent
	t.parent = nil
	cancelCtx, stop := t.cancelCtx, t.stop
	t.cancelCtx, t.stop = nil, nil
	t.mu.Unlock()

	// No lock is held from here on, so no two token locks are ever nested.
	if cancelCtx != nil {
		cancelCtx(cause)
	}
	if stop != nil {
		stop()
	}
	for c := range children {
		c.cancel(cause, false) // t dropped its map already; no need to detach
	}
	if detach && parent != nil {
		parent.mu.Lock()
		delete(parent.children, t)
		parent.mu.Unlock()
	}
}

// Cancelled reports whether t has been cancelled.
func (t *Token) Cancelled() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err != nil
}

// Done returns a channel that is closed when t is cancelled. The channel is
// made on first use and the same one is returned every time.
func (t *Token) Done() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done == nil {
		t.done = make(chan struct{})
	}
	return t.done
}

// Err returns the cause t was cancelled with, or nil while it is live.
func (t *Token) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Context returns a context that is cancelled when t is; context.Cause of it
// is t's cause. The context is made on first use (one context.WithCancelCause)
// and the same one is returned every time.
func (t *Token) Context() context.Context {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ctx == nil {
		ctx, cancel := context.WithCancelCause(context.Background())
		if t.err != nil {
			cancel(t.err)
		} else {
			t.cancelCtx = cancel
		}
		t.ctx = ctx
	}
	return t.ctx
}

// TokenFromContext returns a new token that is cancelled, with
// context.Cause(ctx), when ctx is done. The token holds a context.AfterFunc
// registration on ctx until the token or ctx is cancelled; cancel the token
// when done with it to release that early.
func TokenFromContext(ctx context.Context) *Token {
	t := NewToken()
	if ctx.Done() == nil {
		return t // ctx can never be cancelled
	}
	stop := context.AfterFunc(ctx, func() { t.Cancel(context.Cause(ctx)) })
	t.mu.Lock()
	if t.err == nil {
		t.stop = stop
		t.mu.Unlock()
		return t
	}
	t.mu.Unlock()
	stop()
	return t
}

// WithToken returns a copy of ctx that is also cancelled, with t's cause,
// when t is. Call the returned CancelFunc when the work is done to release
// the registration on t.
func WithToken(ctx context.Context, t *Token) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(t.Context(), func() { cancel(t.Err()) })
	return ctx, func() {
		stop()
		cancel(context.Canceled)
	}
}
