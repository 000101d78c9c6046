package actor

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// TestNextBatchesWithinTurn: a handler that drains its mailbox with Next
// sees every message once, in order, never more than the turn's budget
// per Receive; each message it moved past counts as processed, and a
// failure is charged to the message in hand, not the first of the batch.
func TestNextBatchesWithinTurn(t *testing.T) {
	s := newSystem(t, Config{Budget: 16})
	gate := make(chan struct{})
	var mu sync.Mutex
	var seen []int
	var batches []int
	boom := errors.New("boom on 40")
	ref, err := s.SpawnFunc(func(ctx *Context, m *Envelope) error {
		if m.Tag == 0 {
			<-gate // hold the actor so the rest queues up
			return nil
		}
		n := 0
		for env := m; env != nil; env = ctx.Next() {
			if ctx.Message() != env {
				t.Errorf("Message() %v, want the envelope Next returned", ctx.Message())
			}
			v := env.Value.(int)
			mu.Lock()
			seen = append(seen, v)
			mu.Unlock()
			n++
			if v == 40 {
				mu.Lock()
				batches = append(batches, n)
				mu.Unlock()
				return boom
			}
		}
		mu.Lock()
		batches = append(batches, n)
		mu.Unlock()
		return nil
	}, WithSupervisor(RestartAlways{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ref, 0, nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 60; i++ {
		if err := s.Send(ref, uint32(i), i); err != nil {
			t.Fatal(err)
		}
	}
	close(gate)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := s.ActorCounters(ref)
		if err != nil {
			t.Fatal(err)
		}
		if c.Processed+c.DeadLettered == 61 {
			if c.DeadLettered != 1 || !c.Balanced() {
				t.Fatalf("counters %+v: want exactly the failing message dead-lettered", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters %+v after 5s", c)
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range seen {
		if v != i+1 {
			t.Fatalf("message %d seen as %d (order or duplicates): %v", i+1, v, seen)
		}
	}
	if len(seen) != 60 {
		t.Fatalf("saw %d messages, want 60", len(seen))
	}
	total, multi := 0, false
	for _, n := range batches {
		if n > 16 {
			t.Fatalf("a Receive handled %d messages, over the budget of 16: %v", n, batches)
		}
		multi = multi || n > 1
		total += n
	}
	if !multi || total != 60 {
		t.Fatalf("batches %v: want several messages per Receive, 60 in all", batches)
	}
	var dl *DeadLetter
	for _, d := range s.DeadLetters() {
		if d.Target == ref {
			dl = &d
		}
	}
	if dl == nil || dl.Tag != 40 || !errors.Is(dl.Reason, boom) {
		t.Fatalf("dead letter %+v: want message 40 failed with boom", dl)
	}
}
