package actor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stark-rt/stark/host/clock"
	"github.com/stark-rt/stark/host/sched"
)

// Config configures a System. Zero fields take the documented defaults.
type Config struct {
	// Scheduler runs the actors. Required; the System does not start or stop it.
	Scheduler *sched.Scheduler
	// Clock drives timers, backoff and mailbox waits. Default clock.Real{}.
	Clock clock.Clock
	// Budget is how many messages an actor handles per turn before it is
	// re-queued behind others. Default 128.
	Budget int
	// MailboxCapacity is the default mailbox capacity. Default 4096.
	MailboxCapacity int
	// MaxActors bounds the actor table. Default 1<<24.
	MaxActors int
	// AskTimeout ends an Ask whose context has no deadline. Default 5s.
	AskTimeout time.Duration
	// ShutdownTimeout is how long a graceful stop of a child may take
	// before it is killed. Default 5s.
	ShutdownTimeout time.Duration
	// DeadLetterLimit is how many recent dead letters are kept for
	// inspection (all are counted). Default 1024.
	DeadLetterLimit int
	// DefaultSupervisor supervises children whose parent set none
	// (top-level actors included). Default RestartAlways.
	DefaultSupervisor Supervisor
	// OnDeadLetter, if set, is called for every dead letter, on the goroutine that produced it.
	OnDeadLetter func(DeadLetter)
	// Seed feeds Rand, for deterministic jitter and tests.
	Seed uint64
	// Deterministic makes Ask and Shutdown drive the (deterministic)
	// scheduler themselves instead of blocking.
	Deterministic bool
}

// System is a tree of actors on a scheduler: spawn, send, ask, stop, names,
// topics, timers, death watch, dead letters and counters. Every method is
// safe for concurrent use.
type System struct {
	sched             *sched.Scheduler
	clock             clock.Clock
	budget            int
	capacity          int
	askTimeout        time.Duration
	shutdownTimeout   time.Duration
	defaultSupervisor Supervisor
	seed              uint64
	deterministic     bool

	table    *table
	root     *cell
	rootDone chan struct{}
	closed   atomic.Bool
	corr     atomic.Uint64
	names    names
	topics   topics
	dead     *deadLetters

	failures    atomic.Uint64
	restarts    atomic.Uint64
	escalations atomic.Uint64
	escMu       sync.Mutex
	lastEsc     error
}

// NewSystem builds a System on cfg.Scheduler. Start the scheduler before
// sending messages.
func NewSystem(cfg Config) (*System, error) {
	if cfg.Scheduler == nil {
		return nil, fmt.Errorf("%w: Config.Scheduler is nil", ErrInvalid)
	}
	s := &System{
		sched:             cfg.Scheduler,
		clock:             cfg.Clock,
		budget:            orDefault(cfg.Budget, 128),
		capacity:          orDefault(cfg.MailboxCapacity, 4096),
		askTimeout:        cfg.AskTimeout,
		shutdownTimeout:   cfg.ShutdownTimeout,
		defaultSupervisor: cfg.DefaultSupervisor,
		seed:              cfg.Seed,
		deterministic:     cfg.Deterministic,
		table:             newTable(orDefault(cfg.MaxActors, 1<<24), genBase(cfg)),
		rootDone:          make(chan struct{}),
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.askTimeout <= 0 {
		s.askTimeout = 5 * time.Second
	}
	if s.shutdownTimeout <= 0 {
		s.shutdownTimeout = 5 * time.Second
	}
	if s.defaultSupervisor == nil {
		s.defaultSupervisor = RestartAlways{}
	}
	if s.capacity > 1<<30 {
		return nil, fmt.Errorf("%w: mailbox capacity %d", ErrInvalid, s.capacity)
	}
	s.names.m = make(map[string]Ref)
	s.topics.m = make(map[string]*topic)
	s.dead = newDeadLetters(orDefault(cfg.DeadLetterLimit, 1024), s.clock, cfg.OnDeadLetter)
	s.root = &cell{sys: s, capacity: int32(s.capacity), actor: Func(func(*Context, *Envelope) error { return nil })}
	s.root.ctx.c = s.root
	if err := s.table.insert(s.root); err != nil {
		return nil, err
	}
	return s, nil
}

// deadLetter files a message that was not handled (see deadLetters.record).
func (s *System) deadLetter(env *Envelope, _ *cell, reason error) { s.dead.record(env, reason) }

// genBase picks where ref generations start: from the seed in
// deterministic mode (runs repeat exactly), at random otherwise; below
// 2^31 so a long-lived slot has room before it wraps.
func genBase(cfg Config) uint32 {
	if cfg.Deterministic {
		return uint32(cfg.Seed>>33) & 0x7fff_ffff
	}
	return rand.Uint32() & 0x7fff_ffff
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// Root returns the ref of the root guardian, the parent of top-level actors.
func (s *System) Root() Ref { return s.root.ref }

// Clock returns the system's clock.
func (s *System) Clock() clock.Clock { return s.clock }

// Seed returns the configured seed.
func (s *System) Seed() uint64 { return s.seed }

// Spawn starts a top-level actor (a child of the root guardian).
func (s *System) Spawn(p Producer, opts ...Option) (Ref, error) {
	return s.spawn(nil, s.root, p, opts)
}

// SpawnFunc is Spawn for a stateless function actor.
func (s *System) SpawnFunc(f func(ctx *Context, msg *Envelope) error, opts ...Option) (Ref, error) {
	if f == nil {
		return 0, fmt.Errorf("%w: nil function", ErrInvalid)
	}
	return s.spawn(nil, s.root, func() Actor { return Func(f) }, opts)
}

func (s *System) produce(p Producer, ref Ref) (a Actor, err error) {
	defer func() {
		if r := recover(); r != nil {
			a, err = nil, &Failure{Actor: ref, Err: &PanicError{Value: r}}
		}
	}()
	a = p()
	if a == nil {
		return nil, &Failure{Actor: ref, Err: fmt.Errorf("%w: producer returned nil", ErrInvalid)}
	}
	return a, nil
}

func (s *System) spawn(w *sched.Worker, parent *cell, p Producer, opts []Option) (Ref, error) {
	if p == nil {
		return 0, fmt.Errorf("%w: nil producer", ErrInvalid)
	}
	if s.closed.Load() {
		return 0, ErrStopped
	}
	a, err := s.produce(p, 0)
	if err != nil {
		return 0, err
	}
	c := &cell{sys: s, parent: parent, producer: p, actor: a, capacity: int32(s.capacity)}
	c.ctx.c = c
	if len(opts) > 0 {
		var sc spawnConfig
		for _, o := range opts {
			o(&sc)
		}
		if sc.capacity < 0 || sc.capacity > 1<<30 || sc.overflow > OverflowDrop {
			return 0, fmt.Errorf("%w: mailbox capacity %d, overflow %d", ErrInvalid, sc.capacity, sc.overflow)
		}
		if sc.capacity > 0 {
			c.capacity = int32(sc.capacity)
		}
		c.overflow = sc.overflow
		c.sequentialStop = sc.sequentialStop
		if sc.name != "" || sc.supervisor != nil || sc.waitTimeout > 0 || sc.shutdownTimeout > 0 {
			c.ext = &cellExt{waitTimeout: sc.waitTimeout, shutdownTimeout: sc.shutdownTimeout, supervisor: sc.supervisor}
		}
		if err := s.table.insert(c); err != nil {
			return 0, err
		}
		if sc.name != "" {
			if err := s.names.claim(s, sc.name, c); err != nil {
				s.table.remove(c, Counters{})
				return 0, err
			}
			c.ext.name = sc.name
		}
	} else if err := s.table.insert(c); err != nil {
		return 0, err
	}
	if err := parent.link(c); err != nil {
		if c.ext != nil && c.ext.name != "" {
			s.names.release(c.ext.name, c.ref)
		}
		s.table.remove(c, Counters{})
		return 0, err
	}
	c.observe()
	if _, ok := a.(Starter); ok || parent.observed.Load() {
		c.pushSys(w, sysMsg{kind: sysStart})
	}
	return c.ref, nil
}

// Send delivers a message to to. The payload may be nil, []byte, a
// *mem.Buffer (whose reference moves into the message) or any Go value.
// Under OverflowWait it may block; see TrySend for a call that never does.
func (s *System) Send(to Ref, tag uint32, payload any) error {
	env := Envelope{Target: to, Tag: tag}
	env.setPayload(payload)
	return s.deliver(nil, &env, false)
}

// TrySend is Send that fails with ErrMailboxFull instead of waiting or dropping.
func (s *System) TrySend(to Ref, tag uint32, payload any) error {
	env := Envelope{Target: to, Tag: tag}
	env.setPayload(payload)
	return s.deliver(nil, &env, true)
}

// SendEnvelope delivers env as it is (Target, Sender, CorrID, Tag, payload).
func (s *System) SendEnvelope(env Envelope) error {
	env.reply = nil
	return s.deliver(nil, &env, false)
}

// TrySendEnvelope is SendEnvelope that fails with ErrMailboxFull rather
// than wait or drop.
func (s *System) TrySendEnvelope(env Envelope) error {
	env.reply = nil
	return s.deliver(nil, &env, true)
}

// deliver routes env to its target. A message that is not accepted is
// dead-lettered (its buffer released, its ask ended) and the reason returned.
func (s *System) deliver(w *sched.Worker, env *Envelope, try bool) error {
	if s.closed.Load() {
		s.deadLetter(env, nil, ErrStopped)
		return ErrStopped
	}
	c := s.table.lookup(env.Target)
	if c == nil || c == s.root {
		s.deadLetter(env, nil, ErrStaleRef)
		return fmt.Errorf("%w: %v", ErrStaleRef, env.Target)
	}
	err := c.push(w, env, try, false)
	if err == nil {
		return nil
	}
	if err == errDropped {
		s.deadLetter(env, nil, ErrMailboxFull)
		return nil
	}
	s.deadLetter(env, nil, err)
	return err
}

// Ask sends a request and waits for the reply, until ctx ends or, when ctx
// has no deadline, the system's AskTimeout. Every ask ends: with the reply,
// ErrTimeout, or the reason the message could not be handled (the target
// stopped, failed on it, or its mailbox was full).
func (s *System) Ask(ctx context.Context, to Ref, tag uint32, payload any) (Envelope, error) {
	return s.ask(ctx, 0, to, tag, payload)
}

func (s *System) ask(ctx context.Context, from, to Ref, tag uint32, payload any) (Envelope, error) {
	if s.deterministic && from != 0 {
		// Driving the scheduler from inside a turn would run actors re-entrantly.
		return Envelope{}, fmt.Errorf("%w: Ask from inside an actor in deterministic mode (use Request)", ErrInvalid)
	}
	f, gen := newFuture()
	env := Envelope{Target: to, Sender: from, Tag: tag, CorrID: s.corr.Add(1), reply: f, replyGen: gen}
	env.setPayload(payload)
	if err := s.deliver(nil, &env, false); err != nil {
		// The dead letter completed the future with err; take it back.
		<-f.done
		f.result()
		return Envelope{}, err
	}
	if s.deterministic {
		s.sched.RunUntilIdle()
		select {
		case <-f.done:
			return f.result()
		default:
		}
		if f.abandon(gen) {
			return Envelope{}, fmt.Errorf("%w: no reply once the system went idle", ErrTimeout)
		}
		<-f.done
		return f.result()
	}
	var timeout <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		t := askTimers.Get().(*time.Timer)
		t.Reset(s.askTimeout)
		defer func() {
			t.Stop()
			askTimers.Put(t)
		}()
		timeout = t.C
	}
	if f.wait(ctx.Done(), timeout) {
		return f.result()
	}
	if f.abandon(gen) {
		if ctx.Err() != nil {
			return Envelope{}, fmt.Errorf("%w: %w", ErrTimeout, ctx.Err())
		}
		return Envelope{}, fmt.Errorf("%w: no reply within %v", ErrTimeout, s.askTimeout)
	}
	<-f.done // completed while we were giving up
	return f.result()
}

// reply answers req: to the waiting Ask, or as a message to req.Sender.
func (s *System) reply(w *sched.Worker, req *Envelope, from Ref, tag uint32, payload any) error {
	r := Envelope{Target: req.Sender, Sender: from, CorrID: req.CorrID, Tag: tag}
	r.setPayload(payload)
	return s.replyEnvelope(w, req, &r)
}

func (s *System) replyBytes(w *sched.Worker, req *Envelope, from Ref, tag uint32, data []byte) error {
	r := Envelope{Target: req.Sender, Sender: from, CorrID: req.CorrID, Tag: tag, Data: data}
	return s.replyEnvelope(w, req, &r)
}

func (s *System) replyEnvelope(w *sched.Worker, req *Envelope, rp *Envelope) error {
	r := *rp
	if f := req.reply; f != nil {
		// req keeps its future: a second reply finds the ask answered (the
		// generation guards against a later ask reusing the future).
		if f.complete(req.replyGen, r, nil) {
			return nil
		}
		s.deadLetter(&r, nil, ErrAskAbandoned)
		return ErrAskAbandoned
	}
	if req.Sender == 0 {
		s.deadLetter(&r, nil, ErrNoReplyTarget)
		return ErrNoReplyTarget
	}
	return s.deliver(w, &r, false)
}

// Reply answers req, a message an actor received and kept (by value), from
// outside that actor's turn: to the waiting Ask, or as a message from
// `from` to req's sender. Code that hands messages to another runtime (a
// polled mailbox) uses it when the answer comes back.
func (s *System) Reply(req *Envelope, from Ref, tag uint32, payload any) error {
	return s.reply(nil, req, from, tag, payload)
}

// Abort ends the Ask waiting on req (a kept message) with reason instead
// of a reply. It returns ErrNoReplyTarget when nobody is waiting and
// ErrAskAbandoned when the ask already ended.
func (s *System) Abort(req *Envelope, reason error) error {
	f := req.reply
	if f == nil {
		return ErrNoReplyTarget
	}
	if reason == nil {
		reason = ErrStopped
	}
	if !f.complete(req.replyGen, Envelope{}, reason) {
		return ErrAskAbandoned
	}
	return nil
}

// Fail reports that ref failed on a message it handled outside its own
// turn (a polled mailbox hands messages to another runtime and learns of
// the failure later). msg, if not nil, is recorded as a dead letter with
// reason; then ref fails as if its handler had returned reason: it is
// suspended and its supervisor decides. A failure reported after the
// instance was already replaced is dropped.
func (s *System) Fail(ref Ref, msg *Envelope, reason error) error {
	c := s.table.lookup(ref)
	if c == nil || c == s.root {
		return fmt.Errorf("%w: %v", ErrStaleRef, ref)
	}
	var f *Failure
	if !errors.As(reason, &f) {
		reason = &Failure{Actor: ref, Err: reason}
	}
	if msg != nil {
		s.dead.record(msg, reason)
	}
	if !c.pushSys(nil, sysMsg{kind: sysFail, gen: c.incarnation.Load(), err: reason}) {
		return ErrStopped
	}
	return nil
}

// Unpause lets an actor that paused itself (Context.Pause) handle user
// messages again.
func (s *System) Unpause(ref Ref) error {
	c := s.table.lookup(ref)
	if c == nil || c == s.root {
		return fmt.Errorf("%w: %v", ErrStaleRef, ref)
	}
	c.unpause()
	return nil
}

// Stop stops ref gracefully: it handles what is already queued, refuses
// new messages, stops its children (children first) and then terminates.
// It returns at once; Watch to learn when it has terminated.
func (s *System) Stop(ref Ref) error { return s.sysTo(nil, ref, sysStop) }

// Kill stops ref after the message in hand: what is queued is
// dead-lettered with ErrKilled and its children are killed too.
func (s *System) Kill(ref Ref) error { return s.sysTo(nil, ref, sysKill) }

func (s *System) sysTo(w *sched.Worker, ref Ref, k sysKind) error {
	c := s.table.lookup(ref)
	if c == nil || c == s.root {
		return fmt.Errorf("%w: %v", ErrStaleRef, ref)
	}
	if !c.pushSys(w, sysMsg{kind: k}) {
		return ErrStopped
	}
	return nil
}

// Watch makes watcher receive a Terminated message (tag TagTerminated)
// when target terminates. Watching an actor that is already gone delivers
// Terminated at once with reason ErrStaleRef.
func (s *System) Watch(watcher, target Ref) error { return s.watch(nil, watcher, target) }

func (s *System) watch(w *sched.Worker, watcher, target Ref) error {
	if s.table.lookup(watcher) == nil {
		return fmt.Errorf("%w: watcher %v", ErrStaleRef, watcher)
	}
	c := s.table.lookup(target)
	if c != nil {
		c.mu.Lock()
		if c.state != stateStopped {
			ext := c.extLocked()
			ext.watchers = append(ext.watchers, watcher)
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
	}
	s.notifyTerminated(w, watcher, target, ErrStaleRef)
	return nil
}

// Unwatch undoes Watch.
func (s *System) Unwatch(watcher, target Ref) {
	c := s.table.lookup(target)
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ext == nil {
		return
	}
	ws := c.ext.watchers
	for i, r := range ws {
		if r == watcher {
			c.ext.watchers = append(ws[:i], ws[i+1:]...)
			return
		}
	}
}

func (s *System) notifyTerminated(w *sched.Worker, watcher, target Ref, reason error) {
	c := s.table.lookup(watcher)
	if c == nil {
		return
	}
	env := Envelope{Target: watcher, Sender: target, Tag: TagTerminated, Value: Terminated{Actor: target, Reason: reason}}
	if err := c.push(w, &env, false, true); err != nil {
		s.deadLetter(&env, nil, err)
	}
}

// Children returns the children of ref in start order.
func (s *System) Children(ref Ref) ([]Ref, error) {
	c := s.table.lookup(ref)
	if c == nil {
		return nil, fmt.Errorf("%w: %v", ErrStaleRef, ref)
	}
	return refsOf(c.childList()), nil
}

func refsOf(cs []*cell) []Ref {
	out := make([]Ref, len(cs))
	for i, c := range cs {
		out[i] = c.ref
	}
	return out
}

// Alive reports whether ref names a live actor.
func (s *System) Alive(ref Ref) bool {
	c := s.table.lookup(ref)
	return c != nil && c != s.root
}

// Shutdown stops every actor gracefully, children first: each handles what
// it already has queued and then terminates. If ctx ends first, everything
// left is killed (queued messages dead-lettered) and Shutdown returns
// ctx.Err() once all actors are gone or a short grace period has passed
// (a handler that never returns cannot be preempted). Later sends fail with
// ErrStopped. The scheduler is left to the caller.
func (s *System) Shutdown(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) {
		<-s.rootDone
		return nil
	}
	s.root.pushSys(nil, sysMsg{kind: sysStop})
	if s.deterministic {
		s.sched.RunUntilIdle()
		select {
		case <-s.rootDone:
			return nil
		default:
		}
		s.root.pushSys(nil, sysMsg{kind: sysKill})
		s.sched.RunUntilIdle()
		<-s.rootDone
		return nil
	}
	select {
	case <-s.rootDone:
		return nil
	case <-ctx.Done():
	}
	s.root.pushSys(nil, sysMsg{kind: sysKill})
	grace := time.NewTimer(time.Second)
	defer grace.Stop()
	select {
	case <-s.rootDone:
	case <-grace.C:
	}
	return ctx.Err()
}

// Done is closed when the root guardian has terminated after Shutdown.
func (s *System) Done() <-chan struct{} { return s.rootDone }

func (s *System) recordEscalation(ref Ref, reason error) {
	s.escalations.Add(1)
	s.escMu.Lock()
	s.lastEsc = reason
	s.escMu.Unlock()
}

// Counters is the conservation ledger: every message a mailbox accepted is
// processed, dead-lettered, or still queued, so at every quiescent point
// Accepted == Processed + DeadLettered + Queued.
type Counters struct {
	Accepted     uint64
	Processed    uint64
	DeadLettered uint64
	Queued       uint64
}

func (c *Counters) add(o Counters) {
	c.Accepted += o.Accepted
	c.Processed += o.Processed
	c.DeadLettered += o.DeadLettered
	c.Queued += o.Queued
}

// Balanced reports whether the conservation law holds.
func (c Counters) Balanced() bool {
	return c.Accepted == c.Processed+c.DeadLettered+c.Queued
}

// Counters sums the ledger over live and terminated actors. It walks the
// actor table (cost grows with the number of live actors).
func (s *System) Counters() Counters {
	var live Counters
	retired := s.table.each(func(c *cell) { live.add(c.counters()) })
	live.add(retired)
	return live
}

// ActorCounters returns the ledger of one live actor.
func (s *System) ActorCounters(ref Ref) (Counters, error) {
	c := s.table.lookup(ref)
	if c == nil {
		return Counters{}, fmt.Errorf("%w: %v", ErrStaleRef, ref)
	}
	return c.counters(), nil
}

// Stats are system-wide figures.
type Stats struct {
	Actors         int    // live actors, the root guardian excluded
	Failures       uint64 // handler failures (errors and panics)
	Restarts       uint64 // completed restarts
	Escalations    uint64 // failures that reached the root
	LastEscalation error
	DeadLetters    DeadLetterStats
}

// Stats returns system-wide figures.
func (s *System) Stats() Stats {
	s.escMu.Lock()
	last := s.lastEsc
	s.escMu.Unlock()
	return Stats{
		Actors:         s.liveActors(),
		Failures:       s.failures.Load(),
		Restarts:       s.restarts.Load(),
		Escalations:    s.escalations.Load(),
		LastEscalation: last,
		DeadLetters:    s.dead.stats(),
	}
}

func (s *System) liveActors() int {
	n := s.table.count()
	if s.table.lookup(s.root.ref) != nil {
		n-- // the root guardian
	}
	return n
}

// DeadLetters returns the most recent dead letters, oldest first.
func (s *System) DeadLetters() []DeadLetter { return s.dead.recent() }
