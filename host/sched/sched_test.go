package sched

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// allParked reports whether every worker is asleep with its counters
// published: none is counted as unparked (only a submission could change
// that now), and each park not followed by an unpark is a sleeper.
func allParked(s *Scheduler) bool {
	if numUnparked(s.idle.state.Load()) != 0 {
		return false
	}
	st := s.Stats()
	return st.Parks-st.Unparks == uint64(s.Workers())
}

// checkNoLeak fails if the goroutine count does not fall back to base.
func checkNoLeak(t *testing.T, base int) {
	t.Helper()
	waitFor(t, "worker goroutines to exit", 2*time.Second, func() bool {
		return runtime.NumGoroutine() <= base
	})
}

// treeTask runs once, records itself, and makes children through Schedule
// and Push, so every path into the queues is exercised.
type treeTask struct {
	id    int
	depth int
	env   *treeEnv
}

type treeEnv struct {
	seen  []atomic.Int32
	next  atomic.Int64
	left  atomic.Int64
	done  chan struct{}
	fanIn int
}

func (e *treeEnv) newTask(depth int) *treeTask {
	return &treeTask{id: int(e.next.Add(1) - 1), depth: depth, env: e}
}

func (x *treeTask) Run(w *Worker) bool {
	e := x.env
	e.seen[x.id].Add(1)
	if x.depth > 0 {
		for i := 0; i < e.fanIn; i++ {
			c := e.newTask(x.depth - 1)
			if i%2 == 0 {
				w.Schedule(c)
			} else {
				w.Push(c)
			}
		}
	}
	if e.left.Add(-1) == 0 {
		close(e.done)
	}
	return false
}

func TestEveryTaskRunsOnce(t *testing.T) {
	const submitters, roots, depth, fan = 8, 300, 2, 3
	perRoot := 1 + fan + fan*fan // depth 2, fan 3
	total := submitters * roots * perRoot
	env := &treeEnv{seen: make([]atomic.Int32, total), done: make(chan struct{}), fanIn: fan}
	env.left.Store(int64(total))

	s := New(Config{Workers: 4, LocalQueueSize: 16}) // small rings: overflow happens too
	s.Start()
	defer s.Stop()
	var wg sync.WaitGroup
	for g := 0; g < submitters; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < roots; i++ {
				s.Submit(env.newTask(depth))
			}
		}()
	}
	wg.Wait()
	select {
	case <-env.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d of %d tasks never ran", env.left.Load(), total)
	}
	s.Stop()
	for i := range env.seen {
		if n := env.seen[i].Load(); n != 1 {
			t.Fatalf("task %d ran %d times", i, n)
		}
	}
	st := s.Stats()
	if st.Runs != uint64(total) {
		t.Fatalf("Stats.Runs = %d, want %d", st.Runs, total)
	}
	if s.Pending() != 0 {
		t.Fatalf("Pending = %d after everything ran", s.Pending())
	}
	t.Logf("%+v", st)
}

// budgetTask returns true until it has run n times.
type budgetTask struct {
	n, runs int
	order   *[]string
	name    string
	done    func()
}

func (b *budgetTask) Run(*Worker) bool {
	b.runs++
	*b.order = append(*b.order, b.name)
	if b.runs < b.n {
		return true
	}
	b.done()
	return false
}

func TestBudgetedTasksShareWorker(t *testing.T) {
	s := New(Config{Workers: 1})
	var order []string // only touched on the single worker
	var wg sync.WaitGroup
	wg.Add(2)
	a := &budgetTask{n: 50, order: &order, name: "a", done: wg.Done}
	b := &budgetTask{n: 50, order: &order, name: "b", done: wg.Done}
	s.Submit(Func(func(w *Worker) {
		w.Schedule(a) // a starts in the LIFO slot, but yields to the back
		w.Push(b)
	}))
	s.Start()
	wg.Wait()
	s.Stop()
	if len(order) != 100 {
		t.Fatalf("%d runs, want 100", len(order))
	}
	// A task that yields goes behind the other: strict alternation.
	for i := 1; i < len(order); i++ {
		if order[i] == order[i-1] {
			t.Fatalf("run %d and %d both by %s: %v", i-1, i, order[i], order)
		}
	}
	if st := s.Stats(); st.Requeues != 98 {
		t.Fatalf("Requeues = %d, want 98", st.Requeues)
	}
}

// pingTask wakes its partner through the LIFO slot until stop is set.
type pingTask struct {
	partner *pingTask
	stop    *atomic.Bool
}

func (p *pingTask) Run(w *Worker) bool {
	if !p.stop.Load() {
		w.Schedule(p.partner)
	}
	return false
}

func TestLIFOCapPreventsStarvation(t *testing.T) {
	s := New(Config{Workers: 1})
	var stop atomic.Bool
	a, b := &pingTask{stop: &stop}, &pingTask{stop: &stop}
	a.partner, b.partner = b, a
	ran := make(chan struct{})
	s.Submit(Func(func(w *Worker) {
		w.Push(Func(func(*Worker) { // behind a ping-pong that never ends by itself
			stop.Store(true)
			close(ran)
		}))
		w.Schedule(a)
	}))
	s.Start()
	defer s.Stop()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		stop.Store(true)
		t.Fatal("a task behind two LIFO ping-pong tasks never ran")
	}
	s.Stop()
	st := s.Stats()
	if st.LIFOCapped == 0 || st.LIFORuns == 0 {
		t.Fatalf("LIFO slot unused or never capped: %+v", st)
	}
}

func TestScheduleRunsNextOnSameWorker(t *testing.T) {
	s := New(Config{Workers: 2})
	s.Start()
	defer s.Stop()
	got := make(chan [2]int, 1)
	s.Submit(Func(func(w *Worker) {
		first := w.ID()
		w.Schedule(Func(func(w2 *Worker) { got <- [2]int{first, w2.ID()} }))
	}))
	ids := <-got
	if ids[0] != ids[1] {
		t.Fatalf("scheduled task ran on worker %d, scheduler on %d", ids[1], ids[0])
	}
}

// spinFor burns about d of CPU, so work outlasts the steal latency.
func spinFor(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

func TestStealing(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("with one P the loaded worker is not preempted often enough for a thief to run")
	}
	// Fewer tasks than the ring holds, so none overflow to the injector:
	// the only way for the second worker to get work is to steal it.
	s := New(Config{Workers: 2, LocalQueueSize: 256})
	s.Start()
	defer s.Stop()
	const n = 200
	var wg sync.WaitGroup
	wg.Add(n)
	var perWorker [2]atomic.Int64
	child := Func(func(w *Worker) {
		perWorker[w.ID()].Add(1)
		spinFor(50 * time.Microsecond)
		wg.Done()
	})
	s.Submit(Func(func(w *Worker) {
		for i := 0; i < n; i++ {
			w.Push(child)
		}
	}))
	wg.Wait()
	s.Stop()
	st := s.Stats()
	if st.Steals == 0 || st.Stolen == 0 {
		t.Fatalf("no steals with one loaded worker: %+v", st)
	}
	if perWorker[0].Load() == 0 || perWorker[1].Load() == 0 {
		t.Fatalf("work did not spread: %d / %d", perWorker[0].Load(), perWorker[1].Load())
	}
	t.Logf("runs per worker %d / %d, %+v", perWorker[0].Load(), perWorker[1].Load(), st)
}

func TestStopLeavesNoGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	s := New(Config{Workers: 4})
	s.Stop() // never started: no-op
	for cycle := 0; cycle < 3; cycle++ {
		s.Start()
		s.Start() // already running: no-op
		var wg sync.WaitGroup
		wg.Add(100)
		for i := 0; i < 100; i++ {
			s.Submit(Func(func(*Worker) { wg.Done() }))
		}
		wg.Wait()
		s.Stop()
		s.Stop()
		checkNoLeak(t, base)
	}
}

func TestStopKeepsQueuedTasks(t *testing.T) {
	s := New(Config{Workers: 1})
	release := make(chan struct{})
	started := make(chan struct{})
	var ran atomic.Int32
	s.Submit(Func(func(w *Worker) {
		w.Schedule(Func(func(*Worker) { ran.Add(1) })) // LIFO slot
		w.Push(Func(func(*Worker) { ran.Add(1) }))     // local queue
		close(started)
		<-release
	}))
	s.Start()
	<-started
	for i := 0; i < 3; i++ {
		s.Submit(Func(func(*Worker) { ran.Add(1) })) // injector
	}
	stopped := make(chan struct{})
	go func() { s.Stop(); close(stopped) }()
	waitFor(t, "Stop to begin", time.Second, s.stopping.Load)
	close(release)
	<-stopped
	// The worker may have run a few of the tasks behind the blocked one
	// (the LIFO slot drains right after it); what did not run is pending.
	if got := s.Pending() + int(ran.Load()); got != 5 {
		t.Fatalf("Pending %d + ran %d != 5", s.Pending(), ran.Load())
	}
	s.Start()
	waitFor(t, "the left-over tasks to run after a restart", 2*time.Second, func() bool {
		return ran.Load() == 5
	})
	s.Stop()
	if s.Pending() != 0 {
		t.Fatalf("Pending = %d", s.Pending())
	}
}

func TestSubmitBeforeStart(t *testing.T) {
	s := New(Config{Workers: 2})
	var ran atomic.Int32
	for i := 0; i < 10; i++ {
		s.Submit(Func(func(*Worker) { ran.Add(1) }))
	}
	if s.Pending() != 10 {
		t.Fatalf("Pending = %d, want 10", s.Pending())
	}
	s.Start()
	defer s.Stop()
	waitFor(t, "submitted tasks to run", 2*time.Second, func() bool { return ran.Load() == 10 })
}

func TestIdleSchedulerParks(t *testing.T) {
	s := New(Config{Workers: 2})
	s.Start()
	defer s.Stop()
	done := make(chan struct{})
	s.Submit(Func(func(*Worker) { close(done) }))
	<-done
	waitFor(t, "every worker to park", 2*time.Second, func() bool {
		return allParked(s)
	})
	before := s.Stats()
	time.Sleep(50 * time.Millisecond)
	after := s.Stats()
	if after.Runs != before.Runs || after.Parks != before.Parks || after.Unparks != before.Unparks {
		t.Fatalf("idle scheduler was busy: before %+v, after %+v", before, after)
	}
	// And it wakes up again.
	done2 := make(chan struct{})
	s.Submit(Func(func(*Worker) { close(done2) }))
	select {
	case <-done2:
	case <-time.After(2 * time.Second):
		t.Fatal("a parked scheduler did not wake for a submission")
	}
	waitFor(t, "the unpark to be counted", 2*time.Second, func() bool {
		return s.Stats().Unparks > 0 // published when the worker parks again
	})
}

func TestPanicKeepsWorker(t *testing.T) {
	var mu sync.Mutex
	var got []any
	s := New(Config{Workers: 1, PanicHandler: func(_ Task, v any) {
		mu.Lock()
		got = append(got, v)
		mu.Unlock()
	}})
	s.Start()
	defer s.Stop()
	s.Submit(Func(func(*Worker) { panic("boom") }))
	s.Submit(Func(func(w *Worker) { w.Schedule(Func(func(*Worker) { panic(fmt.Errorf("lifo boom")) })) }))
	done := make(chan int)
	s.Submit(Func(func(w *Worker) { done <- w.ID() }))
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("worker died with the panicking task")
	}
	s.Stop()
	if st := s.Stats(); st.Panics != 2 {
		t.Fatalf("Panics = %d, want 2", st.Panics)
	}
	if len(got) != 2 || got[0] != "boom" {
		t.Fatalf("PanicHandler saw %v", got)
	}
}

func TestNilTaskPanics(t *testing.T) {
	s := New(Config{Workers: 1})
	defer func() {
		if recover() == nil {
			t.Fatal("Submit(nil) did not panic")
		}
	}()
	s.Submit(nil)
}

func TestConfigDefaults(t *testing.T) {
	s := New(Config{})
	if s.Workers() != runtime.GOMAXPROCS(0) {
		t.Fatalf("Workers = %d, want GOMAXPROCS", s.Workers())
	}
	if got := s.workers[0].queue.capacity(); got != 256 {
		t.Fatalf("local queue size %d, want 256", got)
	}
	for i := 0; i < s.Workers(); i++ {
		if s.workers[i].ID() != i || s.workers[i].Scheduler() != s {
			t.Fatalf("worker %d has ID %d", i, s.workers[i].ID())
		}
	}
}

// TestNoLostWakeups submits one task at a time, letting the workers go
// idle in between at varying depths (spinning, parking, parked), and
// checks that every task is picked up.
func TestNoLostWakeups(t *testing.T) {
	s := New(Config{Workers: 3})
	s.Start()
	defer s.Stop()
	done := make(chan struct{}, 1)
	task := Func(func(w *Worker) {
		// Half the time, hand the signal to another task through the
		// stealable queue, so wake-ups from Push are exercised too.
		if w.ID()%2 == 0 {
			w.Push(Func(func(*Worker) { done <- struct{}{} }))
			return
		}
		done <- struct{}{}
	})
	for i := 0; i < 2000; i++ {
		s.Submit(task)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("submission %d never ran; stats %+v", i, s.Stats())
		}
		switch i % 100 {
		case 0:
			time.Sleep(2 * time.Millisecond) // everyone parks
		case 1, 2, 3:
			spinFor(time.Duration(i%4) * time.Microsecond) // catch workers mid-spin
		}
	}
}

// fanNode is a node of a ten-way tree kept in one array in heap order; it
// counts its own runs, so a task run twice or lost shows up.
type fanNode struct {
	nodes *[]fanNode
	index int
	depth int
	runs  atomic.Int32
	left  *atomic.Int64
	done  chan struct{}
}

func (n *fanNode) Run(w *Worker) bool {
	n.runs.Add(1)
	if n.depth > 0 {
		nodes := *n.nodes
		for i := 0; i < 10; i++ {
			c := &nodes[10*n.index+1+i]
			c.nodes, c.index, c.depth, c.left, c.done = n.nodes, 10*n.index+1+i, n.depth-1, n.left, n.done
			if i == 0 {
				w.Schedule(c)
			} else {
				w.Push(c)
			}
		}
	}
	if n.left.Add(-1) == 0 {
		n.done <- struct{}{}
	}
	return false
}

// TestTreeRunsEveryTaskOnce spawns trees the way skynet does, with rings
// small enough that they overflow into the injector all the time, and
// checks every node ran exactly once per round.
func TestTreeRunsEveryTaskOnce(t *testing.T) {
	const total = 11111 // depth 4
	s := New(Config{Workers: 3, LocalQueueSize: 16})
	s.Start()
	defer s.Stop()
	nodes := make([]fanNode, total)
	var left atomic.Int64
	done := make(chan struct{}, 1)
	for round := 1; round <= 10; round++ {
		left.Store(total)
		root := &nodes[0]
		root.nodes, root.index, root.depth, root.left, root.done = &nodes, 0, 4, &left, done
		s.Submit(root)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: %d tasks never ran", round, left.Load())
		}
		for i := range nodes {
			if r := nodes[i].runs.Load(); r != int32(round) {
				t.Fatalf("round %d: node %d ran %d times", round, i, r)
			}
		}
	}
	s.Stop()
	if st := s.Stats(); st.Overflows == 0 {
		t.Fatalf("rings never overflowed: %+v", st)
	}
}
