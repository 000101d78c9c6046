package actor

import (
	"time"
)

// Actor is the behaviour of one actor. Receive handles one message at a
// time; the runtime never calls it concurrently for the same actor.
//
// A non-nil error, or a panic, is a failure: the message is dead-lettered
// with the reason, the actor is suspended (its mailbox keeps filling) and
// its parent's Supervisor decides what happens next.
//
// ctx and msg are valid only until Receive returns, and only on the
// goroutine that called Receive.
type Actor interface {
	Receive(ctx *Context, msg *Envelope) error
}

// Producer makes a fresh instance of an actor. It is called at spawn and at
// every restart, so state lives in what it returns.
type Producer func() Actor

// Func adapts a function to an Actor with no state of its own.
type Func func(ctx *Context, msg *Envelope) error

// Receive calls f.
func (f Func) Receive(ctx *Context, msg *Envelope) error { return f(ctx, msg) }

// Starter is implemented by actors that need to run code on their own turn
// before the first message (at spawn and after every restart). An error is
// a failure, handled like one from Receive.
type Starter interface {
	Started(ctx *Context) error
}

// Stopper is implemented by actors that clean up when an instance ends:
// at a stop, and on the old instance before a restart.
type Stopper interface {
	Stopped(ctx *Context)
}

// Supervisor decides what happens to a failed child. ChildFailed runs on
// the parent's own turn; the child stays suspended (accepting but not
// processing messages) until the supervisor calls ctx.RestartChild,
// ctx.ResumeChild or ctx.StopChild, or escalates with ctx.Escalate.
type Supervisor interface {
	ChildFailed(ctx *Context, child Ref, reason error)
}

// ChildWatcher is implemented by supervisors that want to hear about every
// child that terminated (normal or not), for example to replace a permanent
// child that stopped on its own.
type ChildWatcher interface {
	ChildTerminated(ctx *Context, child Ref, reason error)
}

// ChildObserver is implemented by supervisors that need to know when a
// child has started: at spawn and after every restart, once its Started
// hook (if any) returned without error. Supervisors use it to start and
// restart children one at a time, in order.
type ChildObserver interface {
	ChildStarted(ctx *Context, child Ref)
}

// RestartAlways is the simplest Supervisor: it restarts a failed child at
// once, forever. Runtimes normally install supervise.OneForOne instead.
type RestartAlways struct{}

// ChildFailed restarts child immediately.
func (RestartAlways) ChildFailed(ctx *Context, child Ref, _ error) {
	_ = ctx.RestartChild(child, 0)
}

// Overflow says what a send does when the target's mailbox is full.
type Overflow uint8

const (
	// OverflowFail rejects the message at once with ErrMailboxFull (and
	// records it as a dead letter).
	OverflowFail Overflow = iota
	// OverflowWait blocks the sender until there is room or the wait
	// timeout passes (then as OverflowFail). It blocks the calling
	// goroutine, a scheduler worker included: use it for producers outside
	// the runtime.
	OverflowWait
	// OverflowDrop moves the message to dead letters and reports success to the sender.
	OverflowDrop
)

func (o Overflow) String() string {
	switch o {
	case OverflowFail:
		return "fail"
	case OverflowWait:
		return "wait"
	case OverflowDrop:
		return "drop"
	}
	return "unknown"
}

// Option configures one spawn.
type Option func(*spawnConfig)

type spawnConfig struct {
	name            string
	capacity        int
	overflow        Overflow
	waitTimeout     time.Duration
	supervisor      Supervisor
	shutdownTimeout time.Duration
	sequentialStop  bool
}

// WithName registers the actor under name for Lookup; the name is released
// when the actor terminates. Spawn fails with ErrNameTaken if it is in use.
func WithName(name string) Option { return func(c *spawnConfig) { c.name = name } }

// WithMailbox sets the mailbox capacity (messages queued, not yet handled).
func WithMailbox(capacity int) Option { return func(c *spawnConfig) { c.capacity = capacity } }

// WithOverflow sets the full-mailbox policy. For OverflowWait, wait is how
// long a sender may block (0 means the system's default ask timeout).
func WithOverflow(policy Overflow, wait time.Duration) Option {
	return func(c *spawnConfig) { c.overflow, c.waitTimeout = policy, wait }
}

// WithSupervisor sets how this actor supervises its own children (default:
// the system's default supervisor).
func WithSupervisor(s Supervisor) Option { return func(c *spawnConfig) { c.supervisor = s } }

// WithSequentialStop makes a graceful stop of this actor stop its children
// one at a time, the last started first, each after the previous one has
// terminated (OTP's order, for children that depend on earlier siblings).
// Without it children are stopped all at once. A kill is always at once.
func WithSequentialStop() Option { return func(c *spawnConfig) { c.sequentialStop = true } }

// WithShutdownTimeout bounds how long a graceful stop of this actor may
// take when its parent stops it before the parent kills it instead
// (default: the system's). A handler that never returns cannot be
// preempted; a kill makes sure nothing further is delivered to it.
func WithShutdownTimeout(d time.Duration) Option {
	return func(c *spawnConfig) { c.shutdownTimeout = d }
}
