package bench

import (
	"runtime"
	"time"
)

// gcNow collects garbage so that one measurement does not pay for the
// previous one's.
func gcNow() {
	runtime.GC()
	runtime.GC()
}

// settledHeap waits (up to 30 s) until no more than goroutines goroutines
// are left, so that work an actor system still has in flight (Proto.Actor
// runs every mailbox that has messages on its own goroutine) is done, then
// collects garbage and returns the live heap (MemStats.HeapAlloc). Goroutine
// stacks are not part of HeapAlloc; idle actors of either system hold none.
func settledHeap(goroutines int) uint64 {
	waitGoroutines(goroutines, 30*time.Second)
	gcNow()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// waitGoroutines waits until no more than n goroutines are left or d has
// passed. Between measurements it lets a system that was just shut down
// finish its background work: Proto.Actor's dead-letter throttle keeps a
// goroutine (and through it the whole actor system, a million actors after
// skynet) alive for a second, which would otherwise tax the next run's GC.
func waitGoroutines(n int, d time.Duration) {
	deadline := time.Now().Add(d)
	for runtime.NumGoroutine() > n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// settle ends one measurement before the next: it waits (up to 5 s) for
// the goroutines of the last one to finish and collects garbage.
func settle(goroutines int) {
	waitGoroutines(goroutines, 5*time.Second)
	gcNow()
}
