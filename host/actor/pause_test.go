package actor

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestPauseUnpause: a paused actor stops handling user messages (its
// mailbox fills and pushes back on senders), Unpause resumes it where it
// left off, and a stop lifts the pause so the actor drains.
func TestPauseUnpause(t *testing.T) {
	s := newSystem(t, Config{})
	var handled atomic.Int64
	ref, err := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		handled.Add(1)
		if m.Tag == 1 {
			ctx.Pause()
		}
		return nil
	}, WithMailbox(8))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ref, 1, nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return handled.Load() == 1 })
	for i := range 8 {
		if err := s.Send(ref, 2, i); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := s.TrySend(ref, 2, 99); !errors.Is(err, ErrMailboxFull) {
		t.Fatalf("paused actor's full mailbox: %v", err)
	}
	time.Sleep(10 * time.Millisecond)
	if n := handled.Load(); n != 1 {
		t.Fatalf("a paused actor handled %d messages", n)
	}
	if err := s.Unpause(ref); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return handled.Load() == 9 })

	// Pause again, then stop: the queued messages are still handled.
	if err := s.Send(ref, 1, nil); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return handled.Load() == 10 })
	for range 3 {
		_ = s.Send(ref, 2, nil)
	}
	if err := s.Stop(ref); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return !s.Alive(ref) })
	if n := handled.Load(); n != 13 {
		t.Fatalf("handled %d after a stop, want 13 (the stop drains)", n)
	}
	if err := s.Unpause(ref); !errors.Is(err, ErrStaleRef) {
		t.Fatalf("unpause of a stopped actor: %v", err)
	}
}

// TestReplyAndAbortFromOutside: a message kept by value is answered (or
// its ask ended with a reason) after the handler returned.
func TestReplyAndAbortFromOutside(t *testing.T) {
	s := newSystem(t, Config{})
	kept := make(chan Envelope, 2)
	ref, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		kept <- *m
		return nil
	})
	go func() {
		m := <-kept
		_ = s.Reply(&m, ref, 7, "later")
		m2 := <-kept
		_ = s.Abort(&m2, errors.New("foreign handler failed"))
		if err := s.Abort(&m2, nil); !errors.Is(err, ErrAskAbandoned) {
			t.Errorf("second abort: %v", err)
		}
	}()
	r := ask(t, s, ref, 1, nil)
	if r.Tag != 7 || r.Value != "later" {
		t.Fatalf("reply from outside: %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Ask(ctx, ref, 2, nil); err == nil || err.Error() != "foreign handler failed" {
		t.Fatalf("aborted ask: %v", err)
	}
	if err := s.Abort(&Envelope{}, nil); !errors.Is(err, ErrNoReplyTarget) {
		t.Fatalf("abort without an ask: %v", err)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFailFromOutside: a failure reported after the fact dead-letters the
// message it names and hands the actor to its supervisor.
func TestFailFromOutside(t *testing.T) {
	s := newSystem(t, Config{})
	var starts atomic.Int64
	ref, _ := s.Spawn(func() Actor {
		starts.Add(1)
		return Func(func(ctx *Context, m *Envelope) error { return ctx.Reply(m.Tag, nil) })
	}, WithSupervisor(RestartAlways{}))
	ask(t, s, ref, 1, nil)
	boom := errors.New("the foreign handler raised")
	if err := s.Fail(ref, &Envelope{Target: ref, Tag: 42}, boom); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return starts.Load() == 2 })
	ask(t, s, ref, 1, nil) // restarted and answering
	found := false
	for _, d := range s.DeadLetters() {
		found = found || (d.Tag == 42 && errors.Is(d.Reason, boom))
	}
	if !found {
		t.Fatal("the failed message was not dead-lettered with the reason")
	}
	if s.Stats().Failures != 1 {
		t.Fatalf("failures %d, want 1", s.Stats().Failures)
	}
	if err := s.Fail(Ref(12345), nil, boom); !errors.Is(err, ErrStaleRef) {
		t.Fatalf("fail of an unknown ref: %v", err)
	}
}

type owned struct{ released atomic.Int32 }

func (o *owned) Release() error { o.released.Add(1); return nil }

// TestOwnedValues: a Releaser value moves with its message like a pooled
// buffer: released after a handler that did not take it, not released
// when taken or sent on, released when dead-lettered.
func TestOwnedValues(t *testing.T) {
	s := newSystem(t, Config{})
	var kept atomic.Pointer[owned]
	sink, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error { return nil })
	ref, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		switch m.Tag {
		case 2:
			kept.Store(m.TakeValue().(*owned))
		case 3:
			return ctx.Send(sink, 1, m.Value)
		}
		return ctx.Reply(m.Tag, nil)
	})
	a, b, c, d := &owned{}, &owned{}, &owned{}, &owned{}
	ask(t, s, ref, 1, a)
	ask(t, s, ref, 2, b)
	if err := s.Send(ref, 3, c); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return c.released.Load() == 1 }) // released once, by the sink's turn
	if err := s.Send(Ref(999999), 1, d); err == nil {
		t.Fatal("send to a stale ref succeeded")
	}
	time.Sleep(5 * time.Millisecond)
	if a.released.Load() != 1 || b.released.Load() != 0 || c.released.Load() != 1 || d.released.Load() != 1 {
		t.Fatalf("released: handled %d, taken %d, forwarded %d, dead-lettered %d; want 1 0 1 1",
			a.released.Load(), b.released.Load(), c.released.Load(), d.released.Load())
	}
	if kept.Load() != b {
		t.Fatal("the taken value was lost")
	}
}
