package task

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPoolNeverRunsMoreThanWorkers(t *testing.T) {
	defer noLeak(t)()
	p := NewBlockingPool(3, 100)
	var running, peak, ran atomic.Int32
	for range 60 {
		err := p.Submit(context.Background(), func() {
			r := running.Add(1)
			for {
				old := peak.Load()
				if r <= old || peak.CompareAndSwap(old, r) {
					break
				}
			}
			time.Sleep(200 * time.Microsecond)
			running.Add(-1)
			ran.Add(1)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	p.Close()
	if ran.Load() != 60 {
		t.Fatalf("%d of 60 ran before Close returned", ran.Load())
	}
	if peak.Load() > 3 {
		t.Fatalf("%d ran at once, limit 3", peak.Load())
	}
	if st := p.Stats(); st.Submitted != 60 || st.Completed != 60 || st.Workers != 0 {
		t.Fatalf("stats after Close: %+v", st)
	}
}

func TestPoolFull(t *testing.T) {
	defer noLeak(t)()
	p := NewBlockingPool(1, 1)
	release := make(chan struct{})
	block := func() { <-release }
	if err := p.TrySubmit(block); err != nil {
		t.Fatal(err)
	}
	if err := p.TrySubmit(block); err != nil {
		t.Fatal(err)
	}
	if err := p.TrySubmit(block); err != ErrPoolFull {
		t.Fatalf("third TrySubmit = %v, want ErrPoolFull", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := p.Submit(ctx, block); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit to a full pool = %v, want the context's error", err)
	}

	// A waiting Submit gets in once room frees.
	accepted := make(chan error, 1)
	go func() { accepted <- p.Submit(context.Background(), func() {}) }()
	time.Sleep(5 * time.Millisecond)
	select {
	case err := <-accepted:
		t.Fatalf("Submit returned %v while the pool was full", err)
	default:
	}
	close(release)
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	p.Close()
	if st := p.Stats(); st.Rejected != 2 || st.Completed != 3 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestPoolZeroQueueHandsOff(t *testing.T) {
	p := NewBlockingPool(2, 0)
	release := make(chan struct{})
	for range 2 {
		if err := p.TrySubmit(func() { <-release }); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.TrySubmit(func() {}); err != ErrPoolFull {
		t.Fatalf("TrySubmit = %v, want ErrPoolFull with both workers busy", err)
	}
	close(release)
	p.Close()
}

func TestPoolCloseDrainsQueue(t *testing.T) {
	defer noLeak(t)()
	p := NewBlockingPool(1, 10)
	release := make(chan struct{})
	var ran atomic.Int32
	p.TrySubmit(func() { <-release; ran.Add(1) })
	for range 10 {
		if err := p.TrySubmit(func() { ran.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	waitFor(t, "Close to start", func() bool { return p.TrySubmit(func() {}) == ErrPoolClosed })
	select {
	case <-closed:
		t.Fatal("Close returned while work was still queued")
	default:
	}
	close(release)
	<-closed
	if ran.Load() != 11 {
		t.Fatalf("%d of 11 queued functions ran", ran.Load())
	}
	if err := p.Submit(context.Background(), func() {}); err != ErrPoolClosed {
		t.Fatalf("Submit after Close = %v", err)
	}
	p.Close() // again: returns at once
}

func TestPoolCloseReleasesWaitingSubmitters(t *testing.T) {
	p := NewBlockingPool(1, 0)
	release := make(chan struct{})
	p.TrySubmit(func() { <-release })
	waiting := make(chan error, 1)
	go func() { waiting <- p.Submit(context.Background(), func() {}) }()
	time.Sleep(5 * time.Millisecond)
	go func() { time.Sleep(5 * time.Millisecond); close(release) }()
	p.Close()
	if err := <-waiting; err != ErrPoolClosed {
		t.Fatalf("waiting Submit = %v, want ErrPoolClosed", err)
	}
}

func TestPoolRecoversPanics(t *testing.T) {
	defer noLeak(t)()
	var mu sync.Mutex
	var got []*PanicError
	p := NewBlockingPool(1, 4, WithPanicHandler(func(pe *PanicError) {
		mu.Lock()
		got = append(got, pe)
		mu.Unlock()
	}))
	p.TrySubmit(func() { panic("pool") })
	p.TrySubmit(func() { runtime.Goexit() })
	var after atomic.Bool
	p.TrySubmit(func() { after.Store(true) })
	p.Close()
	if !after.Load() {
		t.Fatal("pool stopped working after a panic and a Goexit")
	}
	st := p.Stats()
	if st.Panicked != 2 || st.Completed != 1 {
		t.Fatalf("stats: %+v", st)
	}
	if len(got) != 1 || got[0].Value != "pool" {
		t.Fatalf("panic handler got %v", got)
	}
}

func TestPoolIdleWorkersExit(t *testing.T) {
	defer noLeak(t)()
	p := NewBlockingPool(4, 16, WithIdleTimeout(10*time.Millisecond))
	var wg sync.WaitGroup
	wg.Add(8)
	for range 8 {
		p.TrySubmit(func() { time.Sleep(time.Millisecond); wg.Done() })
	}
	wg.Wait()
	if w := p.Stats().Workers; w == 0 || w > 4 {
		t.Fatalf("%d workers right after a burst, want 1..4", w)
	}
	waitFor(t, "idle workers to exit", func() bool { return p.Stats().Workers == 0 })

	// The pool starts workers again on demand.
	done := make(chan struct{})
	p.TrySubmit(func() { close(done) })
	<-done
	p.Close()
}

func TestPoolWithoutIdleTimeoutKeepsWorkers(t *testing.T) {
	defer noLeak(t)()
	p := NewBlockingPool(2, 2, WithIdleTimeout(0))
	done := make(chan struct{})
	p.TrySubmit(func() { close(done) })
	<-done
	time.Sleep(20 * time.Millisecond)
	if st := p.Stats(); st.Workers != 1 || st.Idle != 1 {
		t.Fatalf("stats: %+v, want one parked worker", st)
	}
	p.Close()
}
