// Command supervision is STARK's main demo: it starts a runtime, builds a
// supervision tree (a one-for-one supervisor over a key-value store and a
// flaky worker), sends and asks, survives a crashing child, and prints what
// happened, including the conservation ledger.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/stark-rt/stark/host"
	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/supervise"
)

const (
	tagPut uint32 = iota + 1
	tagGet
	tagWork
	tagCrash
)

type put struct{ Key, Value string }

// store keeps a map; it is restarted with an empty map if it ever fails.
type store struct{ m map[string]string }

func (s *store) Receive(ctx *actor.Context, msg *actor.Envelope) error {
	switch msg.Tag {
	case tagPut:
		p := msg.Value.(put)
		s.m[p.Key] = p.Value
	case tagGet:
		return ctx.Reply(tagGet, s.m[msg.Value.(string)])
	}
	return nil
}

// worker squares numbers and crashes on request.
type worker struct{ handled int }

func (w *worker) Started(ctx *actor.Context) error {
	fmt.Printf("  worker %v started\n", ctx.Self())
	return nil
}

func (w *worker) Receive(ctx *actor.Context, msg *actor.Envelope) error {
	switch msg.Tag {
	case tagWork:
		w.handled++
		n := msg.Value.(int)
		return ctx.Reply(tagWork, n*n)
	case tagCrash:
		panic("worker was told to crash")
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	rt, err := host.New(host.NewConfig())
	if err != nil {
		return err
	}
	if err := rt.Start(); err != nil {
		return err
	}
	fmt.Printf("runtime started: %d workers\n", rt.Scheduler().Workers())

	sup, err := supervise.Start(rt.System, supervise.Spec{
		Strategy:    supervise.OneForOne,
		MaxRestarts: 3,
		Period:      time.Second,
		Backoff:     supervise.Exponential(10*time.Millisecond, 200*time.Millisecond, 0.2),
		Children: []supervise.ChildSpec{
			{Name: "store", Start: func() actor.Actor { return &store{m: map[string]string{}} }},
			{Name: "worker", Start: func() actor.Actor { return &worker{} }, Restart: supervise.Permanent},
		},
	}, actor.WithName("app"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kids, err := supervise.WhichChildren(ctx, rt.System, sup)
	if err != nil {
		return err
	}
	fmt.Printf("supervision tree: app %v (one-for-one)\n", sup)
	for _, k := range kids {
		fmt.Printf("  └─ %-6s %v (%v)\n", k.Name, k.Ref, k.Restart)
	}

	storeRef, _ := rt.Lookup("store")
	workerRef, _ := rt.Lookup("worker")
	if err := rt.Send(storeRef, tagPut, put{"model", "resnet50"}); err != nil {
		return err
	}
	r, err := rt.Ask(ctx, storeRef, tagGet, "model")
	if err != nil {
		return err
	}
	fmt.Printf("send put(model) then ask get(model) -> %q\n", r.Value)

	r, err = rt.Ask(ctx, workerRef, tagWork, 7)
	if err != nil {
		return err
	}
	fmt.Printf("ask worker square(7) -> %v\n", r.Value)

	fmt.Println("telling the worker to crash...")
	if _, err := rt.Ask(ctx, workerRef, tagCrash, nil); err != nil {
		var f *actor.Failure
		if errors.As(err, &f) {
			fmt.Printf("  the ask ended with the failure: %v\n", err)
		}
	}
	// The worker keeps its ref and mailbox across the restart.
	deadline := time.Now().Add(2 * time.Second)
	for rt.Stats().Restarts == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	r, err = rt.Ask(ctx, workerRef, tagWork, 12)
	if err != nil {
		return err
	}
	fmt.Printf("after the restart, same ref %v: square(12) -> %v\n", workerRef, r.Value)
	r, _ = rt.Ask(ctx, storeRef, tagGet, "model")
	fmt.Printf("the store was not touched by the worker's crash: get(model) -> %q\n", r.Value)

	for _, dl := range rt.DeadLetters() {
		fmt.Printf("dead letter: tag %d to %v: %v\n", dl.Tag, dl.Target, dl.Reason)
	}
	st := rt.Stats()
	fmt.Printf("failures %d, restarts %d, live actors %d\n", st.Failures, st.Restarts, st.Actors)

	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := rt.Shutdown(sctx); err != nil {
		return err
	}
	m := rt.Metrics()
	c := m.Messages
	fmt.Printf("shut down. messages: accepted %d = processed %d + dead-lettered %d + queued %d (balanced: %v)\n",
		c.Accepted, c.Processed, c.DeadLettered, c.Queued, c.Balanced())
	fmt.Printf("scheduler: %d runs, %d steals, %d parks\n", m.Scheduler.Runs, m.Scheduler.Steals, m.Scheduler.Parks)
	if !c.Balanced() {
		return errors.New("conservation check failed")
	}
	return nil
}
