package wasm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/stark-rt/stark/host/actor"
)

// Option configures one WASM actor at spawn. The zero set of options means
// the engine's limits and a sandbox with nothing granted.
type Option func(*spawnConfig)

type spawnConfig struct {
	init   []byte
	lim    limits
	grants grants
	actor  []actor.Option
	err    error
}

// grants is what a sandboxed instance may touch beyond the stark imports.
type grants struct {
	dirs  []Dir
	env   [][2]string
	spawn []string // registered module names stark.spawn may start ("*": any)
}

// Dir is a host directory mounted read-only into the guest at Guest.
type Dir struct{ Host, Guest string }

// WithInit passes bytes to the guest's stark_init (on every incarnation).
func WithInit(b []byte) Option {
	return func(c *spawnConfig) { c.init = append([]byte(nil), b...) }
}

// WithMemoryLimit caps the instance's memory at pages of 64 KiB (at most
// 65536); growing past it fails inside the guest.
func WithMemoryLimit(pages uint32) Option {
	return func(c *spawnConfig) {
		if pages == 0 || pages > 65536 {
			c.err = errors.Join(c.err, fmt.Errorf("%w: memory limit %d pages (1..65536)", actor.ErrInvalid, pages))
		}
		c.lim.memoryPages = pages
	}
}

// WithDeadline bounds the time one message may take (sandboxed modules);
// a guest past it is closed and the actor fails with ErrDeadline.
func WithDeadline(d time.Duration) Option {
	return func(c *spawnConfig) {
		if d <= 0 {
			c.err = errors.Join(c.err, fmt.Errorf("%w: deadline %v", actor.ErrInvalid, d))
		}
		c.lim.deadline = d
	}
}

// WithMaxMessage caps payloads in each direction, in bytes.
func WithMaxMessage(n int) Option {
	return func(c *spawnConfig) {
		if n <= 0 {
			c.err = errors.Join(c.err, fmt.Errorf("%w: message limit %d", actor.ErrInvalid, n))
		}
		c.lim.maxMessage = n
	}
}

// WithReadOnlyDir grants read-only access to the host directory host,
// seen by the guest at guest (through WASI).
func WithReadOnlyDir(host, guest string) Option {
	return func(c *spawnConfig) {
		if st, err := os.Stat(host); err != nil || !st.IsDir() {
			c.err = errors.Join(c.err, fmt.Errorf("%w: read-only dir %q is not a directory", actor.ErrInvalid, host))
		}
		c.grants.dirs = append(c.grants.dirs, Dir{Host: host, Guest: guest})
	}
}

// WithEnv grants the named environment variables of the host process, with
// the values they have at spawn. Nothing else of the environment is visible.
func WithEnv(names ...string) Option {
	return func(c *spawnConfig) {
		for _, n := range names {
			if v, ok := os.LookupEnv(n); ok {
				c.grants.env = append(c.grants.env, [2]string{n, v})
			}
		}
	}
}

// WithEnvValue sets one environment variable in the guest.
func WithEnvValue(name, value string) Option {
	return func(c *spawnConfig) { c.grants.env = append(c.grants.env, [2]string{name, value}) }
}

// WithSpawn lets the guest start children (stark.spawn) from the modules
// registered in the engine under these names ("*" for any). Children get
// the same limits and grants as their parent.
func WithSpawn(modules ...string) Option {
	return func(c *spawnConfig) { c.grants.spawn = append(c.grants.spawn, modules...) }
}

// WithActorOptions passes options to actor spawning (name, mailbox, ...).
func WithActorOptions(opts ...actor.Option) Option {
	return func(c *spawnConfig) { c.actor = append(c.actor, opts...) }
}

// Spawner starts actors: an *actor.System (or a host.Runtime), or an
// *actor.Context to start a child from inside an actor.
type Spawner interface {
	Spawn(p actor.Producer, opts ...actor.Option) (actor.Ref, error)
}

// spec is what every incarnation of one WASM actor is made from. The
// module changes at a hot upgrade, so restarts after it use the new one.
type spec struct {
	engine *Engine
	module atomic.Pointer[Module]
	init   []byte
	lim    limits
	grants grants
}

// Producer returns an actor.Producer for m (for supervise.ChildSpec.Start)
// and the actor options the spawn needs. Each incarnation instantiates m
// afresh on its own turn: a failure there is an actor failure.
func (e *Engine) Producer(m *Module, opts ...Option) (actor.Producer, []actor.Option, error) {
	if m == nil || m.engine != e {
		return nil, nil, fmt.Errorf("%w: module of another engine or nil", actor.ErrInvalid)
	}
	if e.closing.Load() {
		return nil, nil, ErrClosed
	}
	if m.evicted.Load() {
		return nil, nil, fmt.Errorf("%w: module %s was evicted", ErrClosed, m.name)
	}
	c := spawnConfig{lim: e.defaultLimits()}
	for _, o := range opts {
		o(&c)
	}
	if c.err != nil {
		return nil, nil, c.err
	}
	if m.minPages > c.lim.memoryPages {
		return nil, nil, fmt.Errorf("%w: %s needs %d pages of memory at start, the limit is %d",
			actor.ErrInvalid, m.name, m.minPages, c.lim.memoryPages)
	}
	s := &spec{engine: e, init: c.init, lim: c.lim, grants: c.grants}
	s.module.Store(m)
	return func() actor.Actor { return &wasmActor{spec: s} }, c.actor, nil
}

// Spawn starts a WASM actor running m under parent (a system, runtime or
// actor context). The instance is created on the actor's first turn; the
// returned ref is usable at once (messages queue until then).
func (e *Engine) Spawn(parent Spawner, m *Module, opts ...Option) (actor.Ref, error) {
	p, aopts, err := e.Producer(m, opts...)
	if err != nil {
		return 0, err
	}
	ref, err := parent.Spawn(p, aopts...)
	if err == nil {
		e.spawned.Add(1)
	}
	return ref, err
}

// TagUpgrade is the tag of the message Upgrade sends (visible in dead letters).
const TagUpgrade uint32 = 0xFFFF_FE01

type upgradeRequest struct{ module *Module }

type upgradeResult struct{ err error }

// Asker is what Upgrade needs: an *actor.System or a host.Runtime.
type Asker interface {
	Ask(ctx context.Context, to actor.Ref, tag uint32, payload any) (actor.Envelope, error)
}

// Upgrade replaces the module of the running WASM actor ref with m,
// between two of its messages: messages sent before the upgrade are
// handled by the old module, later ones by the new; none is lost. When the
// old module exports stark_snapshot and the new one stark_restore, the
// state moves across; otherwise the new module starts from stark_init. If
// the new module fails to instantiate, initialise or restore, the old one
// keeps running and the error is returned. Later restarts use m.
func (e *Engine) Upgrade(ctx context.Context, sys Asker, ref actor.Ref, m *Module) error {
	if m == nil || m.engine != e {
		return fmt.Errorf("%w: module of another engine or nil", actor.ErrInvalid)
	}
	reply, err := sys.Ask(ctx, ref, TagUpgrade, &upgradeRequest{module: m})
	if err != nil {
		return err
	}
	if r, ok := reply.Value.(upgradeResult); ok {
		return r.err
	}
	return fmt.Errorf("%w: %v is not a WASM actor", actor.ErrInvalid, ref)
}

// wasmActor is one incarnation of a WASM actor.
type wasmActor struct {
	spec   *spec
	self   actor.Ref
	inst   *instance
	timers map[uint64]timerEntry
	nextID uint64
}

type timerEntry struct {
	t       *actor.Timer
	expires time.Time // zero for a repeating timer
}

// Started instantiates the module and runs stark_init.
func (a *wasmActor) Started(ctx *actor.Context) error {
	a.self = ctx.Self()
	in, err := a.instantiate(ctx, a.spec.module.Load())
	if err != nil {
		return err
	}
	a.inst = in
	return nil
}

func (a *wasmActor) instantiate(ctx *actor.Context, m *Module) (*instance, error) {
	in, err := newInstance(context.Background(), m, a.spec.lim, &a.spec.grants, a)
	if err != nil {
		return nil, err
	}
	if err := in.init(ctx, a.spec.init); err != nil {
		in.close(context.Background())
		return nil, err
	}
	return in, nil
}

// Stopped runs stark_stop and closes the instance; pending timers of this
// incarnation are cancelled.
func (a *wasmActor) Stopped(ctx *actor.Context) {
	for id, te := range a.timers {
		te.t.Cancel()
		delete(a.timers, id)
	}
	if a.inst != nil {
		a.inst.stop(context.Background(), ctx)
		a.inst = nil
	}
}

// guestPayload returns the bytes a guest gets for env, or false when env
// carries something else (a Go value).
func guestPayload(env *actor.Envelope) ([]byte, bool) {
	if env.Value != nil {
		if b, ok := env.Value.([]byte); ok {
			return b, true
		}
		return nil, false
	}
	return env.Bytes(), true
}

// Receive delivers msg to the guest; the guest may take more queued
// messages in the same call (stark.next).
func (a *wasmActor) Receive(ctx *actor.Context, msg *actor.Envelope) error {
	for env := msg; env != nil; {
		if up, ok := env.Value.(*upgradeRequest); ok {
			_ = ctx.Reply(TagUpgrade, upgradeResult{a.upgrade(ctx, up.module)})
			env = ctx.Next()
			continue
		}
		if err := a.deliver(ctx, env); err != nil {
			return err
		}
		env = a.inst.pending
		a.inst.pending = nil
	}
	return nil
}

func (a *wasmActor) deliver(ctx *actor.Context, env *actor.Envelope) error {
	in := a.inst
	if in == nil || in.dead { // resumed after a failure: a fresh instance, same actor
		if in != nil {
			in.close(context.Background())
		}
		a.inst = nil
		fresh, err := a.instantiate(ctx, a.spec.module.Load())
		if err != nil {
			return err
		}
		a.inst, in = fresh, fresh
	}
	data, ok := guestPayload(env)
	if !ok {
		return &GuestError{Module: in.m.name, Export: "stark_handle", Kind: ErrNotWASM,
			Reason: fmt.Sprintf("message tag %#x carries a Go value of type %T", env.Tag, env.Value)}
	}
	if len(data) > a.spec.lim.maxMessage {
		return &GuestError{Module: in.m.name, Export: "stark_handle", Kind: ErrTooLarge,
			Reason: fmt.Sprintf("%d bytes, the limit is %d", len(data), a.spec.lim.maxMessage)}
	}
	ptr, err := in.place(data)
	if err != nil {
		return err
	}
	in.actx = ctx
	in.stack[0], in.stack[1], in.stack[2] = uint64(env.Tag), uint64(ptr), uint64(len(data))
	err = in.call("stark_handle", in.fHandle, in.stack[:3])
	in.actx = nil
	if err != nil {
		return err
	}
	return in.status("stark_handle", int32(in.stack[0]))
}

// upgrade swaps the instance for one of m, carrying state when both sides can.
func (a *wasmActor) upgrade(ctx *actor.Context, m *Module) error {
	old := a.inst
	var state []byte
	carry := old != nil && !old.dead && old.m.hasSnapshot && m.hasRestore
	if carry {
		s, err := old.snapshot(ctx)
		if err != nil {
			return fmt.Errorf("upgrade to %s: snapshot of %s: %w", m.name, old.m.name, err)
		}
		state = s
	}
	in, err := a.instantiate(ctx, m)
	if err != nil {
		return fmt.Errorf("upgrade to %s: %w", m.name, err)
	}
	if carry {
		if err := in.restore(ctx, state); err != nil {
			in.close(context.Background())
			return fmt.Errorf("upgrade to %s: restore: %w", m.name, err)
		}
	}
	if old != nil {
		old.stop(context.Background(), ctx)
	}
	a.inst = in
	a.spec.module.Store(m)
	return nil
}

const maxTimers = 4096

func (a *wasmActor) setTimer(ctx *actor.Context, d time.Duration, tag uint32, data []byte, repeat bool) (uint64, Status) {
	if a.timers == nil {
		a.timers = map[uint64]timerEntry{}
	}
	if len(a.timers) >= maxTimers/2 { // forget one-shot timers that have fired
		now := ctx.Now()
		for id, te := range a.timers {
			if !te.expires.IsZero() && now.After(te.expires) {
				delete(a.timers, id)
			}
		}
	}
	if len(a.timers) >= maxTimers {
		return 0, StatusExhausted
	}
	var te timerEntry
	if repeat {
		t, err := ctx.SendEvery(d, tag, data)
		if err != nil {
			return 0, StatusOf(err)
		}
		te.t = t
	} else {
		te.t = ctx.SendAfter(d, tag, data)
		te.expires = ctx.Now().Add(d)
	}
	a.nextID++
	a.timers[a.nextID] = te
	return a.nextID, StatusOK
}

func (a *wasmActor) cancelTimer(id uint64) Status {
	te, ok := a.timers[id]
	if !ok {
		return StatusNotFound
	}
	delete(a.timers, id)
	if !te.t.Cancel() {
		return StatusNotFound
	}
	return StatusOK
}

// spawnChild starts a child from a registered module, if granted.
func (a *wasmActor) spawnChild(ctx *actor.Context, name string, args []byte) (actor.Ref, error) {
	allowed := false
	for _, n := range a.spec.grants.spawn {
		if n == name || n == "*" {
			allowed = true
			break
		}
	}
	if !allowed {
		return 0, fmt.Errorf("%w: spawn of %q", ErrDenied, name)
	}
	e := a.spec.engine
	m, err := e.Lookup(name)
	if err != nil {
		return 0, err
	}
	if m.minPages > a.spec.lim.memoryPages {
		return 0, fmt.Errorf("%w: %s needs %d pages", ErrTooLarge, name, m.minPages)
	}
	s := &spec{engine: e, init: args, lim: a.spec.lim, grants: a.spec.grants}
	s.module.Store(m)
	ref, err := ctx.Spawn(func() actor.Actor { return &wasmActor{spec: s} })
	if err == nil {
		e.spawned.Add(1)
	}
	return ref, err
}
