package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/stark-rt/stark/host"
	"github.com/stark-rt/stark/host/actor"
)

// Message tags of the STARK workloads. Payloads that are not numbers are
// the shared *ball pointer on both systems, so neither side allocates for
// them: in STARK it goes to Envelope.Value, in Proto.Actor it is the message.
const (
	tagStart uint32 = iota + 1
	tagBall
	tagSum
	tagAsk
	tagReply
)

type ball struct{ _ byte }

var theBall = &ball{}

// newStark starts a runtime with the default configuration: one worker
// per GOMAXPROCS, mailboxes of 4096.
func newStark() (*host.Runtime, error) {
	rt, err := host.New(host.NewConfig())
	if err != nil {
		return nil, err
	}
	if err := rt.Start(); err != nil {
		return nil, err
	}
	return rt, nil
}

// stopStark shuts rt down; its time is never part of a measurement.
func stopStark(rt *host.Runtime, err *error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if e := rt.Shutdown(ctx); e != nil && *err == nil {
		*err = fmt.Errorf("STARK shutdown: %w", e)
	}
}

// ---- ping-pong ------------------------------------------------------------

// starkPinger starts the rally and counts the balls that come back. Both
// sides keep their partner's ref in state (as the Proto.Actor version must,
// since its Send carries no sender) rather than replying to the sender.
type starkPinger struct {
	partner   actor.Ref
	want, got int
	done      *sync.WaitGroup
}

func (p *starkPinger) Receive(ctx *actor.Context, m *actor.Envelope) error {
	switch m.Tag {
	case tagStart:
		p.partner = m.Value.(actor.Ref)
	case tagBall:
		p.got++
		if p.got == p.want {
			p.done.Done()
			return nil
		}
	default:
		return fmt.Errorf("pinger: unexpected tag %d", m.Tag)
	}
	return ctx.Send(p.partner, tagBall, theBall)
}

type starkPonger struct {
	partner actor.Ref
	got     int
}

func (p *starkPonger) Receive(ctx *actor.Context, m *actor.Envelope) error {
	p.got++
	return ctx.Send(p.partner, tagBall, m.Value)
}

// StarkPingPong bounces total messages (split over pairs) and returns
// messages per second. It checks that every pair exchanged exactly its share.
func StarkPingPong(pairs, total int) (rate float64, err error) {
	rt, err := newStark()
	if err != nil {
		return 0, err
	}
	defer stopStark(rt, &err)
	per := pingPongPerPair(total, pairs)
	var wg sync.WaitGroup
	pings := make([]*starkPinger, pairs)
	pongs := make([]*starkPonger, pairs)
	pingRefs := make([]actor.Ref, pairs)
	pongRefs := make([]actor.Ref, pairs)
	for i := range pairs {
		pings[i] = &starkPinger{want: per / 2, done: &wg}
		ping := pings[i]
		if pingRefs[i], err = rt.Spawn(func() actor.Actor { return ping }); err != nil {
			return 0, err
		}
		pongs[i] = &starkPonger{partner: pingRefs[i]}
		pong := pongs[i]
		if pongRefs[i], err = rt.Spawn(func() actor.Actor { return pong }); err != nil {
			return 0, err
		}
	}
	wg.Add(pairs)
	start := time.Now()
	for i := range pairs {
		if err := rt.Send(pingRefs[i], tagStart, pongRefs[i]); err != nil {
			return 0, err
		}
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

func starkPingPongSample(sz Sizes) (Sample, error) {
	g := runtime.NumGoroutine()
	one, many := pairsFor()
	r1, err := StarkPingPong(one, sz.PingPongMessages)
	if err != nil {
		return nil, err
	}
	settle(g)
	rn, err := StarkPingPong(many, sz.PingPongMessages)
	if err != nil {
		return nil, err
	}
	return Sample{"pairs1": r1, "pairsN": rn}, nil
}

// ---- skynet ---------------------------------------------------------------

// starkSkynet is one node of the skynet tree. Its number and size come
// through the producer (Proto.Actor's through its props' producer), it
// spawns its ten children in Started, and it reports to its parent and
// stops itself once it knows its sum.
type starkSkynet struct {
	num, size int64
	sum       int64
	got       int
	done      chan<- int64 // the tree's root reports here instead of to a parent
}

func (n *starkSkynet) Started(ctx *actor.Context) error {
	if n.size == 1 {
		return n.report(ctx, n.num)
	}
	size := n.size / 10
	for i := range int64(10) {
		num := n.num + i*size
		if _, err := ctx.Spawn(func() actor.Actor { return &starkSkynet{num: num, size: size} }); err != nil {
			return err
		}
	}
	return nil
}

func (n *starkSkynet) Receive(ctx *actor.Context, m *actor.Envelope) error {
	n.sum += m.Value.(int64)
	n.got++
	if n.got == 10 {
		return n.report(ctx, n.sum)
	}
	return nil
}

func (n *starkSkynet) report(ctx *actor.Context, v int64) error {
	if n.done != nil {
		n.done <- v
	} else if err := ctx.Send(ctx.Parent(), tagSum, v); err != nil {
		return err
	}
	return ctx.Stop(ctx.Self())
}

// StarkSkynet builds a skynet tree of 10^depth leaves and returns the time
// from the first spawn until the root's sum arrives, after checking the sum.
func StarkSkynet(depth int) (d time.Duration, err error) {
	rt, err := newStark()
	if err != nil {
		return 0, err
	}
	defer stopStark(rt, &err)
	done := make(chan int64, 1)
	size := pow10(depth)
	start := time.Now()
	if _, err := rt.Spawn(func() actor.Actor { return &starkSkynet{size: size, done: done} }); err != nil {
		return 0, err
	}
	sum := <-done
	d = time.Since(start)
	if want := SkynetSum(depth); sum != want {
		return 0, fmt.Errorf("skynet sum %d, want %d", sum, want)
	}
	return d, nil
}

func starkSkynetSample(sz Sizes) (Sample, error) {
	d, err := StarkSkynet(sz.SkynetDepth)
	if err != nil {
		return nil, err
	}
	return Sample{"ms": float64(d) / float64(time.Millisecond)}, nil
}

// ---- ask ------------------------------------------------------------------

// StarkAsk times count sequential asks (after warmup untimed ones) from
// the calling goroutine to an actor that replies with what it got. The
// context has no deadline, so the runtime's default ask timeout (5 s)
// applies, matching the 5 s timeout given to Proto.Actor's RequestFuture.
// It returns the sorted round-trip times.
func StarkAsk(warmup, count int) (lat []time.Duration, err error) {
	rt, err := newStark()
	if err != nil {
		return nil, err
	}
	defer stopStark(rt, &err)
	ref, err := rt.SpawnFunc(func(ctx *actor.Context, m *actor.Envelope) error {
		return ctx.Reply(tagReply, m.Value)
	})
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	ask := func() error {
		r, err := rt.Ask(ctx, ref, tagAsk, theBall)
		if err != nil {
			return err
		}
		if r.Value != any(theBall) {
			return errors.New("ask: wrong reply")
		}
		return nil
	}
	for range warmup {
		if err := ask(); err != nil {
			return nil, err
		}
	}
	lat = make([]time.Duration, count)
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

func askSample(lat []time.Duration) Sample {
	return Sample{"median": float64(percentile(lat, 50)), "p99": float64(percentile(lat, 99))}
}

func starkAskSample(sz Sizes) (Sample, error) {
	lat, err := StarkAsk(sz.AskWarmup, sz.AskCount)
	if err != nil {
		return nil, err
	}
	return askSample(lat), nil
}

// ---- idle memory ----------------------------------------------------------

// StarkIdleMemory spawns n idle top-level actors (one shared, stateless
// behaviour, no Starter) and returns the growth of the live heap per actor.
func StarkIdleMemory(n int) (perActor float64, err error) {
	rt, err := newStark()
	if err != nil {
		return 0, err
	}
	defer stopStark(rt, &err)
	idle := actor.Func(func(*actor.Context, *actor.Envelope) error { return nil })
	producer := func() actor.Actor { return idle }
	refs := make([]actor.Ref, n) // allocated before the baseline: not counted
	g := runtime.NumGoroutine()
	before := settledHeap(g)
	for i := range refs {
		if refs[i], err = rt.Spawn(producer); err != nil {
			return 0, err
		}
	}
	after := settledHeap(g)
	if got := rt.Stats().Actors; got != n {
		return 0, fmt.Errorf("%d live actors, want %d", got, n)
	}
	return float64(int64(after)-int64(before)) / float64(n), nil
}

func starkIdleMemorySample(sz Sizes) (Sample, error) {
	b, err := StarkIdleMemory(sz.IdleActors)
	if err != nil {
		return nil, err
	}
	return Sample{"bytes": b}, nil
}

// ---- fan-in ---------------------------------------------------------------

type starkCounter struct {
	want, got int
	done      chan struct{}
}

func (c *starkCounter) Receive(_ *actor.Context, _ *actor.Envelope) error {
	c.got++
	if c.got == c.want {
		close(c.done)
	}
	return nil
}

// StarkFanIn has senders goroutines send perSender messages each to one
// counting actor and returns messages per second, until the actor has
// counted them all. Proto.Actor's mailbox is unbounded; with holdAll the
// STARK mailbox is made large enough to hold every message, which is the
// same contract (a send never blocks or fails). Without it the actor keeps
// the default capacity (4096) and senders wait for room (OverflowWait),
// the policy STARK prescribes for producers outside the runtime.
func StarkFanIn(senders, perSender int, holdAll bool) (rate float64, err error) {
	rt, err := newStark()
	if err != nil {
		return 0, err
	}
	defer stopStark(rt, &err)
	total := senders * perSender
	c := &starkCounter{want: total, done: make(chan struct{})}
	opt := actor.WithOverflow(actor.OverflowWait, 30*time.Second)
	if holdAll {
		opt = actor.WithMailbox(total)
	}
	ref, err := rt.Spawn(func() actor.Actor { return c }, opt)
	if err != nil {
		return 0, err
	}
	elapsed, err := fanIn(senders, perSender, c.done, func() error { return rt.Send(ref, tagBall, theBall) })
	if err != nil {
		return 0, err
	}
	return perSecond(total, elapsed), nil
}

// fanIn starts senders goroutines together, each calling send perSender
// times, and returns the time from the start until done is closed.
func fanIn(senders, perSender int, done <-chan struct{}, send func() error) (time.Duration, error) {
	var ready, finished sync.WaitGroup
	ready.Add(senders)
	finished.Add(senders)
	gate := make(chan struct{})
	errs := make(chan error, senders)
	for range senders {
		go func() {
			defer finished.Done()
			ready.Done()
			<-gate
			for range perSender {
				if err := send(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	ready.Wait()
	start := time.Now()
	close(gate)
	finished.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		return 0, errors.New("fan-in: the actor did not count every message within a minute")
	}
	return time.Since(start), nil
}

func starkFanInSample(sz Sizes) (Sample, error) {
	g := runtime.NumGoroutine()
	all, err := StarkFanIn(sz.FanInSenders, sz.FanInPerSender, true)
	if err != nil {
		return nil, err
	}
	settle(g)
	wait, err := StarkFanIn(sz.FanInSenders, sz.FanInPerSender, false)
	if err != nil {
		return nil, err
	}
	return Sample{"all": all, "wait": wait}, nil
}
