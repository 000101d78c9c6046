package wasm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/stark-rt/stark/host/actor"
)

// limits bound one instance.
type limits struct {
	memoryPages uint32
	deadline    time.Duration
	maxMessage  int
}

func (e *Engine) defaultLimits() limits {
	return limits{memoryPages: e.cfg.memoryPages, deadline: e.cfg.deadline, maxMessage: e.cfg.maxMessage}
}

// Call states of a sandboxed instance; the deadline timer and the calling
// goroutine race on them with compare-and-swap, so exactly one decides
// whether a call ran out of time.
const (
	callIdle int32 = iota
	callRunning
	callTimedOut
)

// instance is one guest instance: the actor's current incarnation. It is
// used only on the actor's own turn (host functions run on the same
// goroutine, inside a call), except for the deadline timer.
type instance struct {
	m     *Module
	lim   limits
	owner *wasmActor // nil for the compile-time probe
	mod   api.Module
	mem   api.Memory

	fHandle api.Function // the one export every message needs
	stack   [4]uint64

	cc    callCtx
	state atomic.Int32
	timer *time.Timer
	depth int // nested calls (stark_alloc from inside a host function)

	region, regionCap uint32 // the payload region the guest gave us

	// Set for the duration of a call.
	actx    *actor.Context
	reason  string          // stark.fail
	fault   string          // a host function refused the guest's arguments
	pending *actor.Envelope // a message Next returned that the guest cannot take in-call
	saving  bool
	saved   []byte

	stderr tail
	dead   bool
}

// callCtx is the context.Context of every call into one instance. It is
// allocated once per instance: host functions find their instance through
// it without a lookup, and in sandboxed mode its Done channel is closed by
// the deadline timer, which makes wazero close the running module.
type callCtx struct {
	in   *instance
	done chan struct{}
}

func (c *callCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *callCtx) Done() <-chan struct{}       { return c.done }
func (c *callCtx) Value(any) any               { return nil }
func (c *callCtx) Err() error {
	if c.in.state.Load() == callTimedOut {
		return context.DeadlineExceeded
	}
	return nil
}

func instanceOf(ctx context.Context) *instance {
	if c, ok := ctx.(*callCtx); ok {
		return c.in
	}
	panic("stark/wasm: host function called outside a STARK call")
}

// newInstance instantiates m and runs _initialize; for the compile-time
// probe (no owner) it also checks the ABI version.
func newInstance(ctx context.Context, m *Module, lim limits, g *grants, owner *wasmActor) (*instance, error) {
	in := &instance{m: m, lim: lim, owner: owner}
	in.cc.in = in
	if !m.trusted {
		in.cc.done = make(chan struct{})
	}
	rt := m.engine.sandboxed
	if m.trusted {
		rt = m.engine.trusted
	}
	if err := m.engine.acquire(); err != nil {
		return nil, err
	}
	if err := m.acquire(); err != nil {
		m.engine.releaseInstance()
		return nil, err
	}
	ictx := experimental.WithMemoryAllocator(ctx, memoryAllocator(uint64(lim.memoryPages)<<16))
	mod, err := rt.InstantiateModule(ictx, m.compiled, moduleConfig(g, &in.stderr))
	if err != nil {
		m.releaseInstance()
		m.engine.releaseInstance()
		return nil, fmt.Errorf("%w: %s: instantiate: %v", ErrContract, m.name, err)
	}
	in.mod = mod
	in.mem = mod.ExportedMemory("memory")
	// wazero gives each looked-up export its own call stack (about 14 KiB),
	// so an instance keeps only stark_handle; the others are looked up
	// when needed and dropped after (export()).
	in.fHandle = mod.ExportedFunction("stark_handle")

	if m.hasInitialize {
		if err := in.call("_initialize", mod.ExportedFunction("_initialize"), in.stack[:0]); err != nil {
			in.close(ctx)
			return nil, err
		}
	}
	if owner != nil {
		return in, nil // the compile-time probe checked the version of these very bytes
	}
	if err := in.call("stark_abi_version", mod.ExportedFunction("stark_abi_version"), in.stack[:1]); err != nil {
		in.close(ctx)
		return nil, err
	}
	if v := int32(in.stack[0]); v != ABIVersion {
		in.close(ctx)
		return nil, fmt.Errorf("%w: %s: stark_abi_version returned %d, this host speaks version %d", ErrContract, m.name, v, ABIVersion)
	}
	return in, nil
}

// export looks up an export the instance does not keep, or returns nil
// when the module lacks it.
func (in *instance) export(name string, has bool) api.Function {
	if !has || in.mod == nil {
		return nil
	}
	return in.mod.ExportedFunction(name)
}

// call runs one export. Any error closes the instance for good: a trapped
// guest is never called again.
func (in *instance) call(export string, f api.Function, stack []uint64) error {
	if in.dead {
		return &GuestError{Module: in.m.name, Export: export, Kind: ErrTrap, Reason: "instance already closed after a failure"}
	}
	outer := in.depth == 0
	sandboxed := !in.m.trusted
	if outer {
		in.reason, in.fault = "", ""
		if sandboxed {
			if in.timer == nil {
				in.timer = time.AfterFunc(time.Hour, in.onDeadline)
			}
			in.state.Store(callRunning)
			in.timer.Reset(in.lim.deadline)
		}
	}
	in.depth++
	err := f.CallWithStack(&in.cc, stack)
	in.depth--
	if !outer {
		return err // the outer call classifies and closes
	}
	timedOut := false
	if sandboxed {
		in.timer.Stop()
		if !in.state.CompareAndSwap(callRunning, callIdle) {
			// The timer won the race; the guest may still have finished.
			timedOut = err != nil || in.mod.IsClosed()
			in.state.Store(callIdle)
		}
	}
	if err == nil && !timedOut {
		return nil
	}
	ge := &GuestError{Module: in.m.name, Export: export, Kind: ErrTrap, Reason: in.fault, Stderr: in.stderr.String()}
	var exit *sys.ExitError
	switch {
	case timedOut:
		ge.Kind, ge.Reason = ErrDeadline, fmt.Sprintf("ran longer than %v", in.lim.deadline)
	case in.fault != "": // a host function refused the guest's arguments: its words say it all
	case errors.As(err, &exit):
		ge.Reason = fmt.Sprintf("guest exited with code %d", exit.ExitCode())
	default:
		ge.Err = err
	}
	in.dead = true
	return ge
}

func (in *instance) onDeadline() {
	if in.state.CompareAndSwap(callRunning, callTimedOut) {
		close(in.cc.done)
	}
}

// status turns an export's result into an error.
func (in *instance) status(export string, st int32) error {
	if st == 0 {
		return nil
	}
	return &GuestError{Module: in.m.name, Export: export, Kind: ErrGuestStatus, Status: st, Reason: in.reason}
}

// place copies data into the guest's payload region, growing it through
// stark_alloc when needed, and returns its address.
func (in *instance) place(data []byte) (uint32, error) {
	n := uint32(len(data))
	if n > in.regionCap || in.region == 0 {
		want := max(n, 2*in.regionCap, 256)
		in.stack[0] = uint64(want)
		if err := in.call("stark_alloc", in.export("stark_alloc", true), in.stack[:1]); err != nil {
			return 0, err
		}
		ptr := uint32(in.stack[0])
		if ptr == 0 || uint64(ptr)+uint64(want) > uint64(in.mem.Size()) {
			in.dead = true
			return 0, &GuestError{Module: in.m.name, Export: "stark_alloc", Kind: ErrTrap,
				Reason: fmt.Sprintf("stark_alloc(%d) returned %#x: out of memory or outside memory", want, ptr)}
		}
		if free := in.export("stark_free", in.m.hasFree); in.region != 0 && free != nil {
			in.stack[0] = uint64(in.region)
			if err := in.call("stark_free", free, in.stack[:1]); err != nil {
				return 0, err
			}
		}
		in.region, in.regionCap = ptr, want
	}
	if n > 0 && !in.mem.Write(in.region, data) {
		return 0, fmt.Errorf("stark/wasm: payload region %#x+%d outside memory", in.region, n)
	}
	return in.region, nil
}

// init runs stark_init with the spawn's init bytes.
func (in *instance) init(actx *actor.Context, args []byte) error {
	f := in.export("stark_init", in.m.hasInit)
	if f == nil {
		return nil
	}
	ptr, err := in.place(args)
	if err != nil {
		return err
	}
	in.actx = actx
	defer func() { in.actx = nil }()
	in.stack[0], in.stack[1] = uint64(ptr), uint64(len(args))
	if err := in.call("stark_init", f, in.stack[:2]); err != nil {
		return err
	}
	return in.status("stark_init", int32(in.stack[0]))
}

// snapshot runs stark_snapshot and returns what the guest saved.
func (in *instance) snapshot(actx *actor.Context) ([]byte, error) {
	in.actx, in.saving, in.saved = actx, true, nil
	defer func() { in.actx, in.saving = nil, false }()
	if err := in.call("stark_snapshot", in.export("stark_snapshot", true), in.stack[:1]); err != nil {
		return nil, err
	}
	if err := in.status("stark_snapshot", int32(in.stack[0])); err != nil {
		return nil, err
	}
	s := in.saved
	in.saved = nil
	return s, nil
}

// restore runs stark_restore with state saved by the previous module.
func (in *instance) restore(actx *actor.Context, state []byte) error {
	ptr, err := in.place(state)
	if err != nil {
		return err
	}
	in.actx = actx
	defer func() { in.actx = nil }()
	in.stack[0], in.stack[1] = uint64(ptr), uint64(len(state))
	if err := in.call("stark_restore", in.export("stark_restore", true), in.stack[:2]); err != nil {
		return err
	}
	return in.status("stark_restore", int32(in.stack[0]))
}

// stop runs stark_stop (when the instance is still healthy) and closes it.
func (in *instance) stop(ctx context.Context, actx *actor.Context) {
	if stop := in.export("stark_stop", in.m.hasStop); stop != nil && !in.dead {
		in.actx = actx
		if err := in.call("stark_stop", stop, in.stack[:0]); err != nil && in.owner != nil {
			in.m.engine.log.Warn("wasm guest failed in stark_stop", "module", in.m.name, "err", err)
		}
		in.actx = nil
	}
	in.close(ctx)
}

func (in *instance) close(ctx context.Context) {
	if in.mod == nil {
		return
	}
	_ = in.mod.Close(ctx)
	in.mod = nil
	in.dead = true
	in.m.releaseInstance()
	in.m.engine.releaseInstance()
}

// tail keeps the last bytes a guest wrote to stderr.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 2048

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) > tailSize {
		p = p[len(p)-tailSize:]
	}
	if over := len(t.buf) + len(p) - tailSize; over > 0 {
		t.buf = t.buf[over:]
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
