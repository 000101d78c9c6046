package sched

import (
	"runtime"
	"testing"
)

// detWorkload submits roots that spawn children through every entry point
// and returns the order in which task ids ran.
func detWorkload(seed uint64) []int {
	s := New(Config{Deterministic: true, Seed: seed})
	var order []int
	next := 0
	var spawn func(depth int) Task
	spawn = func(depth int) Task {
		id := next
		next++
		budget := id % 3 // some tasks yield and come back
		return taskFunc(func(w *Worker) bool {
			order = append(order, id)
			if budget > 0 {
				budget--
				return true
			}
			if depth > 0 {
				w.Schedule(spawn(depth - 1))
				w.Push(spawn(depth - 1))
			}
			return false
		})
	}
	for i := 0; i < 20; i++ {
		s.Submit(spawn(3))
	}
	s.RunUntilIdle()
	return order
}

// taskFunc is a Task whose function says whether to run again.
type taskFunc func(w *Worker) bool

func (f taskFunc) Run(w *Worker) bool { return f(w) }

func TestDeterministicSameSeedSameOrder(t *testing.T) {
	a, b := detWorkload(42), detWorkload(42)
	if len(a) == 0 || !equalInts(a, b) {
		t.Fatalf("same seed, different runs:\n%v\n%v", a, b)
	}
	c := detWorkload(43)
	if len(c) != len(a) {
		t.Fatalf("different seeds ran %d and %d tasks", len(a), len(c))
	}
	if equalInts(a, c) {
		t.Fatal("different seeds gave the same order")
	}
}

func TestDeterministicMode(t *testing.T) {
	base := runtime.NumGoroutine()
	s := New(Config{Deterministic: true, Workers: 8})
	s.Start() // no-op
	if s.Workers() != 1 {
		t.Fatalf("Workers = %d, want 1", s.Workers())
	}
	if runtime.NumGoroutine() > base {
		t.Fatal("deterministic mode started goroutines")
	}
	if s.Step() {
		t.Fatal("Step ran something on an empty scheduler")
	}
	runs := 0
	s.Submit(taskFunc(func(w *Worker) bool {
		if w.ID() != 0 {
			t.Errorf("worker ID %d, want 0", w.ID())
		}
		runs++
		return runs < 3
	}))
	s.Submit(Func(func(*Worker) { panic("kept alive") }))
	if s.Pending() != 2 {
		t.Fatalf("Pending = %d, want 2", s.Pending())
	}
	if n := s.RunUntilIdle(); n != 4 {
		t.Fatalf("RunUntilIdle ran %d, want 4", n)
	}
	st := s.Stats()
	if st.Runs != 4 || st.Requeues != 2 || st.Panics != 1 {
		t.Fatalf("stats %+v", st)
	}
	s.Stop() // no-op
}

func TestStepOutsideDeterministicPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Step did not panic")
		}
	}()
	New(Config{Workers: 1}).Step()
}
