package host_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stark-rt/stark/host"
	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/clock"
	"github.com/stark-rt/stark/host/supervise"
)

// chaosActor forwards a hop counter to a pseudo-random peer and fails
// (error or panic) on a pseudo-random share of messages.
type chaosActor struct {
	id    int
	peers *[]actor.Ref
	rng   *rand.Rand
	trace func(string)
	fails *atomic.Int64
}

func (a *chaosActor) Receive(ctx *actor.Context, m *actor.Envelope) error {
	hops := m.Value.(int)
	if a.trace != nil {
		a.trace(fmt.Sprintf("%d:%d", a.id, hops))
	}
	switch r := a.rng.IntN(100); {
	case r < 3:
		a.fails.Add(1)
		panic("chaos panic")
	case r < 6:
		a.fails.Add(1)
		return errors.New("chaos error")
	}
	if hops > 0 {
		peers := *a.peers
		_ = ctx.Send(peers[a.rng.IntN(len(peers))], 1, hops-1) // a peer may be gone: dead letter
		return nil
	}
	return nil
}

type chaosResult struct {
	trace    []string
	counters actor.Counters
	fails    int64
	dead     actor.DeadLetterStats
}

func runChaos(t *testing.T, seed uint64) chaosResult {
	t.Helper()
	vc := clock.NewVirtual(time.Unix(0, 0))
	rt, err := host.New(host.NewConfig().WithDeterministic(seed).WithClock(vc))
	if err != nil {
		t.Fatal(err)
	}
	_ = rt.Start()
	rng := rand.New(rand.NewPCG(seed, 99)) // shared: draws happen in the deterministic run order
	var trace []string
	var fails atomic.Int64
	var peers []actor.Ref
	for s := 0; s < 4; s++ {
		var specs []supervise.ChildSpec
		for i := 0; i < 10; i++ {
			id := s*10 + i
			specs = append(specs, supervise.ChildSpec{
				Name: fmt.Sprintf("a%d", id),
				Start: func() actor.Actor {
					return &chaosActor{id: id, peers: &peers, rng: rng, trace: func(e string) { trace = append(trace, e) }, fails: &fails}
				},
			})
		}
		_, err := supervise.Start(rt.System, supervise.Spec{
			Strategy:    []supervise.Strategy{supervise.OneForOne, supervise.OneForAll, supervise.RestForOne, supervise.OneForOne}[s],
			MaxRestarts: 1000, Period: time.Second,
			Backoff:  supervise.Exponential(time.Millisecond, 50*time.Millisecond, 0.5),
			Children: specs,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	rt.RunUntilIdle()
	for i := 0; i < 40; i++ {
		r, err := rt.Lookup(fmt.Sprintf("a%d", i))
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, r)
	}
	for i := 0; i < 500; i++ {
		_ = rt.Send(peers[i%len(peers)], 1, 20)
	}
	for step := 0; step < 10000; step++ {
		rt.RunUntilIdle()
		if !vc.AdvanceToNext() {
			break
		}
	}
	rt.RunUntilIdle()
	res := chaosResult{trace: trace, counters: rt.Counters(), fails: fails.Load(), dead: rt.Stats().DeadLetters}
	_ = rt.Shutdown(context.Background())
	return res
}

func TestChaosConservationAndReplay(t *testing.T) {
	a := runChaos(t, 42)
	c := a.counters
	if !c.Balanced() || c.Queued != 0 {
		t.Fatalf("conservation broken: %+v", c)
	}
	if a.fails == 0 || a.dead.Failed != uint64(a.fails) {
		t.Fatalf("%d failures in handlers, %d dead-lettered as failed", a.fails, a.dead.Failed)
	}
	if c.Processed == 0 || len(a.trace) < 1000 {
		t.Fatalf("chaos run did too little: %+v, %d trace entries", c, len(a.trace))
	}
	t.Logf("seed 42: %d handled, %d failures, counters %+v, dead letters %+v", len(a.trace), a.fails, c, a.dead)

	b := runChaos(t, 42)
	if digest(a.trace) != digest(b.trace) || a.counters != b.counters {
		t.Fatal("the same seed gave a different trace")
	}
	other := runChaos(t, 43)
	if digest(a.trace) == digest(other.trace) {
		t.Fatal("a different seed gave the same trace")
	}
}

func digest(trace []string) uint64 {
	h := fnv.New64a()
	for _, e := range trace {
		h.Write([]byte(e))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// TestChaosConcurrent runs the same kind of storm on real workers with
// outside senders racing, then shuts down with messages in flight.
func TestChaosConcurrent(t *testing.T) {
	rt, err := host.New(host.NewConfig().WithWorkers(2).WithSeed(7))
	if err != nil {
		t.Fatal(err)
	}
	_ = rt.Start()
	var fails atomic.Int64
	var peers []actor.Ref
	for i := 0; i < 64; i++ {
		seed := uint64(i)
		ref, err := rt.Spawn(func() actor.Actor {
			return &chaosActor{id: int(seed), peers: &peers, rng: rand.New(rand.NewPCG(seed, 1)), fails: &fails}
		})
		if err != nil {
			t.Fatal(err)
		}
		peers = append(peers, ref)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				_ = rt.Send(peers[(g*31+i)%len(peers)], 1, 10)
			}
		}(g)
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c := rt.Counters()
	if !c.Balanced() || c.Queued != 0 {
		t.Fatalf("conservation broken after a concurrent storm: %+v", c)
	}
	st := rt.Stats()
	if st.Failures != uint64(fails.Load()) || st.DeadLetters.Failed != uint64(fails.Load()) {
		t.Fatalf("failures: handlers %d, stats %d, dead letters %d", fails.Load(), st.Failures, st.DeadLetters.Failed)
	}
	t.Logf("concurrent: %+v, %d failures, %d restarts", c, st.Failures, st.Restarts)
}
