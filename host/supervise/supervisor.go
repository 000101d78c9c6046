package supervise

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
)

// Start spawns a top-level supervisor that starts spec's children in
// order. Extra options configure the supervisor actor itself (name, ...).
func Start(sys *actor.System, spec Spec, opts ...actor.Option) (actor.Ref, error) {
	if err := spec.validate(); err != nil {
		return 0, err
	}
	return sys.Spawn(producer(spec), opts...)
}

// StartUnder spawns a supervisor as a child of the actor running ctx
// (nested supervision trees).
func StartUnder(ctx *actor.Context, spec Spec, opts ...actor.Option) (actor.Ref, error) {
	if err := spec.validate(); err != nil {
		return 0, err
	}
	return ctx.Spawn(producer(spec), opts...)
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

// supervisor is the actor behind Start. It implements actor.Supervisor,
// so the runtime asks it about its own children.
type supervisor struct {
	spec      Spec
	children  []*child // start order
	intensity *Intensity
	rng       *rand.Rand
	escalated bool
}

func (s *supervisor) Started(ctx *actor.Context) error {
	s.intensity = NewIntensity(s.spec.MaxRestarts, s.spec.Period)
	seed := ctx.System().Seed() ^ uint64(ctx.Self())
	s.rng = rand.New(rand.NewPCG(seed, seed>>1|1))
	if s.spec.Strategy == SimpleOneForOne {
		return nil
	}
	for i := range s.spec.Children {
		if _, err := s.spawn(ctx, &s.spec.Children[i], s.spec.Children[i].Start); err != nil {
			return fmt.Errorf("supervise: starting child %d (%q): %w", i, s.spec.Children[i].Name, err)
		}
	}
	return nil
}

func (s *supervisor) spawn(ctx *actor.Context, spec *ChildSpec, p actor.Producer) (*child, error) {
	opts := spec.Options
	if spec.Name != "" || spec.Shutdown > 0 {
		opts = append(append([]actor.Option(nil), spec.Options...), actor.WithShutdownTimeout(spec.Shutdown))
		if spec.Name != "" {
			opts = append(opts, actor.WithName(spec.Name))
		}
	}
	ref, err := ctx.Spawn(p, opts...)
	if err != nil {
		return nil, err
	}
	c := &child{spec: spec, ref: ref, producer: p}
	s.children = append(s.children, c)
	return c, nil
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
		old := m.Value.(*child)
		if s.index(old.ref) < 0 || s.escalated {
			return nil
		}
		ref, err := ctx.Spawn(old.producer, s.optionsFor(old.spec)...)
		if err != nil {
			return fmt.Errorf("supervise: respawning %q: %w", old.spec.Name, err)
		}
		old.ref = ref
		return nil
	}
	return nil
}

func (s *supervisor) optionsFor(spec *ChildSpec) []actor.Option {
	opts := append([]actor.Option(nil), spec.Options...)
	if spec.Shutdown > 0 {
		opts = append(opts, actor.WithShutdownTimeout(spec.Shutdown))
	}
	if spec.Name != "" {
		opts = append(opts, actor.WithName(spec.Name))
	}
	return opts
}

func (s *supervisor) index(ref actor.Ref) int {
	for i, c := range s.children {
		if c.ref == ref {
			return i
		}
	}
	return -1
}

func (s *supervisor) remove(i int) {
	s.children = append(s.children[:i], s.children[i+1:]...)
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
		s.remove(i)
		_ = ctx.StopChild(ref)
		return
	}
	delay, ok := s.admit(ctx, c, reason)
	if !ok {
		return
	}
	for _, r := range s.affected(i) {
		_ = ctx.RestartChild(r.ref, delay)
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
		s.remove(i)
		return
	}
	delay, ok := s.admit(ctx, c, reason)
	if !ok {
		return
	}
	for _, r := range s.affected(i) {
		if r != c {
			_ = ctx.RestartChild(r.ref, delay)
		}
	}
	if delay <= 0 {
		_ = ctx.Send(ctx.Self(), tagRespawn, c)
		return
	}
	ctx.SendAfter(delay, tagRespawn, c)
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
