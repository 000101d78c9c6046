package sched

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
)

// idTask is a Task that carries a number, for checking order and identity.
type idTask int

func (idTask) Run(*Worker) bool { return false }

func popAll(q *localQueue) []int {
	var out []int
	for t := q.pop(); t != nil; t = q.pop() {
		out = append(out, int(t.(idTask)))
	}
	return out
}

func injectorAll(q *injector) []int {
	var out []int
	for t := q.pop(); t != nil; t = q.pop() {
		out = append(out, int(t.(idTask)))
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func seq(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}

func TestLocalQueueFIFO(t *testing.T) {
	q := newLocalQueue(8)
	var inj injector
	if q.pop() != nil {
		t.Fatal("pop on an empty queue returned a task")
	}
	for i := 0; i < 8; i++ {
		if n, moved := q.pushBack(idTask(i), &inj); moved != 0 || n != i+1 {
			t.Fatalf("push %d: length %d, moved %d", i, n, moved)
		}
	}
	if q.len() != 8 {
		t.Fatalf("len = %d, want 8", q.len())
	}
	if got := popAll(q); !equalInts(got, seq(0, 8)) {
		t.Fatalf("popped %v", got)
	}
	if !q.isEmpty() || inj.len() != 0 {
		t.Fatal("queue not empty after draining")
	}
}

func TestLocalQueueWrapAround(t *testing.T) {
	q := newLocalQueue(8)
	var inj injector
	next, want := 0, 0
	// 5 in, 5 out, many times: slot indices wrap the mask over and over.
	for round := 0; round < 100; round++ {
		for i := 0; i < 5; i++ {
			q.pushBack(idTask(next), &inj)
			next++
		}
		for i := 0; i < 5; i++ {
			got := q.pop()
			if got == nil || int(got.(idTask)) != want {
				t.Fatalf("round %d: popped %v, want %d", round, got, want)
			}
			want++
		}
	}
	if inj.len() != 0 {
		t.Fatalf("%d tasks overflowed", inj.len())
	}
}

func TestLocalQueueIndexOverflow(t *testing.T) {
	// Start the free-running indices just below 2^32 so they wrap.
	q := newLocalQueue(8)
	var inj injector
	start := uint32(math.MaxUint32 - 5)
	q.head.Store(pack(start, start))
	q.tail.Store(start)
	for i := 0; i < 8; i++ {
		q.pushBack(idTask(i), &inj)
	}
	dst := newLocalQueue(8)
	got, n := q.stealInto(dst)
	if got == nil || n != 4 || int(got.(idTask)) != 3 {
		t.Fatalf("steal across the wrap: task %v, n %d", got, n)
	}
	if rest := popAll(dst); !equalInts(rest, []int{0, 1, 2}) {
		t.Fatalf("stolen tasks %v", rest)
	}
	if rest := popAll(q); !equalInts(rest, seq(4, 4)) {
		t.Fatalf("left behind %v", rest)
	}
}

func TestLocalQueueOverflowToInjector(t *testing.T) {
	q := newLocalQueue(8)
	var inj injector
	for i := 0; i < 8; i++ {
		q.pushBack(idTask(i), &inj)
	}
	n, moved := q.pushBack(idTask(8), &inj)
	if n != 0 || moved != 5 {
		t.Fatalf("overflowing push: length %d, moved %d; want 0, 5", n, moved)
	}
	if got := injectorAll(&inj); !equalInts(got, []int{0, 1, 2, 3, 8}) {
		t.Fatalf("injector holds %v", got)
	}
	if got := popAll(q); !equalInts(got, seq(4, 4)) {
		t.Fatalf("local queue holds %v", got)
	}
	for i := range q.buf {
		if q.buf[i] != nil {
			t.Fatalf("slot %d still references a task", i)
		}
	}
}

func TestLocalQueueSteal(t *testing.T) {
	src, dst := newLocalQueue(8), newLocalQueue(8)
	var inj injector
	if got, _ := src.stealInto(dst); got != nil {
		t.Fatal("stole from an empty queue")
	}
	for i := 0; i < 7; i++ {
		src.pushBack(idTask(i), &inj)
	}
	got, n := src.stealInto(dst)
	if got == nil || n != 4 || int(got.(idTask)) != 3 {
		t.Fatalf("steal returned %v, n %d; want 3, 4", got, n)
	}
	if rest := popAll(dst); !equalInts(rest, []int{0, 1, 2}) {
		t.Fatalf("thief's queue holds %v", rest)
	}
	if rest := popAll(src); !equalInts(rest, []int{4, 5, 6}) {
		t.Fatalf("victim's queue holds %v", rest)
	}

	// One task: the thief takes it, its own queue stays empty.
	src.pushBack(idTask(9), &inj)
	if got, n := src.stealInto(dst); got == nil || n != 1 || !dst.isEmpty() {
		t.Fatalf("single steal: %v, %d, dst len %d", got, n, dst.len())
	}
}

func TestLocalQueueStealNeedsRoom(t *testing.T) {
	src, dst := newLocalQueue(8), newLocalQueue(8)
	var inj injector
	for i := 0; i < 5; i++ {
		dst.pushBack(idTask(i), &inj)
		src.pushBack(idTask(i), &inj)
	}
	if got, _ := src.stealInto(dst); got != nil {
		t.Fatal("stole into a queue with less than half its room free")
	}
	if src.len() != 5 || dst.len() != 5 {
		t.Fatalf("lengths changed: src %d, dst %d", src.len(), dst.len())
	}
}

// TestLocalQueueConcurrentSteal has an owner pushing and popping while
// thieves steal; every task must come out exactly once.
func TestLocalQueueConcurrentSteal(t *testing.T) {
	const total = 200000
	const thieves = 3
	owner := newLocalQueue(64)
	var inj injector
	seen := make([]atomic.Int32, total)
	var taken atomic.Int64
	take := func(task Task) {
		seen[int(task.(idTask))].Add(1)
		taken.Add(1)
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < thieves; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := newLocalQueue(64)
			for !done.Load() || !owner.isEmpty() {
				if task, _ := owner.stealInto(mine); task != nil {
					take(task)
				}
				for task := mine.pop(); task != nil; task = mine.pop() {
					take(task)
				}
			}
		}()
	}
	for i := 0; i < total; i++ {
		owner.pushBack(idTask(i), &inj)
		if i%3 == 0 {
			if task := owner.pop(); task != nil {
				take(task)
			}
		}
	}
	for task := owner.pop(); task != nil; task = owner.pop() {
		take(task)
	}
	done.Store(true)
	wg.Wait()
	for task := inj.pop(); task != nil; task = inj.pop() {
		take(task)
	}
	if taken.Load() != total {
		t.Fatalf("took %d tasks, want %d", taken.Load(), total)
	}
	for i := range seen {
		if n := seen[i].Load(); n != 1 {
			t.Fatalf("task %d taken %d times", i, n)
		}
	}
}

func TestInjectorGrowKeepsOrder(t *testing.T) {
	var q injector
	next, want := 0, 0
	// Interleave pushes and pops so the ring grows while wrapped.
	for round := 0; round < 10; round++ {
		for i := 0; i < 50*(round+1); i++ {
			q.push(idTask(next))
			next++
		}
		for i := 0; i < 30*(round+1); i++ {
			got := q.pop()
			if int(got.(idTask)) != want {
				t.Fatalf("popped %v, want %d", got, want)
			}
			want++
		}
	}
	if got := injectorAll(&q); !equalInts(got, seq(want, next-want)) {
		t.Fatalf("tail of the injector is %v", got)
	}
}

func TestInjectorPopInto(t *testing.T) {
	var q injector
	for i := 0; i < 10; i++ {
		q.push(idTask(i))
	}
	dst := newLocalQueue(8)
	got, n := q.popInto(dst, 4)
	if int(got.(idTask)) != 0 || n != 4 {
		t.Fatalf("popInto returned %v, %d", got, n)
	}
	if rest := popAll(dst); !equalInts(rest, []int{1, 2, 3}) {
		t.Fatalf("local queue holds %v", rest)
	}
	if q.len() != 6 {
		t.Fatalf("injector len %d, want 6", q.len())
	}
}

func TestQueueSize(t *testing.T) {
	for _, c := range []struct{ in, want int }{
		{0, 256}, {-1, 256}, {1, 4}, {4, 4}, {5, 8}, {256, 256}, {1000, 1024}, {1 << 30, 1 << 20},
	} {
		if got := queueSize(c.in); got != c.want {
			t.Errorf("queueSize(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}
