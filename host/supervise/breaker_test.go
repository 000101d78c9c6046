package supervise_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stark-rt/stark/host/clock"
	"github.com/stark-rt/stark/host/supervise"
)

var errDown = errors.New("service down")

func newTestBreaker(cfg supervise.BreakerConfig) (*supervise.Breaker, *clock.Virtual) {
	clk := clock.NewVirtual(epoch)
	cfg.Clock = clk
	return supervise.NewBreaker(cfg), clk
}

// call makes one call through b that returns err, and returns what Allow said.
func call(b *supervise.Breaker, err error) error {
	done, aerr := b.Allow()
	if aerr != nil {
		return aerr
	}
	done(err)
	return nil
}

func wantState(t *testing.T, b *supervise.Breaker, want supervise.BreakerState) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("state %v, want %v", got, want)
	}
}

func TestBreakerFullCycle(t *testing.T) {
	b, clk := newTestBreaker(supervise.BreakerConfig{
		FailureThreshold: 3, SuccessThreshold: 2, OpenTimeout: time.Second,
	})
	wantState(t, b, supervise.BreakerClosed)

	// Failures must be consecutive: a success resets the count.
	call(b, errDown)
	call(b, errDown)
	call(b, nil)
	call(b, errDown)
	call(b, errDown)
	wantState(t, b, supervise.BreakerClosed)
	call(b, errDown)
	wantState(t, b, supervise.BreakerOpen)

	// Open: rejected until exactly OpenTimeout has passed.
	for range 3 {
		if err := call(b, nil); err != supervise.ErrCircuitOpen {
			t.Fatalf("open breaker let a call through: %v", err)
		}
	}
	clk.Advance(time.Second - time.Nanosecond)
	wantState(t, b, supervise.BreakerOpen)
	clk.Advance(time.Nanosecond)
	wantState(t, b, supervise.BreakerHalfOpen)

	// Half-open: one trial at a time; two successes close it.
	done, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Allow(); err != supervise.ErrCircuitOpen {
		t.Fatalf("second concurrent trial: %v, want ErrCircuitOpen", err)
	}
	done(nil)
	wantState(t, b, supervise.BreakerHalfOpen)
	if err := call(b, nil); err != nil {
		t.Fatal(err)
	}
	wantState(t, b, supervise.BreakerClosed)

	st := b.Stats()
	want := supervise.BreakerStats{
		State: supervise.BreakerClosed, Successes: 3, Failures: 5, Rejections: 4, StateChanges: 3,
	}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

func TestBreakerHalfOpenFailureReopens(t *testing.T) {
	b, clk := newTestBreaker(supervise.BreakerConfig{FailureThreshold: 1, SuccessThreshold: 3, OpenTimeout: time.Second})
	call(b, errDown)
	wantState(t, b, supervise.BreakerOpen)
	clk.Advance(time.Second)
	call(b, nil) // one good trial of three needed
	wantState(t, b, supervise.BreakerHalfOpen)
	call(b, errDown) // a single failed trial reopens
	wantState(t, b, supervise.BreakerOpen)

	// The open timeout starts again from the failed trial.
	clk.Advance(time.Second - 1)
	wantState(t, b, supervise.BreakerOpen)
	clk.Advance(1)
	wantState(t, b, supervise.BreakerHalfOpen)
	for range 3 {
		call(b, nil)
	}
	wantState(t, b, supervise.BreakerClosed)
	if n := b.Stats().StateChanges; n != 5 {
		t.Fatalf("%d state changes, want 5", n)
	}
}

func TestBreakerHalfOpenMax(t *testing.T) {
	b, clk := newTestBreaker(supervise.BreakerConfig{
		FailureThreshold: 1, SuccessThreshold: 5, OpenTimeout: time.Second, HalfOpenMax: 3,
	})
	call(b, errDown)
	clk.Advance(time.Second)

	var dones []func(error)
	for range 3 {
		done, err := b.Allow()
		if err != nil {
			t.Fatalf("trial within HalfOpenMax rejected: %v", err)
		}
		dones = append(dones, done)
	}
	if _, err := b.Allow(); err != supervise.ErrCircuitOpen {
		t.Fatalf("fourth trial: %v, want ErrCircuitOpen", err)
	}
	dones[0](nil) // a finished trial frees its slot
	dones[0](errDown)
	if err := call(b, nil); err != nil {
		t.Fatalf("freed slot not reusable: %v", err)
	}
	if st := b.Stats(); st.Failures != 1 || st.Successes != 2 || st.Rejections != 1 {
		t.Fatalf("done called twice counted twice: %+v", st)
	}
}

func TestBreakerHalfOpenMaxConcurrent(t *testing.T) {
	b, clk := newTestBreaker(supervise.BreakerConfig{
		FailureThreshold: 1, SuccessThreshold: 100, OpenTimeout: time.Second, HalfOpenMax: 3,
	})
	call(b, errDown)
	clk.Advance(time.Second)

	release := make(chan struct{})
	var inside, peak, rejected atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.Do(context.Background(), func(context.Context) error {
				n := inside.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				<-release
				inside.Add(-1)
				return nil
			})
			if err == supervise.ErrCircuitOpen {
				rejected.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for rejected.Load()+inside.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if peak.Load() != 3 || rejected.Load() != 17 {
		t.Fatalf("peak %d trials, %d rejected; want 3 and 17", peak.Load(), rejected.Load())
	}
}

func TestBreakerStaleOutcomes(t *testing.T) {
	b, clk := newTestBreaker(supervise.BreakerConfig{FailureThreshold: 2, OpenTimeout: time.Second})
	slow, _ := b.Allow() // admitted while closed
	call(b, errDown)
	call(b, errDown)
	wantState(t, b, supervise.BreakerOpen)
	clk.Advance(time.Second)
	wantState(t, b, supervise.BreakerHalfOpen)

	slow(errDown) // finishes late: counted, but must not reopen the breaker
	wantState(t, b, supervise.BreakerHalfOpen)
	if err := call(b, nil); err != nil {
		t.Fatal(err)
	}
	wantState(t, b, supervise.BreakerClosed)
	if st := b.Stats(); st.Failures != 3 {
		t.Fatalf("stale failure not counted in stats: %+v", st)
	}
}

func TestBreakerNeutralErrors(t *testing.T) {
	b, clk := newTestBreaker(supervise.BreakerConfig{FailureThreshold: 2, OpenTimeout: time.Second})
	call(b, errDown)
	call(b, context.Canceled) // the caller gave up: neither failure nor success
	call(b, fmt.Errorf("ask: %w", context.Canceled))
	wantState(t, b, supervise.BreakerClosed)
	call(b, context.DeadlineExceeded) // a slow callee is a failure
	wantState(t, b, supervise.BreakerOpen)

	clk.Advance(time.Second)
	call(b, context.Canceled) // frees the trial slot, decides nothing
	wantState(t, b, supervise.BreakerHalfOpen)
	call(b, nil)
	wantState(t, b, supervise.BreakerClosed)
	if st := b.Stats(); st.Ignored != 3 || st.Failures != 2 || st.Successes != 1 {
		t.Fatalf("stats %+v", st)
	}

	// A custom classifier: "not found" is the callee answering, not failing.
	errNotFound := errors.New("not found")
	c, _ := newTestBreaker(supervise.BreakerConfig{
		FailureThreshold: 1,
		IsFailure:        func(err error) bool { return !errors.Is(err, errNotFound) },
	})
	call(c, errNotFound)
	wantState(t, c, supervise.BreakerClosed)
	call(c, context.Canceled) // the custom classifier decides alone
	wantState(t, c, supervise.BreakerOpen)
}

func TestBreakerDoAndCall(t *testing.T) {
	b, _ := newTestBreaker(supervise.BreakerConfig{FailureThreshold: 2})
	v, err := supervise.Call(context.Background(), b, func(context.Context) (int, error) { return 42, nil })
	if v != 42 || err != nil {
		t.Fatalf("Call = %d, %v", v, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := b.Do(ctx, func(context.Context) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("Do on a done context: %v (ran %v)", err, ran)
	}

	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		b.Do(context.Background(), func(context.Context) error { panic("callee") })
	}()
	if err := b.Do(context.Background(), func(context.Context) error { return errDown }); err != errDown {
		t.Fatalf("Do = %v, want the callee's error", err)
	}
	wantState(t, b, supervise.BreakerOpen) // the panic and errDown: two failures
	ran = false
	if err := b.Do(context.Background(), func(context.Context) error { ran = true; return nil }); err != supervise.ErrCircuitOpen || ran {
		t.Fatalf("Do while open: %v (ran %v)", err, ran)
	}
	if v, err := supervise.Call(context.Background(), b, func(context.Context) (int, error) { return 1, nil }); v != 0 || err != supervise.ErrCircuitOpen {
		t.Fatalf("Call while open = %d, %v", v, err)
	}
	st := b.Stats()
	if st.Successes != 1 || st.Failures != 2 || st.Rejections != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBreakerDefaults(t *testing.T) {
	b, clk := newTestBreaker(supervise.BreakerConfig{})
	for range 4 {
		call(b, errDown)
	}
	wantState(t, b, supervise.BreakerClosed)
	call(b, errDown)
	wantState(t, b, supervise.BreakerOpen)
	clk.Advance(10*time.Second - 1)
	wantState(t, b, supervise.BreakerOpen)
	clk.Advance(1)
	wantState(t, b, supervise.BreakerHalfOpen)
	call(b, nil)
	wantState(t, b, supervise.BreakerClosed)

	if supervise.NewBreaker(supervise.BreakerConfig{}).State() != supervise.BreakerClosed {
		t.Fatal("a breaker on the real clock did not start closed")
	}
	names := fmt.Sprint(supervise.BreakerClosed, supervise.BreakerOpen, supervise.BreakerHalfOpen, supervise.BreakerState(9))
	if names != "closed open half-open BreakerState(9)" {
		t.Fatalf("names %q", names)
	}
}

// Many goroutines, random outcomes, time moving underneath: under -race this
// checks the locking, and the counters must account for every call.
func TestBreakerConcurrentAccounting(t *testing.T) {
	b, clk := newTestBreaker(supervise.BreakerConfig{
		FailureThreshold: 3, SuccessThreshold: 2, OpenTimeout: 10 * ms, HalfOpenMax: 2,
	})
	const goroutines, calls = 8, 500
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				clk.Advance(ms)
				time.Sleep(10 * time.Microsecond)
			}
		}
	}()
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range calls {
				var err error
				switch rng.IntN(4) {
				case 0:
					err = errDown
				case 1:
					err = context.Canceled
				}
				b.Do(context.Background(), func(context.Context) error { return err })
			}
		}()
	}
	wg.Wait()
	close(stop)
	st := b.Stats()
	if total := st.Successes + st.Failures + st.Ignored + st.Rejections; total != goroutines*calls {
		t.Fatalf("counters add up to %d, want %d: %+v", total, goroutines*calls, st)
	}
}

func ExampleBreaker() {
	clk := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b := supervise.NewBreaker(supervise.BreakerConfig{
		FailureThreshold: 2,
		OpenTimeout:      time.Second,
		Clock:            clk, // clock.Real{} (the default) in production
	})
	ask := func(err error) error {
		return b.Do(context.Background(), func(ctx context.Context) error { return err })
	}

	ask(errors.New("timeout"))
	ask(errors.New("timeout"))
	fmt.Println(b.State(), ask(nil)) // two failures in a row open it

	clk.Advance(time.Second)
	fmt.Println(b.State()) // after OpenTimeout one trial may go through
	fmt.Println(ask(nil), b.State())
	// Output:
	// open supervise: circuit open
	// half-open
	// <nil> closed
}

func TestBreakerPanickingTrialReopens(t *testing.T) {
	b, clk := newTestBreaker(supervise.BreakerConfig{FailureThreshold: 1, OpenTimeout: time.Second})
	call(b, errDown)
	clk.Advance(time.Second)
	func() {
		defer func() { recover() }()
		b.Do(context.Background(), func(context.Context) error { panic("trial") })
	}()
	wantState(t, b, supervise.BreakerOpen) // the slot was released and the panic counted
}

func BenchmarkBreakerDo(b *testing.B) {
	br := supervise.NewBreaker(supervise.BreakerConfig{})
	fn := func(context.Context) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		br.Do(ctx, fn)
	}
}

func BenchmarkBreakerAllow(b *testing.B) {
	br := supervise.NewBreaker(supervise.BreakerConfig{})
	b.ReportAllocs()
	for b.Loop() {
		done, _ := br.Allow()
		done(nil)
	}
}

func BenchmarkExponentialJitterDelay(b *testing.B) {
	bo := supervise.Exponential(time.Millisecond, time.Minute, 0.5)
	rng := seeded()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		bo.Delay(i%40+1, rng)
	}
}
