package sched_test

import (
	"fmt"

	"github.com/stark-rt/stark/host/sched"
)

// A task that fans work out with Push and collects the results.
func Example() {
	s := sched.New(sched.Config{Workers: 2})
	s.Start()
	defer s.Stop()

	results := make(chan int, 10)
	s.Submit(sched.Func(func(w *sched.Worker) {
		for i := 1; i <= 10; i++ {
			w.Push(sched.Func(func(*sched.Worker) { results <- i * i }))
		}
	}))
	sum := 0
	for range 10 {
		sum += <-results
	}
	fmt.Println(sum)
	// Output: 385
}

// counter runs three times, yielding in between like an actor that used
// its message budget.
type counter struct {
	name string
	left int
}

func (c *counter) Run(w *sched.Worker) bool {
	fmt.Println(c.name, c.left)
	c.left--
	return c.left > 0
}

// Deterministic mode replays the same interleaving for the same seed.
func Example_deterministic() {
	s := sched.New(sched.Config{Deterministic: true, Seed: 4})
	s.Submit(&counter{name: "a", left: 3})
	s.Submit(&counter{name: "b", left: 3})
	fmt.Println("ran", s.RunUntilIdle())
	// Output:
	// b 3
	// a 3
	// a 2
	// b 2
	// a 1
	// b 1
	// ran 6
}
