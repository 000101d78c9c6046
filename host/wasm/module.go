package wasm

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// ABIVersion is the guest contract version this host speaks
// (docs/wasm-abi.md); stark_abi_version must return it.
const ABIVersion = 1

// Module is a compiled, validated guest module. It is immutable and safe
// to share: every actor spawned from it gets its own instance.
type Module struct {
	engine   *Engine
	name     string
	hash     [32]byte
	trusted  bool
	size     int
	compiled wazero.CompiledModule
	minPages uint32 // initial memory

	hasFree, hasInit, hasStop, hasSnapshot, hasRestore, hasInitialize bool

	live    atomic.Int64 // instances of this module
	evicted atomic.Bool  // Evict was called: close the compiled code with the last instance
	once    sync.Once
}

// acquire counts an instance of m; it fails once m was evicted.
func (m *Module) acquire() error {
	m.live.Add(1)
	if m.evicted.Load() {
		m.releaseInstance()
		return fmt.Errorf("%w: module %s was evicted", ErrClosed, m.name)
	}
	return nil
}

func (m *Module) releaseInstance() {
	if m.live.Add(-1) == 0 && m.evicted.Load() {
		m.closeCompiled()
	}
}

func (m *Module) closeCompiled() {
	m.once.Do(func() { _ = m.compiled.Close(context.Background()) })
}

// Name returns the module's name (file name or hash prefix).
func (m *Module) Name() string { return m.name }

// Hash returns the SHA-256 of the module's bytes (its cache key).
func (m *Module) Hash() [32]byte { return m.hash }

// Trusted reports whether the module was compiled without interruption checks.
func (m *Module) Trusted() bool { return m.trusted }

// Size returns the size of the module's bytes.
func (m *Module) Size() int { return m.size }

// MinPages returns the initial size of the module's memory in 64 KiB pages.
func (m *Module) MinPages() uint32 { return m.minPages }

// CanSnapshot reports whether the module exports stark_snapshot (its state
// survives a hot upgrade to a module that exports stark_restore).
func (m *Module) CanSnapshot() bool { return m.hasSnapshot }

// CanRestore reports whether the module exports stark_restore.
func (m *Module) CanRestore() bool { return m.hasRestore }

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

type signature struct {
	params, results []api.ValueType
}

func (s signature) String() string {
	return "(" + typeNames(s.params) + ") -> (" + typeNames(s.results) + ")"
}

func typeNames(ts []api.ValueType) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = api.ValueTypeName(t)
	}
	return strings.Join(names, ", ")
}

func (s signature) matches(d api.FunctionDefinition) bool {
	return equalTypes(s.params, d.ParamTypes()) && equalTypes(s.results, d.ResultTypes())
}

func equalTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sig(params []api.ValueType, results ...api.ValueType) signature {
	return signature{params: params, results: results}
}

func types(ts ...api.ValueType) []api.ValueType { return ts }

// exportSigs lists the contract's exports; required ones must be present.
var exportSigs = map[string]struct {
	sig      signature
	required bool
}{
	"stark_abi_version": {sig(nil, i32), true},
	"stark_alloc":       {sig(types(i32), i32), true},
	"stark_handle":      {sig(types(i32, i32, i32), i32), true},
	"stark_free":        {sig(types(i32)), false},
	"stark_init":        {sig(types(i32, i32), i32), false},
	"stark_stop":        {sig(nil), false},
	"stark_snapshot":    {sig(nil, i32), false},
	"stark_restore":     {sig(types(i32, i32), i32), false},
	"_initialize":       {sig(nil), false},
}

// validate checks the module's exports and imports against the contract.
func (m *Module) validate() error {
	var problems []string
	exports := m.compiled.ExportedFunctions()
	names := make([]string, 0, len(exportSigs))
	for name := range exportSigs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want := exportSigs[name]
		d, ok := exports[name]
		switch {
		case !ok && want.required:
			problems = append(problems, fmt.Sprintf("missing export %s %v", name, want.sig))
		case ok && !want.sig.matches(d):
			problems = append(problems, fmt.Sprintf("export %s has type (%s) -> (%s), want %v",
				name, typeNames(d.ParamTypes()), typeNames(d.ResultTypes()), want.sig))
		}
	}
	if _, ok := exports["_start"]; ok {
		problems = append(problems, "exports _start: this is a command module; build a reactor (Go: -buildmode=c-shared, C: -mexec-model=reactor)")
	}
	mems := m.compiled.ExportedMemories()
	if mem, ok := mems["memory"]; !ok {
		problems = append(problems, "missing exported memory \"memory\"")
	} else {
		m.minPages = mem.Min()
	}
	for _, d := range m.compiled.ImportedFunctions() {
		mod, name, _ := d.Import()
		switch mod {
		case hostModule:
			want, ok := importSigs[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("imports unknown function stark.%s", name))
			} else if !want.matches(d) {
				problems = append(problems, fmt.Sprintf("import stark.%s has type (%s) -> (%s), want %v",
					name, typeNames(d.ParamTypes()), typeNames(d.ResultTypes()), want))
			}
		case "wasi_snapshot_preview1":
			// Linked (and checked) by wazero at instantiation.
		default:
			problems = append(problems, fmt.Sprintf("imports %s.%s: only the \"stark\" and \"wasi_snapshot_preview1\" modules are provided", mod, name))
		}
	}
	for _, d := range m.compiled.ImportedMemories() {
		mod, name, _ := d.Import()
		problems = append(problems, fmt.Sprintf("imports memory %s.%s: a guest must define and export its own memory", mod, name))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s: %s", ErrContract, m.name, strings.Join(problems, "; "))
	}
	_, m.hasFree = exports["stark_free"]
	_, m.hasInit = exports["stark_init"]
	_, m.hasStop = exports["stark_stop"]
	_, m.hasSnapshot = exports["stark_snapshot"]
	_, m.hasRestore = exports["stark_restore"]
	_, m.hasInitialize = exports["_initialize"]
	return nil
}

// probe instantiates the module once with the engine's defaults: it runs
// _initialize and checks stark_abi_version, so a broken module is refused
// at compile time with a clear error instead of failing every spawn.
func (m *Module) probe(ctx context.Context) error {
	e := m.engine
	if m.minPages > e.cfg.memoryPages {
		return fmt.Errorf("%w: %s: initial memory of %d pages is over the engine's limit of %d pages",
			ErrContract, m.name, m.minPages, e.cfg.memoryPages)
	}
	inst, err := newInstance(ctx, m, e.defaultLimits(), nil, nil)
	if err != nil {
		return err
	}
	inst.close(ctx)
	return nil
}
