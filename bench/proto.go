package bench

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	proto "github.com/asynkron/protoactor-go/actor"
)

// newProto builds a Proto.Actor system with its defaults, except for a
// silent logger: its default logger writes every start-up and (throttled)
// dead letter to stderr.
func newProto() *proto.ActorSystem {
	return proto.NewActorSystem(proto.WithLoggerFactory(func(*proto.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
}

// stopProto stops the given actors, waits for them, and shuts the system
// down. Proto.Actor's Shutdown only marks the system stopped; actors that
// hold no goroutine are collected with it.
func stopProto(sys *proto.ActorSystem, pids ...*proto.PID) {
	for _, pid := range pids {
		_ = sys.Root.StopFuture(pid).Wait()
	}
	sys.Shutdown()
}

// ---- ping-pong ------------------------------------------------------------

type protoStart struct{ partner *proto.PID }

// protoPinger and protoPonger mirror starkPinger and starkPonger. They
// use Send with the partner's PID in state: Request would carry the sender
// but wraps every message in an envelope, an allocation per hop.
type protoPinger struct {
	partner   *proto.PID
	want, got int
	done      *sync.WaitGroup
}

func (p *protoPinger) Receive(ctx proto.Context) {
	switch m := ctx.Message().(type) {
	case *ball:
		p.got++
		if p.got == p.want {
			p.done.Done()
			return
		}
		ctx.Send(p.partner, m)
	case *protoStart:
		p.partner = m.partner
		ctx.Send(p.partner, theBall)
	}
}

type protoPonger struct {
	partner *proto.PID
	got     int
}

func (p *protoPonger) Receive(ctx proto.Context) {
	if m, ok := ctx.Message().(*ball); ok {
		p.got++
		ctx.Send(p.partner, m)
	}
}

// ProtoPingPong is StarkPingPong on Proto.Actor.
func ProtoPingPong(pairs, total int) (float64, error) {
	sys := newProto()
	per := pingPongPerPair(total, pairs)
	var wg sync.WaitGroup
	pings := make([]*protoPinger, pairs)
	pongs := make([]*protoPonger, pairs)
	pingPIDs := make([]*proto.PID, pairs)
	pongPIDs := make([]*proto.PID, pairs)
	for i := range pairs {
		pings[i] = &protoPinger{want: per / 2, done: &wg}
		ping := pings[i]
		pingPIDs[i] = sys.Root.Spawn(proto.PropsFromProducer(func() proto.Actor { return ping }))
		pongs[i] = &protoPonger{partner: pingPIDs[i]}
		pong := pongs[i]
		pongPIDs[i] = sys.Root.Spawn(proto.PropsFromProducer(func() proto.Actor { return pong }))
	}
	defer stopProto(sys, append(pingPIDs, pongPIDs...)...)
	wg.Add(pairs)
	start := time.Now()
	for i := range pairs {
		sys.Root.Send(pingPIDs[i], &protoStart{partner: pongPIDs[i]})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i := range pairs {
		if pings[i].got != per/2 || pongs[i].got != per/2 {
			return 0, fmt.Errorf("pair %d: %d and %d balls, want %d each", i, pings[i].got, pongs[i].got, per/2)
		}
	}
	return perSecond(per*pairs, elapsed), nil
}

func protoPingPongSample(sz Sizes) (Sample, error) {
	g := runtime.NumGoroutine()
	one, many := pairsFor()
	r1, err := ProtoPingPong(one, sz.PingPongMessages)
	if err != nil {
		return nil, err
	}
	settle(g)
	rn, err := ProtoPingPong(many, sz.PingPongMessages)
	if err != nil {
		return nil, err
	}
	return Sample{"pairs1": r1, "pairsN": rn}, nil
}

// ---- skynet ---------------------------------------------------------------

// protoSkynet mirrors starkSkynet: Props per child carry its number and
// size through the producer, children are spawned on Started, and a node
// reports to its parent and stops itself once it knows its sum.
type protoSkynet struct {
	num, size int64
	sum       int64
	got       int
	done      chan<- int64
}

func (n *protoSkynet) Receive(ctx proto.Context) {
	switch m := ctx.Message().(type) {
	case *proto.Started:
		if n.size == 1 {
			n.report(ctx, n.num)
			return
		}
		size := n.size / 10
		for i := range int64(10) {
			num := n.num + i*size
			ctx.Spawn(proto.PropsFromProducer(func() proto.Actor { return &protoSkynet{num: num, size: size} }))
		}
	case int64:
		n.sum += m
		n.got++
		if n.got == 10 {
			n.report(ctx, n.sum)
		}
	}
}

func (n *protoSkynet) report(ctx proto.Context, v int64) {
	if n.done != nil {
		n.done <- v
	} else {
		ctx.Send(ctx.Parent(), v)
	}
	ctx.Stop(ctx.Self())
}

// ProtoSkynet is StarkSkynet on Proto.Actor.
func ProtoSkynet(depth int) (time.Duration, error) {
	sys := newProto()
	done := make(chan int64, 1)
	size := pow10(depth)
	start := time.Now()
	root := sys.Root.Spawn(proto.PropsFromProducer(func() proto.Actor { return &protoSkynet{size: size, done: done} }))
	sum := <-done
	d := time.Since(start)
	stopProto(sys, root) // waits until the root, and so the whole tree, has terminated
	if want := SkynetSum(depth); sum != want {
		return 0, fmt.Errorf("skynet sum %d, want %d", sum, want)
	}
	return d, nil
}

func protoSkynetSample(sz Sizes) (Sample, error) {
	d, err := ProtoSkynet(sz.SkynetDepth)
	if err != nil {
		return nil, err
	}
	return Sample{"ms": float64(d) / float64(time.Millisecond)}, nil
}

// ---- ask ------------------------------------------------------------------

// ProtoAsk is StarkAsk on Proto.Actor: RequestFuture(...).Result() with a
// 5 s timeout, the actor answering with Respond.
func ProtoAsk(warmup, count int) ([]time.Duration, error) {
	sys := newProto()
	pid := sys.Root.Spawn(proto.PropsFromFunc(func(ctx proto.Context) {
		if m, ok := ctx.Message().(*ball); ok {
			ctx.Respond(m)
		}
	}))
	defer stopProto(sys, pid)
	ask := func() error {
		r, err := sys.Root.RequestFuture(pid, theBall, 5*time.Second).Result()
		if err != nil {
			return err
		}
		if r != any(theBall) {
			return errors.New("ask: wrong reply")
		}
		return nil
	}
	for range warmup {
		if err := ask(); err != nil {
			return nil, err
		}
	}
	lat := make([]time.Duration, count)
	for i := range lat {
		t := time.Now()
		if err := ask(); err != nil {
			return nil, err
		}
		lat[i] = time.Since(t)
	}
	slices.Sort(lat)
	return lat, nil
}

func protoAskSample(sz Sizes) (Sample, error) {
	lat, err := ProtoAsk(sz.AskWarmup, sz.AskCount)
	if err != nil {
		return nil, err
	}
	return askSample(lat), nil
}

// ---- idle memory ----------------------------------------------------------

// ProtoIdleMemory is StarkIdleMemory on Proto.Actor: one shared Props
// with a stateless receive function. Each spawn posts Started, which runs
// on a goroutine of its own; the heap is read once those have finished.
func ProtoIdleMemory(n int) (float64, error) {
	sys := newProto()
	defer sys.Shutdown()
	props := proto.PropsFromFunc(func(proto.Context) {})
	pids := make([]*proto.PID, n) // allocated before the baseline: not counted
	g := runtime.NumGoroutine()
	before := settledHeap(g)
	for i := range pids {
		pids[i] = sys.Root.Spawn(props)
	}
	after := settledHeap(g)
	runtime.KeepAlive(pids)
	return float64(int64(after)-int64(before)) / float64(n), nil
}

func protoIdleMemorySample(sz Sizes) (Sample, error) {
	b, err := ProtoIdleMemory(sz.IdleActors)
	if err != nil {
		return nil, err
	}
	return Sample{"bytes": b}, nil
}

// ---- fan-in ---------------------------------------------------------------

type protoCounter struct {
	want, got int
	done      chan struct{}
}

func (c *protoCounter) Receive(ctx proto.Context) {
	if _, ok := ctx.Message().(*ball); ok {
		c.got++
		if c.got == c.want {
			close(c.done)
		}
	}
}

// ProtoFanIn is StarkFanIn on Proto.Actor, whose default mailbox is
// unbounded: senders never wait.
func ProtoFanIn(senders, perSender int) (float64, error) {
	sys := newProto()
	total := senders * perSender
	c := &protoCounter{want: total, done: make(chan struct{})}
	pid := sys.Root.Spawn(proto.PropsFromProducer(func() proto.Actor { return c }))
	defer stopProto(sys, pid)
	elapsed, err := fanIn(senders, perSender, c.done, func() error { sys.Root.Send(pid, theBall); return nil })
	if err != nil {
		return 0, err
	}
	return perSecond(total, elapsed), nil
}

func protoFanInSample(sz Sizes) (Sample, error) {
	g := runtime.NumGoroutine()
	// Proto.Actor has one mailbox policy; it is measured afresh for each
	// STARK variant so that both rows compare runs made at the same time.
	all, err := ProtoFanIn(sz.FanInSenders, sz.FanInPerSender)
	if err != nil {
		return nil, err
	}
	settle(g)
	wait, err := ProtoFanIn(sz.FanInSenders, sz.FanInPerSender)
	if err != nil {
		return nil, err
	}
	return Sample{"all": all, "wait": wait}, nil
}
