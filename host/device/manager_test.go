package device_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stark-rt/stark/host/device"
)

func TestDiscoverAlwaysHasCPU(t *testing.T) {
	cands := device.Discover([]string{t.TempDir()})
	found := false
	for _, c := range cands {
		found = found || (c.Name == "cpu" && c.Score > 0)
	}
	if !found {
		t.Fatalf("candidates %+v lack the cpu backend", cands)
	}
}

func TestManagerSelectsAndSwaps(t *testing.T) {
	t.Setenv("STARK_DEVICE", "cpu")
	m, err := device.Open(device.Options{Paths: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Name() != "cpu" {
		t.Fatalf("backend %q, want cpu (STARK_DEVICE)", m.Name())
	}
	b, err := m.Alloc(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte{7, 1, 9}, 300)
	if err := b.Write(100, data); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(data))
	if err := b.Read(100, out); err != nil || !bytes.Equal(out, data) {
		t.Fatalf("read back: %v", err)
	}
	if err := b.Write(900, data); !errors.Is(err, device.ErrInvalid) {
		t.Fatalf("write past the end: %v", err)
	}

	// A swap to a backend that does not exist leaves the current one running.
	if err := m.Swap("no-such-backend"); !errors.Is(err, device.ErrNotFound) {
		t.Fatalf("swap to a missing backend: %v", err)
	}
	if err := b.Read(100, out); err != nil {
		t.Fatalf("the old backend stopped after a failed swap: %v", err)
	}
	// A real swap: old buffers fail with ErrSwapped, none leaks.
	if err := m.Swap("cpu"); err != nil {
		t.Fatal(err)
	}
	if err := b.Read(0, out); !errors.Is(err, device.ErrSwapped) {
		t.Fatalf("read of a swapped-out buffer: %v", err)
	}
	if _, err := b.Ptr(0); !errors.Is(err, device.ErrSwapped) {
		t.Fatalf("ptr of a swapped-out buffer: %v", err)
	}
	if err := b.Release(); !errors.Is(err, device.ErrSwapped) {
		t.Fatalf("release of a swapped-out buffer: %v", err)
	}
	if err := b.Release(); !errors.Is(err, device.ErrNotFound) {
		t.Fatalf("second release: %v", err)
	}
	if n := m.Live(); n != 0 {
		t.Fatalf("%d buffers live after release", n)
	}
	// The new backend works, through the manager.
	x, err := m.Alloc(0, 64)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := x.Ptr(0)
	if err := m.Launch(&device.Op{Kind: device.OpFill, C: p, N: 16, Alpha: 3}); err != nil {
		t.Fatal(err)
	}
	if err := x.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestCacheReuses(t *testing.T) {
	c := device.NewCache(device.NewCPU(device.WithMemoryLimit(64<<20)), 8<<20)
	defer c.Close()
	h1, err := c.Alloc(0, 3000) // class 4096
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Free(0, h1); err != nil {
		t.Fatal(err)
	}
	h2, err := c.Alloc(0, 4000) // same class: the same handle again
	if err != nil {
		t.Fatal(err)
	}
	if h2 != h1 {
		t.Fatalf("handle %#x, want the cached %#x", h2, h1)
	}
	if err := c.Free(0, h2); err != nil {
		t.Fatal(err)
	}
	if err := c.Free(0, h2); !errors.Is(err, device.ErrNotFound) {
		t.Fatalf("double free through the cache: %v", err)
	}
	st := c.Stats()
	if st.Hits != 1 || st.Misses != 1 || st.CachedBytes != 4096 || st.LiveBytes != 0 {
		t.Fatalf("stats %+v", st)
	}
	c.Trim()
	if st := c.Stats(); st.CachedBytes != 0 {
		t.Fatalf("after trim: %+v", st)
	}
	// Exhaustion: the cache gives its idle memory back and retries.
	big, err := c.Alloc(0, 40<<20)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Free(0, big) // over the 8 MiB bound: goes back to the backend
	h3, err := c.Alloc(0, 5<<20)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Free(0, h3) // cached (8 MiB class fits the bound)
	if _, err := c.Alloc(0, 60<<20); err != nil {
		t.Fatalf("alloc that needs the cached memory back: %v", err)
	}
}
