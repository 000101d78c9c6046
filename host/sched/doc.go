// Package sched is STARK's work-stealing scheduler: it runs actor cells and
// other Tasks on a fixed set of worker goroutines, one per core by default.
// The design follows Tokio's multi-threaded scheduler.
//
// # Queues
//
// Each worker owns a bounded local run queue, a ring of LocalQueueSize
// slots. The owner pushes at the tail and pops at the head, so its own work
// runs in FIFO order and nothing waits forever behind newer tasks. Other
// workers steal half of the queue at a time from the head with a
// compare-and-swap; the owner's push needs no atomic read-modify-write and
// its pop one CAS. When a ring fills up, half of it moves to the injector:
// a shared, mutex-protected queue that also receives every task submitted
// from outside the workers (Scheduler.Submit).
//
// Next to the ring, each worker has a LIFO slot that thieves cannot touch.
// Worker.Schedule puts a task there: when a running actor sends to an idle
// one, the receiver runs next on the same core while the message is still
// in cache, which is what makes request/response between actors cheap. Two
// actors that keep waking each other would own the slot forever, so at
// most 3 tasks in a row run from it; then the slot's task goes to the back
// of the ring like any other.
//
// # Fairness
//
// A Task returns true from Run when it used its budget with work left; it
// goes to the back of the ring, never into the LIFO slot. Every 61st tick a
// worker looks at the injector before its own ring, so outside submissions
// are not starved by a worker that always has local work.
//
// # Idle workers
//
// A worker that runs dry looks at its ring, the injector, then steals from
// the others starting at a random one. It repeats that a few times (16
// rounds, yielding the processor in between, a few microseconds) and then
// parks on its own channel: an idle scheduler uses no CPU. At most half the
// workers search at once. A push wakes a parked worker only when nobody is
// searching, so a burst of work wakes one worker, which wakes the next when
// it finds work and sees more queued. No wake-up is lost: the last searcher
// to park registers as parked first and then re-checks every queue, and a
// searcher that finds work re-checks before deciding not to wake anyone.
//
// # Costs
//
// Schedule is a field write. Push is one atomic store, plus an atomic load
// to decide whether to wake anyone. A pop is one CAS. Submit takes the
// injector's lock. None of them allocates once the injector has grown to
// its working size. Statistics are per-worker plain counters, published
// every 61 ticks and around parking, so counting costs nothing on the hot
// path.
//
// A panic in a Task is recovered as a last resort: it is counted in
// Stats.Panics, passed to Config.PanicHandler if set, the task is dropped,
// and the worker carries on.
//
// # Deterministic mode
//
// With Config.Deterministic there are no goroutines at all. Submit, Push and
// Schedule add to one ready set, and the caller runs tasks with
// Scheduler.Step or Scheduler.RunUntilIdle on one logical worker (ID 0);
// each step picks uniformly at random from the ready set with a PCG seeded
// from Config.Seed. The same seed and the same inputs give the same order,
// which lets a test replay a run exactly and explore other interleavings by
// changing the seed.
package sched
