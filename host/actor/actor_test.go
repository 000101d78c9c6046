package actor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stark-rt/stark/host/clock"
	"github.com/stark-rt/stark/host/mem"
	"github.com/stark-rt/stark/host/sched"
)

func newSystem(t testing.TB, cfg Config) *System {
	t.Helper()
	sc := sched.New(sched.Config{Workers: 2})
	sc.Start()
	cfg.Scheduler = sc
	s, err := NewSystem(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		sc.Stop()
	})
	return s
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

const (
	tagInc uint32 = iota + 1
	tagGet
	tagFail
	tagPanic
	tagEcho
	tagSlow
)

// counter is a stateful actor: its state resets on restart.
type counter struct {
	n       int
	started *atomic.Int32
}

func (c *counter) Started(*Context) error {
	if c.started != nil {
		c.started.Add(1)
	}
	return nil
}

func (c *counter) Receive(ctx *Context, m *Envelope) error {
	switch m.Tag {
	case tagInc:
		c.n++
	case tagGet:
		return ctx.Reply(tagGet, c.n)
	case tagFail:
		return errors.New("asked to fail")
	case tagPanic:
		panic("asked to panic")
	case tagEcho:
		return ctx.Reply(tagEcho, m.Bytes())
	case tagSlow:
		time.Sleep(m.Value.(time.Duration))
	}
	return nil
}

func ask(t testing.TB, s *System, to Ref, tag uint32, payload any) Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := s.Ask(ctx, to, tag, payload)
	if err != nil {
		t.Fatalf("ask %v tag %d: %v", to, tag, err)
	}
	return r
}

func TestSendAskInOrder(t *testing.T) {
	s := newSystem(t, Config{})
	ref, err := s.Spawn(func() Actor { return &counter{} })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if err := s.Send(ref, tagInc, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := ask(t, s, ref, tagGet, nil).Value.(int); got != 1000 {
		t.Fatalf("count = %d, want 1000", got)
	}
	r := ask(t, s, ref, tagEcho, []byte("hello"))
	if string(r.Data) != "hello" || r.Sender != ref {
		t.Fatalf("echo = %q from %v", r.Data, r.Sender)
	}
	// The reply can arrive before the handler has returned and been counted.
	waitFor(t, "last message counted", func() bool { return s.Counters().Processed == 1002 })
	if c := s.Counters(); !c.Balanced() || c.Queued != 0 {
		t.Fatalf("counters %+v", c)
	}
}

func TestStaleRefNeverReachesNewActor(t *testing.T) {
	s := newSystem(t, Config{})
	var got atomic.Int32
	old, _ := s.Spawn(func() Actor { return &counter{} })
	watcher := make(chan Terminated, 1)
	w, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		if m.Tag == TagTerminated {
			watcher <- m.Value.(Terminated)
		}
		return nil
	})
	if err := s.Watch(w, old); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(old); err != nil {
		t.Fatal(err)
	}
	select {
	case term := <-watcher:
		if term.Actor != old || term.Reason != nil {
			t.Fatalf("terminated %+v", term)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no Terminated")
	}
	// The slot is reused by the next spawn, with a new generation.
	fresh, _ := s.SpawnFunc(func(*Context, *Envelope) error { got.Add(1); return nil })
	if fresh.Slot() != old.Slot() || fresh.Gen() == old.Gen() {
		t.Logf("slot not reused (old %v fresh %v); still checking staleness", old, fresh)
	}
	if err := s.Send(old, tagInc, nil); !errors.Is(err, ErrStaleRef) {
		t.Fatalf("send to stale ref: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := s.Ask(ctx, old, tagGet, nil); !errors.Is(err, ErrStaleRef) {
		t.Fatalf("ask to stale ref: %v", err)
	}
	time.Sleep(10 * time.Millisecond)
	if got.Load() != 0 {
		t.Fatal("a message to the stale ref reached the new actor")
	}
	if s.Stats().DeadLetters.StaleRef < 2 {
		t.Fatalf("dead letters %+v", s.Stats().DeadLetters)
	}
}

func TestAskEndsWhenTargetStopsOrFails(t *testing.T) {
	s := newSystem(t, Config{})
	ref, _ := s.Spawn(func() Actor { return &counter{} })
	// The handler fails on the asked message: the ask ends with the failure.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.Ask(ctx, ref, tagFail, nil)
	var f *Failure
	if !errors.As(err, &f) || f.Actor != ref {
		t.Fatalf("ask on failing handler: %v", err)
	}
	// A message queued behind a kill: the ask ends with ErrKilled, promptly.
	_ = s.Send(ref, tagSlow, 50*time.Millisecond)
	done := make(chan error, 1)
	go func() {
		_, err := s.Ask(ctx, ref, tagGet, nil)
		done <- err
	}()
	time.Sleep(5 * time.Millisecond)
	_ = s.Kill(ref)
	select {
	case err := <-done:
		if !errors.Is(err, ErrKilled) && !errors.Is(err, ErrStaleRef) && !errors.Is(err, ErrStopped) {
			t.Fatalf("ask behind a kill: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("ask hung after the target was killed")
	}
	// Ask after stop: immediate error.
	start := time.Now()
	if _, err := s.Ask(ctx, ref, tagGet, nil); err == nil {
		t.Fatal("ask on a stopped actor succeeded")
	}
	if time.Since(start) > time.Second {
		t.Fatal("ask on a stopped actor did not fail fast")
	}
}

func TestAskTimeout(t *testing.T) {
	s := newSystem(t, Config{AskTimeout: 20 * time.Millisecond})
	silent, _ := s.SpawnFunc(func(*Context, *Envelope) error { return nil })
	if _, err := s.Ask(context.Background(), silent, 1, nil); !errors.Is(err, ErrTimeout) {
		t.Fatalf("ask with no reply: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Ask(ctx, silent, 1, nil); !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ask with ctx deadline: %v", err)
	}
}

func TestRestartKeepsMailboxAndDeadLettersFailingMessage(t *testing.T) {
	s := newSystem(t, Config{})
	var started atomic.Int32
	ref, _ := s.Spawn(func() Actor { return &counter{started: &started} })
	_ = s.Send(ref, tagInc, nil)
	_ = s.Send(ref, tagPanic, nil)
	for i := 0; i < 5; i++ {
		_ = s.Send(ref, tagInc, nil)
	}
	// After the restart the counter lost its state (fresh instance) but
	// still handled the 5 queued increments.
	waitFor(t, "restart", func() bool { return s.Stats().Restarts == 1 })
	if got := ask(t, s, ref, tagGet, nil).Value.(int); got != 5 {
		t.Fatalf("count after restart = %d, want 5 (mailbox kept, state fresh)", got)
	}
	if started.Load() != 2 {
		t.Fatalf("Started ran %d times, want 2", started.Load())
	}
	dls := s.DeadLetters()
	var f *Failure
	if len(dls) != 1 || dls[0].Tag != tagPanic || !errors.As(dls[0].Reason, &f) {
		t.Fatalf("dead letters = %+v", dls)
	}
	var pe *PanicError
	if !errors.As(dls[0].Reason, &pe) || f.Stack == nil {
		t.Fatalf("panic not recorded as PanicError with stack: %v", dls[0].Reason)
	}
	waitFor(t, "ask counted", func() bool { c, _ := s.ActorCounters(ref); return c.Queued == 0 })
	c, _ := s.ActorCounters(ref)
	if c.Accepted != 8 || c.Processed != 7 || c.DeadLettered != 1 || !c.Balanced() {
		t.Fatalf("actor counters %+v", c)
	}
}

func TestOverflowPolicies(t *testing.T) {
	s := newSystem(t, Config{AskTimeout: time.Second})
	gate := make(chan struct{})
	var handled atomic.Int32
	block := func(ctx *Context, m *Envelope) error {
		if m.Tag == tagSlow {
			<-gate
		}
		handled.Add(1)
		return nil
	}
	for _, tc := range []struct {
		policy Overflow
		want   error
	}{{OverflowFail, ErrMailboxFull}, {OverflowDrop, nil}, {OverflowWait, ErrMailboxFull}} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			gate = make(chan struct{})
			handled.Store(0)
			ref, err := s.SpawnFunc(block, WithMailbox(2), WithOverflow(tc.policy, 20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			_ = s.Send(ref, tagSlow, nil) // in hand, blocks
			waitFor(t, "handler to block", func() bool { c, _ := s.ActorCounters(ref); return c.Accepted == 1 })
			time.Sleep(5 * time.Millisecond)
			_ = s.Send(ref, 1, nil)
			before := s.Stats().DeadLetters.MailboxFull
			err = s.Send(ref, 1, nil)
			if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
				t.Fatalf("send into full mailbox: %v, want %v", err, tc.want)
			}
			if s.Stats().DeadLetters.MailboxFull != before+1 {
				t.Fatal("rejected message not dead-lettered")
			}
			if err := s.TrySend(ref, 1, nil); !errors.Is(err, ErrMailboxFull) {
				t.Fatalf("TrySend into full mailbox: %v", err)
			}
			close(gate)
			waitFor(t, "drain", func() bool { return handled.Load() == 2 })
		})
	}
	t.Run("wait-succeeds", func(t *testing.T) {
		gate := make(chan struct{})
		ref, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
			if m.Tag == tagSlow {
				<-gate
			}
			return nil
		}, WithMailbox(1), WithOverflow(OverflowWait, 5*time.Second))
		_ = s.Send(ref, tagSlow, nil)
		go func() { time.Sleep(20 * time.Millisecond); close(gate) }()
		if err := s.Send(ref, 1, nil); err != nil {
			t.Fatalf("waiting send: %v", err)
		}
	})
}

func TestGracefulStopDrainsChildrenFirst(t *testing.T) {
	s := newSystem(t, Config{})
	var mu sync.Mutex
	var order []string
	note := func(x string) { mu.Lock(); order = append(order, x); mu.Unlock() }
	var handled atomic.Int32
	mk := func(name string, kids int) Producer {
		return func() Actor {
			return &lifecycle{name: name, note: note, kids: kids, handled: &handled}
		}
	}
	parent, _ := s.Spawn(mk("parent", 2))
	waitFor(t, "children", func() bool { c, _ := s.Children(parent); return len(c) == 2 })
	for i := 0; i < 100; i++ {
		_ = s.Send(parent, tagInc, nil)
	}
	_ = s.Stop(parent)
	waitFor(t, "stop", func() bool { return !s.Alive(parent) })
	if handled.Load() != 100 {
		t.Fatalf("graceful stop handled %d of 100 queued messages", handled.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 3 || order[2] != "parent" {
		t.Fatalf("stop order %v: parent must stop last", order)
	}
}

type lifecycle struct {
	name    string
	note    func(string)
	kids    int
	handled *atomic.Int32
}

func (l *lifecycle) Started(ctx *Context) error {
	for i := 0; i < l.kids; i++ {
		if _, err := ctx.Spawn(func() Actor { return &lifecycle{name: fmt.Sprintf("child%d", i), note: l.note} }); err != nil {
			return err
		}
	}
	return nil
}
func (l *lifecycle) Receive(*Context, *Envelope) error {
	if l.handled != nil {
		l.handled.Add(1)
	}
	return nil
}
func (l *lifecycle) Stopped(*Context) { l.note(l.name) }

func TestKillDeadLettersQueue(t *testing.T) {
	s := newSystem(t, Config{})
	gate, inside := make(chan struct{}), make(chan struct{})
	ref, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		if m.Tag == tagSlow {
			close(inside)
			<-gate
		}
		return nil
	})
	_ = s.Send(ref, tagSlow, nil)
	<-inside
	for i := 0; i < 10; i++ {
		_ = s.Send(ref, 1, nil)
	}
	_ = s.Kill(ref)
	close(gate)
	waitFor(t, "kill", func() bool { return !s.Alive(ref) })
	st := s.Stats().DeadLetters
	if st.Stopped != 10 {
		t.Fatalf("killed actor dead-lettered %d, want 10 (%+v)", st.Stopped, st)
	}
	c := s.Counters()
	if !c.Balanced() || c.DeadLettered != 10 || c.Processed != 1 {
		t.Fatalf("counters %+v", c)
	}
}

func TestNamesTopicsWatch(t *testing.T) {
	s := newSystem(t, Config{})
	got := make(chan string, 10)
	sub := func(ctx *Context, m *Envelope) error {
		got <- fmt.Sprintf("%v:%s", ctx.Self(), m.Data)
		return nil
	}
	a, err := s.SpawnFunc(sub, WithName("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SpawnFunc(sub, WithName("a")); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("duplicate name: %v", err)
	}
	if r, err := s.Lookup("a"); err != nil || r != a {
		t.Fatalf("Lookup = %v, %v", r, err)
	}
	b, _ := s.SpawnFunc(sub)
	_ = s.Subscribe("news", a)
	_ = s.Subscribe("news", b)
	_ = s.Subscribe("news", b)
	if n, err := s.Publish("news", 1, []byte("x")); n != 2 || err != nil {
		t.Fatalf("Publish = %d, %v", n, err)
	}
	<-got
	<-got
	_ = s.Stop(a)
	waitFor(t, "stop", func() bool { return !s.Alive(a) })
	if _, err := s.Lookup("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("name survived its actor: %v", err)
	}
	if n, _ := s.Publish("news", 1, []byte("y")); n != 1 {
		t.Fatalf("Publish after a subscriber stopped reached %d", n)
	}
	<-got
	// The name is free again.
	if _, err := s.SpawnFunc(sub, WithName("a")); err != nil {
		t.Fatalf("reusing a released name: %v", err)
	}
}

func TestTimersOnVirtualClock(t *testing.T) {
	vc := clock.NewVirtual(time.Unix(0, 0))
	s := newSystem(t, Config{Clock: vc})
	var n atomic.Int32
	ref, _ := s.SpawnFunc(func(*Context, *Envelope) error { n.Add(1); return nil })
	s.SendAfter(time.Second, ref, 1, nil)
	tm, err := s.SendEvery(100*time.Millisecond, ref, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	vc.Advance(999 * time.Millisecond) // 9 periodic ticks, the one-shot not yet
	waitFor(t, "9 ticks", func() bool { return n.Load() == 9 })
	vc.Advance(time.Millisecond) // one-shot and 10th tick
	waitFor(t, "11 deliveries", func() bool { return n.Load() == 11 })
	tm.Cancel()
	vc.Advance(time.Second)
	time.Sleep(10 * time.Millisecond)
	if n.Load() != 11 {
		t.Fatalf("cancelled timer still delivered: %d", n.Load())
	}
}

func TestPooledBufferOwnership(t *testing.T) {
	s := newSystem(t, Config{})
	pool := mem.NewPool("test", mem.DefaultConfig())
	kept := make(chan *mem.Buffer, 1)
	ref, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		if m.Tag == 2 {
			kept <- m.TakeBuffer()
		}
		return nil
	})
	b, _ := pool.Get(1000)
	if err := s.Send(ref, 1, b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "release", func() bool { return pool.Stats().LiveBytes == 0 })
	b2, _ := pool.Get(10)
	copy(b2.Bytes(), "zero-copy!")
	addr := &b2.Bytes()[0]
	_ = s.Send(ref, 2, b2)
	got := <-kept
	if &got.Bytes()[0] != addr || string(got.Bytes()) != "zero-copy!" {
		t.Fatal("buffer was copied")
	}
	_ = got.Release()
	// A buffer sent to a dead ref is released, not leaked.
	b3, _ := pool.Get(10)
	_ = s.Send(0, 1, b3)
	if b3.Bytes() != nil {
		t.Fatal("undeliverable buffer not released")
	}
	if st := pool.Stats(); st.LiveBytes != 0 {
		t.Fatalf("pool leaked: %+v", st)
	}
}

func TestShutdownWithMessagesInFlight(t *testing.T) {
	sc := sched.New(sched.Config{Workers: 2})
	sc.Start()
	defer sc.Stop()
	s, _ := NewSystem(Config{Scheduler: sc})
	var refs []Ref
	for i := 0; i < 50; i++ {
		r, _ := s.Spawn(func() Actor { return &counter{} })
		refs = append(refs, r)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = s.Send(refs[(i+g)%len(refs)], tagInc, nil)
			}
		}(g)
	}
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if err := s.Send(refs[0], tagInc, nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("send after shutdown: %v", err)
	}
	c := s.Counters()
	if !c.Balanced() || c.Queued != 0 {
		t.Fatalf("counters after shutdown %+v", c)
	}
	if s.Stats().Actors != 0 {
		t.Fatalf("%d actors alive after shutdown", s.Stats().Actors)
	}
}

func TestDeterministicReplay(t *testing.T) {
	run := func(seed uint64) []string {
		sc := sched.New(sched.Config{Deterministic: true, Seed: seed})
		s, _ := NewSystem(Config{Scheduler: sc, Deterministic: true, Clock: clock.NewVirtual(time.Unix(0, 0))})
		var trace []string
		var refs []Ref
		for i := 0; i < 8; i++ {
			i := i
			r, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
				trace = append(trace, fmt.Sprintf("%d<-%d", i, m.Tag))
				if m.Tag > 0 {
					return ctx.Send(refs[(i+int(m.Tag))%len(refs)], m.Tag-1, nil)
				}
				return nil
			})
			refs = append(refs, r)
		}
		for i, r := range refs {
			_ = s.Send(r, uint32(3+i%3), nil)
		}
		sc.RunUntilIdle()
		_ = s.Shutdown(context.Background())
		return trace
	}
	a, b, c := run(7), run(7), run(8)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatal("same seed gave different traces")
	}
	if fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatal("different seeds gave the same trace")
	}
}

// TestMailboxSegmentsKeepOrder queues far more than one segment while the
// actor is busy, from several senders, and checks per-sender FIFO order
// and exact counts, then kills a second backlog and counts its dead letters.
func TestMailboxSegmentsKeepOrder(t *testing.T) {
	s := newSystem(t, Config{MailboxCapacity: 1 << 16})
	const senders, per = 4, 5000
	gate := make(chan struct{})
	var mu sync.Mutex
	last := make([]int, senders)
	for i := range last {
		last[i] = -1
	}
	var bad, handled atomic.Int32
	ref, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		if m.Tag == tagSlow {
			<-gate
			return nil
		}
		v := m.Value.([2]int)
		mu.Lock()
		if v[1] != last[v[0]]+1 {
			bad.Add(1)
		}
		last[v[0]] = v[1]
		mu.Unlock()
		handled.Add(1)
		return nil
	})
	_ = s.Send(ref, tagSlow, nil)
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := s.Send(ref, 1, [2]int{g, i}); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(gate)
	waitFor(t, "backlog", func() bool { return handled.Load() == senders*per })
	if bad.Load() != 0 {
		t.Fatalf("%d messages out of order", bad.Load())
	}

	gate2, inside := make(chan struct{}), make(chan struct{})
	ref2, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		if m.Tag == tagSlow {
			close(inside)
			<-gate2
		}
		return nil
	})
	_ = s.Send(ref2, tagSlow, nil)
	<-inside
	for i := 0; i < 3*segmentSize+7; i++ {
		_ = s.Send(ref2, 1, nil)
	}
	_ = s.Kill(ref2)
	close(gate2)
	waitFor(t, "kill", func() bool { return !s.Alive(ref2) })
	if got := s.Stats().DeadLetters.Stopped; got != 3*segmentSize+7 {
		t.Fatalf("killed backlog: %d dead letters, want %d", got, 3*segmentSize+7)
	}
	waitFor(t, "all counted", func() bool { return s.Counters().Queued == 0 })
	if c := s.Counters(); !c.Balanced() {
		t.Fatalf("counters %+v", c)
	}
}

// TestForgedRefs: refs that were never handed out, slot numbers far past
// the table included, are stale refs, never a panic.
func TestForgedRefs(t *testing.T) {
	s := newSystem(t, Config{})
	for _, r := range []Ref{1, 0xdeadbeef, 0xffffffff, 0xffffffff_ffffffff, makeRef(1<<31, 7)} {
		if err := s.Send(r, 1, nil); !errors.Is(err, ErrStaleRef) {
			t.Fatalf("send to forged %v: %v", r, err)
		}
		if s.Alive(r) {
			t.Fatalf("forged %v is alive", r)
		}
		if err := s.Stop(r); !errors.Is(err, ErrStaleRef) {
			t.Fatalf("stop of forged %v: %v", r, err)
		}
	}
}
