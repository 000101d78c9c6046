package clock

import (
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestVirtualRunsInDeadlineOrder(t *testing.T) {
	v := NewVirtual(epoch)
	var got []string
	var at []time.Duration
	record := func(name string) func() {
		return func() {
			got = append(got, name)
			at = append(at, v.Now().Sub(epoch))
		}
	}
	v.AfterFunc(30*time.Millisecond, record("c"))
	v.AfterFunc(10*time.Millisecond, record("a"))
	v.AfterFunc(10*time.Millisecond, record("b")) // same deadline: scheduling order
	v.AfterFunc(time.Second, record("late"))

	if n := v.Advance(30 * time.Millisecond); n != 3 {
		t.Fatalf("Advance ran %d callbacks, want 3", n)
	}
	want := []string{"a", "b", "c"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order = %v, want %v", got, want)
		}
	}
	if at[0] != 10*time.Millisecond || at[2] != 30*time.Millisecond {
		t.Fatalf("callbacks saw times %v", at)
	}
	if v.Pending() != 1 {
		t.Fatalf("Pending = %d, want 1", v.Pending())
	}
	if v.Now() != epoch.Add(30*time.Millisecond) {
		t.Fatalf("Now = %v", v.Now())
	}
}

func TestVirtualCallbackSchedulesWithinWindow(t *testing.T) {
	v := NewVirtual(epoch)
	ticks := 0
	var tick func()
	tick = func() {
		ticks++
		v.AfterFunc(10*time.Millisecond, tick)
	}
	v.AfterFunc(10*time.Millisecond, tick)
	v.Advance(55 * time.Millisecond)
	if ticks != 5 {
		t.Fatalf("periodic callback ran %d times in 55ms, want 5", ticks)
	}
}

func TestVirtualStop(t *testing.T) {
	v := NewVirtual(epoch)
	ran := false
	tm := v.AfterFunc(time.Millisecond, func() { ran = true })
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	if tm.Stop() {
		t.Fatal("second Stop reported true")
	}
	v.Advance(time.Second)
	if ran {
		t.Fatal("stopped timer ran")
	}
	tm2 := v.AfterFunc(time.Millisecond, func() {})
	v.Advance(time.Millisecond)
	if tm2.Stop() {
		t.Fatal("Stop after the timer ran reported true")
	}
}

func TestVirtualAdvanceToNextAndNeverBackwards(t *testing.T) {
	v := NewVirtual(epoch)
	if v.AdvanceToNext() {
		t.Fatal("AdvanceToNext with nothing pending reported true")
	}
	v.AfterFunc(time.Hour, func() {})
	if !v.AdvanceToNext() || v.Now() != epoch.Add(time.Hour) {
		t.Fatalf("AdvanceToNext moved to %v", v.Now())
	}
	v.Set(epoch)
	if v.Now() != epoch.Add(time.Hour) {
		t.Fatal("Set moved the clock backwards")
	}
}

func TestVirtualConcurrentUse(t *testing.T) {
	v := NewVirtual(epoch)
	var mu sync.Mutex
	count := 0
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				v.AfterFunc(time.Duration(j)*time.Millisecond, func() {
					mu.Lock()
					count++
					mu.Unlock()
				})
			}
		}()
	}
	wg.Wait()
	v.Advance(time.Second)
	if count != 800 {
		t.Fatalf("ran %d callbacks, want 800", count)
	}
}

func TestRealAfterFunc(t *testing.T) {
	var c Clock = Real{}
	done := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("real timer never fired")
	}
	if c.Now().IsZero() {
		t.Fatal("real Now is zero")
	}
}
