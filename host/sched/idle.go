package sched

import (
	"sync"
	"sync/atomic"
)

// idle tracks which workers are searching for work and which are parked,
// following Tokio's idle.rs. state packs two counts in one word so that the
// question "should a new task wake someone?" costs one atomic load:
//
//	unparked<<32 | searching
//
// A task made runnable wakes a parked worker only when no worker is
// searching (a searcher will find it) and some worker is parked. A woken
// worker starts out searching, so a burst of pushes wakes one worker, not
// all of them. At most half the workers search at once, because a swarm of
// thieves costs more than it finds.
//
// The sleeper stack sits under a mutex; it is touched only on the way to
// and from parking, which is the slow path by definition.
type idle struct {
	_     [cacheLine]byte // off the injector's lock line: Push reads state
	state atomic.Uint64
	_     [cacheLine - 8]byte

	mu       sync.Mutex
	sleepers []int  // parked worker ids, most recent last
	parked   []bool // parked[id] is true while id is in sleepers
	workers  uint32
}

const unparkedOne = 1 << 32

func numSearching(st uint64) uint32 { return uint32(st) }

func numUnparked(st uint64) uint32 { return uint32(st >> 32) }

func (i *idle) init(workers int) {
	i.workers = uint32(workers)
	i.sleepers = make([]int, 0, workers)
	i.parked = make([]bool, workers)
}

// reset marks every worker running and none searching. Only while no
// worker goroutine exists.
func (i *idle) reset() {
	i.mu.Lock()
	i.sleepers = i.sleepers[:0]
	clear(i.parked)
	i.state.Store(uint64(i.workers) * unparkedOne)
	i.mu.Unlock()
}

// toSearching reports whether the caller may start searching, and if so
// counts it. The check and the increment are not one atomic step; a brief
// overshoot is harmless.
func (i *idle) toSearching() bool {
	if 2*numSearching(i.state.Load()) >= i.workers {
		return false
	}
	i.state.Add(1)
	return true
}

// fromSearching uncounts a searcher that found work. It reports whether it
// was the last searcher, in which case the caller must wake another worker:
// where there was one task there may be more.
func (i *idle) fromSearching() bool {
	return numSearching(i.state.Add(^uint64(0))) == 0
}

// toParked registers worker id as parked. It reports whether the worker
// was the last searcher; that worker must then re-check every queue,
// because a push that raced with it saw a searcher and woke nobody.
func (i *idle) toParked(id int, searching bool) bool {
	dec := uint64(unparkedOne)
	if searching {
		dec++
	}
	i.mu.Lock()
	st := i.state.Add(-dec)
	i.sleepers = append(i.sleepers, id)
	i.parked[id] = true
	i.mu.Unlock()
	return searching && numSearching(st) == 0
}

// shouldNotify is the lock-free pre-check for notify.
func (i *idle) shouldNotify() bool {
	st := i.state.Load()
	return numSearching(st) == 0 && numUnparked(st) < i.workers
}

// unparkOne takes a parked worker off the sleeper stack and counts it as
// unparked and searching; it returns -1 when a wake-up is not needed.
func (i *idle) unparkOne() int {
	if !i.shouldNotify() {
		return -1
	}
	i.mu.Lock()
	if !i.shouldNotify() || len(i.sleepers) == 0 {
		i.mu.Unlock()
		return -1
	}
	id := i.sleepers[len(i.sleepers)-1]
	i.sleepers = i.sleepers[:len(i.sleepers)-1]
	i.parked[id] = false
	i.state.Add(unparkedOne + 1)
	i.mu.Unlock()
	return id
}

// isParked reports whether id is still on the sleeper stack; a worker
// that wakes and finds itself there had a stale wake-up token.
func (i *idle) isParked(id int) bool {
	i.mu.Lock()
	p := i.parked[id]
	i.mu.Unlock()
	return p
}
