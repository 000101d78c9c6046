package task

import (
	"context"
	"errors"
	"sync"
)

// Scope is a group of child goroutines with one owner. Wait (or Close)
// returns only after every child has returned, so a scope never outlives its
// children. The first child to fail cancels the scope's context, so its
// siblings stop, and its error is the one Wait returns. A panic in a child is
// recovered and becomes a *PanicError.
//
// Children may start more children in the same scope, or open nested scopes
// from the context they were given. A Scope is safe for concurrent use.
//
//	s := task.NewScope(ctx)
//	s.Go(func(ctx context.Context) error { return fetch(ctx, a) })
//	s.Go(func(ctx context.Context) error { return fetch(ctx, b) })
//	err := s.Wait()
type Scope struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	sem    chan struct{} // nil when unlimited

	mu       sync.Mutex
	idle     sync.Cond // signalled when active drops to zero
	active   int       // children started or waiting for a slot
	err      error     // first failure
	stopped  bool      // Cancel or Close was called
	finished bool      // Wait has returned
}

// ScopeOption configures a Scope.
type ScopeOption func(*Scope)

// WithLimit caps the number of children that run at once at n (n <= 0 means
// no limit). Go then blocks while n children are running.
//
// A child that calls Go on its own limited scope can deadlock once every slot
// is held by a child doing the same; open a nested scope instead.
func WithLimit(n int) ScopeOption {
	return func(s *Scope) {
		if n > 0 {
			s.sem = make(chan struct{}, n)
		} else {
			s.sem = nil
		}
	}
}

// NewScope returns a scope whose context is derived from ctx: cancelling ctx
// cancels every child. It costs one context.WithCancelCause.
func NewScope(ctx context.Context, opts ...ScopeOption) *Scope {
	s := &Scope{}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	s.idle.L = &s.mu
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Context returns the scope's context: the one children receive. It is
// cancelled by the first failure, by Cancel and Close, when the parent
// context ends, and once Wait has returned.
func (s *Scope) Context() context.Context { return s.ctx }

// Go starts fn on a new goroutine as a child of the scope. With WithLimit it
// first waits for a free slot; if the scope's context ends while it waits, fn
// is not started and the context's cause is recorded as the child's error.
//
// Calling Go after Wait or Close has returned is a bug and panics, as does a
// nil fn. Go costs one goroutine and one small allocation.
func (s *Scope) Go(fn func(ctx context.Context) error) {
	s.enter(fn)
	if s.sem != nil {
		select {
		case s.sem <- struct{}{}:
		case <-s.ctx.Done():
			s.record(context.Cause(s.ctx))
			s.exit(false)
			return
		}
	}
	go s.run(fn)
}

// TryGo starts fn like Go if a slot is free right now and reports whether it
// did. Without a limit it always starts fn.
func (s *Scope) TryGo(fn func(ctx context.Context) error) bool {
	s.enter(fn)
	if s.sem != nil {
		select {
		case s.sem <- struct{}{}:
		default:
			s.exit(false)
			return false
		}
	}
	go s.run(fn)
	return true
}

func (s *Scope) enter(fn func(ctx context.Context) error) {
	if fn == nil {
		panic("task: Scope.Go with a nil function")
	}
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		panic("task: Scope.Go after Wait or Close returned")
	}
	s.active++
	s.mu.Unlock()
}

func (s *Scope) run(fn func(ctx context.Context) error) {
	guard(func() error { return fn(s.ctx) }, func(err error) {
		s.record(err)
		s.exit(true)
	})
}

// record keeps the first failure and cancels the siblings. After Cancel or
// Close, errors that only say "cancelled" are the expected echo of that
// cancellation and are not failures.
func (s *Scope) record(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	if s.err != nil || (s.stopped && errors.Is(err, context.Canceled)) {
		s.mu.Unlock()
		return
	}
	s.err = err
	s.mu.Unlock()
	s.cancel(err)
}

func (s *Scope) exit(held bool) {
	if held && s.sem != nil {
		<-s.sem
	}
	s.mu.Lock()
	s.active--
	if s.active < 0 {
		panic("task: scope child count went negative")
	}
	if s.active == 0 {
		s.idle.Broadcast()
	}
	s.mu.Unlock()
}

// Wait blocks until every child has returned, then returns the first
// failure (nil if none). After Wait returns the scope is finished: its
// context is cancelled and Go may no longer be called. Calling Wait again
// returns the same result at once. Wait must not be called from a child of
// the same scope: it would wait for itself.
func (s *Scope) Wait() error {
	s.mu.Lock()
	for s.active > 0 {
		s.idle.Wait()
	}
	s.finished = true
	err := s.err
	s.mu.Unlock()
	s.cancel(context.Canceled) // release the context; keeps an earlier cause
	return err
}

// Cancel cancels the scope's context without waiting. A non-nil cause is
// what children see through context.Cause, and becomes the error Wait
// returns unless a child failed first; with a nil cause the cancellation is a
// plain stop and Wait reports only real failures. Cancel may be called from
// a child.
func (s *Scope) Cancel(cause error) {
	s.mu.Lock()
	s.stopped = true
	if cause != nil && s.err == nil {
		s.err = cause
	}
	s.mu.Unlock()
	if cause == nil {
		cause = context.Canceled
	}
	s.cancel(cause)
}

// Close cancels the children and waits for them: Cancel(nil) then Wait.
// Children that return a context.Canceled error because of it are not
// failures; Close returns the first real failure. Like Wait, it must not be
// called from a child of the same scope.
func (s *Scope) Close() error {
	s.Cancel(nil)
	return s.Wait()
}
