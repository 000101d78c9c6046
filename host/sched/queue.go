package sched

import "sync/atomic"

// cacheLine is the padding unit between fields written by different cores.
// 128 bytes rather than 64 because x86 prefetches cache lines in pairs, so
// two hot fields 64 bytes apart still ping-pong between cores.
const cacheLine = 128

// localQueue is a worker's bounded run queue: a fixed-size ring of Task
// values. The owning worker pushes at the tail and pops at the head (FIFO);
// any other worker may steal half of it from the head. It is the queue from
// Tokio's multi-threaded scheduler, itself a member of the Chase-Lev family.
//
// head packs two 32-bit indices: real, the next slot the owner pops, and
// steal, the first slot a thief is still copying out. Outside a steal they
// are equal. A thief claims slots by moving real forward with a CAS while
// leaving steal behind, copies them, then releases them by moving steal up
// to real. The owner never writes into [steal, steal+len(buf)), so a claimed
// slot is never overwritten while a thief reads it, and at most one steal is
// in flight at a time. Indices are free-running uint32s; wrap-around is
// handled by unsigned subtraction and masking.
//
// Slots are only read or written by the goroutine that owns them at that
// moment, and ownership passes through the atomics on head and tail, so the
// plain Task slots are race-free in the Go memory model sense.
type localQueue struct {
	head atomic.Uint64 // steal<<32 | real; CAS'd by the owner and thieves
	_    [cacheLine - 8]byte
	tail atomic.Uint32 // written by the owner only
	_    [cacheLine - 4]byte
	buf  []Task // read-only slice header; slots guarded as described above
	mask uint32
	_    [cacheLine - 32]byte
}

func newLocalQueue(size int) *localQueue {
	return &localQueue{buf: make([]Task, size), mask: uint32(size - 1)}
}

func pack(steal, real uint32) uint64 { return uint64(steal)<<32 | uint64(real) }

func unpack(h uint64) (steal, real uint32) { return uint32(h >> 32), uint32(h) }

// capacity returns the number of slots.
func (q *localQueue) capacity() uint32 { return uint32(len(q.buf)) }

// len returns the number of tasks in the queue, including ones a thief is
// copying out right now. From another goroutine it is a snapshot.
func (q *localQueue) len() int {
	_, real := unpack(q.head.Load())
	n := q.tail.Load() - real // head first: real <= tail at every instant
	if n > q.capacity() {
		n = q.capacity()
	}
	return int(n)
}

// isEmpty reports whether no task is left to pop or steal.
func (q *localQueue) isEmpty() bool {
	_, real := unpack(q.head.Load())
	return real == q.tail.Load()
}

// pushBack appends t at the tail. Owner only. When the ring is full, half
// of it plus t moves to inj so the owner never blocks; moved reports how many
// tasks went to the injector. length is the queue length right after a push
// that stayed local (0 when it overflowed).
func (q *localQueue) pushBack(t Task, inj *injector) (length, moved int) {
	for {
		steal, real := unpack(q.head.Load())
		tail := q.tail.Load()
		if tail-steal < q.capacity() {
			q.buf[tail&q.mask] = t
			q.tail.Store(tail + 1)
			return int(tail + 1 - real), 0
		}
		if steal != real {
			// A thief is copying out and will free half the ring soon;
			// rather than wait for it, send just this task to the injector.
			inj.push(t)
			return 0, 1
		}
		if n := q.overflow(t, real, inj); n > 0 {
			return 0, n
		}
		// A thief took some tasks between the load and the CAS: there is
		// room now, so retry the fast path.
	}
}

// overflow moves the older half of a full ring, followed by t, to inj.
// Owner only. It returns 0 when a thief won the race for head.
func (q *localQueue) overflow(t Task, head uint32, inj *injector) int {
	n := q.capacity() / 2
	if !q.head.CompareAndSwap(pack(head, head), pack(head+n, head+n)) {
		return 0
	}
	// Slots [head, head+n) now belong to the owner alone.
	inj.pushOverflow(q.buf, q.mask, head, n, t)
	return int(n) + 1
}

// pop takes the task at the head. Owner only. It returns nil when the
// queue is empty.
func (q *localQueue) pop() Task {
	h := q.head.Load()
	for {
		steal, real := unpack(h)
		if real == q.tail.Load() {
			return nil
		}
		next := pack(steal, real+1)
		if steal == real {
			next = pack(real+1, real+1)
		}
		if q.head.CompareAndSwap(h, next) {
			i := real & q.mask
			t := q.buf[i]
			q.buf[i] = nil // do not keep a finished task reachable
			return t
		}
		h = q.head.Load()
	}
}

// stealInto moves about half of q's tasks into dst, which must be the
// calling worker's own queue, and returns one of them to run right away
// (the last one taken, which is not published in dst). It returns nil when
// there was nothing to take, another thief was busy on q, or dst has less
// than half its capacity free. n is how many tasks were taken in all.
func (q *localQueue) stealInto(dst *localQueue) (t Task, n uint32) {
	dstTail := dst.tail.Load()
	dstSteal, _ := unpack(dst.head.Load())
	if dstTail-dstSteal > dst.capacity()/2 {
		return nil, 0
	}
	n = q.stealInto2(dst, dstTail)
	if n == 0 {
		return nil, 0
	}
	i := (dstTail + n - 1) & dst.mask
	t = dst.buf[i]
	dst.buf[i] = nil
	if n > 1 {
		dst.tail.Store(dstTail + n - 1)
	}
	return t, n
}

// stealInto2 claims ceil(len/2) tasks of q, copies them into dst starting
// at dstTail, and releases the claim. It returns how many were copied.
func (q *localQueue) stealInto2(dst *localQueue, dstTail uint32) uint32 {
	prev := q.head.Load()
	var first, n uint32
	for {
		steal, real := unpack(prev)
		if steal != real {
			return 0 // another thief is copying; try a different victim
		}
		n = q.tail.Load() - real
		n -= n / 2
		if n == 0 {
			return 0
		}
		if n > q.capacity()/2 {
			// tail moved on after a pop we have not seen yet: head is stale
			// and the CAS below would fail anyway, so reload.
			prev = q.head.Load()
			continue
		}
		next := pack(steal, real+n)
		if q.head.CompareAndSwap(prev, next) {
			first = real
			prev = next
			break
		}
		prev = q.head.Load()
	}
	for i := uint32(0); i < n; i++ {
		si := (first + i) & q.mask
		dst.buf[(dstTail+i)&dst.mask] = q.buf[si]
		q.buf[si] = nil
	}
	// Release the claim: steal catches up with real. The owner may have
	// popped meanwhile (real moved), so retry until the CAS lands.
	for {
		_, real := unpack(prev)
		if q.head.CompareAndSwap(prev, pack(real, real)) {
			return n
		}
		prev = q.head.Load()
	}
}
