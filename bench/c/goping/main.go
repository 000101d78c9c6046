// Command goping is the Go side of the C ABI ping-pong comparison
// (bench/c/run.sh): the same rally as `cbench pingpong`, with host Go
// actors. pairs pairs of actors bounce a ball (ctx.Send from the handler,
// no payload) until n messages in all were handled, n/pairs per pair; it
// prints "msgs_per_s <rate>". A library that embeds Go cannot be linked
// into a Go program, so the two sides run as separate processes, one after
// the other.
//
// With -send it is the Go baseline of `cbench send` instead: a plain
// goroutine sends n 8-byte messages to a counting actor whose mailbox holds
// them all, through the same call stark_send makes (a fresh copy of the
// payload, Runtime.SendEnvelope), and prints "sender_ns" and "e2e_ns": what
// stark_send costs minus the C->Go call and the handle lookups.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/stark-rt/stark/host"
	"github.com/stark-rt/stark/host/actor"
)

const (
	tagStart uint32 = 1
	tagBall  uint32 = 2
)

// player is one side of a pair; the pinger (want > 0) signals done when
// it has got want balls back. The partner is set before the rally starts
// (the start message publishes it to the workers), as cbench does.
type player struct {
	partner   actor.Ref
	want, got int
	done      *sync.WaitGroup
}

func (p *player) receive(ctx *actor.Context, m *actor.Envelope) error {
	if m.Tag == tagBall {
		p.got++
		if p.got == p.want {
			p.done.Done()
			return nil
		}
	}
	return ctx.Send(p.partner, tagBall, nil)
}

func run(total, pairs int) (float64, error) {
	rt, err := host.New(host.NewConfig()) // one worker per core, as stark_runtime_new(NULL)
	if err != nil {
		return 0, err
	}
	if err := rt.Start(); err != nil {
		return 0, err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = rt.Shutdown(ctx)
	}()
	per := total / pairs
	per -= per % 2
	per = max(per, 2)
	var wg sync.WaitGroup
	players := make([]*player, 2*pairs)
	pings := make([]actor.Ref, pairs)
	for i := range pairs {
		ping := &player{want: per / 2, done: &wg}
		pong := &player{}
		a, err := rt.SpawnFunc(ping.receive)
		if err != nil {
			return 0, err
		}
		b, err := rt.SpawnFunc(pong.receive)
		if err != nil {
			return 0, err
		}
		ping.partner, pong.partner = b, a
		players[2*i], players[2*i+1] = ping, pong
		pings[i] = a
	}
	wg.Add(pairs)
	start := time.Now()
	for _, a := range pings {
		if err := rt.Send(a, tagStart, nil); err != nil {
			return 0, err
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	for i := range pairs {
		if players[2*i].got != per/2 || players[2*i+1].got != per/2 {
			return 0, fmt.Errorf("pair %d: %d and %d balls, want %d each", i, players[2*i].got, players[2*i+1].got, per/2)
		}
	}
	return float64(per*pairs) / elapsed.Seconds(), nil
}

// send measures n sends of 8 bytes from this goroutine to a counting actor.
func send(n int) (senderNs, e2eNs float64, err error) {
	rt, err := host.New(host.NewConfig())
	if err != nil {
		return 0, 0, err
	}
	if err := rt.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = rt.Shutdown(ctx)
	}()
	const warm = 10_000
	done := make(chan time.Time, 1)
	got := 0
	ref, err := rt.SpawnFunc(func(_ *actor.Context, _ *actor.Envelope) error {
		if got++; got == warm+n {
			done <- time.Now()
		}
		return nil
	}, actor.WithMailbox(warm+n+1024))
	if err != nil {
		return 0, 0, err
	}
	payload := make([]byte, 8)
	sendOne := func() error {
		b := make([]byte, len(payload)) // stark_send copies the C bytes (C.GoBytes)
		copy(b, payload)
		return rt.SendEnvelope(actor.Envelope{Target: ref, Tag: 1, Data: b})
	}
	for range warm {
		if err := sendOne(); err != nil {
			return 0, 0, err
		}
	}
	start := time.Now()
	for range n {
		if err := sendOne(); err != nil {
			return 0, 0, err
		}
	}
	sent := time.Since(start)
	end := (<-done).Sub(start)
	return float64(sent.Nanoseconds()) / float64(n), float64(max(end, sent).Nanoseconds()) / float64(n), nil
}

func main() {
	n := flag.Int("n", 2_000_000, "messages in all")
	pairs := flag.Int("pairs", 1, "pairs of actors")
	sendMode := flag.Bool("send", false, "measure sends from a goroutine instead (the baseline of cbench send)")
	flag.Parse()
	if *sendMode {
		s, e, err := send(*n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "goping:", err)
			os.Exit(1)
		}
		fmt.Printf("sender_ns %.1f\ne2e_ns %.1f\n", s, e)
		return
	}
	if *pairs < 1 || *n < 2 {
		fmt.Fprintln(os.Stderr, "goping: want -pairs >= 1 and -n >= 2")
		os.Exit(2)
	}
	rate, err := run(*n, *pairs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goping:", err)
		os.Exit(1)
	}
	fmt.Printf("msgs_per_s %.0f\n", rate)
}
