package mem

import (
	"fmt"
	"sync/atomic"
)

// MaxRefs is the most references one Buffer can hold at once; Retain past
// it fails with ErrTooManyRefs instead of wrapping the count.
const MaxRefs = 1 << 30

// Buffer is a reference-counted byte buffer from a Pool. Get returns it
// holding one reference. Retain adds one, Release drops one, and the release
// of the last reference gives the backing array back to the pool; from then
// on the handle is dead: Bytes is nil, Len and Cap are 0, and Retain,
// Release and SetLen return ErrReleased. A nil *Buffer behaves like a
// released one.
//
// Retain, Release and Refs are safe for concurrent use. Bytes, Len, Cap and
// SetLen are not synchronised with each other: the goroutine that holds the
// buffer owns its contents.
type Buffer struct {
	refs  int32  // accessed atomically once the handle is published
	class int32  // size class index, -1 for an exact-size array
	n     int    // length
	data  []byte // the whole array, len == cap; nil once released
	pool  *Pool
}

// Bytes returns the buffer's contents: a slice of length Len and capacity
// Cap that aliases the pooled array, so writes go straight into the buffer.
// Code may append within that capacity and then call SetLen to publish the
// new length. It returns nil once the buffer is released; the slice must
// not be used after the caller's reference is released. Cost: O(1), no
// allocation.
func (b *Buffer) Bytes() []byte {
	if b == nil {
		return nil
	}
	return b.data[:b.n]
}

// Len returns the buffer's length in bytes, 0 once released.
func (b *Buffer) Len() int {
	if b == nil {
		return 0
	}
	return b.n
}

// Cap returns the buffer's capacity: its size class, or the exact size
// for a request larger than every class. 0 once released.
func (b *Buffer) Cap() int {
	if b == nil {
		return 0
	}
	return len(b.data)
}

// SetLen sets the buffer's length to n, which must lie in [0, Cap()]
// (ErrInvalidSize otherwise). Bytes in the array keep their values, so
// growing exposes whatever the array held there. It returns ErrReleased on
// a released buffer. Cost: O(1).
func (b *Buffer) SetLen(n int) error {
	if b == nil || b.data == nil {
		return ErrReleased
	}
	if n < 0 || n > len(b.data) {
		return fmt.Errorf("%w: length %d outside [0, %d]", ErrInvalidSize, n, len(b.data))
	}
	b.n = n
	return nil
}

// Retain adds a reference, for a second holder that will call Release on
// its own. It returns ErrReleased if the last reference was already
// released (the count stays 0) and ErrTooManyRefs at MaxRefs. Cost: one
// compare-and-swap.
func (b *Buffer) Retain() error {
	if b == nil {
		return ErrReleased
	}
	for {
		r := atomic.LoadInt32(&b.refs)
		if r <= 0 {
			return ErrReleased
		}
		if r >= MaxRefs {
			return ErrTooManyRefs
		}
		if atomic.CompareAndSwapInt32(&b.refs, r, r+1) {
			return nil
		}
	}
}

// Release drops a reference. Dropping the last one returns the backing
// array to the pool (or to the garbage collector when the pool's cache is
// full or the array is exact-size) and kills the handle. Releasing a
// buffer whose last reference is already gone returns ErrReleased and
// changes nothing: it never panics and never frees twice. Cost: one
// compare-and-swap; the last release adds the pool's bookkeeping (an atomic
// add, a cache-bound check and a short lock).
func (b *Buffer) Release() error {
	if b == nil {
		return ErrReleased
	}
	for {
		r := atomic.LoadInt32(&b.refs)
		if r <= 0 {
			return ErrReleased
		}
		if atomic.CompareAndSwapInt32(&b.refs, r, r-1) {
			if r == 1 {
				data := b.data
				b.data, b.n = nil, 0
				b.pool.put(b.class, data)
			}
			return nil
		}
	}
}

// Refs returns the current number of references, 0 once released. Under
// concurrent Retain and Release it is only a snapshot.
func (b *Buffer) Refs() int {
	if b == nil {
		return 0
	}
	return int(atomic.LoadInt32(&b.refs))
}

// Pool returns the pool the buffer came from (also after release).
func (b *Buffer) Pool() *Pool {
	if b == nil {
		return nil
	}
	return b.pool
}
