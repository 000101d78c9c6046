package host_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/stark-rt/stark/host"
	"github.com/stark-rt/stark/host/actor"
	"github.com/stark-rt/stark/host/mem"
	"github.com/stark-rt/stark/host/supervise"
	"github.com/stark-rt/stark/host/task"
)

func start(t *testing.T, cfg host.Config) *host.Runtime {
	t.Helper()
	rt, err := host.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	return rt
}

func TestConfigIsImmutable(t *testing.T) {
	base := host.NewConfig()
	four := base.WithWorkers(4)
	if _, err := host.New(four); err != nil {
		t.Fatal(err)
	}
	rt, _ := host.New(base.WithWorkers(1))
	if rt.Scheduler().Workers() != 1 {
		t.Fatal("WithWorkers ignored")
	}
	rt4, _ := host.New(four)
	if rt4.Scheduler().Workers() != 4 {
		t.Fatal("WithWorkers(4) changed the receiver or was ignored")
	}
	if _, err := host.New(base.WithWorkers(0)); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("zero workers: %v", err)
	}
	if _, err := host.New(base.WithMailboxCapacity(-1)); !errors.Is(err, actor.ErrInvalid) {
		t.Fatalf("negative mailbox: %v", err)
	}
	if _, err := host.New(host.Config{}); err == nil {
		t.Fatal("the zero Config was accepted")
	}
}

func TestStartShutdownLifecycle(t *testing.T) {
	rt, err := host.New(host.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
	ref, _ := rt.SpawnFunc(func(ctx *actor.Context, m *actor.Envelope) error { return ctx.Reply(1, "pong") })
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := rt.Start(); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("Start after Shutdown: %v", err)
	}
	if _, err := rt.Ask(context.Background(), ref, 1, nil); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("ask after Shutdown: %v", err)
	}
	if _, err := rt.SpawnFunc(func(*actor.Context, *actor.Envelope) error { return nil }); !errors.Is(err, actor.ErrStopped) {
		t.Fatalf("spawn after Shutdown: %v", err)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestIdleRuntimeUsesNoCPU(t *testing.T) {
	rt := start(t, host.NewConfig())
	for i := 0; i < 1000; i++ {
		_, _ = rt.SpawnFunc(func(*actor.Context, *actor.Envelope) error { return nil })
	}
	time.Sleep(100 * time.Millisecond) // let workers park
	parks := rt.Metrics().Scheduler.Parks
	before := cpuTime()
	time.Sleep(500 * time.Millisecond)
	used := cpuTime() - before
	// A spinning worker would burn ~500ms; allow for the Go runtime's own background work.
	if used > 50*time.Millisecond {
		t.Fatalf("idle runtime used %v of CPU in 500ms", used)
	}
	if parks == 0 {
		t.Fatal("workers never parked")
	}
}

func TestParallelMapOnWorkers(t *testing.T) {
	rt := start(t, host.NewConfig())
	in := make([]int, 100_001)
	for i := range in {
		in[i] = i
	}
	out, err := task.Map(context.Background(), rt.Executor(), in, 1000, func(v int) int { return v * 2 })
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != 2*i {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
	// Map called from inside an actor (on a worker) must not deadlock.
	ref, _ := rt.SpawnFunc(func(ctx *actor.Context, m *actor.Envelope) error {
		r, err := task.Map(context.Background(), rt.Executor(), in, 100, func(v int) int { return v + 1 })
		if err != nil {
			return err
		}
		return ctx.Reply(1, r[len(r)-1])
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := rt.Ask(ctx, ref, 1, nil)
	if err != nil || r.Value.(int) != 100_001 {
		t.Fatalf("Map inside an actor: %v, %v", r.Value, err)
	}
}

func TestBreakerAroundAsk(t *testing.T) {
	rt := start(t, host.NewConfig().WithAskTimeout(time.Second))
	healthy := false
	ref, _ := rt.SpawnFunc(func(ctx *actor.Context, m *actor.Envelope) error {
		if m.Tag == 2 {
			healthy = true
			return nil
		}
		if !healthy {
			return errors.New("backend down")
		}
		return ctx.Reply(1, "ok")
	})
	b := supervise.NewBreaker(supervise.BreakerConfig{FailureThreshold: 3, SuccessThreshold: 1, OpenTimeout: 50 * time.Millisecond})
	call := func() error {
		_, err := supervise.Call(context.Background(), b, func(ctx context.Context) (actor.Envelope, error) {
			return rt.Ask(ctx, ref, 1, nil)
		})
		return err
	}
	for i := 0; i < 3; i++ {
		if err := call(); err == nil {
			t.Fatal("ask to a failing actor succeeded")
		}
	}
	if err := call(); !errors.Is(err, supervise.ErrCircuitOpen) {
		t.Fatalf("breaker did not open: %v", err)
	}
	_ = rt.Send(ref, 2, nil)
	time.Sleep(80 * time.Millisecond)
	if err := call(); err != nil {
		t.Fatalf("half-open trial: %v", err)
	}
	if b.State() != supervise.BreakerClosed {
		t.Fatalf("state %v after a successful trial", b.State())
	}
}

func TestPoolExhaustionIsAnError(t *testing.T) {
	rt := start(t, host.NewConfig().WithPool(mem.DefaultConfig().WithLimit(1<<20)))
	var bufs []*mem.Buffer
	for {
		b, err := rt.Pool().Get(64 << 10)
		if err != nil {
			if !errors.Is(err, mem.ErrPoolExhausted) {
				t.Fatalf("got %v, want ErrPoolExhausted", err)
			}
			break
		}
		bufs = append(bufs, b)
		if len(bufs) > 100 {
			t.Fatal("limit not enforced")
		}
	}
	for _, b := range bufs {
		_ = b.Release()
	}
	if _, err := rt.Pool().Get(64 << 10); err != nil {
		t.Fatalf("after release: %v", err)
	}
}
