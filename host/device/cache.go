package device

import (
	"errors"
	"math/bits"
	"sync"
)

// Cache is a caching allocator in front of a backend: freed device memory
// is kept in size-binned free lists (powers of two from 256 B) and handed
// out again, so a steady workload stops calling the driver's allocator
// (often milliseconds on GPUs). Requests above MaxCachedBlock are passed
// through. Every other call goes straight to the backend.
type Cache struct {
	Backend
	maxCached uint64

	mu     sync.Mutex
	free   map[cacheKey][]uint64 // idle handles by device and size class
	class  map[uint64]cacheKey   // live and idle handles made by the cache
	cached uint64
	stats  CacheStats
}

type cacheKey struct {
	dev  int
	size uint64
}

// CacheStats counts a Cache's work.
type CacheStats struct {
	Hits        uint64 // allocations served from a free list
	Misses      uint64 // allocations that reached the backend
	Frees       uint64 // frees kept for reuse
	Drops       uint64 // frees passed to the backend (over the bound, or trimmed)
	LiveBytes   uint64 // handed out, by size class
	CachedBytes uint64 // idle on the free lists
}

// Size classes: powers of two from minBlock; larger than maxBlock is exact.
const (
	minBlock = 256
	maxBlock = 1 << 30
)

// NewCache wraps b; at most maxCached bytes stay idle (0: 1 GiB).
func NewCache(b Backend, maxCached uint64) *Cache {
	if maxCached == 0 {
		maxCached = 1 << 30
	}
	return &Cache{Backend: b, maxCached: maxCached, free: map[cacheKey][]uint64{}, class: map[uint64]cacheKey{}}
}

func sizeClass(bytes uint64) uint64 {
	if bytes <= minBlock {
		return minBlock
	}
	if bytes > maxBlock {
		return bytes
	}
	return 1 << bits.Len64(bytes-1)
}

// Alloc returns a handle of at least bytes, from the free list when one of
// its size class is idle.
func (c *Cache) Alloc(dev int, bytes uint64) (uint64, error) {
	if bytes == 0 {
		return c.Backend.Alloc(dev, 0) // let the backend word the error
	}
	k := cacheKey{dev, sizeClass(bytes)}
	c.mu.Lock()
	if l := c.free[k]; len(l) > 0 {
		h := l[len(l)-1]
		c.free[k] = l[:len(l)-1]
		c.cached -= k.size
		c.stats.Hits++
		c.stats.LiveBytes += k.size
		c.mu.Unlock()
		return h, nil
	}
	c.stats.Misses++
	c.mu.Unlock()
	h, err := c.Backend.Alloc(dev, k.size)
	if errors.Is(err, ErrExhausted) {
		c.Trim() // give idle memory back and try once more
		h, err = c.Backend.Alloc(dev, k.size)
	}
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.class[h] = k
	c.stats.LiveBytes += k.size
	c.mu.Unlock()
	return h, nil
}

// Free keeps the handle for reuse, or frees it when the cache is full.
func (c *Cache) Free(dev int, h uint64) error {
	c.mu.Lock()
	k, ok := c.class[h]
	if !ok || k.dev != dev {
		c.mu.Unlock()
		return c.Backend.Free(dev, h) // not ours: the backend says what it is
	}
	for _, idle := range c.free[k] {
		if idle == h {
			c.mu.Unlock()
			return errf(c.Name(), "free", ErrNotFound, "buffer %#x was freed already", h)
		}
	}
	c.stats.LiveBytes -= k.size
	if c.cached+k.size <= c.maxCached && k.size <= maxBlock {
		c.free[k] = append(c.free[k], h)
		c.cached += k.size
		c.stats.Frees++
		c.mu.Unlock()
		return nil
	}
	delete(c.class, h)
	c.stats.Drops++
	c.mu.Unlock()
	return c.Backend.Free(dev, h)
}

// Trim frees every idle handle.
func (c *Cache) Trim() {
	c.mu.Lock()
	free := c.free
	c.free = map[cacheKey][]uint64{}
	for k, l := range free {
		for _, h := range l {
			delete(c.class, h)
		}
		c.cached -= k.size * uint64(len(l))
		c.stats.Drops += uint64(len(l))
	}
	c.mu.Unlock()
	for k, l := range free {
		for _, h := range l {
			_ = c.Backend.Free(k.dev, h)
		}
	}
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.CachedBytes = c.cached
	return s
}

// Close trims and closes the backend.
func (c *Cache) Close() error {
	c.Trim()
	return c.Backend.Close()
}
