package supervise_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stark-rt/stark/host"
	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/clock"
	"github.com/stark-rt/stark/host/supervise"
)

const (
	tagFail uint32 = iota + 1
	tagStop
	tagPing
	tagFailOnce
)

// journal records lifecycle events of probe actors, in the order the
// (deterministic) runtime produced them.
type journal struct {
	mu     sync.Mutex
	events []string
	failed map[string]bool // names that failed once, for tagFailOnce
}

// failOnce reports whether name has not failed on tagFailOnce before.
func (j *journal) failOnce(name string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failed == nil {
		j.failed = map[string]bool{}
	}
	first := !j.failed[name]
	j.failed[name] = true
	return first
}

func (j *journal) add(e string) { j.mu.Lock(); j.events = append(j.events, e); j.mu.Unlock() }
func (j *journal) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.events
	j.events = nil
	return out
}

type probe struct {
	name string
	j    *journal
}

func (p *probe) Started(*actor.Context) error { p.j.add("start " + p.name); return nil }
func (p *probe) Stopped(*actor.Context)       { p.j.add("stop " + p.name) }
func (p *probe) Receive(ctx *actor.Context, m *actor.Envelope) error {
	switch m.Tag {
	case tagFail:
		return fmt.Errorf("%s failed", p.name)
	case tagFailOnce:
		if p.j.failOnce(p.name) {
			return fmt.Errorf("%s failed", p.name)
		}
	case tagStop:
		return ctx.Stop(ctx.Self())
	case tagPing:
		if m.IsAsk() {
			return ctx.Reply(tagPing, p.name)
		}
	}
	return nil
}

func child(name string, j *journal, r supervise.Restart) supervise.ChildSpec {
	return supervise.ChildSpec{Name: name, Restart: r, Start: func() actor.Actor { return &probe{name: name, j: j} }}
}

// rootRecorder stands in for the root's supervisor and records escalations.
type rootRecorder struct {
	mu      sync.Mutex
	reasons []error
}

func (r *rootRecorder) ChildFailed(ctx *actor.Context, child actor.Ref, reason error) {
	r.mu.Lock()
	r.reasons = append(r.reasons, reason)
	r.mu.Unlock()
	_ = ctx.StopChild(child)
}

type world struct {
	t    *testing.T
	rt   *host.Runtime
	vc   *clock.Virtual
	j    *journal
	root *rootRecorder
}

func newWorld(t *testing.T, seed uint64) *world {
	vc := clock.NewVirtual(time.Unix(0, 0))
	rec := &rootRecorder{}
	rt, err := host.New(host.NewConfig().WithDeterministic(seed).WithClock(vc).WithSupervisor(rec))
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	return &world{t: t, rt: rt, vc: vc, j: &journal{}, root: rec}
}

func (w *world) send(name string, tag uint32) {
	w.t.Helper()
	ref, err := w.rt.Lookup(name)
	if err != nil {
		w.t.Fatalf("lookup %s: %v", name, err)
	}
	if err := w.rt.Send(ref, tag, nil); err != nil {
		w.t.Fatalf("send to %s: %v", name, err)
	}
	w.rt.RunUntilIdle()
}

func (w *world) advance(d time.Duration) {
	w.vc.Advance(d)
	w.rt.RunUntilIdle()
}

func starts(events []string) []string {
	var out []string
	for _, e := range events {
		if n, ok := strings.CutPrefix(e, "start "); ok {
			out = append(out, n)
		}
	}
	return out
}

func TestStrategies(t *testing.T) {
	for _, tc := range []struct {
		strategy supervise.Strategy
		fail     string
		restart  []string
	}{
		{supervise.OneForOne, "b", []string{"b"}},
		{supervise.OneForAll, "b", []string{"a", "b", "c"}},
		{supervise.RestForOne, "b", []string{"b", "c"}},
		{supervise.RestForOne, "a", []string{"a", "b", "c"}},
		{supervise.RestForOne, "c", []string{"c"}},
	} {
		t.Run(fmt.Sprintf("%v/%s", tc.strategy, tc.fail), func(t *testing.T) {
			w := newWorld(t, 1)
			sup, err := supervise.Start(w.rt.System, supervise.Spec{
				Strategy: tc.strategy,
				Children: []supervise.ChildSpec{
					child("a", w.j, supervise.Permanent), child("b", w.j, supervise.Permanent), child("c", w.j, supervise.Permanent),
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			w.rt.RunUntilIdle()
			// Children start one at a time, in spec order.
			if got := w.j.take(); fmt.Sprint(got) != "[start a start b start c]" {
				t.Fatalf("children started as %v, want a, b, c in order", got)
			}
			kids, _ := supervise.WhichChildren(context.Background(), w.rt.System, sup)
			if len(kids) != 3 || kids[0].Name != "a" || kids[1].Name != "b" || kids[2].Name != "c" {
				t.Fatalf("start order %+v, want a, b, c", kids)
			}
			refs := map[string]actor.Ref{}
			for _, n := range []string{"a", "b", "c"} {
				refs[n], _ = w.rt.Lookup(n)
			}
			w.send(tc.fail, tagFail)
			got := w.j.take()
			if fmt.Sprint(starts(got)) != fmt.Sprint(tc.restart) {
				t.Fatalf("restarted %v, want %v in this order", got, tc.restart)
			}
			// Each old instance stops before its new one starts.
			for _, n := range tc.restart {
				if slices.Index(got, "stop "+n) > slices.Index(got, "start "+n) {
					t.Fatalf("%s started before its old instance stopped: %v", n, got)
				}
			}
			for n, r := range refs { // in-place restarts keep refs
				if now, _ := w.rt.Lookup(n); now != r {
					t.Fatalf("%s changed ref from %v to %v", n, r, now)
				}
			}
		})
	}
}

func TestSimpleOneForOne(t *testing.T) {
	w := newWorld(t, 2)
	sup, err := supervise.Start(w.rt.System, supervise.Spec{
		Strategy: supervise.SimpleOneForOne,
		Children: []supervise.ChildSpec{{StartWith: func(arg any) actor.Actor { return &probe{name: arg.(string), j: w.j} }}},
	})
	if err != nil {
		t.Fatal(err)
	}
	x, err := supervise.StartChild(context.Background(), w.rt.System, sup, "x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := supervise.StartChild(context.Background(), w.rt.System, sup, "y"); err != nil {
		t.Fatal(err)
	}
	w.rt.RunUntilIdle()
	w.j.take()
	_ = w.rt.Send(x, tagFail, nil)
	w.rt.RunUntilIdle()
	if got := starts(w.j.take()); fmt.Sprint(got) != "[x]" {
		t.Fatalf("restarted %v, want [x] (made again from its own argument)", got)
	}
	kids, _ := supervise.WhichChildren(context.Background(), w.rt.System, sup)
	if len(kids) != 2 {
		t.Fatalf("children %v", kids)
	}
}

func TestIntensityEscalates(t *testing.T) {
	w := newWorld(t, 3)
	sup, _ := supervise.Start(w.rt.System, supervise.Spec{
		Strategy: supervise.OneForOne, MaxRestarts: 2, Period: time.Second,
		Children: []supervise.ChildSpec{child("a", w.j, supervise.Permanent), child("b", w.j, supervise.Permanent)},
	})
	w.rt.RunUntilIdle()
	w.send("a", tagFail)
	w.advance(600 * time.Millisecond)
	w.send("a", tagFail) // 2 restarts within 1s: still fine
	if len(w.root.reasons) != 0 {
		t.Fatalf("escalated too early: %v", w.root.reasons)
	}
	w.advance(600 * time.Millisecond) // the first restart leaves the window
	w.send("a", tagFail)
	if len(w.root.reasons) != 0 {
		t.Fatalf("sliding window ignored: %v", w.root.reasons)
	}
	w.send("b", tagFail) // third within the window
	if len(w.root.reasons) != 1 || !errors.Is(w.root.reasons[0], supervise.ErrIntensity) {
		t.Fatalf("root saw %v, want one ErrIntensity escalation", w.root.reasons)
	}
	w.rt.RunUntilIdle()
	if w.rt.Alive(sup) {
		t.Fatal("escalated supervisor still alive after its parent stopped it")
	}
	for _, n := range []string{"a", "b"} {
		if _, err := w.rt.Lookup(n); err == nil {
			t.Fatalf("child %s outlived its supervisor", n)
		}
	}
}

func TestBackoffOnVirtualClock(t *testing.T) {
	w := newWorld(t, 4)
	_, _ = supervise.Start(w.rt.System, supervise.Spec{
		Strategy: supervise.OneForOne, MaxRestarts: 10, Period: 10 * time.Second,
		Backoff:  supervise.Linear(100*time.Millisecond, time.Second),
		Children: []supervise.ChildSpec{child("a", w.j, supervise.Permanent)},
	})
	w.rt.RunUntilIdle()
	w.j.take()
	for attempt, wait := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond} {
		w.send("a", tagFail)
		w.advance(wait - time.Millisecond)
		if got := starts(w.j.take()); len(got) != 0 {
			t.Fatalf("attempt %d restarted before %v", attempt+1, wait)
		}
		// Messages sent during the backoff wait in the mailbox.
		ref, _ := w.rt.Lookup("a")
		_ = w.rt.Send(ref, tagPing, nil)
		w.advance(time.Millisecond)
		if got := starts(w.j.take()); fmt.Sprint(got) != "[a]" {
			t.Fatalf("attempt %d: restarted %v at %v, want [a]", attempt+1, got, wait)
		}
		c, _ := w.rt.ActorCounters(ref)
		if c.Queued != 0 || !c.Balanced() {
			t.Fatalf("message queued during backoff not handled: %+v", c)
		}
	}
}

func TestRestartTypesOnNormalExit(t *testing.T) {
	w := newWorld(t, 5)
	sup, _ := supervise.Start(w.rt.System, supervise.Spec{
		Strategy: supervise.OneForOne,
		Children: []supervise.ChildSpec{
			child("perm", w.j, supervise.Permanent),
			child("trans", w.j, supervise.Transient),
			child("temp", w.j, supervise.Temporary),
		},
	})
	w.rt.RunUntilIdle()
	old, _ := w.rt.Lookup("perm")
	w.send("perm", tagStop)
	w.send("trans", tagStop)
	w.send("temp", tagFail)
	w.rt.RunUntilIdle()
	now, err := w.rt.Lookup("perm")
	if err != nil || now == old {
		t.Fatalf("permanent child not replaced after a normal stop (old %v, now %v, %v)", old, now, err)
	}
	if _, err := w.rt.Lookup("trans"); err == nil {
		t.Fatal("transient child restarted after a normal stop")
	}
	if _, err := w.rt.Lookup("temp"); err == nil {
		t.Fatal("temporary child restarted after a failure")
	}
	kids, _ := supervise.WhichChildren(context.Background(), w.rt.System, sup)
	if len(kids) != 1 || kids[0].Name != "perm" {
		t.Fatalf("children %+v, want only perm", kids)
	}
}

func TestShutdownStopsChildrenInReverseOrder(t *testing.T) {
	w := newWorld(t, 6)
	_, _ = supervise.Start(w.rt.System, supervise.Spec{
		Strategy: supervise.OneForOne,
		Children: []supervise.ChildSpec{child("a", w.j, supervise.Permanent), child("b", w.j, supervise.Permanent), child("c", w.j, supervise.Permanent)},
	})
	w.rt.RunUntilIdle()
	w.j.take()
	if err := w.rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := w.j.take(); fmt.Sprint(got) != "[stop c stop b stop a]" {
		t.Fatalf("shutdown order %v, want c, b, a", got)
	}
}

func TestOrderedRestartUnderManySeeds(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		w := newWorld(t, seed)
		_, _ = supervise.Start(w.rt.System, supervise.Spec{
			Strategy: supervise.OneForAll, MaxRestarts: 100,
			Children: []supervise.ChildSpec{child("a", w.j, supervise.Permanent), child("b", w.j, supervise.Permanent), child("c", w.j, supervise.Permanent), child("d", w.j, supervise.Permanent)},
		})
		w.rt.RunUntilIdle()
		w.j.take()
		// Two failures at once: the restart chain still runs once, in order.
		a, _ := w.rt.Lookup("a")
		c, _ := w.rt.Lookup("c")
		_ = w.rt.Send(c, tagFailOnce, nil)
		_ = w.rt.Send(a, tagFailOnce, nil)
		w.rt.RunUntilIdle()
		// Each failure restarts everything in one chain: one child at a time
		// (old instance stopped, new one started, then the next), in start
		// order. The second failure may come from a held actor's new
		// instance handling its queued message; it starts the chain over,
		// so after the last restart of a, b, c and d follow in order.
		all := w.j.take()
		if len(all) < 8 || len(all)%2 != 0 {
			t.Fatalf("seed %d: journal %v", seed, all)
		}
		for i := 0; i < len(all); i += 2 {
			n := strings.TrimPrefix(all[i], "stop ")
			if all[i] != "stop "+n || all[i+1] != "start "+n {
				t.Fatalf("seed %d: restarts overlap: %v", seed, all)
			}
		}
		got := starts(all)
		last := got[slices.Index(got, "a"):]
		for i := len(got) - 1; i >= 0; i-- {
			if got[i] == "a" {
				last = got[i:]
				break
			}
		}
		if fmt.Sprint(last) != "[a b c d]" {
			t.Fatalf("seed %d: restarts %v: the last chain must restart a, b, c, d in order", seed, got)
		}
		for _, n := range []string{"a", "b", "c", "d"} {
			r, _ := w.rt.Lookup(n)
			if ctr, err := w.rt.ActorCounters(r); err != nil || ctr.Queued != 0 {
				t.Fatalf("seed %d: %s left with %+v, %v", seed, n, ctr, err)
			}
		}
	}
}

type failingStart struct{}

func (failingStart) Started(*actor.Context) error                  { return errors.New("cannot start") }
func (failingStart) Receive(*actor.Context, *actor.Envelope) error { return nil }

// A temporary child that fails in Started is dropped, and the start-up
// chain goes on with the next child instead of waiting for it forever.
func TestTemporaryChildFailingAtStartDoesNotStallStartUp(t *testing.T) {
	w := newWorld(t, 7)
	sup, err := supervise.Start(w.rt.System, supervise.Spec{
		Strategy: supervise.OneForOne,
		Children: []supervise.ChildSpec{
			{Name: "flaky", Restart: supervise.Temporary, Start: func() actor.Actor { return failingStart{} }},
			child("b", w.j, supervise.Permanent),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.j.take(); fmt.Sprint(got) != "[start b]" {
		t.Fatalf("journal %v, want b started", got)
	}
	kids, _ := supervise.WhichChildren(context.Background(), w.rt.System, sup)
	if len(kids) != 1 || kids[0].Name != "b" {
		t.Fatalf("children %+v", kids)
	}
}
