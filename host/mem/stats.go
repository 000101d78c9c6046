package mem

// ClassStats are the counters of one size class, or of the exact-size
// requests larger than every class (Pool.Stats' Oversize).
type ClassStats struct {
	// Size is the class size in bytes (0 for Oversize).
	Size int
	// Gets counts buffers handed out: Hits + Misses.
	Gets uint64
	// Hits counts Gets served from the free list.
	Hits uint64
	// Misses counts Gets that allocated a new array (all Oversize Gets).
	Misses uint64
	// Releases counts arrays given back by a final Release.
	Releases uint64
	// Drops counts released arrays left to the garbage collector because
	// the cache was full (all Oversize releases).
	Drops uint64
	// Free is the number of arrays on the free list now.
	Free int
}

// Live returns the number of buffers of this class not yet released.
func (s ClassStats) Live() uint64 { return s.Gets - s.Releases }

// Stats is a snapshot of a Pool's accounting. Counters are read one by one
// while the pool keeps running, so under load they may disagree slightly;
// when the pool is quiet they are exact.
type Stats struct {
	// Name is the pool's name.
	Name string
	// Classes holds one entry per size class, ascending by size.
	Classes []ClassStats
	// Oversize counts exact-size buffers, larger than every class.
	Oversize ClassStats
	// LiveBytes is the number of bytes counted by unreleased buffers.
	LiveBytes int64
	// PeakBytes is the highest LiveBytes seen.
	PeakBytes int64
	// CachedBytes is the number of bytes of arrays on the free lists.
	CachedBytes int64
	// Limit is the pool's byte limit on LiveBytes.
	Limit int64
	// MaxCached is the bound on CachedBytes.
	MaxCached int64
	// Exhausted counts Gets refused with ErrPoolExhausted.
	Exhausted uint64
	// TooLarge counts Gets refused with ErrTooLarge.
	TooLarge uint64
}

// LiveBuffers returns the number of buffers handed out and not yet
// released, across all classes.
func (s Stats) LiveBuffers() uint64 {
	n := s.Oversize.Live()
	for _, c := range s.Classes {
		n += c.Live()
	}
	return n
}

// Stats returns a snapshot of the pool's counters. It allocates the Classes
// slice and takes each class's lock briefly, so it suits metrics scrapes,
// not hot paths.
func (p *Pool) Stats() Stats {
	s := Stats{
		Name:      p.name,
		Classes:   make([]ClassStats, len(p.classes)),
		Limit:     p.limit,
		MaxCached: p.maxCached,
		Exhausted: p.exhausted.Load(),
		TooLarge:  p.tooLarge.Load(),
	}
	for i := range p.classes {
		c := &p.classes[i]
		c.mu.Lock()
		s.Classes[i] = ClassStats{
			Size:     c.size,
			Gets:     c.hits + c.misses,
			Hits:     c.hits,
			Misses:   c.misses,
			Releases: c.releases,
			Drops:    c.drops,
			Free:     len(c.free),
		}
		c.mu.Unlock()
	}
	rels := p.overRels.Load()
	gets := p.overGets.Load()
	s.Oversize = ClassStats{Gets: gets, Misses: gets, Releases: rels, Drops: rels}
	s.LiveBytes = p.live.Load()
	s.PeakBytes = p.peak.Load()
	s.CachedBytes = p.cached.Load()
	return s
}
