package sched

import (
	"math/rand/v2"
	"sync"
)

// deterministic is the ready set of deterministic mode. Order of insertion
// does not matter: Step draws uniformly from the set with a seeded PCG, so
// a run depends only on the seed and on what was submitted, in what order.
// The mutex is there so that Submit from another goroutine is still safe;
// such a run is only reproducible if those submissions are.
type deterministic struct {
	mu    sync.Mutex
	ready []Task
	rng   *rand.Rand
}

func (d *deterministic) push(t Task) {
	d.mu.Lock()
	d.ready = append(d.ready, t)
	d.mu.Unlock()
}

func (d *deterministic) len() int {
	d.mu.Lock()
	n := len(d.ready)
	d.mu.Unlock()
	return n
}

// take removes a task chosen at random, or returns nil.
func (d *deterministic) take() Task {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := len(d.ready)
	if n == 0 {
		return nil
	}
	i := d.rng.IntN(n)
	t := d.ready[i]
	d.ready[i] = d.ready[n-1]
	d.ready[n-1] = nil
	d.ready = d.ready[:n-1]
	return t
}

// Step runs one task picked at random from the ready set, on the caller's
// goroutine, as worker 0. A task whose Run returns true goes back into the
// ready set. Step returns false, having run nothing, when the set is empty.
// Deterministic mode only (it panics otherwise); drive it from one
// goroutine at a time. It costs a lock, a PRNG draw and the task.
func (s *Scheduler) Step() bool {
	if s.det == nil {
		panic("sched: Step needs Config.Deterministic")
	}
	t := s.det.take()
	if t == nil {
		return false
	}
	w := s.workers[0]
	w.stats.runs++
	if w.call(t) {
		w.stats.requeues++
		s.det.push(t)
	}
	w.pub.store(&w.stats)
	return true
}

// RunUntilIdle calls Step until nothing is runnable and returns how many
// tasks ran. Tasks that keep returning true keep it going. Deterministic
// mode only.
func (s *Scheduler) RunUntilIdle() int {
	n := 0
	for s.Step() {
		n++
	}
	return n
}
