package actor

import (
	"sync"
	"sync/atomic"
)

// The actor table maps refs to cells. Slots live in fixed-size chunks that
// are allocated on demand and never moved, so a lookup is two atomic loads
// and no lock. Allocation and release take a mutex; they happen once per
// actor lifetime.
const (
	chunkBits = 14
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1
	maxChunks = 1 << 13 // 2^27 slots: far above any configured limit
)

type slot struct {
	cell atomic.Pointer[cell]
	gen  uint32 // guarded by table.mu
}

type chunk [chunkSize]slot

type table struct {
	chunks [maxChunks]atomic.Pointer[chunk]

	mu    sync.Mutex
	free  []uint32 // released slots, reused LIFO
	next  uint32   // next never-used slot; slot 0 is reserved so Ref 0 means nobody
	live  int
	limit int
	// genBase is where the generations of fresh slots start: random per
	// system, so a ref of one runtime is almost never a live ref of
	// another runtime in the same process (C programs may hold both).
	genBase uint32

	retired Counters // counters of cells that already terminated, under mu
}

func newTable(limit int, genBase uint32) *table {
	return &table{next: 1, limit: limit, genBase: genBase}
}

// lookup returns the live cell that r names, or nil.
func (t *table) lookup(r Ref) *cell {
	idx := r.Slot()
	if idx>>chunkBits >= maxChunks { // a forged ref past any slot that can exist
		return nil
	}
	ch := t.chunks[idx>>chunkBits].Load()
	if ch == nil {
		return nil
	}
	c := ch[idx&chunkMask].cell.Load()
	if c == nil || c.ref != r {
		return nil
	}
	return c
}

// insert gives c a slot and a fresh ref.
func (t *table) insert(c *cell) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.live >= t.limit {
		return ErrTooManyActors
	}
	var idx uint32
	if n := len(t.free); n > 0 {
		idx = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		if int(t.next) >= chunkSize*maxChunks {
			return ErrTooManyActors
		}
		idx = t.next
		t.next++
		if t.chunks[idx>>chunkBits].Load() == nil {
			t.chunks[idx>>chunkBits].Store(new(chunk))
		}
	}
	s := &t.chunks[idx>>chunkBits].Load()[idx&chunkMask]
	if s.gen == 0 {
		s.gen = t.genBase // a fresh slot
	}
	s.gen++
	if s.gen == 0 { // wrapped: generation 0 is never handed out
		s.gen = 1
	}
	c.ref = makeRef(idx, s.gen)
	s.cell.Store(c)
	t.live++
	return nil
}

// remove frees c's slot and folds its counters into the retired totals.
func (t *table) remove(c *cell, final Counters) {
	idx := c.ref.Slot()
	t.mu.Lock()
	s := &t.chunks[idx>>chunkBits].Load()[idx&chunkMask]
	if s.cell.Load() == c {
		s.cell.Store(nil)
		t.free = append(t.free, idx)
		t.live--
		t.retired.add(final)
	}
	t.mu.Unlock()
}

// each calls f for every live cell while holding the table lock, so that no
// cell retires (and is counted twice or never) during the walk.
func (t *table) each(f func(c *cell)) Counters {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := 0; i < maxChunks; i++ {
		ch := t.chunks[i].Load()
		if ch == nil {
			break
		}
		for j := range ch {
			if c := ch[j].cell.Load(); c != nil {
				f(c)
			}
		}
	}
	return t.retired
}

func (t *table) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}
