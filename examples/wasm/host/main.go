// Command host runs the WASM examples on a STARK runtime: the counter
// actor built from Go and from C (same protocol, same answers), a
// supervised C counter that survives a trap, and a stateful actor upgraded
// from v1 to v2 while messages keep arriving, state included.
//
//	make run-wasm    # builds the guests from source, then runs this
//
// The guests come from build/wasm (make guests); -dir points elsewhere.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/stark-rt/stark/host"
	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/supervise"
	"github.com/stark-rt/stark/host/wasm"
)

func main() {
	dir := flag.String("dir", "build/wasm", "where make guests put the .wasm files")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "wasm example:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	ctx := context.Background()
	rt, err := host.New(host.NewConfig())
	if err != nil {
		return err
	}
	if err := rt.Start(); err != nil {
		return err
	}
	eng, err := wasm.NewEngine(ctx, wasm.NewConfig())
	if err != nil {
		return err
	}
	defer func() { // actors first, then the engine that runs them
		_ = rt.Shutdown(ctx)
		_ = eng.Close(ctx)
	}()
	load := func(name string) (*wasm.Module, error) {
		m, err := eng.CompileFile(ctx, filepath.Join(dir, name+".wasm"))
		if err != nil {
			return nil, fmt.Errorf("%w (build the guests with make guests)", err)
		}
		return m, nil
	}
	ask := func(ref actor.Ref, tag uint32, v any) (actor.Envelope, error) {
		var payload []byte
		if v != nil {
			if payload, err = msgpack.Marshal(v); err != nil {
				return actor.Envelope{}, err
			}
		}
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return rt.Ask(c, ref, tag, payload)
	}
	total := func(r actor.Envelope) int64 {
		var n int64
		_ = msgpack.Unmarshal(r.Bytes(), &n)
		return n
	}

	fmt.Println("1. The same counter, written in Go and in C:")
	for _, name := range []string{"counter-go", "counter-c"} {
		m, err := load(name)
		if err != nil {
			return err
		}
		init, _ := msgpack.Marshal(10)
		ref, err := eng.Spawn(rt, m, wasm.WithInit(init))
		if err != nil {
			return err
		}
		for _, n := range []int{5, 7} {
			if _, err := ask(ref, 1, n); err != nil {
				return err
			}
		}
		r, err := ask(ref, 2, nil)
		if err != nil {
			return err
		}
		fmt.Printf("   %-10s %6d bytes of wasm, 10 + 5 + 7 = %d\n", name, m.Size(), total(r))
	}

	fmt.Println("2. A supervised C counter survives a guest that fails:")
	counter, err := load("counter-c")
	if err != nil {
		return err
	}
	start, aopts, err := eng.Producer(counter)
	if err != nil {
		return err
	}
	sup, err := supervise.Start(rt.System, supervise.Spec{
		Strategy: supervise.OneForOne, MaxRestarts: 3, Period: time.Second,
		Children: []supervise.ChildSpec{{Name: "counter", Start: start, Options: aopts}},
	})
	if err != nil {
		return err
	}
	ref, err := rt.Lookup("counter")
	if err != nil {
		return err
	}
	if _, err := ask(ref, 1, 41); err != nil {
		return err
	}
	_, err = ask(ref, 99, nil) // an unknown tag: the guest fails on purpose
	var ge *wasm.GuestError
	if errors.As(err, &ge) {
		fmt.Printf("   tag 99 failed the actor: %v\n", ge)
	}
	var r actor.Envelope
	for range 100 { // the supervisor restarts it on the same ref
		if r, err = ask(ref, 2, nil); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		return err
	}
	fmt.Printf("   restarted on the same ref %v with a fresh instance: total %d\n", ref, total(r))
	_ = sup

	fmt.Println("3. Hot upgrade v1 -> v2 while messages keep arriving:")
	v1, err := load("upgrade-v1")
	if err != nil {
		return err
	}
	v2, err := load("upgrade-v2")
	if err != nil {
		return err
	}
	// A producer outside the runtime waits for room when the mailbox is
	// full instead of having its message refused.
	stateful, err := eng.Spawn(rt, v1, wasm.WithActorOptions(actor.WithOverflow(actor.OverflowWait, time.Second)))
	if err != nil {
		return err
	}
	one, _ := msgpack.Marshal(1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // 10,000 adds, racing with the upgrade
		defer wg.Done()
		for range 10_000 {
			if err := rt.Send(stateful, 1, one); err != nil {
				fmt.Fprintln(os.Stderr, "send:", err)
			}
		}
	}()
	time.Sleep(time.Millisecond)
	if err := eng.Upgrade(ctx, rt, stateful, v2); err != nil {
		return err
	}
	wg.Wait()
	r, err = ask(stateful, 2, nil)
	if err != nil {
		return err
	}
	var s struct {
		Version int64 `msgpack:"version"`
		Total   int64 `msgpack:"total"`
		Count   int64 `msgpack:"count"`
	}
	if err := msgpack.Unmarshal(r.Bytes(), &s); err != nil {
		return err
	}
	fmt.Printf("   now version %d, total %d over %d messages (none lost)\n", s.Version, s.Total, s.Count)
	if s.Total != 10_000 {
		return fmt.Errorf("lost messages: total %d", s.Total)
	}
	c := rt.Counters()
	fmt.Printf("4. Ledger: %d accepted = %d processed + %d dead-lettered (the failed one) + %d queued; %d modules compiled once each\n",
		c.Accepted, c.Processed, c.DeadLettered, c.Queued, eng.Stats().Compiles)
	return nil
}
