package task

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// Executor runs functions, typically on a pool of worker goroutines. The
// runtime adapts its work-stealing scheduler to it; GoExecutor runs each
// function on a new goroutine.
//
// Submit may run fn later on another goroutine, run it before returning, or
// never run it at all: the loops in this package stay correct in every case,
// because the calling goroutine claims whatever chunks no helper has. Submit
// must not block until a worker is free, though: the caller may be that
// worker. If the
// executor also has a method Workers() int, loops submit at most Workers()-1
// helpers; otherwise they assume runtime.GOMAXPROCS(0) workers.
type Executor interface {
	Submit(fn func())
}

// GoExecutor is an Executor that runs each function on a new goroutine. The
// zero value is ready to use.
type GoExecutor struct{}

// Submit runs fn on a new goroutine.
func (GoExecutor) Submit(fn func()) { go fn() }

// Workers returns runtime.GOMAXPROCS(0).
func (GoExecutor) Workers() int { return runtime.GOMAXPROCS(0) }

// Range runs fn over [0, n) split into chunks of chunk indices (the last one
// shorter): fn(lo, hi) handles indices lo through hi-1. Chunks run
// concurrently on ex and on the calling goroutine; see the package doc. A
// nil ex runs every chunk on the caller. chunk <= 0 picks about four chunks
// per worker.
//
// The first error (or panic, as a *PanicError) stops the claiming of new
// chunks and is returned, as is ctx.Err() if ctx ends before every chunk was
// claimed. Range returns only after every chunk it started has returned.
// It costs one small allocation, one atomic add per chunk, and one Submit per
// helper.
func Range(ctx context.Context, ex Executor, n, chunk int, fn func(lo, hi int) error) error {
	return forRange(ctx, ex, n, chunk, fn, nil)
}

// Map returns fn applied to every element of in, in order, computed in
// chunks as Range does. On error (ctx ended or fn panicked) it returns nil and
// the error. An empty in gives an empty, non-nil result.
func Map[T, R any](ctx context.Context, ex Executor, in []T, chunk int, fn func(T) R) ([]R, error) {
	out := make([]R, len(in))
	err := forRange(ctx, ex, len(in), chunk, func(lo, hi int) error {
		dst := out[lo:hi]
		for i, v := range in[lo:hi] {
			dst[i] = fn(v)
		}
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MapErr is Map for functions that can fail. The first failure stops the
// claiming of new chunks, cancels the context the other calls of fn received,
// and is returned with a nil slice. Inside a chunk, fn is not called again
// once the loop has stopped. It costs one context.WithCancelCause more than
// Map.
func MapErr[T, R any](ctx context.Context, ex Executor, in []T, chunk int, fn func(context.Context, T) (R, error)) ([]R, error) {
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(context.Canceled)
	out := make([]R, len(in))
	var stop atomic.Bool
	err := forRange(ctx, ex, len(in), chunk, func(lo, hi int) error {
		dst := out[lo:hi]
		for i, v := range in[lo:hi] {
			if stop.Load() {
				return nil
			}
			r, err := fn(fctx, v)
			if err != nil {
				return err
			}
			dst[i] = r
		}
		return nil
	}, func(err error) {
		stop.Store(true)
		cancel(err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ForEach calls fn(i, in[i]) for every element of in, in chunks as Range
// does, and returns the first error (or panic, as a *PanicError), or
// ctx.Err() if ctx ended before every chunk was claimed.
func ForEach[T any](ctx context.Context, ex Executor, in []T, chunk int, fn func(i int, v T) error) error {
	return forRange(ctx, ex, len(in), chunk, func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			if err := fn(i, in[i]); err != nil {
				return err
			}
		}
		return nil
	}, nil)
}

// chunksPerWorker is how many chunks an automatic chunk size aims at per
// worker: enough to even out uneven chunks, few enough to keep the per-chunk
// cost negligible.
const chunksPerWorker = 4

func executorWorkers(ex Executor) int {
	if w, ok := ex.(interface{ Workers() int }); ok {
		return max(w.Workers(), 1)
	}
	return runtime.GOMAXPROCS(0)
}

// forRange is the engine behind Range, Map, MapErr and ForEach. onFail, if
// not nil, runs once, right after the first error is recorded.
func forRange(ctx context.Context, ex Executor, n, chunk int, body func(lo, hi int) error, onFail func(error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	workers := 1
	if ex != nil {
		workers = executorWorkers(ex)
	}
	if chunk <= 0 {
		target := workers * chunksPerWorker
		chunk = n / target
		if n%target != 0 {
			chunk++
		}
	}
	chunks := n / chunk
	if n%chunk != 0 {
		chunks++
	}
	r := &rangeRun{
		ctx:    ctx,
		n:      int64(n),
		chunk:  int64(chunk),
		chunks: int64(chunks),
		body:   body,
		onFail: onFail,
		all:    make(chan struct{}),
	}
	for range min(chunks-1, workers-1) {
		ex.Submit(r.work)
	}
	r.work()
	<-r.all
	// Every chunk has been claimed and has finished, so nothing writes r.err
	// any more; the lock only orders the read after the last write.
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// rangeRun is the state one loop shares between the caller and its helpers.
// A helper that the executor runs after the loop returned finds every chunk
// claimed and returns without touching anything else.
type rangeRun struct {
	ctx    context.Context
	n      int64
	chunk  int64
	chunks int64
	body   func(lo, hi int) error
	onFail func(error)

	next     atomic.Int64 // next chunk to claim; >= chunks once all are claimed
	finished atomic.Int64 // chunks run or skipped; all is closed when it hits chunks
	stop     atomic.Bool
	all      chan struct{}

	mu  sync.Mutex
	err error
}

func (r *rangeRun) work() {
	for {
		c := r.next.Add(1) - 1
		if c >= r.chunks {
			return
		}
		if r.stopped() {
			r.finish(1 + r.drain())
			return
		}
		r.runChunk(c)
	}
}

// stopped reports whether new chunks should be skipped, recording ctx's
// error the first time it notices ctx has ended.
func (r *rangeRun) stopped() bool {
	if r.stop.Load() {
		return true
	}
	if err := r.ctx.Err(); err != nil {
		r.fail(err)
		return true
	}
	return false
}

// drain claims every chunk not yet claimed, so that the loop can end
// without anyone walking them one by one, and returns how many it took.
func (r *rangeRun) drain() int64 {
	for {
		cur := r.next.Load()
		if cur >= r.chunks {
			return 0
		}
		if r.next.CompareAndSwap(cur, r.chunks) {
			return r.chunks - cur
		}
	}
}

func (r *rangeRun) finish(k int64) {
	if r.finished.Add(k) == r.chunks {
		close(r.all)
	}
}

// runChunk runs one chunk and counts it finished whatever happens: a panic
// becomes a *PanicError, runtime.Goexit becomes ErrGoexit. (This is guard
// written out by hand, so that a chunk costs no allocation.)
func (r *rangeRun) runChunk(c int64) {
	returned := false
	defer func() {
		if !returned {
			if p := recover(); p != nil {
				r.fail(newPanicError(p))
			} else {
				r.fail(ErrGoexit)
			}
		}
		r.finish(1)
	}()
	lo := c * r.chunk
	hi := min(lo+r.chunk, r.n)
	if err := r.body(int(lo), int(hi)); err != nil {
		r.fail(err)
	}
	returned = true
}

func (r *rangeRun) fail(err error) {
	r.mu.Lock()
	if r.err != nil {
		r.mu.Unlock()
		return
	}
	r.err = err
	r.stop.Store(true)
	r.mu.Unlock()
	if r.onFail != nil {
		r.onFail(err)
	}
}
