package sched

import (
	"sync"
	"sync/atomic"
)

// injector is the scheduler-wide queue for tasks that come from outside the
// workers (Submit) and for the overflow of full local queues. It is a
// growable ring under a mutex: outside submissions are far rarer than local
// scheduling, and a lock keeps it simple and unbounded. The ring only grows,
// so a steady state allocates nothing.
//
// n mirrors the length so that workers can see an empty injector with one
// atomic load and skip the lock, which is the common case.
type injector struct {
	n    atomic.Int64
	_    [cacheLine - 8]byte
	mu   sync.Mutex
	buf  []Task
	head int // index of the oldest task; buf length is a power of two
	size int
}

const injectorInitial = 64

// push appends t.
func (q *injector) push(t Task) {
	q.mu.Lock()
	q.grow(1)
	q.buf[(q.head+q.size)&(len(q.buf)-1)] = t
	q.size++
	q.n.Store(int64(q.size))
	q.mu.Unlock()
}

// pushOverflow appends src[first..first+n) (indices masked by mask) and
// then t, under one lock, clearing the source slots.
func (q *injector) pushOverflow(src []Task, mask, first, n uint32, t Task) {
	q.mu.Lock()
	q.grow(int(n) + 1)
	m := len(q.buf) - 1
	for i := uint32(0); i < n; i++ {
		si := (first + i) & mask
		q.buf[(q.head+q.size)&m] = src[si]
		src[si] = nil
		q.size++
	}
	q.buf[(q.head+q.size)&m] = t
	q.size++
	q.n.Store(int64(q.size))
	q.mu.Unlock()
}

// grow makes room for k more tasks. Caller holds mu.
func (q *injector) grow(k int) {
	if q.size+k <= len(q.buf) {
		return
	}
	c := len(q.buf)
	if c == 0 {
		c = injectorInitial
	}
	for c < q.size+k {
		c *= 2
	}
	buf := make([]Task, c)
	for i := 0; i < q.size; i++ {
		buf[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
	}
	q.buf, q.head = buf, 0
}

// len returns the number of queued tasks without taking the lock.
func (q *injector) len() int { return int(q.n.Load()) }

// pop removes the oldest task, or returns nil.
func (q *injector) pop() Task {
	if q.n.Load() == 0 {
		return nil
	}
	q.mu.Lock()
	t := q.takeLocked()
	q.n.Store(int64(q.size))
	q.mu.Unlock()
	return t
}

// takeLocked removes the oldest task. Caller holds mu.
func (q *injector) takeLocked() Task {
	if q.size == 0 {
		return nil
	}
	i := q.head & (len(q.buf) - 1)
	t := q.buf[i]
	q.buf[i] = nil
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.size--
	return t
}

// popInto removes up to max tasks: the first is returned, the others are
// appended to dst, which must be the caller's own local queue with room for
// max-1 more. Taking a batch under one lock is what keeps the injector cheap
// when many tasks come from outside.
func (q *injector) popInto(dst *localQueue, max int) (Task, int) {
	if q.n.Load() == 0 {
		return nil, 0
	}
	if max < 1 {
		max = 1
	}
	q.mu.Lock()
	if max > q.size {
		max = q.size
	}
	t := q.takeLocked()
	if t == nil {
		q.mu.Unlock()
		return nil, 0
	}
	tail := dst.tail.Load()
	for i := 1; i < max; i++ {
		dst.buf[(tail)&dst.mask] = q.takeLocked()
		tail++
	}
	q.n.Store(int64(q.size))
	q.mu.Unlock()
	if max > 1 {
		dst.tail.Store(tail)
	}
	return t, max
}
