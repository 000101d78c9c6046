package task

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// countingExecutor counts submissions and runs them on goroutines, or not
// at all when drop is set.
type countingExecutor struct {
	workers   int
	drop      bool
	submitted atomic.Int32
}

func (e *countingExecutor) Submit(fn func()) {
	e.submitted.Add(1)
	if !e.drop {
		go fn()
	}
}

func (e *countingExecutor) Workers() int { return e.workers }

// inlineExecutor runs every function before Submit returns.
type inlineExecutor struct{}

func (inlineExecutor) Submit(fn func()) { fn() }

// singleWorker is a one-goroutine executor, like a scheduler with one
// worker: functions run one after another, in submission order. It reports
// claims as its worker count, so loops submit claims-1 helpers to it.
type singleWorker struct {
	claims int
	queue  chan func()
	wg     sync.WaitGroup
}

func newSingleWorker(claims int) *singleWorker {
	w := &singleWorker{claims: claims, queue: make(chan func(), 64)}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for fn := range w.queue {
			fn()
		}
	}()
	return w
}

func (w *singleWorker) Submit(fn func()) { w.queue <- fn }
func (w *singleWorker) Workers() int     { return w.claims }
func (w *singleWorker) stop()            { close(w.queue); w.wg.Wait() }

func square(x int) int { return x * x }

func TestMapSizesAndChunks(t *testing.T) {
	defer noLeak(t)()
	executors := map[string]Executor{
		"go":     GoExecutor{},
		"nil":    nil,
		"inline": inlineExecutor{},
		"wide":   &countingExecutor{workers: 16},
	}
	for name, ex := range executors {
		for _, n := range []int{0, 1, 2, 3, 7, 13, 100, 1001} {
			for _, chunk := range []int{-1, 0, 1, 3, 64, 5000} {
				in := make([]int, n)
				for i := range in {
					in[i] = i
				}
				out, err := Map(context.Background(), ex, in, chunk, square)
				if err != nil {
					t.Fatalf("%s n=%d chunk=%d: %v", name, n, chunk, err)
				}
				if out == nil || len(out) != n {
					t.Fatalf("%s n=%d chunk=%d: len %d (nil=%v)", name, n, chunk, len(out), out == nil)
				}
				for i, v := range out {
					if v != i*i {
						t.Fatalf("%s n=%d chunk=%d: out[%d] = %d", name, n, chunk, i, v)
					}
				}
			}
		}
	}
}

func TestMapCallerRunsEverythingWhenExecutorNeverRuns(t *testing.T) {
	ex := &countingExecutor{workers: 8, drop: true}
	in := make([]int, 1000)
	for i := range in {
		in[i] = i
	}
	out, err := Map(context.Background(), ex, in, 1, square)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != i*i {
			t.Fatalf("out[%d] = %d", i, v)
		}
	}
	if n := ex.submitted.Load(); n != 7 {
		t.Fatalf("%d helpers submitted for 1000 chunks and 8 workers, want 7", n)
	}
}

func TestMapInsideTheOnlyWorkerDoesNotDeadlock(t *testing.T) {
	w := newSingleWorker(4)
	defer w.stop()
	result := make(chan error, 1)
	w.Submit(func() {
		// Runs on the only worker; the helpers Map submits queue up behind
		// it and can only run after Map has returned.
		out, err := Map(context.Background(), w, make([]int, 500), 1, func(int) int { return 1 })
		if err == nil && len(out) != 500 {
			err = fmt.Errorf("len %d", len(out))
		}
		result <- err
	})
	if err := <-result; err != nil {
		t.Fatal(err)
	}
}

func TestLoopSubmitsFewHelpers(t *testing.T) {
	ex := &countingExecutor{workers: 4}
	if err := Range(context.Background(), ex, 100000, 1, func(lo, hi int) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := ex.submitted.Load(); n != 3 {
		t.Fatalf("%d helpers submitted, want workers-1 = 3", n)
	}
	ex.submitted.Store(0)
	Range(context.Background(), ex, 2, 1, func(lo, hi int) error { return nil })
	if n := ex.submitted.Load(); n != 1 {
		t.Fatalf("%d helpers submitted for two chunks, want 1", n)
	}
}

func TestRangeCoversEveryIndexOnce(t *testing.T) {
	const n = 10007
	seen := make([]atomic.Int32, n)
	err := Range(context.Background(), GoExecutor{}, n, 97, func(lo, hi int) error {
		if hi-lo > 97 || lo >= hi {
			return fmt.Errorf("bad chunk [%d, %d)", lo, hi)
		}
		for i := lo; i < hi; i++ {
			seen[i].Add(1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Fatalf("index %d visited %d times", i, c)
		}
	}
}

func TestMapCancellation(t *testing.T) {
	defer noLeak(t)()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if out, err := Map(ctx, GoExecutor{}, []int{1, 2, 3}, 1, square); out != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Map on a cancelled context = %v, %v", out, err)
	}

	// Cancelled part-way: no new chunks are claimed after the cancel.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	in := make([]int, 1000)
	out, err := Map(ctx, nil, in, 1, func(int) int {
		if calls.Add(1) == 10 {
			cancel()
		}
		return 0
	})
	if out != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Map = %v, %v; want nil, context.Canceled", out, err)
	}
	if c := calls.Load(); c != 10 {
		t.Fatalf("%d calls; one worker should stop right after the 10th", c)
	}
}

func TestMapPanicBecomesError(t *testing.T) {
	defer noLeak(t)()
	in := make([]int, 100)
	for i := range in {
		in[i] = i
	}
	out, err := Map(context.Background(), GoExecutor{}, in, 7, func(x int) int {
		if x == 42 {
			panic("forty-two")
		}
		return x
	})
	var pe *PanicError
	if out != nil || !errors.As(err, &pe) || pe.Value != "forty-two" {
		t.Fatalf("Map = %v, %v; want nil and a *PanicError", out, err)
	}
}

func TestMapErrStopsAtFirstFailure(t *testing.T) {
	defer noLeak(t)()
	in := make([]int, 1000)
	for i := range in {
		in[i] = i
	}
	var calls atomic.Int32
	out, err := MapErr(context.Background(), nil, in, 10, func(ctx context.Context, x int) (string, error) {
		calls.Add(1)
		if x == 25 {
			return "", errCause
		}
		return fmt.Sprint(x), nil
	})
	if out != nil || err != errCause {
		t.Fatalf("MapErr = %v, %v", out, err)
	}
	if c := calls.Load(); c != 26 {
		t.Fatalf("%d calls after a failure at index 25 on one goroutine, want 26", c)
	}

}

func TestMapErrCancelsCallsInFlight(t *testing.T) {
	defer noLeak(t)()
	var started atomic.Int32
	ex := &countingExecutor{workers: 4}
	out, err := MapErr(context.Background(), ex, []int{0, 1, 2, 3}, 1, func(ctx context.Context, x int) (int, error) {
		if x == 0 {
			waitFor(t, "the other calls to start", func() bool { return started.Load() == 3 })
			return 0, errCause
		}
		started.Add(1)
		<-ctx.Done() // released only by the failure of x == 0
		return 0, ctx.Err()
	})
	if out != nil || err != errCause {
		t.Fatalf("MapErr = %v, %v; want the failure, not the cancellation echoes", out, err)
	}
}

func TestForEach(t *testing.T) {
	in := make([]int64, 5000)
	for i := range in {
		in[i] = int64(i)
	}
	var sum atomic.Int64
	err := ForEach(context.Background(), GoExecutor{}, in, 0, func(i int, v int64) error {
		if int64(i) != v {
			return fmt.Errorf("index %d got %d", i, v)
		}
		sum.Add(v)
		return nil
	})
	if err != nil || sum.Load() != 5000*4999/2 {
		t.Fatalf("ForEach: %v, sum %d", err, sum.Load())
	}
	err = ForEach(context.Background(), GoExecutor{}, in, 0, func(i int, _ int64) error {
		if i == 4000 {
			return errCause
		}
		return nil
	})
	if err != errCause {
		t.Fatalf("ForEach = %v, want the function's error", err)
	}
}
