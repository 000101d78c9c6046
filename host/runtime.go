// Package host is the STARK runtime for Go programs: a work-stealing
// scheduler, actors with OTP-style supervision, pooled buffers, timers and
// structured concurrency, owned by one Runtime.
//
//	rt, _ := host.New(host.NewConfig())
//	rt.Start()
//	defer rt.Shutdown(context.Background())
//	ref, _ := rt.SpawnFunc(func(ctx *actor.Context, m *actor.Envelope) error {
//		return ctx.Reply(m.Tag, "hello "+m.Value.(string))
//	})
//	reply, _ := rt.Ask(ctx, ref, 1, "world")
//
// The machinery lives in the sub-packages: sched (scheduler), actor
// (actors, mailboxes, refs, names, topics, timers, dead letters),
// supervise (supervisors, restart intensity, backoff, circuit breaker),
// mem (buffer pools), task (scopes, cancellation, parallel map), clock
// and codec (msgpack). docs/architecture.md describes how they fit.
package host

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/clock"
	"github.com/stark-rt/stark/host/mem"
	"github.com/stark-rt/stark/host/sched"
	"github.com/stark-rt/stark/host/supervise"
	"github.com/stark-rt/stark/host/task"
)

// Config is the runtime's configuration: an immutable value, each With…
// method returns a changed copy. The zero value is not useful; start from
// NewConfig.
type Config struct {
	workers         int
	mailbox         int
	budget          int
	maxActors       int
	deadLetters     int
	askTimeout      time.Duration
	shutdownTimeout time.Duration
	pool            mem.Config
	clock           clock.Clock
	supervisor      actor.Supervisor
	deterministic   bool
	seed            uint64
}

// NewConfig returns the defaults: one worker per GOMAXPROCS, mailboxes of
// 4096, a budget of 128 messages per turn, the real clock, a 1 GiB buffer
// pool, 5 s ask and shutdown timeouts, and a one-for-one restart policy
// (10 restarts per child per second, then escalate).
func NewConfig() Config {
	return Config{
		workers:         runtime.GOMAXPROCS(0),
		mailbox:         4096,
		budget:          128,
		maxActors:       1 << 24,
		deadLetters:     1024,
		askTimeout:      5 * time.Second,
		shutdownTimeout: 5 * time.Second,
		pool:            mem.DefaultConfig(),
		clock:           clock.Real{},
	}
}

// WithWorkers sets the number of scheduler workers (one per core is best).
func (c Config) WithWorkers(n int) Config { c.workers = n; return c }

// WithMailboxCapacity sets the default mailbox capacity of new actors.
func (c Config) WithMailboxCapacity(n int) Config { c.mailbox = n; return c }

// WithBudget sets how many messages an actor handles per turn before
// yielding its worker to others.
func (c Config) WithBudget(n int) Config { c.budget = n; return c }

// WithMaxActors bounds the number of live actors (spawn fails with
// actor.ErrTooManyActors beyond it).
func (c Config) WithMaxActors(n int) Config { c.maxActors = n; return c }

// WithDeadLetterLimit sets how many recent dead letters are kept for inspection.
func (c Config) WithDeadLetterLimit(n int) Config { c.deadLetters = n; return c }

// WithAskTimeout sets the deadline of asks whose context has none.
func (c Config) WithAskTimeout(d time.Duration) Config { c.askTimeout = d; return c }

// WithShutdownTimeout sets how long a graceful stop of a child may take before it is killed.
func (c Config) WithShutdownTimeout(d time.Duration) Config { c.shutdownTimeout = d; return c }

// WithPool sets the host buffer pool's size classes and limits.
func (c Config) WithPool(p mem.Config) Config { c.pool = p; return c }

// WithClock sets the clock (clock.NewVirtual for tests).
func (c Config) WithClock(k clock.Clock) Config { c.clock = k; return c }

// WithSupervisor sets the supervisor of top-level actors and of children
// whose parent names none.
func (c Config) WithSupervisor(s actor.Supervisor) Config { c.supervisor = s; return c }

// WithDeterministic turns on deterministic mode: no worker goroutines, one
// logical worker, run order drawn from seed, and (unless WithClock says
// otherwise) a virtual clock starting at the Unix epoch. The caller drives
// the runtime with RunUntilIdle (Ask and Shutdown do it themselves), and
// the same seed and inputs repeat the same run exactly.
func (c Config) WithDeterministic(seed uint64) Config {
	c.deterministic, c.seed, c.workers = true, seed, 1
	if _, real := c.clock.(clock.Real); real {
		c.clock = clock.NewVirtual(time.Unix(0, 0))
	}
	return c
}

// WithSeed seeds the runtime's randomness (backoff jitter) without turning
// on deterministic mode.
func (c Config) WithSeed(seed uint64) Config { c.seed = seed; return c }

// Clock returns the configured clock.
func (c Config) Clock() clock.Clock { return c.clock }

// Runtime owns a scheduler, an actor system, a buffer pool and a clock.
// The actor API (Spawn, Send, Ask, Stop, Watch, names, topics, timers,
// dead letters, counters) is promoted from the embedded *actor.System.
type Runtime struct {
	*actor.System
	cfg   Config
	sched *sched.Scheduler
	pool  *mem.Pool

	mu      sync.Mutex
	started bool
	stopped bool
}

// New builds a runtime from cfg; it runs nothing until Start.
func New(cfg Config) (*Runtime, error) {
	if cfg.workers <= 0 || cfg.mailbox <= 0 || cfg.budget <= 0 || cfg.maxActors <= 0 {
		return nil, fmt.Errorf("%w: workers, mailbox capacity, budget and max actors must be positive (use NewConfig)", actor.ErrInvalid)
	}
	if cfg.clock == nil {
		return nil, fmt.Errorf("%w: nil clock", actor.ErrInvalid)
	}
	s := sched.New(sched.Config{Workers: cfg.workers, Deterministic: cfg.deterministic, Seed: cfg.seed})
	sup := cfg.supervisor
	if sup == nil {
		sup = supervise.NewPolicy(10, time.Second, supervise.NoBackoff())
	}
	sys, err := actor.NewSystem(actor.Config{
		Scheduler:         s,
		Clock:             cfg.clock,
		Budget:            cfg.budget,
		MailboxCapacity:   cfg.mailbox,
		MaxActors:         cfg.maxActors,
		AskTimeout:        cfg.askTimeout,
		ShutdownTimeout:   cfg.shutdownTimeout,
		DeadLetterLimit:   cfg.deadLetters,
		DefaultSupervisor: sup,
		Seed:              cfg.seed,
		Deterministic:     cfg.deterministic,
	})
	if err != nil {
		return nil, err
	}
	return &Runtime{System: sys, cfg: cfg, sched: s, pool: mem.NewPool("host", cfg.pool)}, nil
}

// ErrNotStarted is returned by calls that need a started runtime.
var ErrNotStarted = errors.New("stark: runtime not started")

// Start starts the scheduler's workers. It is an error to start twice or after Shutdown.
func (r *Runtime) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return actor.ErrStopped
	}
	if r.started {
		return fmt.Errorf("%w: runtime already started", actor.ErrInvalid)
	}
	r.started = true
	r.sched.Start()
	return nil
}

// Shutdown stops every actor children-first, letting each handle what it
// has queued; when ctx ends first the rest is killed and its queued
// messages dead-lettered. It then stops the workers and returns once
// everything has stopped. Calling it again is a no-op.
func (r *Runtime) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	started := r.started
	r.mu.Unlock()
	if !started && !r.cfg.deterministic {
		// Nothing ever ran: start the workers so the stop can drain.
		r.sched.Start()
	}
	err := r.System.Shutdown(ctx)
	r.sched.Stop()
	return err
}

// Config returns the runtime's configuration.
func (r *Runtime) Config() Config { return r.cfg }

// Pool returns the runtime's host buffer pool.
func (r *Runtime) Pool() *mem.Pool { return r.pool }

// Scheduler returns the scheduler (for its Stats).
func (r *Runtime) Scheduler() *sched.Scheduler { return r.sched }

// RunUntilIdle runs ready actors on the calling goroutine until none is
// runnable (deterministic mode only) and returns how many turns ran.
func (r *Runtime) RunUntilIdle() int {
	if !r.cfg.deterministic {
		return 0
	}
	return r.sched.RunUntilIdle()
}

// Executor adapts the scheduler for task.Map and friends: submitted
// functions run on the runtime's workers.
func (r *Runtime) Executor() task.Executor { return executor{r.sched} }

type executor struct{ s *sched.Scheduler }

func (e executor) Submit(fn func()) { e.s.Submit(sched.Func(func(*sched.Worker) { fn() })) }

func (e executor) Workers() int { return e.s.Workers() }

// Metrics is a snapshot of the runtime's counters.
type Metrics struct {
	Scheduler sched.Stats
	Actors    actor.Stats
	Messages  actor.Counters
	Pool      mem.Stats
}

// Metrics returns a snapshot. It walks the actor table, so its cost grows
// with the number of live actors.
func (r *Runtime) Metrics() Metrics {
	return Metrics{
		Scheduler: r.sched.Stats(),
		Actors:    r.Stats(),
		Messages:  r.Counters(),
		Pool:      r.pool.Stats(),
	}
}
