package host_test

import (
	"context"
	"fmt"

	"github.com/stark-rt/stark/host"
	"github.com/stark-rt/stark/host/actor"
)

// The shortest real use: start a runtime, spawn an actor, ask it.
func Example() {
	rt, _ := host.New(host.NewConfig())
	_ = rt.Start()
	defer rt.Shutdown(context.Background())

	echo, _ := rt.SpawnFunc(func(ctx *actor.Context, m *actor.Envelope) error {
		return ctx.Reply(m.Tag, "hello, "+m.Value.(string))
	})
	reply, err := rt.Ask(context.Background(), echo, 1, "world")
	fmt.Println(reply.Value, err)
	// Output: hello, world <nil>
}

// Deterministic mode: no goroutines, a seeded run order and a virtual
// clock, driven by the caller.
func Example_deterministic() {
	rt, _ := host.New(host.NewConfig().WithDeterministic(42))
	_ = rt.Start()
	defer rt.Shutdown(context.Background())

	var got []int
	ref, _ := rt.SpawnFunc(func(ctx *actor.Context, m *actor.Envelope) error {
		got = append(got, m.Value.(int))
		return nil
	})
	for i := 0; i < 3; i++ {
		_ = rt.Send(ref, 1, i)
	}
	rt.RunUntilIdle()
	fmt.Println(got)
	// Output: [0 1 2]
}
