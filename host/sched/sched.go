package sched

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
)

// Task is a unit of work.
//
// Run executes the task on worker w and reports whether it wants to run
// again: true means it used up its budget with work left, and the scheduler
// puts it at the back of w's local queue (never in the LIFO slot) so that
// other tasks get their turn first. A task is never run by two workers at
// once as long as it is queued at most once; keeping it queued at most once
// is the caller's job (the actor layer does it with a "scheduled" flag).
type Task interface {
	Run(w *Worker) bool
}

// Func adapts a function to a Task that runs once. Converting a Func to a
// Task does not allocate.
type Func func(w *Worker)

// Run calls f(w) and returns false.
func (f Func) Run(w *Worker) bool {
	f(w)
	return false
}

// Config sets up a Scheduler. The zero value is valid: one worker per
// GOMAXPROCS, 256-slot local queues, real concurrency.
type Config struct {
	// Workers is the number of worker goroutines. Zero or less means
	// runtime.GOMAXPROCS(0). In deterministic mode it is always 1.
	Workers int

	// LocalQueueSize is the number of slots in each worker's ring. It is
	// rounded up to a power of two, at least 4 and at most 1<<20. Zero or
	// less means 256. A full ring spills half its tasks to the injector.
	LocalQueueSize int

	// Deterministic runs no goroutines at all: the caller drives the
	// scheduler with Step or RunUntilIdle on one logical worker (ID 0).
	// Submit, Push and Schedule all add to one ready set, and Step picks the
	// next task from it with a PRNG seeded with Seed, so the same seed and
	// the same inputs give exactly the same run order.
	Deterministic bool

	// Seed seeds the PRNG of deterministic mode, and the victim choice of
	// the workers otherwise.
	Seed uint64

	// PanicHandler, if set, is called on the worker with a task that
	// panicked and the recovered value. The task is dropped; the worker
	// lives on. It must not panic itself.
	PanicHandler func(t Task, v any)
}

// Stats are counters summed over all workers. While workers run, each
// publishes its counters every 61 tasks, before parking, on waking and on
// exit, so a snapshot may lag by that much; after Stop, or while every
// worker is parked, it is exact.
type Stats struct {
	Runs         uint64 // Task.Run calls
	Steals       uint64 // successful steals (each moves up to half a queue)
	Stolen       uint64 // tasks moved by those steals
	Parks        uint64 // times a worker went to sleep
	Unparks      uint64 // times a parked worker was woken to look for work
	LIFORuns     uint64 // runs taken from the LIFO slot
	LIFOCapped   uint64 // times the LIFO cap moved the slot's task to the queue
	InjectorRuns uint64 // tasks taken from the injector
	Requeues     uint64 // times Run returned true and the task went back
	Overflows    uint64 // tasks moved from a full local queue to the injector
	Panics       uint64 // tasks that panicked and were dropped
}

const (
	// globalQueueInterval is how many ticks pass between looks at the
	// injector before the local queue, so outside submissions are not
	// starved by a worker that always has local work. Go and Tokio use 61.
	globalQueueInterval = 61

	// maxLIFORuns caps consecutive runs from the LIFO slot. Two tasks that
	// keep waking each other would otherwise hold the slot forever and
	// starve the local queue. Tokio uses 3.
	maxLIFORuns = 3

	// spinRounds is how many times an idle worker searches every queue,
	// yielding the processor in between, before it parks. It buys latency
	// for a task that arrives right after the worker ran dry (a request
	// answered and the next one on its way) for a few microseconds of CPU;
	// after that the worker sleeps and costs nothing.
	spinRounds = 16

	defaultQueueSize = 256
	minQueueSize     = 4
	maxQueueSize     = 1 << 20
)

// Scheduler runs Tasks on a fixed set of workers. Create one with New. All
// methods are safe for concurrent use unless their comment says otherwise.
type Scheduler struct {
	stopping atomic.Bool // read by every worker each loop; written by Stop
	_        [cacheLine - 4]byte

	inject  injector
	idle    idle
	workers []*Worker
	queues  []*localQueue // queues[i] is workers[i].queue; read-only, for thieves
	cfg     Config
	det     *deterministic // nil unless Config.Deterministic

	life    sync.Mutex // serialises Start, Stop and the stopped-state reads
	running bool
	wg      sync.WaitGroup
}

// New returns a stopped Scheduler. It allocates every worker's queue up
// front (LocalQueueSize slots each) and starts nothing; call Start.
func New(cfg Config) *Scheduler {
	if cfg.Deterministic {
		cfg.Workers = 1
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	cfg.LocalQueueSize = queueSize(cfg.LocalQueueSize)
	s := &Scheduler{cfg: cfg}
	s.idle.init(cfg.Workers)
	s.idle.reset()
	s.workers = make([]*Worker, cfg.Workers)
	s.queues = make([]*localQueue, cfg.Workers)
	for i := range s.workers {
		s.queues[i] = newLocalQueue(cfg.LocalQueueSize)
		s.workers[i] = &Worker{
			s:     s,
			id:    i,
			queue: s.queues[i],
			wake:  make(chan struct{}, 1),
			rng:   (cfg.Seed + uint64(i) + 1) * 0x9e3779b97f4a7c15,
		}
	}
	if cfg.Deterministic {
		s.det = &deterministic{rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0xda942042e4dd58b5))}
		s.workers[0].det = s.det
	}
	return s
}

func queueSize(n int) int {
	if n <= 0 {
		return defaultQueueSize
	}
	size := minQueueSize
	for size < n && size < maxQueueSize {
		size <<= 1
	}
	return size
}

// Start starts one goroutine per worker. It does nothing if the scheduler
// is already running or is in deterministic mode. A stopped scheduler may
// be started again; it picks up the tasks that were left queued. Start must
// not be called from a Task.
func (s *Scheduler) Start() {
	if s.det != nil {
		return
	}
	s.life.Lock()
	defer s.life.Unlock()
	if s.running {
		return
	}
	s.running = true
	s.stopping.Store(false)
	s.idle.reset()
	s.wg.Add(len(s.workers))
	for _, w := range s.workers {
		select {
		case <-w.wake: // a token left over from the last run
		default:
		}
		w.searching = false
		go w.loop()
	}
}

// Stop asks every worker to exit after its current task and waits until
// all have. Tasks still queued stay queued (see Pending) and run if the
// scheduler is started again. Stop must not be called from a Task: it would
// wait for its own worker.
func (s *Scheduler) Stop() {
	if s.det != nil {
		return
	}
	s.life.Lock()
	defer s.life.Unlock()
	if !s.running {
		return
	}
	s.stopping.Store(true)
	for _, w := range s.workers {
		select {
		case w.wake <- struct{}{}:
		default: // already holds a token, which is enough
		}
	}
	s.wg.Wait()
	s.running = false
	s.idle.reset() // so Submit on a stopped scheduler wakes nobody
}

// Submit queues t from any goroutine. It goes to the scheduler-wide
// injector (a mutex-protected ring; no allocation once the ring has grown
// to its working size) and wakes a parked worker if no worker is already
// searching for work. Code running inside a Task should use Worker.Schedule
// or Worker.Push instead: they are lock-free and keep work on the core.
// t must not be nil.
func (s *Scheduler) Submit(t Task) {
	if t == nil {
		panic("sched: Submit of a nil Task")
	}
	if s.det != nil {
		s.det.push(t)
		return
	}
	s.inject.push(t)
	s.notify()
}

// notify wakes one parked worker if work was just made stealable and no
// worker is searching. In the common case it costs one atomic load.
func (s *Scheduler) notify() {
	if id := s.idle.unparkOne(); id >= 0 {
		select {
		case s.workers[id].wake <- struct{}{}:
		default:
		}
	}
}

// workPending reports whether any task sits in the injector or in a local
// queue, where a searching worker could take it.
func (s *Scheduler) workPending() bool {
	if s.inject.len() > 0 {
		return true
	}
	for _, q := range s.queues {
		if !q.isEmpty() {
			return true
		}
	}
	return false
}

// Workers returns the number of workers.
func (s *Scheduler) Workers() int { return len(s.workers) }

// Pending returns the number of tasks queued anywhere: the injector, the
// local queues and, while the scheduler is stopped, the LIFO slots. While
// workers run it is a snapshot that does not see LIFO slots. It costs two
// atomic loads per worker and never blocks, so a Task may call it.
func (s *Scheduler) Pending() int {
	if s.det != nil {
		return s.det.len()
	}
	n := s.inject.len()
	for _, q := range s.queues {
		n += q.len()
	}
	// The LIFO slots are plain fields of running workers; read them only
	// when no worker runs. TryLock, because Stop holds the lock while it
	// waits for the workers, and one of them may be calling Pending.
	if s.life.TryLock() {
		if !s.running {
			for _, w := range s.workers {
				if w.lifo != nil {
					n++
				}
			}
		}
		s.life.Unlock()
	}
	return n
}

// Stats returns the sum of the workers' counters; see Stats for how fresh
// they are. It costs a few atomic loads per worker.
func (s *Scheduler) Stats() Stats {
	var st Stats
	for _, w := range s.workers {
		w.pub.addTo(&st)
	}
	return st
}
