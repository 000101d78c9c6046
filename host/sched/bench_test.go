package sched

import (
	"sync/atomic"
	"testing"
)

// countDown closes done when it has run left times in all.
type countDown struct {
	left atomic.Int64
	done chan struct{}
}

func newCountDown(n int) *countDown {
	c := &countDown{done: make(chan struct{})}
	c.left.Store(int64(n))
	return c
}

func (c *countDown) Run(*Worker) bool {
	if c.left.Add(-1) == 0 {
		close(c.done)
	}
	return false
}

// BenchmarkSubmit measures outside submission: goroutines that are not
// workers call Submit as fast as they can; the clock stops when every task
// has run. ns/op is per task.
func BenchmarkSubmit(b *testing.B) {
	s := New(Config{})
	s.Start()
	defer s.Stop()
	c := newCountDown(b.N)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Submit(c)
		}
	})
	<-c.done
}

// BenchmarkSubmitRoundTrip is the floor under an ask from outside: submit a
// task, wait until it has signalled back over a channel.
func BenchmarkSubmitRoundTrip(b *testing.B) {
	s := New(Config{})
	s.Start()
	defer s.Stop()
	reply := make(chan struct{}, 1)
	task := Func(func(*Worker) { reply <- struct{}{} })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Submit(task)
		<-reply
	}
	b.StopTimer()
	b.ReportMetric(float64(s.Stats().Unparks)/float64(b.N), "unparks/op")
}

// pingPong is one of two tasks that wake each other through the LIFO
// slot, the way two actors do when they exchange messages.
type pingPong struct {
	partner *pingPong
	left    *int // shared: only one of the pair runs at a time
	done    chan struct{}
}

func (p *pingPong) Run(w *Worker) bool {
	*p.left--
	if *p.left <= 0 {
		p.done <- struct{}{}
		return false
	}
	w.Schedule(p.partner)
	return false
}

// BenchmarkPingPong measures one hop between two tasks that schedule each
// other. ns/op is per hop.
func BenchmarkPingPong(b *testing.B) {
	s := New(Config{})
	s.Start()
	defer s.Stop()
	left := b.N
	done := make(chan struct{}, 1)
	a := &pingPong{left: &left, done: done}
	c := &pingPong{left: &left, done: done, partner: a}
	a.partner = c
	b.ReportAllocs()
	b.ResetTimer()
	s.Submit(a)
	<-done
}

// BenchmarkPingPongPairs runs 64 ping-pong pairs at once, so the LIFO cap
// and stealing come into play. ns/op is per hop.
func BenchmarkPingPongPairs(b *testing.B) {
	const pairs = 64
	s := New(Config{})
	s.Start()
	defer s.Stop()
	done := make(chan struct{}, pairs)
	lefts := make([]int, pairs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range lefts {
		lefts[i] = b.N/pairs + 1
		a := &pingPong{left: &lefts[i], done: done}
		c := &pingPong{left: &lefts[i], done: done, partner: a}
		a.partner = c
		s.Submit(a)
	}
	for range pairs {
		<-done
	}
}

// spreader pushes leaf tasks, one chunk of up to 64 per run, and yields in
// between like a budgeted actor, so other workers can steal the leaves.
type spreader struct {
	chunks []chunk
	next   int
	left   int // leaves still to push
}

func (f *spreader) Run(w *Worker) bool {
	c := &f.chunks[f.next]
	f.next++
	n := min(f.left, chunkSize)
	c.left.Store(int32(n))
	for i := 0; i < n; i++ {
		w.Push(c) // the same task value may sit in a queue many times
	}
	f.left -= n
	return f.left > 0
}

const chunkSize = 64

// chunk is a leaf task pushed chunkSize times. Each run does a little
// arithmetic; the run that finishes the chunk counts it as done. Counting
// per chunk keeps one shared counter from dominating what is measured.
type chunk struct {
	left atomic.Int32
	done *countDown // counts chunks
	sink uint64
	_    [cacheLine - 24]byte
}

func (c *chunk) Run(w *Worker) bool {
	h := uint64(w.ID())
	for i := 0; i < 64; i++ {
		h = h*6364136223846793005 + 1442695040888963407
	}
	if h == 0 {
		c.sink = h // never true; keeps the loop from being optimised away
	}
	if c.left.Add(-1) == 0 {
		c.done.Run(w)
	}
	return false
}

// BenchmarkFanOut pushes b.N small leaf tasks from one spreader task; idle
// workers have to steal them. ns/op is per leaf.
func BenchmarkFanOut(b *testing.B) {
	s := New(Config{})
	s.Start()
	defer s.Stop()
	chunks := make([]chunk, (b.N+chunkSize-1)/chunkSize)
	done := newCountDown(len(chunks))
	for i := range chunks {
		chunks[i].done = done
	}
	b.ReportAllocs()
	b.ResetTimer()
	s.Submit(&spreader{chunks: chunks, left: b.N})
	<-done.done
	b.StopTimer()
	st := s.Stats()
	b.ReportMetric(float64(st.Stolen)/float64(b.N), "stolen/op")
}

// skynetNode is one node of the skynet benchmark's tree: it spawns ten
// children until depth 0, each leaf reports its number to its parent, and
// every parent sums its children and reports up once all ten have. Nodes
// live in one preallocated array in heap order (children of i are
// 10i+1..10i+10), so no task allocates and no counter is shared by the
// whole tree.
type skynetNode struct {
	tree    *skynetTree
	index   int
	depth   int
	value   int64 // the leaf number this subtree starts at, scaled
	pending atomic.Int32
	sum     atomic.Int64
}

type skynetTree struct {
	nodes []skynetNode
	done  chan int64
}

func (n *skynetNode) Run(w *Worker) bool {
	if n.depth == 0 {
		n.report(n.value)
		return false
	}
	n.pending.Store(10)
	n.sum.Store(0)
	for i := 0; i < 10; i++ {
		c := &n.tree.nodes[10*n.index+1+i]
		c.tree, c.index, c.depth, c.value = n.tree, 10*n.index+1+i, n.depth-1, n.value*10+int64(i)
		if i == 0 {
			w.Schedule(c)
		} else {
			w.Push(c)
		}
	}
	return false
}

// report adds v to the parent and, if it was the parent's last child,
// reports the parent's sum further up.
func (n *skynetNode) report(v int64) {
	for n.index != 0 {
		p := &n.tree.nodes[(n.index-1)/10]
		p.sum.Add(v)
		if p.pending.Add(-1) != 0 {
			return
		}
		// Last child in: every sibling's Add happened before its
		// decrement, so the sum is complete now.
		n, v = p, p.sum.Load()
	}
	n.tree.done <- v
}

// BenchmarkSkynet runs the skynet tree: 1,111,111 tasks (fan-out 10, depth
// 6), one million leaves. ns/op is per tree; ns/task is per node.
func BenchmarkSkynet(b *testing.B) {
	const total = 1111111
	s := New(Config{})
	s.Start()
	defer s.Stop()
	tree := &skynetTree{nodes: make([]skynetNode, total), done: make(chan int64, 1)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		root := &tree.nodes[0]
		root.tree, root.index, root.depth, root.value = tree, 0, 6, 0
		s.Submit(root)
		if sum := <-tree.done; sum != 499999500000 {
			b.Fatalf("sum %d", sum)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/total, "ns/task")
}
