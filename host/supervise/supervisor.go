package supervise

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/stark-rt/stark/host/actor"
)

// Restart says when a child is restarted (OTP's restart types).
type Restart uint8

const (
	// Permanent children are always restarted, also after a normal stop.
	Permanent Restart = iota
	// Transient children are restarted only after an abnormal end
	// (a failure or a kill), not after a normal stop.
	Transient
	// Temporary children are never restarted.
	Temporary
)

func (r Restart) String() string {
	return [...]string{"permanent", "transient", "temporary"}[min(int(r), 2)]
}

// Strategy says which children restart when one fails.
type Strategy uint8

const (
	// OneForOne restarts only the failed child.
	OneForOne Strategy = iota
	// OneForAll restarts every child.
	OneForAll
	// RestForOne restarts the failed child and every child started after it.
	RestForOne
	// SimpleOneForOne is OneForOne for many children made from one template
	// (Spec.Children[0]) and started on demand with StartChild.
	SimpleOneForOne
)

func (s Strategy) String() string {
	return [...]string{"one-for-one", "one-for-all", "rest-for-one", "simple-one-for-one"}[min(int(s), 3)]
}

// ErrIntensity is the reason a supervisor escalates with when its children
// failed more than MaxRestarts times within Period.
var ErrIntensity = errors.New("supervise: restart intensity exceeded")

// ChildSpec describes one child.
type ChildSpec struct {
	// Name, if set, registers the child under this name (re-registered on restart).
	Name string
	// Start makes a fresh instance. For SimpleOneForOne use StartWith.
	Start actor.Producer
	// StartWith makes an instance from the argument given to StartChild
	// (SimpleOneForOne templates).
	StartWith func(arg any) actor.Actor
	// Restart is the restart type (default Permanent).
	Restart Restart
	// Shutdown bounds a graceful stop before the child is killed (0: the system default).
	Shutdown time.Duration
	// Options are extra spawn options (mailbox capacity, overflow policy, ...).
	Options []actor.Option
}

// Spec describes a supervisor.
type Spec struct {
	Strategy Strategy
	// MaxRestarts within Period is the restart intensity; one more failure
	// stops every child and escalates to the supervisor's own parent.
	// Defaults: 3 in 5s (OTP's are 1 in 5s). Set MaxRestarts < 0 for 0.
	MaxRestarts int
	Period      time.Duration
	// Backoff delays each restart (default none). The attempt number counts
	// consecutive restarts of the same child within Period.
	Backoff Backoff
	// Children are started in order (for SimpleOneForOne: exactly one template, not started).
	Children []ChildSpec
}

func (s Spec) validate() error {
	if s.Strategy > SimpleOneForOne {
		return fmt.Errorf("supervise: unknown strategy %d", s.Strategy)
	}
	if s.Strategy == SimpleOneForOne {
		if len(s.Children) != 1 || s.Children[0].StartWith == nil {
			return errors.New("supervise: simple-one-for-one needs exactly one child template with StartWith")
		}
		return nil
	}
	for i, c := range s.Children {
		if c.Start == nil {
			return fmt.Errorf("supervise: child %d (%q) has no Start", i, c.Name)
		}
	}
	return nil
}

// Reserved tags of supervisor control messages.
const (
	tagStartChild    = actor.TagSystem + 0x10
	tagWhichChildren = actor.TagSystem + 0x11
	tagRespawn       = actor.TagSystem + 0x12
	tagRestartNext   = actor.TagSystem + 0x13
	tagAwaitStarted  = actor.TagSystem + 0x14
)

// Start spawns a top-level supervisor and returns once it has started
// spec's children, one at a time in order (each after the previous one's
// Started hook returned), like OTP's start_link. It waits at most the
// system's ask timeout. Extra options configure the supervisor actor
// itself (name, mailbox, ...).
func Start(sys *actor.System, spec Spec, opts ...actor.Option) (actor.Ref, error) {
	if err := spec.validate(); err != nil {
		return 0, err
	}
	ref, err := sys.Spawn(producer(spec), append(opts, actor.WithSequentialStop())...)
	if err != nil {
		return 0, err
	}
	if _, err := sys.Ask(context.Background(), ref, tagAwaitStarted, nil); err != nil {
		return ref, fmt.Errorf("supervise: supervisor %v did not finish starting its children: %w", ref, err)
	}
	return ref, nil
}

// StartUnder spawns a supervisor as a child of the actor running ctx
// (nested supervision trees). It does not wait: the children start one at
// a time after it returns.
func StartUnder(ctx *actor.Context, spec Spec, opts ...actor.Option) (actor.Ref, error) {
	if err := spec.validate(); err != nil {
		return 0, err
	}
	return ctx.Spawn(producer(spec), append(opts, actor.WithSequentialStop())...)
}

func producer(spec Spec) actor.Producer {
	if spec.MaxRestarts == 0 {
		spec.MaxRestarts = 3
	} else if spec.MaxRestarts < 0 {
		spec.MaxRestarts = 0
	}
	if spec.Period <= 0 {
		spec.Period = 5 * time.Second
	}
	return func() actor.Actor { return &supervisor{spec: spec} }
}

// StartChild adds a child to a running supervisor and returns its ref. For
// SimpleOneForOne, arg is passed to the template's StartWith; otherwise arg
// must be a ChildSpec.
func StartChild(ctx context.Context, sys *actor.System, sup actor.Ref, arg any) (actor.Ref, error) {
	r, err := sys.Ask(ctx, sup, tagStartChild, arg)
	if err != nil {
		return 0, err
	}
	if e, ok := r.Value.(error); ok {
		return 0, e
	}
	return r.Value.(actor.Ref), nil
}

// Child describes one child of a running supervisor.
type Child struct {
	Name    string
	Ref     actor.Ref
	Restart Restart
}

// WhichChildren lists a running supervisor's children in start order.
func WhichChildren(ctx context.Context, sys *actor.System, sup actor.Ref) ([]Child, error) {
	r, err := sys.Ask(ctx, sup, tagWhichChildren, nil)
	if err != nil {
		return nil, err
	}
	return r.Value.([]Child), nil
}

// child is the supervisor's record of one child.
type child struct {
	spec     *ChildSpec
	ref      actor.Ref
	producer actor.Producer
	attempts int       // consecutive restarts within Period, for backoff
	last     time.Time // last restart
}

// supervisor is the actor behind Start. It implements actor.Supervisor and
// actor.ChildObserver, so the runtime consults it about its own children.
//
// Children start one at a time in spec order, each once the previous one's
// Started hook has returned. When a failure restarts several children
// (one-for-all, rest-for-one), all of them are held at once and restarted
// one at a time in start order, likewise; a stop takes them down in
// reverse order (actor.WithSequentialStop).
type supervisor struct {
	spec      Spec
	children  []*child // start order
	intensity *Intensity
	rng       *rand.Rand
	escalated bool

	starting int              // index of the next static child to start
	up       bool             // every static child has started once
	awaiting []actor.Envelope // asks waiting for up
	waiting  *child           // child whose start or restart we wait for
	queue    []*child         // children held for an ordered restart
}

func (s *supervisor) Started(ctx *actor.Context) error {
	s.intensity = NewIntensity(s.spec.MaxRestarts, s.spec.Period)
	seed := ctx.System().Seed() ^ uint64(ctx.Self())
	s.rng = rand.New(rand.NewPCG(seed, seed>>1|1))
	if s.spec.Strategy == SimpleOneForOne {
		s.up = true
		return nil
	}
	return s.startNext(ctx)
}

// startNext spawns the next static child; ChildStarted continues the chain.
func (s *supervisor) startNext(ctx *actor.Context) error {
	if s.starting >= len(s.spec.Children) {
		s.up = true
		for i := range s.awaiting {
			_ = ctx.ReplyTo(&s.awaiting[i], tagAwaitStarted, nil)
		}
		s.awaiting = nil
		return s.restartNext(ctx, 0) // failures during start-up queued restarts
	}
	i := s.starting
	s.starting++
	spec := &s.spec.Children[i]
	c, err := s.spawn(ctx, spec, spec.Start)
	if err != nil {
		return fmt.Errorf("supervise: starting child %d (%q): %w", i, spec.Name, err)
	}
	s.waiting = c
	return nil
}

func (s *supervisor) spawn(ctx *actor.Context, spec *ChildSpec, p actor.Producer) (*child, error) {
	ref, err := ctx.Spawn(p, s.optionsFor(spec)...)
	if err != nil {
		return nil, err
	}
	c := &child{spec: spec, ref: ref, producer: p}
	s.children = append(s.children, c)
	return c, nil
}

func (s *supervisor) optionsFor(spec *ChildSpec) []actor.Option {
	if spec.Name == "" && spec.Shutdown <= 0 {
		return spec.Options
	}
	opts := append([]actor.Option(nil), spec.Options...)
	if spec.Shutdown > 0 {
		opts = append(opts, actor.WithShutdownTimeout(spec.Shutdown))
	}
	if spec.Name != "" {
		opts = append(opts, actor.WithName(spec.Name))
	}
	return opts
}

func (s *supervisor) Receive(ctx *actor.Context, m *actor.Envelope) error {
	switch m.Tag {
	case tagStartChild:
		var spec *ChildSpec
		var p actor.Producer
		if s.spec.Strategy == SimpleOneForOne {
			spec = &s.spec.Children[0]
			arg, tmpl := m.Value, spec.StartWith
			p = func() actor.Actor { return tmpl(arg) }
		} else {
			cs, ok := m.Value.(ChildSpec)
			if !ok || cs.Start == nil {
				return ctx.Reply(m.Tag, fmt.Errorf("%w: StartChild needs a ChildSpec with Start", actor.ErrInvalid))
			}
			spec, p = &cs, cs.Start
		}
		c, err := s.spawn(ctx, spec, p)
		if err != nil {
			return ctx.Reply(m.Tag, err)
		}
		return ctx.Reply(m.Tag, c.ref)
	case tagWhichChildren:
		out := make([]Child, len(s.children))
		for i, c := range s.children {
			out[i] = Child{Name: c.spec.Name, Ref: c.ref, Restart: c.spec.Restart}
		}
		return ctx.Reply(m.Tag, out)
	case tagRespawn:
		if c := m.Value.(*child); s.position(c) >= 0 && !s.escalated {
			return s.respawn(ctx, c)
		}
	case tagAwaitStarted:
		if s.up {
			return ctx.Reply(m.Tag, nil)
		}
		s.awaiting = append(s.awaiting, *m)
	case tagRestartNext:
		if !s.escalated {
			return s.restartNext(ctx, 0)
		}
	}
	return nil
}

// respawn replaces a child that terminated with a new actor (a new ref).
func (s *supervisor) respawn(ctx *actor.Context, c *child) error {
	ref, err := ctx.Spawn(c.producer, s.optionsFor(c.spec)...)
	if err != nil {
		return fmt.Errorf("supervise: respawning %q: %w", c.spec.Name, err)
	}
	c.ref = ref
	return nil
}

func (s *supervisor) index(ref actor.Ref) int {
	for i, c := range s.children {
		if c.ref == ref {
			return i
		}
	}
	return -1
}

func (s *supervisor) position(c *child) int {
	for i, x := range s.children {
		if x == c {
			return i
		}
	}
	return -1
}

// ChildStarted moves an ordered start or restart on to the next child.
func (s *supervisor) ChildStarted(ctx *actor.Context, ref actor.Ref) {
	if s.waiting == nil || s.waiting.ref != ref || s.escalated {
		return
	}
	s.waiting = nil
	s.advance(ctx)
}

// advance goes on with the start-up chain, or else the restart chain,
// once no child is awaited.
func (s *supervisor) advance(ctx *actor.Context) {
	if s.waiting != nil || s.escalated {
		return
	}
	var err error
	if s.up {
		err = s.restartNext(ctx, 0)
	} else {
		err = s.startNext(ctx)
	}
	if err != nil {
		ctx.Escalate(err)
	}
}

// drop forgets children[i] (it will not be restarted) and moves the chains
// on if it was the child they waited for.
func (s *supervisor) drop(ctx *actor.Context, i int) {
	c := s.children[i]
	s.children = append(s.children[:i], s.children[i+1:]...)
	s.queue = slices.DeleteFunc(s.queue, func(x *child) bool { return x == c })
	if s.waiting == c {
		s.waiting = nil
	}
	s.advance(ctx)
}

// ChildFailed applies the strategy to a failed child.
func (s *supervisor) ChildFailed(ctx *actor.Context, ref actor.Ref, reason error) {
	i := s.index(ref)
	if i < 0 || s.escalated {
		_ = ctx.StopChild(ref)
		return
	}
	c := s.children[i]
	if c.spec.Restart == Temporary {
		_ = ctx.StopChild(ref)
		s.drop(ctx, i)
		return
	}
	delay, ok := s.admit(ctx, c, reason)
	if !ok {
		return
	}
	switch {
	case slices.Contains(s.queue, c):
		// Already held for a restart in progress (its old instance failed
		// before the hold reached it).
	case s.waiting == c || s.spec.Strategy == OneForOne || s.spec.Strategy == SimpleOneForOne:
		_ = ctx.RestartChild(ref, delay)
	default:
		s.hold(ctx, s.affected(i), delay)
	}
}

// ChildTerminated replaces children that ended on their own, per restart type.
func (s *supervisor) ChildTerminated(ctx *actor.Context, ref actor.Ref, reason error) {
	i := s.index(ref)
	if i < 0 || s.escalated {
		return
	}
	c := s.children[i]
	if c.spec.Restart == Temporary || (c.spec.Restart == Transient && reason == nil) {
		s.drop(ctx, i)
		return
	}
	delay, ok := s.admit(ctx, c, reason)
	if !ok {
		return
	}
	if s.spec.Strategy == OneForOne || s.spec.Strategy == SimpleOneForOne {
		if delay <= 0 {
			_ = s.respawn(ctx, c)
			return
		}
		ctx.SendAfter(delay, tagRespawn, c)
		return
	}
	s.hold(ctx, s.affected(i), delay)
}

// hold suspends the affected children and queues them for a restart in
// start order (a child that is gone is respawned in its place).
func (s *supervisor) hold(ctx *actor.Context, affected []*child, delay time.Duration) {
	for _, a := range affected {
		if slices.Contains(s.queue, a) {
			continue
		}
		if s.waiting != a { // one being restarted now goes again after
			_ = ctx.SuspendChild(a.ref)
		}
		s.queue = append(s.queue, a)
	}
	slices.SortStableFunc(s.queue, func(x, y *child) int { return s.position(x) - s.position(y) })
	if s.waiting != nil {
		return // the chain in progress picks them up
	}
	if err := s.restartNext(ctx, delay); err != nil {
		ctx.Escalate(err)
	}
}

// restartNext restarts the first held child, after delay.
func (s *supervisor) restartNext(ctx *actor.Context, delay time.Duration) error {
	if s.waiting != nil || len(s.queue) == 0 {
		return nil
	}
	if delay > 0 {
		ctx.SendAfter(delay, tagRestartNext, nil)
		return nil
	}
	c := s.queue[0]
	s.queue = s.queue[1:]
	s.waiting = c
	if ctx.System().Alive(c.ref) {
		return ctx.RestartChild(c.ref, 0)
	}
	return s.respawn(ctx, c)
}

// admit counts a restart against the intensity and returns its backoff
// delay; when intensity is exceeded it stops every child and escalates.
func (s *supervisor) admit(ctx *actor.Context, c *child, reason error) (time.Duration, bool) {
	now := ctx.Now()
	if s.intensity.Record(now) {
		s.escalated = true
		for _, ch := range s.children {
			_ = ctx.KillChild(ch.ref)
		}
		ctx.Escalate(fmt.Errorf("%w (more than %d in %v): %w", ErrIntensity, s.spec.MaxRestarts, s.spec.Period, reason))
		return 0, false
	}
	if c.last.IsZero() || now.Sub(c.last) > s.spec.Period {
		c.attempts = 0
	}
	c.attempts++
	c.last = now
	return s.spec.Backoff.Delay(c.attempts, s.rng), true
}

// affected returns the children a failure of children[i] restarts.
func (s *supervisor) affected(i int) []*child {
	switch s.spec.Strategy {
	case OneForAll:
		return s.children
	case RestForOne:
		return s.children[i:]
	}
	return s.children[i : i+1]
}
