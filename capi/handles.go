package main

import (
	"sync"
	"sync/atomic"
)

// table maps 64-bit handles to objects: the low 32 bits are a slot (+1, so
// 0 is never a handle), the high 32 the slot's generation, bumped when the
// slot is freed. A freed or forged handle finds a different generation and
// is refused; it can never reach a newer object in the same slot. Lookups
// take no lock (two atomic loads); adding and removing take the table's.
type table[T any] struct {
	mu     sync.Mutex
	chunks [tableChunks]atomic.Pointer[[tableChunk]slot[T]]
	free   []uint32
	next   uint32 // slots ever used
	live   atomic.Int64
}

type slot[T any] struct {
	gen atomic.Uint32
	val atomic.Pointer[T]
}

const (
	tableChunk  = 1024
	tableChunks = 16384 // 16M handles per table
)

// add stores v and returns its handle, or 0 when the table is full.
func (t *table[T]) add(v *T) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var i uint32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		if t.next >= tableChunk*tableChunks {
			return 0
		}
		i = t.next
		t.next++
		if t.chunks[i/tableChunk].Load() == nil {
			t.chunks[i/tableChunk].Store(new([tableChunk]slot[T]))
		}
	}
	s := &t.chunks[i/tableChunk].Load()[i%tableChunk]
	if s.gen.Load() == 0 {
		s.gen.Store(1)
	}
	s.val.Store(v)
	t.live.Add(1)
	return uint64(s.gen.Load())<<32 | uint64(i+1)
}

func (t *table[T]) slot(h uint64) *slot[T] {
	i := uint32(h)
	if i == 0 || i > tableChunk*tableChunks {
		return nil
	}
	i--
	c := t.chunks[i/tableChunk].Load()
	if c == nil {
		return nil
	}
	return &c[i%tableChunk]
}

// get returns the object of h, or nil for a stale or forged handle.
func (t *table[T]) get(h uint64) *T {
	s := t.slot(h)
	if s == nil || s.gen.Load() != uint32(h>>32) {
		return nil
	}
	return s.val.Load()
}

// at returns whatever occupies h's slot now, ignoring the generation.
func (t *table[T]) at(index uint32) *T {
	s := t.slot(uint64(index))
	if s == nil {
		return nil
	}
	return s.val.Load()
}

// remove frees h and returns its object, or nil when h was already stale.
func (t *table[T]) remove(h uint64) *T {
	s := t.slot(h)
	if s == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s.gen.Load() != uint32(h>>32) {
		return nil
	}
	v := s.val.Swap(nil)
	if v == nil {
		return nil
	}
	if g := s.gen.Add(1); g == 0 { // wrapped: skip 0, which marks a fresh slot
		s.gen.Store(1)
	}
	t.free = append(t.free, uint32(h)-1)
	t.live.Add(-1)
	return v
}

// each calls f with every live handle and object (under the table's lock:
// f must not add or remove).
func (t *table[T]) each(f func(h uint64, v *T)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := uint32(0); i < t.next; i++ {
		s := &t.chunks[i/tableChunk].Load()[i%tableChunk]
		if v := s.val.Load(); v != nil {
			f(uint64(s.gen.Load())<<32|uint64(i+1), v)
		}
	}
}
