package task_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stark-rt/stark/host/task"
)

func ExampleScope() {
	s := task.NewScope(context.Background())
	results := make([]int, 3)
	for i := range results {
		s.Go(func(ctx context.Context) error {
			results[i] = i * 10 // each child owns its own slot
			return nil
		})
	}
	// The first failure cancels the siblings; Wait returns it once every
	// child has returned.
	s.Go(func(ctx context.Context) error { return errors.New("disk full") })
	err := s.Wait()
	fmt.Println(results, err)
	// Output: [0 10 20] disk full
}

func ExampleMap() {
	in := []float64{1, 2, 3, 4, 5}
	out, err := task.Map(context.Background(), task.GoExecutor{}, in, 0, func(x float64) float64 {
		return x * x
	})
	fmt.Println(out, err)
	// Output: [1 4 9 16 25] <nil>
}

func ExampleTimeout() {
	_, err := task.Timeout(context.Background(), 10*time.Millisecond, func(ctx context.Context) (string, error) {
		<-ctx.Done() // a slow call that honours its context
		return "", ctx.Err()
	})
	fmt.Println(errors.Is(err, task.ErrTimeout), errors.Is(err, context.DeadlineExceeded))
	// Output: true true
}

func ExampleToken() {
	root := task.NewToken()
	request := root.Child()
	ctx := request.Context() // hand it to context-first code
	root.Cancel(errors.New("shutting down"))
	<-ctx.Done()
	fmt.Println(request.Cancelled(), context.Cause(ctx))
	// Output: true shutting down
}

func ExampleBlockingPool() {
	pool := task.NewBlockingPool(4, 64)
	defer pool.Close()
	done := make(chan string, 1)
	if err := pool.Submit(context.Background(), func() {
		done <- "read the file" // blocking I/O would go here
	}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-done)
	// Output: read the file
}
