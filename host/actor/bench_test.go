package actor

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stark-rt/stark/host/sched"
)

func benchSystem(b *testing.B) *System {
	sc := sched.New(sched.Config{})
	sc.Start()
	s, err := NewSystem(Config{Scheduler: sc})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = s.Shutdown(context.Background())
		sc.Stop()
	})
	return s
}

// pinger bounces a countdown with its partner and signals when it hits zero.
type pinger struct {
	partner Ref
	done    chan struct{}
}

func (p *pinger) Receive(ctx *Context, m *Envelope) error {
	if m.Tag == 0 {
		p.partner = m.Value.(Ref)
		return nil
	}
	n := m.Tag - 1
	if n == 0 {
		close(p.done)
		return nil
	}
	return ctx.Send(p.partner, n, nil)
}

// BenchmarkPingPong reports the cost of one message hop between two actors
// (pairs run in parallel, one pair per GOMAXPROCS).
func BenchmarkPingPong(b *testing.B) {
	for _, pairs := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(map[bool]string{true: "pairs=1", false: "pairs=cores"}[pairs == 1], func(b *testing.B) {
			s := benchSystem(b)
			per := uint32(b.N/pairs + 2)
			var dones []chan struct{}
			var starts []Ref
			for i := 0; i < pairs; i++ {
				done := make(chan struct{})
				a, _ := s.Spawn(func() Actor { return &pinger{done: done} })
				c, _ := s.Spawn(func() Actor { return &pinger{done: done} })
				_ = s.Send(a, 0, c)
				_ = s.Send(c, 0, a)
				dones = append(dones, done)
				starts = append(starts, a)
			}
			time.Sleep(time.Millisecond)
			b.ResetTimer()
			for _, a := range starts {
				_ = s.Send(a, per, nil)
			}
			for _, d := range dones {
				<-d
			}
		})
	}
}

// BenchmarkAsk is one ask round trip from a plain goroutine.
func BenchmarkAsk(b *testing.B) {
	s := benchSystem(b)
	ref, _ := s.SpawnFunc(func(ctx *Context, m *Envelope) error { return ctx.Reply(m.Tag, nil) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Ask(ctx, ref, 1, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpawnIdle spawns idle actors and reports heap bytes per actor.
func BenchmarkSpawnIdle(b *testing.B) {
	s := benchSystem(b)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	f := Func(func(*Context, *Envelope) error { return nil })
	for i := 0; i < b.N; i++ {
		if _, err := s.Spawn(func() Actor { return f }); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(b.N), "heapB/actor")
}

// BenchmarkFanIn: many goroutines sending to one actor.
func BenchmarkFanIn(b *testing.B) {
	s := benchSystem(b)
	var wg sync.WaitGroup
	wg.Add(b.N)
	ref, _ := s.SpawnFunc(func(*Context, *Envelope) error { wg.Done(); return nil }, WithMailbox(1<<20), WithOverflow(OverflowWait, time.Minute))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Send(ref, 1, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	wg.Wait()
}
