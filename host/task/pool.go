package task

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultIdleTimeout is how long a BlockingPool worker waits for work before
// its goroutine exits, unless WithIdleTimeout says otherwise.
const DefaultIdleTimeout = time.Second

// BlockingPool runs functions that block an OS thread (system calls, C
// calls, file I/O) on a bounded set of goroutines, so that such work never
// occupies the scheduler's workers.
//
// At most workers functions run at once, and at most workers+queue are held
// (running plus waiting) at any moment; beyond that Submit waits and
// TrySubmit fails with ErrPoolFull. Worker goroutines are started on demand
// up to the limit and exit after being idle for the idle timeout, so an idle
// pool holds no goroutines once that has passed. A panic in a function is
// recovered, counted, and handed to the panic handler if one was set; the
// worker goes on.
//
// A BlockingPool is safe for concurrent use. A function running in the pool
// must not call Close, nor Submit to a full pool it is part of: both wait for
// the pool, which waits for the function.
type BlockingPool struct {
	maxWorkers  int
	maxQueue    int
	idleTimeout time.Duration
	onPanic     func(*PanicError)

	mu      sync.Mutex
	buf     []func() // ring of queued functions; grows up to maxWorkers+maxQueue
	head, n int
	workers int           // live worker goroutines
	busy    int           // workers running a function
	idle    []*poolWorker // parked workers, the most recently parked last
	space   chan struct{} // closed (and cleared) when room frees, if anyone waits
	closed  bool
	done    chan struct{} // closed once closed and the last worker has exited

	submitted atomic.Uint64
	completed atomic.Uint64
	panicked  atomic.Uint64
	rejected  atomic.Uint64
}

type poolWorker struct {
	wake chan struct{} // capacity 1; sent to only by whoever took it off idle
}

// PoolOption configures a BlockingPool.
type PoolOption func(*BlockingPool)

// WithIdleTimeout sets how long an idle worker waits for work before its
// goroutine exits. d <= 0 keeps workers until Close.
func WithIdleTimeout(d time.Duration) PoolOption {
	return func(p *BlockingPool) { p.idleTimeout = d }
}

// WithPanicHandler sets a function that receives every panic recovered from
// a submitted function, on the worker that recovered it. It must not panic,
// and should not block for long: the worker is counted as busy while it runs.
func WithPanicHandler(f func(*PanicError)) PoolOption {
	return func(p *BlockingPool) { p.onPanic = f }
}

// NewBlockingPool returns a pool that runs at most workers functions at once
// (at least 1) and holds at most queue more waiting (at least 0). It starts
// no goroutine until the first submission.
func NewBlockingPool(workers, queue int, opts ...PoolOption) *BlockingPool {
	p := &BlockingPool{
		maxWorkers:  max(workers, 1),
		maxQueue:    max(queue, 0),
		idleTimeout: DefaultIdleTimeout,
		done:        make(chan struct{}),
	}
	for _, opt := range opts {
		opt(p)
	}
	return p
}

// PoolStats is a snapshot of a BlockingPool's state and counters.
type PoolStats struct {
	Workers int // live worker goroutines
	Busy    int // workers running a function
	Idle    int // workers parked, waiting for work
	Queued  int // functions accepted and not yet started

	Submitted uint64 // functions accepted
	Completed uint64 // functions that returned normally
	Panicked  uint64 // functions that panicked (or called runtime.Goexit)
	Rejected  uint64 // submissions refused: full, closed, or ctx ended while waiting
}

// Stats returns a snapshot of the pool. It takes the pool's lock once.
func (p *BlockingPool) Stats() PoolStats {
	p.mu.Lock()
	s := PoolStats{Workers: p.workers, Busy: p.busy, Idle: len(p.idle), Queued: p.n}
	p.mu.Unlock()
	s.Submitted = p.submitted.Load()
	s.Completed = p.completed.Load()
	s.Panicked = p.panicked.Load()
	s.Rejected = p.rejected.Load()
	return s
}

// Submit queues fn, waiting for room while the pool is full. It returns nil
// once fn is accepted (fn then runs even if ctx ends later), ctx.Err() if ctx
// ends first, and ErrPoolClosed after Close. fn must not be nil.
func (p *BlockingPool) Submit(ctx context.Context, fn func()) error {
	if fn == nil {
		panic("task: BlockingPool.Submit with a nil function")
	}
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			p.rejected.Add(1)
			return ErrPoolClosed
		}
		if p.hasRoom() {
			p.enqueue(fn)
			p.mu.Unlock()
			return nil
		}
		if p.space == nil {
			p.space = make(chan struct{})
		}
		space := p.space
		p.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			p.rejected.Add(1)
			return ctx.Err()
		}
		p.mu.Lock()
	}
}

// TrySubmit queues fn if there is room right now; otherwise it returns
// ErrPoolFull (or ErrPoolClosed after Close) without waiting. fn must not be
// nil.
func (p *BlockingPool) TrySubmit(fn func()) error {
	if fn == nil {
		panic("task: BlockingPool.TrySubmit with a nil function")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		p.rejected.Add(1)
		return ErrPoolClosed
	case !p.hasRoom():
		p.rejected.Add(1)
		return ErrPoolFull
	}
	p.enqueue(fn)
	return nil
}

// Close stops accepting functions, lets the workers run everything already
// queued, and waits until they have and have exited. Later calls wait the
// same way and return.
func (p *BlockingPool) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for _, w := range p.idle {
			w.wake <- struct{}{}
		}
		p.idle = nil
		p.signalSpace()
		if p.workers == 0 {
			close(p.done)
		}
	}
	p.mu.Unlock()
	<-p.done
}

// hasRoom reports whether one more function fits. Caller holds p.mu.
func (p *BlockingPool) hasRoom() bool {
	return p.busy+p.n < p.maxWorkers+p.maxQueue
}

// enqueue adds fn and makes sure a worker will pick it up: it wakes the most
// recently parked worker (so long-idle ones can time out), or starts one
// while under the limit; otherwise every worker is busy and will come back
// for it. Caller holds p.mu.
func (p *BlockingPool) enqueue(fn func()) {
	if p.n == len(p.buf) {
		p.grow()
	}
	p.buf[(p.head+p.n)%len(p.buf)] = fn
	p.n++
	p.submitted.Add(1)
	if k := len(p.idle); k > 0 {
		w := p.idle[k-1]
		p.idle[k-1] = nil
		p.idle = p.idle[:k-1]
		w.wake <- struct{}{}
		return
	}
	if p.workers < p.maxWorkers {
		p.workers++
		go p.work()
	}
}

func (p *BlockingPool) grow() {
	size := min(max(2*len(p.buf), 8), p.maxWorkers+p.maxQueue)
	if size <= p.n {
		panic("task: blocking pool queue over its limit")
	}
	buf := make([]func(), size)
	for i := 0; i < p.n; i++ {
		buf[i] = p.buf[(p.head+i)%len(p.buf)]
	}
	p.buf, p.head = buf, 0
}

func (p *BlockingPool) pop() func() {
	fn := p.buf[p.head]
	p.buf[p.head] = nil
	p.head = (p.head + 1) % len(p.buf)
	p.n--
	return fn
}

// signalSpace wakes every Submit waiting for room. Caller holds p.mu.
func (p *BlockingPool) signalSpace() {
	if p.space != nil {
		close(p.space)
		p.space = nil
	}
}

func (p *BlockingPool) work() {
	w := &poolWorker{wake: make(chan struct{}, 1)}
	var timer *time.Timer
	p.mu.Lock()
	for {
		if p.n > 0 {
			fn := p.pop()
			p.busy++
			p.mu.Unlock()
			p.run(fn) // does not return if fn calls runtime.Goexit
			p.mu.Lock()
			p.busy--
			p.signalSpace()
			continue
		}
		if p.closed {
			break
		}
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		if p.idleTimeout <= 0 {
			<-w.wake
			p.mu.Lock()
			continue
		}
		if timer == nil {
			timer = time.NewTimer(p.idleTimeout)
		} else {
			timer.Reset(p.idleTimeout)
		}
		select {
		case <-w.wake:
			timer.Stop()
			p.mu.Lock()
		case <-timer.C:
			p.mu.Lock()
			if p.removeIdle(w) {
				p.exitWorker()
				p.mu.Unlock()
				return
			}
			// Someone took w off idle and, under the lock we now hold, sent
			// the wake-up: consume it so the channel is empty for next time.
			<-w.wake
		}
	}
	p.exitWorker()
	p.mu.Unlock()
}

// removeIdle takes w off the idle list and reports whether it was there.
// Caller holds p.mu.
func (p *BlockingPool) removeIdle(w *poolWorker) bool {
	for i, x := range p.idle {
		if x == w {
			copy(p.idle[i:], p.idle[i+1:])
			p.idle[len(p.idle)-1] = nil
			p.idle = p.idle[:len(p.idle)-1]
			return true
		}
	}
	return false
}

// exitWorker accounts for a worker goroutine that is about to end. Caller
// holds p.mu.
func (p *BlockingPool) exitWorker() {
	p.workers--
	if p.workers < 0 {
		panic("task: blocking pool worker count went negative")
	}
	if p.closed && p.workers == 0 {
		close(p.done)
	}
}

// run calls fn, recovering a panic. If fn calls runtime.Goexit the worker
// goroutine ends whatever happens, so run settles its accounts first (and
// starts a replacement if work is queued).
func (p *BlockingPool) run(fn func()) {
	returned := false
	defer func() {
		if returned {
			p.completed.Add(1)
			return
		}
		p.panicked.Add(1)
		if r := recover(); r != nil {
			if p.onPanic != nil {
				p.onPanic(newPanicError(r))
			}
			return
		}
		// runtime.Goexit: this goroutine is ending whatever we do.
		// Hand queued work to a replacement; otherwise just account for it.
		p.mu.Lock()
		p.busy--
		p.signalSpace()
		if p.n > 0 {
			go p.work()
		} else {
			p.exitWorker()
		}
		p.mu.Unlock()
	}()
	fn()
	returned = true
}
