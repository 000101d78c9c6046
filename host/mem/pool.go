package mem

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

// cacheLine pads hot fields apart so that cores updating different classes
// or counters do not invalidate each other's cache lines.
const cacheLine = 64

// Pool hands out Buffers from per-size-class free lists under a byte limit.
// Make one with NewPool; a Pool must not be copied. All methods are safe for
// concurrent use.
type Pool struct {
	// Read-only after NewPool.
	name      string
	cfg       Config // normalized
	limit     int64
	maxCached int64
	maxSize   int64
	zero      bool
	sizes     []int // class sizes, ascending (cfg.classes)
	maxClass  int
	pow2      bool // sizes[i] == sizes[0] << i for every i
	minShift  int  // log2(sizes[0]) when pow2
	classes   []class
	_         [cacheLine]byte

	// Written by every Get and final Release. They share a cache line on
	// purpose: a Get or Release touches both, so one line moves, not two.
	live   atomic.Int64 // bytes counted by buffers not yet released
	cached atomic.Int64 // bytes of arrays on the free lists
	_      [cacheLine - 16]byte

	// Read on every Get, written rarely.
	peak      atomic.Int64
	exhausted atomic.Uint64
	tooLarge  atomic.Uint64
	overGets  atomic.Uint64 // exact-size (oversized) buffers handed out
	overRels  atomic.Uint64 // exact-size buffers released
}

// class is one size class: a free list of arrays of exactly size bytes,
// padded to whole cache lines so neighbouring classes do not share one.
type class struct {
	classState
	_ [cacheLine - unsafe.Sizeof(classState{})%cacheLine]byte
}

type classState struct {
	mu       sync.Mutex
	free     [][]byte // guarded by mu
	size     int
	hits     uint64   // Gets served from free; guarded by mu
	misses   uint64   // Gets that allocated; guarded by mu
	releases uint64   // arrays returned by a final Release; guarded by mu
	drops    uint64   // released arrays not kept, cache full; guarded by mu
	handles  []Buffer // unused handles of the current batch; guarded by mu
}

// handleBatch is how many Buffer handles are allocated at once. Handles
// are never reused, but allocating them in batches takes most of the
// allocator's cost off the hit path; the price is that one handle kept
// alive keeps its whole batch (2 KiB) reachable. 42 handles of 48 B plus
// the allocator's 8-byte header fit the 2 KiB size class with 24 B spare.
const handleBatch = 42

// NewPool returns an empty Pool named name (used in Stats and by callers'
// metrics) configured by cfg; see Config for how unset fields default.
// Nothing is allocated up front beyond the class table, and the pool starts
// no goroutines.
func NewPool(name string, cfg Config) *Pool {
	cfg = cfg.normalize()
	p := &Pool{
		name:      name,
		cfg:       cfg,
		limit:     cfg.limit,
		maxCached: cfg.maxCached,
		maxSize:   cfg.maxSize,
		zero:      cfg.zero,
		sizes:     cfg.classes,
		maxClass:  cfg.classes[len(cfg.classes)-1],
		classes:   make([]class, len(cfg.classes)),
	}
	for i, size := range p.sizes {
		p.classes[i].size = size
	}
	first := p.sizes[0]
	p.pow2 = first&(first-1) == 0
	for i, size := range p.sizes {
		if size != first<<i {
			p.pow2 = false
		}
	}
	p.minShift = bits.TrailingZeros(uint(first))
	return p
}

// Name returns the name the pool was made with.
func (p *Pool) Name() string { return p.name }

// Config returns the configuration the pool runs with, defaults filled in.
func (p *Pool) Config() Config { return p.cfg }

// Get returns a Buffer of length n holding one reference, which the caller
// must eventually Release. Its capacity is the smallest size class that
// fits n, and that class size is what counts against the limit; a request
// larger than the largest class gets an exact-size array instead, counted
// as n bytes and never cached after release.
//
// Get fails with ErrPoolExhausted, allocating nothing, when the counted
// bytes would take live bytes past the limit; with ErrTooLarge when the
// request can never fit (see ErrTooLarge); and with ErrInvalidSize when n is
// negative. Reused arrays keep their previous contents unless the pool was
// configured WithZeroing.
//
// Cost: a cache hit is a compare-and-swap on the live-byte counter, a short
// lock of the class's free list and a 48-byte handle taken from a batch
// (one allocation per 42 Gets of a class); no allocation otherwise. A miss
// also allocates a zeroed array of the class size, and an exact-size
// request allocates its array and its handle.
func (p *Pool) Get(n int) (*Buffer, error) {
	if n < 0 {
		return nil, ErrInvalidSize
	}
	ci := p.classOf(n)
	var size int64
	if ci >= 0 {
		size = int64(p.sizes[ci])
	} else {
		size = int64(n)
		if size > p.maxSize {
			p.tooLarge.Add(1)
			return nil, ErrTooLarge
		}
	}
	if size > p.limit {
		p.tooLarge.Add(1)
		return nil, ErrTooLarge
	}
	if !p.reserve(size) {
		p.exhausted.Add(1)
		return nil, ErrPoolExhausted
	}

	if ci < 0 {
		data := p.newArray(n)
		if data == nil {
			p.live.Add(-size)
			p.exhausted.Add(1)
			return nil, ErrPoolExhausted
		}
		p.overGets.Add(1)
		return &Buffer{refs: 1, class: -1, n: n, data: data, pool: p}, nil
	}

	var data []byte
	c := &p.classes[ci]
	c.mu.Lock()
	if k := len(c.free) - 1; k >= 0 {
		data = c.free[k]
		c.free[k] = nil
		c.free = c.free[:k]
		c.hits++
	} else {
		c.misses++
	}
	if len(c.handles) == 0 {
		c.handles = make([]Buffer, handleBatch)
	}
	b := &c.handles[0]
	c.handles = c.handles[1:]
	c.mu.Unlock()

	if data != nil {
		p.cached.Add(-size)
		if p.zero {
			clear(data)
		}
	} else if data = p.newArray(int(size)); data == nil { // the handle b is simply not used
		p.live.Add(-size)
		p.exhausted.Add(1)
		return nil, ErrPoolExhausted
	}
	// b is fresh, zeroed and not yet shared: plain field stores are enough
	// (and cheaper than storing a whole Buffer, which takes the bulk write
	// barrier while the collector runs).
	b.refs = 1
	b.class = int32(ci)
	b.n = n
	b.data = data
	b.pool = p
	return b, nil
}

// newArray allocates a zeroed array from the pool's allocator (nil when
// the allocator is out of memory).
func (p *Pool) newArray(n int) []byte {
	if p.cfg.alloc == nil {
		return make([]byte, n)
	}
	return p.cfg.alloc.Alloc(n)
}

// dropArray gives an array nobody will use again back to its allocator.
func (p *Pool) dropArray(b []byte) {
	if p.cfg.alloc != nil {
		p.cfg.alloc.Free(b)
	}
}

// classOf returns the index of the smallest class that holds n bytes, or -1
// when n is larger than every class.
func (p *Pool) classOf(n int) int {
	if n <= p.sizes[0] {
		return 0
	}
	if n > p.maxClass {
		return -1
	}
	if p.pow2 {
		return bits.Len(uint(n-1)) - p.minShift
	}
	lo, hi := 1, len(p.sizes)-1 // sizes[0] < n <= sizes[hi]
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if p.sizes[mid] < n {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// reserve adds size to the live bytes unless that would pass the limit.
// The compare-and-swap loop means concurrent callers can never overshoot.
func (p *Pool) reserve(size int64) bool {
	for {
		cur := p.live.Load()
		next := cur + size
		if next > p.limit {
			return false
		}
		if p.live.CompareAndSwap(cur, next) {
			for {
				peak := p.peak.Load()
				if next <= peak || p.peak.CompareAndSwap(peak, next) {
					return true
				}
			}
		}
	}
}

// reserveCache adds size to the cached bytes unless that would pass the
// cache bound.
func (p *Pool) reserveCache(size int64) bool {
	for {
		cur := p.cached.Load()
		next := cur + size
		if next > p.maxCached {
			return false
		}
		if p.cached.CompareAndSwap(cur, next) {
			return true
		}
	}
}

// put takes back the array of a buffer whose last reference was released.
func (p *Pool) put(ci int32, data []byte) {
	size := int64(len(data))
	p.live.Add(-size)
	if ci < 0 {
		p.overRels.Add(1)
		p.dropArray(data)
		return
	}
	keep := p.reserveCache(size)
	c := &p.classes[ci]
	c.mu.Lock()
	c.releases++
	if keep {
		c.free = append(c.free, data)
	} else {
		c.drops++
	}
	c.mu.Unlock()
	if !keep {
		p.dropArray(data)
	}
}

// Trim drops every cached array, leaving them to the garbage collector.
// Live buffers are not affected, and later Gets simply allocate again. It
// costs one lock per class; the memory goes back to the operating system
// only when the Go runtime next collects and scavenges.
func (p *Pool) Trim() {
	for i := range p.classes {
		c := &p.classes[i]
		c.mu.Lock()
		free := c.free
		c.free = nil
		c.mu.Unlock()
		if k := len(free); k > 0 {
			p.cached.Add(-int64(k) * int64(c.size))
		}
		for _, b := range free {
			p.dropArray(b)
		}
	}
}
