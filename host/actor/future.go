package actor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// future is the waiting end of one Ask. Exactly one of completion (by a
// reply or a dead letter) and abandonment (by the asker giving up) wins.
//
// Futures are reused: the state word carries a generation next to the
// state, and a message holds the generation it was asked with, so a late
// or duplicate completion aimed at an earlier ask can never land in a
// later one. Only a future whose result was received goes back to the
// pool; an abandoned one is left to the garbage collector.
type future struct {
	state atomic.Uint64 // generation<<2 | futurePending/futureDone/futureAbandoned
	done  chan struct{} // capacity 1: signalled once per completion
	env   Envelope
	err   error
}

const (
	futurePending uint64 = iota
	futureDone
	futureAbandoned
)

var futures = sync.Pool{New: func() any { return &future{done: make(chan struct{}, 1)} }}

// newFuture returns a pending future and its generation.
func newFuture() (*future, uint32) {
	f := futures.Get().(*future)
	gen := uint32(f.state.Load()>>2) + 1
	f.state.Store(uint64(gen)<<2 | futurePending)
	return f, gen
}

// complete delivers the outcome of ask generation gen. It reports false if
// that ask already ended (answered, abandoned, or long gone).
func (f *future) complete(gen uint32, env Envelope, err error) bool {
	if !f.state.CompareAndSwap(uint64(gen)<<2|futurePending, uint64(gen)<<2|futureDone) {
		return false
	}
	f.env, f.err = env, err
	f.done <- struct{}{}
	return true
}

// abandon gives up on generation gen; false means it completed first.
func (f *future) abandon(gen uint32) bool {
	return f.state.CompareAndSwap(uint64(gen)<<2|futurePending, uint64(gen)<<2|futureAbandoned)
}

// result takes the outcome once done has been signalled and recycles f.
func (f *future) result() (Envelope, error) {
	env, err := f.env, f.err
	f.env, f.err = Envelope{}, nil
	futures.Put(f)
	return env, err
}

// spinRounds bounds how long an asker yields its processor to the target
// before it parks: a reply that comes within a few scheduler rounds then
// costs no park/unpark of the asking goroutine.
const spinRounds = 16

// wait blocks until the ask completes, ctx ends or timeout fires.
func (f *future) wait(ctxDone <-chan struct{}, timeout <-chan time.Time) bool {
	for i := 0; i < spinRounds; i++ {
		select {
		case <-f.done:
			return true
		default:
		}
		runtime.Gosched()
	}
	select {
	case <-f.done:
		return true
	case <-ctxDone:
	case <-timeout:
	}
	return false
}

var askTimers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}
