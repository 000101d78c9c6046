package wasm

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Config is an Engine's configuration: an immutable value, each With…
// method returns a changed copy. Start from NewConfig.
type Config struct {
	cacheDir    string
	logger      *slog.Logger
	memoryPages uint32
	deadline    time.Duration
	maxMessage  int
}

// NewConfig returns the defaults: no on-disk compilation cache, guest log
// lines to slog.Default, a memory limit of 1024 pages (64 MiB) per
// instance, a deadline of 1 s per message (sandboxed modules) and a
// message limit of 16 MiB in each direction.
func NewConfig() Config {
	return Config{memoryPages: 1024, deadline: time.Second, maxMessage: 16 << 20}
}

// WithCacheDir keeps wazero's compiled code in dir, so a module compiled
// by an earlier process loads in milliseconds instead of compiling again.
func (c Config) WithCacheDir(dir string) Config { c.cacheDir = dir; return c }

// CacheDir returns the on-disk compilation cache directory ("" for none).
func (c Config) CacheDir() string { return c.cacheDir }

// WithLogger sets where stark.log lines of guests go.
func (c Config) WithLogger(l *slog.Logger) Config { c.logger = l; return c }

// WithMemoryLimit sets the default memory limit of an instance in 64 KiB pages.
func (c Config) WithMemoryLimit(pages uint32) Config { c.memoryPages = pages; return c }

// WithDeadline sets the default deadline of one message in sandboxed modules.
func (c Config) WithDeadline(d time.Duration) Config { c.deadline = d; return c }

// WithMaxMessage sets the default largest payload, in bytes, in each direction.
func (c Config) WithMaxMessage(n int) Config { c.maxMessage = n; return c }

// Engine compiles, caches and runs WASM actor modules. It holds two wazero
// runtimes: one compiles modules for interruptible execution (the
// sandboxed default: loops check a flag, a deadline closes the instance),
// the other for trusted modules (no checks, no deadlines). Both carry the
// "stark" host module and WASI preview 1. One Engine serves any number of
// actor systems; Close it after they have stopped.
type Engine struct {
	cfg       Config
	log       *slog.Logger
	sandboxed wazero.Runtime
	trusted   wazero.Runtime
	cache     wazero.CompilationCache

	mu      sync.Mutex
	modules map[moduleKey]*Module // compiled modules by content hash and mode
	named   map[string]*Module    // modules guests may spawn by name

	compiles    atomic.Uint64
	cacheHits   atomic.Uint64
	instances   atomic.Int64
	spawned     atomic.Uint64
	closing     atomic.Bool // set by Close; the last instance out releases the runtimes
	releaseOnce sync.Once
}

type moduleKey struct {
	hash    [32]byte
	trusted bool
}

// NewEngine builds an engine. It compiles nothing until Compile.
func NewEngine(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.memoryPages == 0 || cfg.memoryPages > 65536 || cfg.deadline <= 0 || cfg.maxMessage <= 0 {
		return nil, fmt.Errorf("stark/wasm: memory limit (1..65536 pages), deadline and message limit must be positive (use NewConfig)")
	}
	e := &Engine{cfg: cfg, log: cfg.logger, modules: map[moduleKey]*Module{}, named: map[string]*Module{}}
	if e.log == nil {
		e.log = slog.Default()
	}
	if cfg.cacheDir != "" {
		if err := os.MkdirAll(cfg.cacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("stark/wasm: cache dir: %w", err)
		}
		c, err := wazero.NewCompilationCacheWithDir(cfg.cacheDir)
		if err != nil {
			return nil, fmt.Errorf("stark/wasm: cache dir: %w", err)
		}
		e.cache = c
	}
	var err error
	if e.sandboxed, err = e.newRuntime(ctx, true); err != nil {
		return nil, err
	}
	if e.trusted, err = e.newRuntime(ctx, false); err != nil {
		_ = e.sandboxed.Close(ctx)
		return nil, err
	}
	return e, nil
}

func (e *Engine) newRuntime(ctx context.Context, interruptible bool) (wazero.Runtime, error) {
	rc := wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(interruptible)
	if e.cache != nil {
		rc = rc.WithCompilationCache(e.cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("stark/wasm: wasi: %w", err)
	}
	if err := instantiateHostModule(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("stark/wasm: host module: %w", err)
	}
	return rt, nil
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// CompileOption changes how a module is compiled.
type CompileOption func(*compileConfig)

type compileConfig struct {
	trusted bool
	name    string
}

// Trusted compiles the module for the trusted runtime: no interruption
// checks in its loops (faster) and no message deadline, so a trusted guest
// that never returns holds its worker for ever. Use it only for code you
// control.
func Trusted() CompileOption { return func(c *compileConfig) { c.trusted = true } }

// Named sets the module's name in errors and logs (default: the file name
// for CompileFile, else the first bytes of the content hash).
func Named(name string) CompileOption { return func(c *compileConfig) { c.name = name } }

// Compile validates wasm against the guest contract and compiles it, once:
// a module with the same content (and mode) is returned from the cache
// without compiling again. A module that does not fit is refused with
// ErrContract and a message naming the export or import at fault; bytes
// that are not WebAssembly with ErrMalformed.
//
// Compiling also instantiates the module once, to run its _initialize and
// check stark_abi_version, so a deploy fails here, not at the first spawn.
func (e *Engine) Compile(ctx context.Context, wasm []byte, opts ...CompileOption) (*Module, error) {
	var cc compileConfig
	for _, o := range opts {
		o(&cc)
	}
	key := moduleKey{hash: sha256.Sum256(wasm), trusted: cc.trusted}
	e.mu.Lock()
	if e.closing.Load() {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	if m := e.modules[key]; m != nil {
		e.mu.Unlock()
		e.cacheHits.Add(1)
		return m, nil
	}
	e.mu.Unlock()

	if cc.name == "" {
		cc.name = fmt.Sprintf("%x", key.hash[:6])
	}
	rt := e.sandboxed
	if cc.trusted {
		rt = e.trusted
	}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, fmt.Errorf("%w %s: not a WebAssembly binary (no \\0asm header)", ErrMalformed, cc.name)
	}
	compiled, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrMalformed, cc.name, err)
	}
	m := &Module{engine: e, name: cc.name, hash: key.hash, trusted: cc.trusted, compiled: compiled, size: len(wasm)}
	if err := m.validate(); err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	if err := m.probe(ctx); err != nil {
		_ = compiled.Close(ctx)
		return nil, err
	}
	e.compiles.Add(1)

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing.Load() {
		_ = compiled.Close(ctx)
		return nil, ErrClosed
	}
	if old := e.modules[key]; old != nil { // compiled twice at once: keep the first
		_ = compiled.Close(ctx)
		return old, nil
	}
	e.modules[key] = m
	return m, nil
}

// CompileFile reads and compiles a .wasm file (see Compile); the module is
// named after the file.
func (e *Engine) CompileFile(ctx context.Context, path string, opts ...CompileOption) (*Module, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("stark/wasm: %w", err)
	}
	return e.Compile(ctx, b, append([]CompileOption{Named(filepath.Base(path))}, opts...)...)
}

// Register makes m spawnable by name from inside guests (stark.spawn),
// for actors whose spawn options allow that name. Registering a name again
// replaces the module for later spawns.
func (e *Engine) Register(name string, m *Module) error {
	if name == "" || m == nil || m.engine != e {
		return fmt.Errorf("stark/wasm: register: need a name and a module of this engine")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing.Load() {
		return ErrClosed
	}
	e.named[name] = m
	return nil
}

// Lookup returns the module registered under name.
func (e *Engine) Lookup(name string) (*Module, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := e.named[name]
	if m == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownModule, name)
	}
	return m, nil
}

// Evict drops m from the compile cache and from the names it is
// registered under, so a long-running host that deploys many versions does
// not keep them all. Actors running m keep running; its compiled code is
// released when the last of their instances closes. Spawning m afterwards
// fails with ErrClosed; compiling the same bytes again compiles anew.
func (e *Engine) Evict(m *Module) error {
	if m == nil || m.engine != e {
		return fmt.Errorf("stark/wasm: evict: not a module of this engine")
	}
	e.mu.Lock()
	for k, v := range e.modules {
		if v == m {
			delete(e.modules, k)
		}
	}
	for name, v := range e.named {
		if v == m {
			delete(e.named, name)
		}
	}
	e.mu.Unlock()
	m.evicted.Store(true)
	if m.live.Load() == 0 {
		m.closeCompiled()
	}
	return nil
}

// Stats counts the engine's work.
type Stats struct {
	Compiles  uint64 // modules compiled (cache misses)
	CacheHits uint64 // Compile calls answered from the cache
	Instances int64  // live guest instances
	Spawned   uint64 // WASM actors spawned
	Modules   int    // compiled modules in the cache
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	n := len(e.modules)
	e.mu.Unlock()
	return Stats{Compiles: e.compiles.Load(), CacheHits: e.cacheHits.Load(),
		Instances: e.instances.Load(), Spawned: e.spawned.Load(), Modules: n}
}

// Close stops the engine: Compile, Register and Spawn fail with ErrClosed
// from now on. The wazero runtimes (compiled code included) are released
// once the last instance has closed, so actors still running keep running
// until they stop; stop them (shut the runtime down) before Close to
// release everything at once. Close never frees code a guest is running.
func (e *Engine) Close(ctx context.Context) error {
	if e.closing.Swap(true) {
		return nil
	}
	if e.instances.Load() == 0 {
		return e.release(ctx)
	}
	return nil
}

// release closes the runtimes, once.
func (e *Engine) release(ctx context.Context) error {
	var err error
	e.releaseOnce.Do(func() {
		err = errors.Join(e.sandboxed.Close(ctx), e.trusted.Close(ctx))
		if e.cache != nil {
			err = errors.Join(err, e.cache.Close(ctx))
		}
	})
	return err
}

// acquire counts a new instance; it fails once the engine is closing.
func (e *Engine) acquire() error {
	e.instances.Add(1)
	if e.closing.Load() {
		e.releaseInstance()
		return ErrClosed
	}
	return nil
}

// releaseInstance uncounts an instance; the last one out of a closed
// engine releases the runtimes.
func (e *Engine) releaseInstance() {
	if e.instances.Add(-1) == 0 && e.closing.Load() {
		_ = e.release(context.Background())
	}
}

// moduleConfig is the sandbox of one instance: no files, no environment,
// no arguments, real clocks (a Go guest's GC needs them), the host's
// CSPRNG, stderr into the instance's tail buffer, plus what g grants.
func moduleConfig(g *grants, stderr io.Writer) wazero.ModuleConfig {
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader).
		WithStderr(stderr)
	if g != nil {
		if len(g.dirs) > 0 {
			fs := wazero.NewFSConfig()
			for _, d := range g.dirs {
				fs = fs.WithReadOnlyDirMount(d.Host, d.Guest)
			}
			mc = mc.WithFSConfig(fs)
		}
		for _, kv := range g.env {
			mc = mc.WithEnv(kv[0], kv[1])
		}
	}
	return mc
}
