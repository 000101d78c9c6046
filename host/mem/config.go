package mem

import "slices"

const (
	// DefaultLimit is the byte limit of DefaultConfig: 1 GiB of live bytes.
	DefaultLimit int64 = 1 << 30

	// DefaultMaxCached is the cache bound of DefaultConfig: 64 MiB of idle
	// arrays kept on the free lists.
	DefaultMaxCached int64 = 64 << 20

	// maxLimit keeps limit arithmetic far from int64 overflow.
	maxLimit int64 = 1 << 62
)

// Config is the immutable configuration of a Pool. Each With… method
// returns a changed copy and leaves the receiver as it was, so a Config can
// be shared and extended freely.
//
// The zero Config is usable: NewPool gives it the default size classes and
// the default limit, and it caches nothing. Start from DefaultConfig for
// the usual set-up.
type Config struct {
	classes   []int // ascending, distinct, positive; never mutated once set
	limit     int64
	maxCached int64
	maxSize   int64
	zero      bool
	alloc     Allocator
}

// Allocator supplies a pool's arrays. The default (nil) takes them from
// the Go heap and leaves dropped ones to the garbage collector. A pool
// whose buffers are handed to foreign code (the C ABI) uses memory the Go
// collector does not own, so that code may keep pointers into it.
type Allocator interface {
	// Alloc returns a zeroed array of exactly size bytes, or nil when
	// there is no memory.
	Alloc(size int) []byte
	// Free gives back an array Alloc returned; the pool never touches it
	// again.
	Free(b []byte)
}

// WithAllocator returns a copy of c whose pool takes its arrays from a
// (nil: the Go heap).
func (c Config) WithAllocator(a Allocator) Config {
	c.alloc = a
	return c
}

// DefaultConfig returns the configuration used by most pools: size classes
// of every power of two from 64 B to 4 MiB (17 classes, so at most half of
// an array is slack), a limit of 1 GiB of live bytes (DefaultLimit), up to
// 64 MiB of idle arrays cached for reuse (DefaultMaxCached), exact-size
// requests allowed up to the limit, and reused arrays not zeroed.
func DefaultConfig() Config {
	return Config{
		classes:   defaultClasses(),
		limit:     DefaultLimit,
		maxCached: DefaultMaxCached,
	}
}

func defaultClasses() []int {
	classes := make([]int, 0, 17)
	for size := 64; size <= 4<<20; size <<= 1 {
		classes = append(classes, size)
	}
	return classes
}

// WithClasses returns a copy of c whose size classes are sizes. The sizes
// are copied, sorted and deduplicated, and non-positive sizes are dropped;
// if none is left, NewPool uses the default classes. Classes that are
// consecutive powers of two are found with one bit operation; any other set
// is searched in O(log classes).
func (c Config) WithClasses(sizes ...int) Config {
	classes := make([]int, 0, len(sizes))
	for _, s := range sizes {
		if s > 0 {
			classes = append(classes, s)
		}
	}
	slices.Sort(classes)
	c.classes = slices.Compact(classes)
	return c
}

// WithLimit returns a copy of c whose pool may hand out at most bytes live
// bytes at once. A non-positive value means DefaultLimit.
func (c Config) WithLimit(bytes int64) Config {
	c.limit = bytes
	return c
}

// WithMaxCached returns a copy of c whose pool keeps at most bytes of
// released arrays for reuse. Zero or a negative value disables caching:
// every Get allocates and every release leaves the array to the garbage
// collector.
func (c Config) WithMaxCached(bytes int64) Config {
	c.maxCached = bytes
	return c
}

// WithMaxSize returns a copy of c whose pool refuses, with ErrTooLarge, any
// request larger than the largest size class and larger than bytes. Zero or
// a negative value means the pool's limit is the only bound.
func (c Config) WithMaxSize(bytes int64) Config {
	c.maxSize = bytes
	return c
}

// WithZeroing returns a copy of c whose pool clears a reused array before
// handing it out again, so no bytes from a previous holder are ever visible.
// Fresh arrays are always zero. Clearing costs roughly the class size in
// memory bandwidth on every cache hit (about 1 µs for 64 KiB), so it is off
// by default; turn it on where buffers cross trust boundaries (for example
// into sandboxed guests).
func (c Config) WithZeroing(on bool) Config {
	c.zero = on
	return c
}

// Classes returns a copy of the configured size classes, ascending; nil if
// none were set (NewPool then uses the default classes).
func (c Config) Classes() []int { return slices.Clone(c.classes) }

// Limit returns the configured byte limit (before NewPool's defaulting).
func (c Config) Limit() int64 { return c.limit }

// MaxCached returns the configured cache bound (before NewPool's defaulting).
func (c Config) MaxCached() int64 { return c.maxCached }

// MaxSize returns the configured largest exact-size request (before
// NewPool's defaulting).
func (c Config) MaxSize() int64 { return c.maxSize }

// Zeroing reports whether reused arrays are cleared before reuse.
func (c Config) Zeroing() bool { return c.zero }

// normalize fills defaults and clamps values so that the pool's arithmetic
// cannot overflow. The result is what the pool actually runs with.
func (c Config) normalize() Config {
	if len(c.classes) == 0 {
		c.classes = defaultClasses()
	}
	if c.limit <= 0 {
		c.limit = DefaultLimit
	}
	c.limit = min(c.limit, maxLimit)
	c.maxCached = min(max(c.maxCached, 0), maxLimit)
	if c.maxSize <= 0 {
		c.maxSize = c.limit
	}
	c.maxSize = min(c.maxSize, c.limit)
	return c
}
