// Package clock is the runtime's source of time.
//
// Everything in STARK that waits (timers, ask deadlines measured by the
// runtime, supervisor backoff, circuit breakers) reads time through a Clock,
// so tests can swap the real clock for a Virtual one and move time by hand.
// A Virtual clock never advances by itself: callbacks run only inside
// Advance or Set, on the calling goroutine, in deadline order. That makes a
// run that uses it repeat exactly.
package clock

import (
	"container/heap"
	"sync"
	"time"
)

// Clock tells the time and runs functions later.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f once, on its own goroutine for the real clock or on
	// the goroutine that advances a Virtual clock, after at least d has
	// passed. The returned Timer can cancel the call.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop cancels the call. It reports whether the call was still pending
	// (false if it already ran or was already stopped).
	Stop() bool
}

// Real is the wall clock, backed by package time. Its zero value is ready.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Virtual is a manually driven clock for tests and deterministic runs.
// It is safe for concurrent use. The zero value starts at the zero time;
// use NewVirtual to pick a start.
type Virtual struct {
	mu    sync.Mutex
	now   time.Time
	seq   uint64
	queue timerHeap
}

// NewVirtual returns a Virtual clock that reads start until advanced.
func NewVirtual(start time.Time) *Virtual { return &Virtual{now: start} }

// Now returns the clock's current time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// AfterFunc schedules f to run when the clock has been advanced by at least d.
// A non-positive d runs f at the next Advance or Set (even Advance(0)).
func (v *Virtual) AfterFunc(d time.Duration, f func()) Timer {
	v.mu.Lock()
	defer v.mu.Unlock()
	if d < 0 {
		d = 0
	}
	v.seq++
	t := &virtualTimer{clock: v, when: v.now.Add(d), seq: v.seq, f: f, index: -1}
	heap.Push(&v.queue, t)
	return t
}

// Advance moves the clock forward by d and runs, in deadline order (ties in
// the order they were scheduled), every callback that falls due, including
// ones scheduled by callbacks within the window. Each callback sees Now()
// equal to its own deadline. Advance returns how many callbacks ran.
func (v *Virtual) Advance(d time.Duration) int {
	v.mu.Lock()
	target := v.now.Add(d)
	v.mu.Unlock()
	return v.Set(target)
}

// Set moves the clock to t (never backwards) and runs due callbacks as Advance does.
func (v *Virtual) Set(t time.Time) int {
	ran := 0
	for {
		v.mu.Lock()
		if len(v.queue) == 0 || v.queue[0].when.After(t) {
			if t.After(v.now) {
				v.now = t
			}
			v.mu.Unlock()
			return ran
		}
		next := heap.Pop(&v.queue).(*virtualTimer)
		if next.when.After(v.now) {
			v.now = next.when
		}
		v.mu.Unlock()
		next.f()
		ran++
	}
}

// Pending returns how many callbacks are scheduled and not yet run or stopped.
func (v *Virtual) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.queue)
}

// Next returns the deadline of the earliest pending callback, and false when none is pending.
func (v *Virtual) Next() (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.queue) == 0 {
		return time.Time{}, false
	}
	return v.queue[0].when, true
}

// AdvanceToNext moves the clock to the earliest pending deadline and runs
// what falls due there. It returns false when nothing was pending.
func (v *Virtual) AdvanceToNext() bool {
	next, ok := v.Next()
	if !ok {
		return false
	}
	v.Set(next)
	return true
}

type virtualTimer struct {
	clock *Virtual
	when  time.Time
	seq   uint64
	f     func()
	index int // position in the heap, -1 once popped or stopped
}

func (t *virtualTimer) Stop() bool {
	v := t.clock
	v.mu.Lock()
	defer v.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&v.queue, t.index)
	return true
}

type timerHeap []*virtualTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].when.Equal(h[j].when) {
		return h[i].seq < h[j].seq
	}
	return h[i].when.Before(h[j].when)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*virtualTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	t.index = -1
	*h = old[:n-1]
	return t
}
