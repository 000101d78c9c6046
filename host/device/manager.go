package device

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stark-rt/stark/host/task"
)

// Options say which backend a Manager runs.
type Options struct {
	// Name forces a backend ("cpu", "vulkan", "cuda", ...). Empty: the
	// STARK_DEVICE environment variable, else the best score.
	Name string
	// Paths are extra directories to look for plugins in
	// (libstark_<name>.so), before STARK_BACKEND_PATH (colon-separated) and
	// lib/stark next to the executable.
	Paths []string
	// Executor runs the cpu backend's parallel work (a Runtime's Executor).
	Executor task.Executor
	// PluginOptions are passed to the plugin's init.
	PluginOptions string
	// MaxCached bounds the caching allocator's idle bytes (0: 1 GiB).
	MaxCached uint64
}

// Candidate is a backend Discover found.
type Candidate struct {
	Name  string
	Path  string // "" for the built-in cpu backend
	Score uint32
	Err   error // why it cannot be used, when Score is 0
}

// searchPaths lists the plugin directories, in order.
func searchPaths(extra []string) []string {
	dirs := append([]string(nil), extra...)
	if env := os.Getenv("STARK_BACKEND_PATH"); env != "" {
		dirs = append(dirs, filepath.SplitList(env)...)
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "lib", "stark"), filepath.Join(filepath.Dir(exe), "stark"))
	}
	return dirs
}

// cpuScore is the built-in backend's score: that of a software device, so
// only a real GPU (50 integrated, 100 discrete) displaces it; it wins ties
// (Discover sorts stably and lists it first).
const cpuScore = 10

// Discover lists the built-in cpu backend and every plugin found in the
// search path, best score first. Loading a plugin to ask its score runs
// its cheap probe only.
func Discover(extra []string) []Candidate {
	out := []Candidate{{Name: cpuName, Score: cpuScore}}
	seen := map[string]bool{cpuName: true}
	for _, dir := range searchPaths(extra) {
		paths, _ := filepath.Glob(filepath.Join(dir, "libstark_*.so"))
		sort.Strings(paths)
		for _, p := range paths {
			name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), "libstark_"), ".so")
			if seen[name] {
				continue // the first directory wins
			}
			seen[name] = true
			info, err := Probe(p)
			c := Candidate{Name: name, Path: p, Score: info.Score, Err: err}
			if err == nil && info.Score == 0 {
				c.Err = fmt.Errorf("%w: %s scores 0 here (no driver or no device)", ErrUnsupported, name)
			}
			if err != nil {
				c.Score = 0
			}
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// Manager owns the current backend of a host: it chooses one, puts a
// caching allocator in front of it, hands out Buffers, and swaps backends
// while the host runs. Buffers of a swapped-out backend fail with
// ErrSwapped (their memory was released with the backend), never leak.
type Manager struct {
	opts Options

	mu    sync.RWMutex
	cur   *Cache
	name  string
	gen   uint64
	close bool

	live atomic.Int64 // Buffers not yet released
}

// Open chooses and initialises a backend.
func Open(o Options) (*Manager, error) {
	m := &Manager{opts: o}
	name := o.Name
	if name == "" {
		name = os.Getenv("STARK_DEVICE")
	}
	if err := m.Swap(name); err != nil {
		return nil, err
	}
	return m, nil
}

// load initialises the backend called name ("" for the best that works).
func (m *Manager) load(name string) (Backend, error) {
	if name == cpuName {
		var opts []CPUOption
		if m.opts.Executor != nil {
			opts = append(opts, WithExecutor(m.opts.Executor))
		}
		return NewCPU(opts...), nil
	}
	cands := Discover(m.opts.Paths)
	var errs []error
	for _, c := range cands {
		if name != "" && c.Name != name {
			continue
		}
		if c.Score == 0 {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, c.Err))
			continue
		}
		if c.Name == cpuName {
			return m.load(cpuName)
		}
		p, err := LoadPlugin(c.Path, m.opts.PluginOptions)
		if err == nil {
			return p, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
	}
	if name != "" && len(errs) == 0 {
		return nil, fmt.Errorf("%w: no backend named %q (searched %s)", ErrNotFound, name, strings.Join(searchPaths(m.opts.Paths), ":"))
	}
	return nil, fmt.Errorf("no usable backend named %q: %w", name, errors.Join(errs...))
}

// Swap shuts the current backend down and runs the one called name
// instead ("" for the best score). If the new one fails to start, the
// current one keeps running and the error is returned.
func (m *Manager) Swap(name string) error {
	b, err := m.load(name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	if m.close {
		m.mu.Unlock()
		_ = b.Close()
		return ErrClosed
	}
	old := m.cur
	m.cur, m.name = NewCache(b, m.opts.MaxCached), b.Name()
	m.gen++
	m.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

// Backend returns the current backend (behind the caching allocator).
func (m *Manager) Backend() *Cache {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.cur
}

// Name returns the current backend's name.
func (m *Manager) Name() string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.name
}

// Live returns how many Buffers are held (not yet released).
func (m *Manager) Live() int64 { return m.live.Load() }

// Close shuts the current backend down.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.close {
		m.mu.Unlock()
		return nil
	}
	m.close = true
	cur := m.cur
	m.gen++
	m.mu.Unlock()
	return cur.Close()
}

// Buffer is device memory of one backend generation: it goes stale, with
// ErrSwapped, when the Manager swaps backends. It implements
// actor.Releaser-style ownership: whoever holds it releases it once.
type Buffer struct {
	m        *Manager
	b        Backend
	gen      uint64
	dev      int
	h        uint64
	size     uint64
	released atomic.Bool
}

// Alloc returns a buffer of bytes on device dev of the current backend.
func (m *Manager) Alloc(dev int, bytes uint64) (*Buffer, error) {
	m.mu.RLock()
	cur, gen, closed := m.cur, m.gen, m.close
	m.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	h, err := cur.Alloc(dev, bytes)
	if err != nil {
		return nil, err
	}
	m.live.Add(1)
	return &Buffer{m: m, b: cur, gen: gen, dev: dev, h: h, size: bytes}, nil
}

// Size returns the buffer's size in bytes.
func (b *Buffer) Size() uint64 { return b.size }

// Device returns the device number.
func (b *Buffer) Device() int { return b.dev }

// check returns the buffer's backend if it is still current.
func (b *Buffer) check() (Backend, error) {
	if b == nil || b.released.Load() {
		return nil, fmt.Errorf("%w: buffer released", ErrNotFound)
	}
	b.m.mu.RLock()
	gen := b.m.gen
	b.m.mu.RUnlock()
	if gen != b.gen {
		return nil, ErrSwapped
	}
	return b.b, nil
}

// Ptr returns a view at offset bytes, for building ops.
func (b *Buffer) Ptr(offset uint64) (Ptr, error) {
	if _, err := b.check(); err != nil {
		return Ptr{}, err
	}
	if offset > b.size {
		return Ptr{}, fmt.Errorf("%w: offset %d past the %d-byte buffer", ErrInvalid, offset, b.size)
	}
	return Ptr{Handle: b.h, Offset: offset}, nil
}

// Write copies data into the buffer at offset.
func (b *Buffer) Write(offset uint64, data []byte) error {
	be, err := b.check()
	if err != nil {
		return err
	}
	if offset > b.size || uint64(len(data)) > b.size-offset {
		return fmt.Errorf("%w: %d bytes at %d past the %d-byte buffer", ErrInvalid, len(data), offset, b.size)
	}
	return be.CopyIn(b.dev, Ptr{b.h, offset}, data, 0)
}

// Read copies from the buffer at offset into out.
func (b *Buffer) Read(offset uint64, out []byte) error {
	be, err := b.check()
	if err != nil {
		return err
	}
	if offset > b.size || uint64(len(out)) > b.size-offset {
		return fmt.Errorf("%w: %d bytes at %d past the %d-byte buffer", ErrInvalid, len(out), offset, b.size)
	}
	return be.CopyOut(b.dev, out, Ptr{b.h, offset}, 0)
}

// Release gives the memory back (to the caching allocator). A second
// Release is ErrNotFound; the release of a swapped-out buffer is
// ErrSwapped (its memory went with its backend).
func (b *Buffer) Release() error {
	if b == nil || b.released.Swap(true) {
		return fmt.Errorf("%w: buffer released already", ErrNotFound)
	}
	b.m.live.Add(-1)
	b.m.mu.RLock()
	gen := b.m.gen
	b.m.mu.RUnlock()
	if gen != b.gen {
		return ErrSwapped
	}
	return b.b.Free(b.dev, b.h)
}

// Launch runs op on the current backend (its Ptrs come from Buffer.Ptr).
func (m *Manager) Launch(op *Op) error {
	m.mu.RLock()
	cur, closed := m.cur, m.close
	m.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return cur.Launch(op)
}
