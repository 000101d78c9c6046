package sched

import (
	"runtime"
	"sync/atomic"
)

// Worker is one of the scheduler's workers: a goroutine with a local run
// queue and a LIFO slot. A Task receives the Worker it runs on; Schedule
// and Push are only legal from code running on that worker.
type Worker struct {
	_ [cacheLine]byte // keep the hot fields off a neighbour's cache line

	// Owned by the worker goroutine; touched on every task. Thieves reach
	// the queue through Scheduler.queues, never through this line.
	s         *Scheduler
	queue     *localQueue
	det       *deterministic // nil unless deterministic mode
	lifo      Task           // not stealable; runs next on this worker
	current   Task           // the task being run, for panic reports
	id        int
	tick      uint32
	searching bool
	rng       uint64
	stats     counters
	wake      chan struct{} // capacity 1: a parked worker blocks on it

	_   [cacheLine]byte
	pub published // stats copied out for Scheduler.Stats
}

// ID returns the worker's index, 0 to Workers()-1.
func (w *Worker) ID() int { return w.id }

// Scheduler returns the scheduler the worker belongs to.
func (w *Worker) Scheduler() *Scheduler { return w.s }

// Schedule makes t the next task this worker runs, by putting it in the
// LIFO slot. A task that was already there moves to the back of the local
// queue, where other workers can steal it. This is how a message sent to
// an idle actor gets handled next on the same core, while its data is still
// in cache. No more than 3 tasks in a row run from the slot; after that the
// slot's task goes to the back of the queue, so two tasks that keep waking
// each other cannot starve the rest.
//
// Schedule may only be called from code running on w (inside a Task.Run
// that received w). It does not allocate or take a lock; when it moves a
// previous occupant to the queue it may wake a parked worker.
func (w *Worker) Schedule(t Task) {
	if t == nil {
		panic("sched: Schedule of a nil Task")
	}
	if w.det != nil {
		w.det.push(t)
		return
	}
	prev := w.lifo
	w.lifo = t
	if prev != nil {
		w.pushLocal(prev)
	}
}

// Push puts t at the back of this worker's local queue, where any idle
// worker may steal it, and wakes a parked worker if none is searching.
// Use it for work that may run in parallel (fan-out); use Schedule for the
// one task that should run next here. When the ring is full, half of it
// moves to the injector.
//
// Push may only be called from code running on w (inside a Task.Run that
// received w). It does not allocate; it takes the injector's lock only on
// overflow.
func (w *Worker) Push(t Task) {
	if t == nil {
		panic("sched: Push of a nil Task")
	}
	if w.det != nil {
		w.det.push(t)
		return
	}
	w.pushLocal(t)
}

func (w *Worker) pushLocal(t Task) {
	if _, moved := w.queue.pushBack(t, &w.s.inject); moved > 0 {
		w.stats.overflows += uint64(moved)
	}
	w.s.notify()
}

// loop is the worker goroutine.
func (w *Worker) loop() {
	defer w.s.wg.Done()
	defer w.pub.store(&w.stats)
	for w.run() {
	}
}

// run is the scheduling loop. It returns false when the scheduler stops,
// and true when a task panicked: the panic unwinds run, the deferred
// recover deals with it, and loop calls run again. One recover for the
// whole loop instead of one per task keeps the common path free of it.
func (w *Worker) run() (panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			w.recovered(v)
			panicked = true
		}
	}()
	for !w.s.stopping.Load() {
		t := w.next()
		if t == nil {
			t = w.spin()
		}
		if t == nil {
			if !w.park() {
				return false
			}
			continue
		}
		w.runTask(t)
	}
	return false
}

// recovered handles a panic that escaped w.current: the task is dropped
// (it does not go back to any queue), counted, and reported. Whatever the
// task put in the LIFO slot before it panicked still runs next.
func (w *Worker) recovered(v any) {
	t := w.current
	w.current = nil
	if t == nil {
		panic(v) // not from a task: a scheduler bug must not be swallowed
	}
	w.stats.panics++
	if h := w.s.cfg.PanicHandler; h != nil {
		h(t, v)
	}
}

// next returns the next task from this worker's own queues or the
// injector, or nil.
func (w *Worker) next() Task {
	w.tick++
	if w.tick%globalQueueInterval == 0 {
		w.pub.store(&w.stats)
		// One task only: the local queue is likely busy, and pulling a
		// batch into it would just spill it back on the next overflow.
		if t := w.s.inject.pop(); t != nil {
			w.stats.injectorRuns++
			return t
		}
	}
	if t := w.lifo; t != nil { // only after a restart or a panic: runTask drains the slot
		w.lifo = nil
		return t
	}
	if t := w.queue.pop(); t != nil {
		return t
	}
	return w.fromInjector()
}

// fromInjector takes a batch from the injector, for a worker whose own
// queues are empty: its fair share (1/workers, at least one), capped by
// half the ring and the room left in it. The first task is returned, the
// rest land in the local queue.
func (w *Worker) fromInjector() Task {
	n := w.s.inject.len()
	if n == 0 {
		return nil
	}
	n = n/len(w.s.workers) + 1
	q := w.queue
	if half := int(q.capacity() / 2); n > half {
		n = half
	}
	steal, _ := unpack(q.head.Load())
	if room := int(q.capacity()-(q.tail.Load()-steal)) + 1; n > room {
		n = room
	}
	t, got := w.s.inject.popInto(q, n)
	w.stats.injectorRuns += uint64(got)
	if got > 1 {
		w.s.notify() // the batch is stealable; let an idle worker help
	}
	return t
}

// search becomes a searcher if allowed, then tries to steal from every
// other worker, starting at a random one, and finally the injector.
func (w *Worker) search() Task {
	if !w.searching {
		if !w.s.idle.toSearching() {
			return nil
		}
		w.searching = true
	}
	qs := w.s.queues
	n := len(qs)
	start := int(w.rand() % uint64(n))
	for i := 0; i < n; i++ {
		v := qs[(start+i)%n]
		if v == w.queue {
			continue
		}
		if t, n := v.stealInto(w.queue); t != nil {
			w.stats.steals++
			w.stats.stolen += uint64(n)
			return t
		}
	}
	return w.fromInjector()
}

// spin searches a bounded number of times, yielding the processor between
// rounds, before the worker gives up and parks.
func (w *Worker) spin() Task {
	for i := 0; i < spinRounds; i++ {
		if t := w.search(); t != nil {
			return t
		}
		if !w.searching || w.s.stopping.Load() {
			return nil // enough workers are searching already
		}
		runtime.Gosched()
	}
	return nil
}

// runTask runs t and then whatever it put in the LIFO slot, up to the cap.
func (w *Worker) runTask(t Task) {
	if w.searching {
		w.searching = false
		if w.s.idle.fromSearching() && w.s.workPending() {
			// The last searcher found work and there is more in sight
			// (including what it just stole): wake another worker to
			// help. Pushes that skipped their own wake-up because we were
			// searching are visible to workPending, since they published
			// before reading the searcher count we just lowered. Later
			// pushes see no searcher and wake someone themselves. Not
			// waking anyone when nothing is left keeps a stream of single
			// requests (asks from outside) from costing a wake-up each.
			w.s.notify()
		}
	}
	w.exec(t)
	for n := 0; ; n++ {
		t := w.lifo
		if t == nil {
			return
		}
		w.lifo = nil
		if n == maxLIFORuns {
			w.stats.lifoCapped++
			w.requeue(t)
			return
		}
		w.stats.lifoRuns++
		w.exec(t)
	}
}

// exec runs t once and re-queues it at the back if it asks to run again.
func (w *Worker) exec(t Task) {
	w.stats.runs++
	w.current = t
	again := t.Run(w)
	w.current = nil
	if again {
		w.stats.requeues++
		w.requeue(t)
	}
}

// requeue puts t, which this worker has just finished running, at the back
// of the local queue. Unlike Push it wakes a thief only if other tasks are
// queued too: a lone task will be popped by this worker right away, and
// waking another worker would only make it bounce between cores.
func (w *Worker) requeue(t Task) {
	n, moved := w.queue.pushBack(t, &w.s.inject)
	w.stats.overflows += uint64(moved)
	if n != 1 {
		w.s.notify()
	}
}

// call runs t with its own recover; deterministic mode runs each step
// through it, workers use the recover in run instead.
func (w *Worker) call(t Task) (again bool) {
	w.current = t
	defer func() {
		if v := recover(); v != nil {
			w.recovered(v)
			again = false
		}
	}()
	again = t.Run(w)
	w.current = nil
	return again
}

// park puts the worker to sleep until it is woken to search, or the
// scheduler stops (then it returns false).
func (w *Worker) park() bool {
	if w.lifo != nil || !w.queue.isEmpty() {
		return true
	}
	s := w.s
	if s.idle.toParked(w.id, w.searching) && s.workPending() {
		// We were the last searcher: a push that raced with us saw us
		// searching and woke nobody. Wake someone (possibly ourselves).
		s.notify()
	}
	w.searching = false
	w.stats.parks++
	for {
		if s.stopping.Load() {
			return false
		}
		w.pub.store(&w.stats)
		<-w.wake
		if s.stopping.Load() {
			return false
		}
		if !s.idle.isParked(w.id) {
			w.stats.unparks++
			w.pub.store(&w.stats) // so Parks-Unparks counts sleepers
			w.searching = true    // unparkOne counted us as searching
			return true
		}
		// A stale token from an earlier notify; keep sleeping.
	}
}

// rand is a xorshift64* step: victim choice only needs to be cheap and
// spread out.
func (w *Worker) rand() uint64 {
	x := w.rng
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	w.rng = x
	return x * 0x2545f4914f6cdd1d
}

// counters are a worker's statistics, written by the worker alone.
type counters struct {
	runs, steals, stolen, parks, unparks, lifoRuns, lifoCapped,
	injectorRuns, requeues, overflows, panics uint64
}

// published is the copy of counters that other goroutines read. The worker
// refreshes it now and then instead of paying an atomic per event.
type published struct {
	runs, steals, stolen, parks, unparks, lifoRuns, lifoCapped,
	injectorRuns, requeues, overflows, panics atomic.Uint64
	_ [cacheLine - 88%cacheLine]byte
}

func (p *published) store(c *counters) {
	p.runs.Store(c.runs)
	p.steals.Store(c.steals)
	p.stolen.Store(c.stolen)
	p.parks.Store(c.parks)
	p.unparks.Store(c.unparks)
	p.lifoRuns.Store(c.lifoRuns)
	p.lifoCapped.Store(c.lifoCapped)
	p.injectorRuns.Store(c.injectorRuns)
	p.requeues.Store(c.requeues)
	p.overflows.Store(c.overflows)
	p.panics.Store(c.panics)
}

func (p *published) addTo(st *Stats) {
	st.Runs += p.runs.Load()
	st.Steals += p.steals.Load()
	st.Stolen += p.stolen.Load()
	st.Parks += p.parks.Load()
	st.Unparks += p.unparks.Load()
	st.LIFORuns += p.lifoRuns.Load()
	st.LIFOCapped += p.lifoCapped.Load()
	st.InjectorRuns += p.injectorRuns.Load()
	st.Requeues += p.requeues.Load()
	st.Overflows += p.overflows.Load()
	st.Panics += p.panics.Load()
}
