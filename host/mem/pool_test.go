package mem

import (
	"errors"
	"sync"
	"testing"
)

func TestDefaultClasses(t *testing.T) {
	c := DefaultConfig().Classes()
	if len(c) != 17 || c[0] != 64 || c[len(c)-1] != 4<<20 {
		t.Fatalf("default classes = %v", c)
	}
	for i := 1; i < len(c); i++ {
		if c[i] != 2*c[i-1] {
			t.Fatalf("classes not doubling at %d: %v", i, c)
		}
	}
}

func TestClassSelection(t *testing.T) {
	pow2 := NewPool("pow2", DefaultConfig())
	odd := NewPool("odd", DefaultConfig().WithClasses(4096, 100, 1000, 100, -5, 0, 10000))
	if got := odd.Config().Classes(); len(got) != 4 || got[0] != 100 || got[3] != 10000 {
		t.Fatalf("odd classes = %v, want [100 1000 4096 10000]", got)
	}
	tests := []struct {
		pool    *Pool
		n, want int
	}{
		{pow2, 0, 64}, {pow2, 1, 64}, {pow2, 64, 64}, {pow2, 65, 128},
		{pow2, 128, 128}, {pow2, 129, 256}, {pow2, 1000, 1024},
		{pow2, 4<<20 - 1, 4 << 20}, {pow2, 4 << 20, 4 << 20},
		{pow2, 4<<20 + 1, 4<<20 + 1}, // exact size
		{odd, 0, 100}, {odd, 100, 100}, {odd, 101, 1000}, {odd, 1000, 1000},
		{odd, 1001, 4096}, {odd, 4097, 10000}, {odd, 10000, 10000},
		{odd, 10001, 10001},
	}
	for _, tt := range tests {
		b, err := tt.pool.Get(tt.n)
		if err != nil {
			t.Fatalf("%s Get(%d): %v", tt.pool.Name(), tt.n, err)
		}
		if b.Len() != tt.n || b.Cap() != tt.want || len(b.Bytes()) != tt.n || cap(b.Bytes()) != tt.want {
			t.Errorf("%s Get(%d): len %d cap %d, want len %d cap %d",
				tt.pool.Name(), tt.n, b.Len(), b.Cap(), tt.n, tt.want)
		}
		if b.Refs() != 1 || b.Pool() != tt.pool {
			t.Errorf("%s Get(%d): refs %d pool %p", tt.pool.Name(), tt.n, b.Refs(), b.Pool())
		}
		if err := b.Release(); err != nil {
			t.Fatal(err)
		}
	}
	// Every possible size lands in the smallest fitting class.
	for n := 0; n <= 1<<16; n++ {
		ci := pow2.classOf(n)
		if pow2.sizes[ci] < n || (ci > 0 && pow2.sizes[ci-1] >= n) {
			t.Fatalf("classOf(%d) = class %d (%d bytes)", n, ci, pow2.sizes[ci])
		}
	}
}

func TestReuseSameArray(t *testing.T) {
	p := NewPool("reuse", DefaultConfig())
	b1, _ := p.Get(100)
	b1.Bytes()[0] = 42
	first := &b1.Bytes()[:1][0]
	if err := b1.Release(); err != nil {
		t.Fatal(err)
	}
	b2, _ := p.Get(120) // same 128-byte class
	if &b2.Bytes()[:1][0] != first {
		t.Fatal("second Get did not reuse the released array")
	}
	if b2 == b1 {
		t.Fatal("handle was reused")
	}
	if b2.Bytes()[0] != 42 {
		t.Fatal("reused array was cleared without WithZeroing")
	}
	// The stale handle stays dead while its old array lives on in b2.
	if b1.Bytes() != nil || b1.Len() != 0 || b1.Cap() != 0 {
		t.Fatal("stale handle still reaches memory")
	}
	if !errors.Is(b1.Retain(), ErrReleased) || !errors.Is(b1.Release(), ErrReleased) {
		t.Fatal("stale handle accepted Retain/Release")
	}
	if b2.Refs() != 1 {
		t.Fatalf("stale handle changed the new buffer's refs: %d", b2.Refs())
	}
	s := p.Stats()
	c := s.Classes[1]
	if c.Size != 128 || c.Gets != 2 || c.Hits != 1 || c.Misses != 1 || c.Releases != 1 {
		t.Fatalf("class stats %+v", c)
	}
	b2.Release()
}

func TestZeroing(t *testing.T) {
	p := NewPool("zero", DefaultConfig().WithZeroing(true))
	b, _ := p.Get(64)
	for i := range b.Bytes() {
		b.Bytes()[i] = 0xff
	}
	b.Release()
	b, _ = p.Get(64)
	for i, v := range b.Bytes()[:b.Cap()] {
		if v != 0 {
			t.Fatalf("byte %d = %#x after reuse with zeroing", i, v)
		}
	}
	if p.Stats().Classes[0].Hits != 1 {
		t.Fatal("zeroing pool did not reuse")
	}
	b.Release()
}

func TestLimitAndRecovery(t *testing.T) {
	p := NewPool("limit", DefaultConfig().WithLimit(1024))
	var held []*Buffer
	for range 4 {
		b, err := p.Get(256)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, b)
	}
	if _, err := p.Get(1); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("Get past limit: %v, want ErrPoolExhausted", err)
	}
	s := p.Stats()
	if s.LiveBytes != 1024 || s.Exhausted != 1 || s.PeakBytes != 1024 || s.Limit != 1024 {
		t.Fatalf("stats after exhaustion %+v", s)
	}
	held[0].Release()
	b, err := p.Get(200) // fits again, in the array just released
	if err != nil {
		t.Fatalf("Get after release: %v", err)
	}
	held[0] = b
	for _, b := range held {
		b.Release()
	}
	if s := p.Stats(); s.LiveBytes != 0 || s.LiveBuffers() != 0 {
		t.Fatalf("live after releasing all: %d bytes, %d buffers", s.LiveBytes, s.LiveBuffers())
	}
}

func TestTooLargeAndOversize(t *testing.T) {
	p := NewPool("big", DefaultConfig().WithClasses(64, 128).WithLimit(1000).WithMaxSize(600))
	if _, err := p.Get(1001); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Get over limit: %v, want ErrTooLarge", err)
	}
	if _, err := p.Get(601); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Get over max size: %v, want ErrTooLarge", err)
	}
	if _, err := p.Get(-1); !errors.Is(err, ErrInvalidSize) {
		t.Fatalf("Get(-1): %v, want ErrInvalidSize", err)
	}
	b, err := p.Get(500)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 500 || b.Cap() != 500 {
		t.Fatalf("oversize len %d cap %d", b.Len(), b.Cap())
	}
	if _, err := p.Get(600); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("second oversize: %v, want ErrPoolExhausted", err)
	}
	s := p.Stats()
	if s.LiveBytes != 500 || s.Oversize.Gets != 1 || s.TooLarge != 2 || s.Exhausted != 1 {
		t.Fatalf("stats %+v", s)
	}
	b.Release()
	s = p.Stats()
	if s.LiveBytes != 0 || s.CachedBytes != 0 || s.Oversize.Releases != 1 || s.Oversize.Drops != 1 {
		t.Fatalf("oversize was cached or not uncounted: %+v", s)
	}
	// A class larger than the limit can never be served.
	q := NewPool("tiny", DefaultConfig().WithLimit(100))
	if _, err := q.Get(65); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("class over limit: %v, want ErrTooLarge", err)
	}
}

func TestDoubleRelease(t *testing.T) {
	p := NewPool("double", DefaultConfig())
	b, _ := p.Get(10)
	if err := b.Retain(); err != nil {
		t.Fatal(err)
	}
	if b.Refs() != 2 {
		t.Fatalf("refs %d, want 2", b.Refs())
	}
	b.Release()
	b.Release()
	before := p.Stats()
	for range 3 {
		if err := b.Release(); !errors.Is(err, ErrReleased) {
			t.Fatalf("double release: %v, want ErrReleased", err)
		}
	}
	if err := b.Retain(); !errors.Is(err, ErrReleased) {
		t.Fatalf("retain after release: %v", err)
	}
	if err := b.SetLen(1); !errors.Is(err, ErrReleased) {
		t.Fatalf("SetLen after release: %v", err)
	}
	after := p.Stats()
	if b.Refs() != 0 || b.Bytes() != nil {
		t.Fatalf("released buffer: refs %d bytes %v", b.Refs(), b.Bytes())
	}
	if after.LiveBytes != before.LiveBytes || after.CachedBytes != before.CachedBytes ||
		after.Classes[0] != before.Classes[0] || after.Classes[0].Free != 1 {
		t.Fatalf("double release changed accounting:\n before %+v\n after  %+v", before, after)
	}
	var nilBuf *Buffer
	if nilBuf.Release() != ErrReleased || nilBuf.Retain() != ErrReleased || nilBuf.Bytes() != nil ||
		nilBuf.Len() != 0 || nilBuf.Cap() != 0 || nilBuf.Refs() != 0 || nilBuf.Pool() != nil {
		t.Fatal("nil buffer is not inert")
	}
}

func TestSetLen(t *testing.T) {
	p := NewPool("setlen", DefaultConfig())
	b, _ := p.Get(10)
	defer b.Release()
	copy(b.Bytes()[:b.Cap()], "0123456789abcdef")
	if err := b.SetLen(16); err != nil {
		t.Fatal(err)
	}
	if string(b.Bytes()) != "0123456789abcdef" {
		t.Fatalf("after SetLen: %q", b.Bytes())
	}
	if err := b.SetLen(65); !errors.Is(err, ErrInvalidSize) {
		t.Fatalf("SetLen past cap: %v", err)
	}
	if err := b.SetLen(-1); !errors.Is(err, ErrInvalidSize) {
		t.Fatalf("SetLen(-1): %v", err)
	}
	if b.Len() != 16 {
		t.Fatalf("failed SetLen changed length to %d", b.Len())
	}
}

func TestRetainLimit(t *testing.T) {
	p := NewPool("refs", DefaultConfig())
	b, _ := p.Get(1)
	b.refs = MaxRefs
	if err := b.Retain(); !errors.Is(err, ErrTooManyRefs) {
		t.Fatalf("Retain at MaxRefs: %v", err)
	}
	b.refs = 1
	b.Release()
}

func TestMaxCached(t *testing.T) {
	p := NewPool("cache", DefaultConfig().WithMaxCached(256))
	var bs []*Buffer
	for range 4 {
		b, _ := p.Get(128)
		bs = append(bs, b)
	}
	for _, b := range bs {
		b.Release()
	}
	s := p.Stats()
	if s.CachedBytes != 256 || s.Classes[1].Free != 2 || s.Classes[1].Drops != 2 || s.Classes[1].Releases != 4 {
		t.Fatalf("cache bound not kept: %+v", s.Classes[1])
	}
	off := NewPool("nocache", DefaultConfig().WithMaxCached(0))
	b, _ := off.Get(1)
	b.Release()
	if s := off.Stats(); s.CachedBytes != 0 || s.Classes[0].Free != 0 {
		t.Fatalf("caching disabled but cached %+v", s)
	}
}

func TestTrim(t *testing.T) {
	p := NewPool("trim", DefaultConfig())
	var bs []*Buffer
	for _, n := range []int{10, 100, 1000, 10000, 100000} {
		b, _ := p.Get(n)
		bs = append(bs, b)
	}
	keep := bs[0]
	for _, b := range bs[1:] {
		b.Release()
	}
	want := int64(128 + 1024 + 16384 + 131072)
	if s := p.Stats(); s.CachedBytes != want || s.LiveBytes != 64 {
		t.Fatalf("before Trim: cached %d live %d", s.CachedBytes, s.LiveBytes)
	}
	p.Trim()
	s := p.Stats()
	if s.CachedBytes != 0 || s.LiveBytes != 64 {
		t.Fatalf("after Trim: cached %d live %d", s.CachedBytes, s.LiveBytes)
	}
	for _, c := range s.Classes {
		if c.Free != 0 {
			t.Fatalf("class %d still has %d free arrays", c.Size, c.Free)
		}
	}
	if keep.Bytes() == nil || keep.Release() != nil {
		t.Fatal("Trim disturbed a live buffer")
	}
	if s := p.Stats(); s.CachedBytes != 64 || s.Classes[0].Free != 1 {
		t.Fatalf("release after Trim: %+v", s)
	}
}

func TestZeroConfig(t *testing.T) {
	p := NewPool("zero-config", Config{})
	cfg := p.Config()
	if cfg.Limit() != DefaultLimit || cfg.MaxCached() != 0 || cfg.MaxSize() != DefaultLimit || len(cfg.Classes()) != 17 {
		t.Fatalf("zero Config normalized to %+v", cfg)
	}
	b, err := p.Get(1000)
	if err != nil {
		t.Fatal(err)
	}
	b.Release()
	// With…methods never touch the receiver.
	base := DefaultConfig()
	_ = base.WithLimit(5).WithClasses(7).WithMaxCached(1).WithZeroing(true)
	if base.Limit() != DefaultLimit || base.Classes()[0] != 64 || base.Zeroing() {
		t.Fatal("With… changed its receiver")
	}
}

// TestConcurrent hammers one pool from many goroutines: each gets buffers,
// shares them with helpers that Retain and Release concurrently, and the
// final accounting must come out exact.
func TestConcurrent(t *testing.T) {
	const (
		workers = 16
		rounds  = 500
		sharers = 4
	)
	p := NewPool("concurrent", DefaultConfig().WithLimit(1<<20).WithMaxCached(64<<10))
	sizes := []int{1, 64, 100, 1000, 5000, 70000}
	var wg sync.WaitGroup
	var exhausted, doubles sync.Map
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				b, err := p.Get(sizes[(w+i)%len(sizes)])
				if errors.Is(err, ErrPoolExhausted) {
					exhausted.Store(w, true)
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				b.Bytes()[0] = byte(w)
				var inner sync.WaitGroup
				for range sharers {
					if err := b.Retain(); err != nil {
						t.Error(err)
						return
					}
					inner.Add(1)
					go func() {
						defer inner.Done()
						_ = b.Bytes()[0]
						if err := b.Release(); err != nil {
							t.Error(err)
						}
					}()
				}
				if err := b.Release(); err != nil {
					t.Error(err)
				}
				inner.Wait()
				if b.Release() == nil { // one more: must be refused
					doubles.Store(w, true)
				}
			}
		}()
	}
	wg.Wait()
	doubles.Range(func(k, _ any) bool {
		t.Errorf("worker %v: double release accepted", k)
		return true
	})
	s := p.Stats()
	if s.LiveBytes != 0 || s.LiveBuffers() != 0 {
		t.Fatalf("after all releases: live %d bytes, %d buffers", s.LiveBytes, s.LiveBuffers())
	}
	if s.PeakBytes > s.Limit {
		t.Fatalf("peak %d overshot limit %d", s.PeakBytes, s.Limit)
	}
	if s.CachedBytes > s.MaxCached {
		t.Fatalf("cached %d over bound %d", s.CachedBytes, s.MaxCached)
	}
	var free int64
	var gets uint64
	for _, c := range s.Classes {
		free += int64(c.Free) * int64(c.Size)
		gets += c.Gets
		if c.Releases != c.Gets || c.Hits+c.Misses != c.Gets {
			t.Fatalf("class %d: %+v", c.Size, c)
		}
	}
	if free != s.CachedBytes {
		t.Fatalf("free lists hold %d bytes, counter says %d", free, s.CachedBytes)
	}
	if gets+s.Oversize.Gets+s.Exhausted != workers*rounds {
		t.Fatalf("gets %d + oversize %d + exhausted %d != %d", gets, s.Oversize.Gets, s.Exhausted, workers*rounds)
	}
}

// TestLimitNeverOvershoots races many Gets against a tight limit.
func TestLimitNeverOvershoots(t *testing.T) {
	const limit = 64 * 10
	p := NewPool("tight", DefaultConfig().WithLimit(limit))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var held []*Buffer
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				b, err := p.Get(64)
				if err != nil {
					if !errors.Is(err, ErrPoolExhausted) {
						t.Error(err)
					}
					continue
				}
				mu.Lock()
				held = append(held, b)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(held) != 10 {
		t.Fatalf("%d buffers handed out under a limit of 10", len(held))
	}
	if s := p.Stats(); s.PeakBytes != limit || s.LiveBytes != limit || s.Exhausted != 32*10-10 {
		t.Fatalf("stats %+v", s)
	}
	for _, b := range held {
		b.Release()
	}
}

// countingAllocator hands out arrays from the Go heap but counts them, and
// fails once its budget is spent.
type countingAllocator struct {
	mu     sync.Mutex
	live   map[*byte]int
	budget int
}

func (a *countingAllocator) Alloc(size int) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.budget < size {
		return nil
	}
	a.budget -= size
	b := make([]byte, size)
	if size > 0 {
		a.live[&b[0]] = size
	}
	return b
}

func (a *countingAllocator) Free(b []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(b) == 0 {
		return
	}
	if _, ok := a.live[&b[0]]; !ok {
		panic("free of an array the allocator did not hand out (or a double free)")
	}
	delete(a.live, &b[0])
	a.budget += len(b)
}

// TestAllocator: every array comes from the configured allocator and goes
// back to it exactly once (dropped on release past the cache bound, on
// Trim, for exact-size buffers); an allocator out of memory is
// ErrPoolExhausted, never a crash.
func TestAllocator(t *testing.T) {
	a := &countingAllocator{live: map[*byte]int{}, budget: 1 << 20}
	p := NewPool("c", DefaultConfig().WithAllocator(a).WithMaxCached(4096).WithClasses(1024, 4096))
	var bufs []*Buffer
	for range 4 {
		b, err := p.Get(1000)
		if err != nil {
			t.Fatal(err)
		}
		bufs = append(bufs, b)
	}
	big, err := p.Get(100_000) // exact size, above every class
	if err != nil {
		t.Fatal(err)
	}
	if len(a.live) != 5 {
		t.Fatalf("%d arrays live in the allocator, want 5", len(a.live))
	}
	for _, b := range bufs {
		if err := b.Release(); err != nil {
			t.Fatal(err)
		}
	}
	if err := big.Release(); err != nil {
		t.Fatal(err)
	}
	// 4 KiB of cache keeps four 1 KiB arrays; the exact-size one went back.
	if len(a.live) != 4 {
		t.Fatalf("%d arrays live after release, want the 4 cached", len(a.live))
	}
	p.Trim()
	if len(a.live) != 0 {
		t.Fatalf("%d arrays live after Trim", len(a.live))
	}
	// Out of allocator memory: a clean error, and the live bytes are not leaked.
	a.budget = 0
	if _, err := p.Get(10); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("allocator out of memory: %v", err)
	}
	if _, err := p.Get(200_000); !errors.Is(err, ErrPoolExhausted) {
		t.Fatalf("allocator out of memory, exact size: %v", err)
	}
	if live := p.Stats().LiveBytes; live != 0 {
		t.Fatalf("live bytes %d after failed gets", live)
	}
}
