package actor

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestRequestForwardAndDeferredReply covers replies that do not come from
// the handler of the asked message: Request (reply as a message), Forward
// (a third actor answers the original asker) and ReplyTo (answer later).
func TestRequestForwardAndDeferredReply(t *testing.T) {
	s := newSystem(t, Config{})
	doubler, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		return ctx.Reply(m.Tag, m.Value.(int)*2)
	})
	// Forwarder: hands asks straight on to the doubler.
	fwd, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error { return ctx.Forward(doubler) })
	if r := ask(t, s, fwd, 1, 21); r.Value.(int) != 42 || r.Sender != doubler {
		t.Fatalf("forwarded ask: %v from %v", r.Value, r.Sender)
	}

	// Batcher: keeps asks until it has two, then answers both with their sum.
	var held []Envelope
	batcher, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		held = append(held, *m)
		if len(held) < 2 {
			return nil
		}
		sum := held[0].Value.(int) + held[1].Value.(int)
		for i := range held {
			if err := ctx.ReplyTo(&held[i], 1, sum); err != nil {
				return err
			}
		}
		held = nil
		return nil
	})
	results := make(chan int, 2)
	for _, v := range []int{3, 4} {
		go func(v int) { r := ask(t, s, batcher, 1, v); results <- r.Value.(int) }(v)
	}
	if a, b := <-results, <-results; a != 7 || b != 7 {
		t.Fatalf("deferred replies %d, %d", a, b)
	}

	// Requester: asks the doubler with Request and reports the reply's
	// correlation id and value to a waiting ask.
	var pending Envelope
	var corr uint64
	requester, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		switch {
		case m.Tag == 1:
			pending = *m
			id, err := ctx.Request(doubler, 2, 50)
			corr = id
			return err
		case m.CorrID == corr && m.Sender == doubler:
			return ctx.ReplyTo(&pending, 3, m.Value)
		}
		return nil
	})
	if r := ask(t, s, requester, 1, nil); r.Value.(int) != 100 {
		t.Fatalf("request round trip: %v", r.Value)
	}
	// A second reply to an ask that was already answered is refused.
	dup, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		_ = ctx.Reply(1, "first")
		if err := ctx.Reply(1, "second"); !errors.Is(err, ErrAskAbandoned) {
			t.Errorf("second reply: %v", err)
		}
		return nil
	})
	if r := ask(t, s, dup, 1, nil); r.Value != "first" {
		t.Fatalf("got %v", r.Value)
	}
}

// parent spawns two children in Started and counts its own instances.
type parent struct {
	kids      *atomic.Int32 // children started, across all instances
	instances *atomic.Int32
}

func (p *parent) Started(ctx *Context) error {
	p.instances.Add(1)
	for i := 0; i < 2; i++ {
		if _, err := ctx.SpawnFunc(func(ctx *Context, m *Envelope) error { return nil }, WithName(names2[i])); err != nil {
			return err
		}
		p.kids.Add(1)
	}
	return nil
}

var names2 = []string{"kid-a", "kid-b"}

func (p *parent) Receive(ctx *Context, m *Envelope) error {
	if m.Tag == tagFail {
		return errors.New("parent fails")
	}
	return ctx.Reply(m.Tag, len(ctx.Children()))
}

func TestRestartKillsChildrenFirst(t *testing.T) {
	s := newSystem(t, Config{})
	var kids, instances atomic.Int32
	ref, _ := s.Spawn(func() Actor { return &parent{kids: &kids, instances: &instances} })
	if n := ask(t, s, ref, tagGet, nil).Value.(int); n != 2 {
		t.Fatalf("children = %d", n)
	}
	oldA, _ := s.Lookup("kid-a")
	_ = s.Send(ref, tagFail, nil)
	// The new instance re-registers the same names: only possible once the
	// old children are gone, so a restart that did not wait would fail.
	waitFor(t, "restart", func() bool { return instances.Load() == 2 })
	if n := ask(t, s, ref, tagGet, nil).Value.(int); n != 2 {
		t.Fatalf("children after restart = %d", n)
	}
	newA, err := s.Lookup("kid-a")
	if err != nil || newA == oldA || s.Alive(oldA) {
		t.Fatalf("kid-a: old %v (alive %v) new %v, %v", oldA, s.Alive(oldA), newA, err)
	}
	if st := s.Stats(); st.Failures != 1 || st.Restarts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A child stuck in a handler when its parent stops: after its shutdown
// timeout it is killed, so what it still had queued is dead-lettered
// instead of handled once the handler returns, and the parent terminates
// only after the child.
func TestShutdownTimeoutKillsStuckChild(t *testing.T) {
	s := newSystem(t, Config{})
	release := make(chan struct{})
	var handled2 atomic.Bool
	inside := make(chan struct{})
	var child Ref
	p, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		c, err := ctx.SpawnFunc(func(ctx *Context, m *Envelope) error {
			if m.Tag == 1 {
				close(inside)
				<-release
			} else {
				handled2.Store(true)
			}
			return nil
		}, WithShutdownTimeout(30*time.Millisecond))
		if err != nil {
			return err
		}
		child = c
		_ = ctx.Send(c, 1, nil)
		_ = ctx.Send(c, 2, nil) // queued behind the stuck one
		return ctx.Reply(1, c)
	})
	ask(t, s, p, 1, nil)
	<-inside
	_ = s.Stop(p)
	time.Sleep(80 * time.Millisecond) // past the child's shutdown timeout
	if !s.Alive(p) || !s.Alive(child) {
		t.Fatal("parent or child terminated while the child's handler still runs")
	}
	close(release)
	waitFor(t, "stop", func() bool { return !s.Alive(p) && !s.Alive(child) })
	if handled2.Load() {
		t.Fatal("the killed child handled its queued message")
	}
	if st := s.Stats().DeadLetters; st.Stopped != 1 {
		t.Fatalf("dead letters %+v, want the queued message", st)
	}
}

// resumer resumes failed children instead of restarting them.
type resumer struct{ child Ref }

func (r *resumer) Started(ctx *Context) error {
	c, err := ctx.Spawn(func() Actor { return &counter{} })
	r.child = c
	return err
}
func (r *resumer) Receive(ctx *Context, m *Envelope) error { return ctx.Reply(1, r.child) }
func (r *resumer) ChildFailed(ctx *Context, child Ref, _ error) {
	_ = ctx.ResumeChild(child)
}

func TestResumeKeepsState(t *testing.T) {
	s := newSystem(t, Config{})
	sup, _ := s.Spawn(func() Actor { return &resumer{} })
	c := ask(t, s, sup, 1, nil).Value.(Ref)
	_ = s.Send(c, tagInc, nil)
	_ = s.Send(c, tagFail, nil)
	_ = s.Send(c, tagInc, nil)
	if n := ask(t, s, c, tagGet, nil).Value.(int); n != 2 {
		t.Fatalf("count after resume = %d, want 2 (state kept)", n)
	}
	if s.Stats().Restarts != 0 {
		t.Fatal("resume restarted the actor")
	}
}

// escalator fails itself when a child fails.
type escalator struct{}

func (escalator) Started(ctx *Context) error {
	_, err := ctx.SpawnFunc(func(*Context, *Envelope) error { return errors.New("child boom") }, WithName("esc-child"))
	return err
}
func (escalator) Receive(*Context, *Envelope) error { return nil }
func (escalator) ChildFailed(ctx *Context, child Ref, reason error) {
	_ = ctx.KillChild(child)
	ctx.Escalate(reason)
}

func TestEscalateReachesParentAndRoot(t *testing.T) {
	s := newSystem(t, Config{DefaultSupervisor: stopper{}})
	ref, _ := s.Spawn(func() Actor { return escalator{} })
	waitFor(t, "child", func() bool { _, err := s.Lookup("esc-child"); return err == nil })
	c, _ := s.Lookup("esc-child")
	_ = s.Send(c, 1, nil)
	// The root's supervisor (stopper) stops the escalating actor.
	waitFor(t, "stop", func() bool { return !s.Alive(ref) && !s.Alive(c) })
}

type stopper struct{}

func (stopper) ChildFailed(ctx *Context, child Ref, _ error) { _ = ctx.StopChild(child) }

func TestContextHelpers(t *testing.T) {
	s := newSystem(t, Config{})
	got := make(chan Envelope, 8)
	target, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error { got <- *m; return nil })
	if err := s.Register("target", target); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("target", target); err == nil {
		t.Fatal("a second name for the same actor was accepted")
	}
	if err := s.Register("", target); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty name: %v", err)
	}
	_ = s.Subscribe("t", target)
	tick := make(chan Ref, 1)
	probe, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		if m.Tag == 12 {
			tick <- ctx.Sender()
			return nil
		}
		if m.Tag != 1 {
			return nil
		}
		if ctx.Parent() != s.Root() || ctx.System() != s || ctx.Now().IsZero() || ctx.Message() != m || ctx.Sender() != 0 {
			t.Error("context accessors")
		}
		_ = ctx.TrySend(target, 10, []byte("try"))
		_, _ = ctx.Publish("t", 11, "pub")
		ctx.SendAfter(time.Millisecond, 12, nil)
		if err := ctx.Watch(target); err != nil {
			return err
		}
		_ = ctx.Stop(target)
		return nil
	})
	_ = s.Send(probe, 1, nil)
	for _, want := range []uint32{10, 11} {
		if m := <-got; m.Tag != want || m.Sender != probe {
			t.Fatalf("got tag %d from %v, want %d from %v", m.Tag, m.Sender, want, probe)
		}
	}
	if from := <-tick; from != probe {
		t.Fatalf("timer message from %v, want the actor itself", from)
	}
	waitFor(t, "unregister on stop", func() bool { _, err := s.Lookup("target"); return err != nil })
	if err := s.Send(probe, 2, nil); err != nil {
		t.Fatal(err)
	}
	s.Unregister("nobody")
	var ref Ref
	if !ref.IsZero() || ref.String() != "<nobody>" || (&Envelope{Tag: 1}).String() == "" {
		t.Fatal("zero ref formatting")
	}
}
