package task

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func after[T any](d time.Duration, v T, err error) func(context.Context) (T, error) {
	return func(context.Context) (T, error) {
		time.Sleep(d)
		return v, err
	}
}

func TestJoinOrderAndLowestIndexError(t *testing.T) {
	defer noLeak(t)()
	errSlow, errFast := errors.New("slow"), errors.New("fast")
	var sawCancel atomic.Bool
	out, err := Join(context.Background(),
		after(20*time.Millisecond, 0, nil),
		after(15*time.Millisecond, 1, errSlow),
		after(0, 2, errFast),
		func(ctx context.Context) (int, error) {
			time.Sleep(30 * time.Millisecond)
			sawCancel.Store(ctx.Err() != nil)
			return 3, nil
		},
	)
	if err != errSlow {
		t.Fatalf("err = %v, want the lowest-indexed failure", err)
	}
	for i, v := range out {
		if v != i {
			t.Fatalf("out = %v, want results in argument order", out)
		}
	}
	if sawCancel.Load() {
		t.Fatal("Join cancelled the others after a failure")
	}
}

func TestJoinEmptyAndPanic(t *testing.T) {
	out, err := Join[int](context.Background())
	if err != nil || len(out) != 0 {
		t.Fatalf("Join() = %v, %v", out, err)
	}
	_, err = Join(context.Background(), func(context.Context) (int, error) { panic("join") })
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "join" {
		t.Fatalf("err = %v, want a *PanicError", err)
	}
}

func TestTryJoinCancelsTheRestAndWaits(t *testing.T) {
	defer noLeak(t)()
	var returned atomic.Int32
	wait := func(ctx context.Context) (string, error) {
		defer returned.Add(1)
		<-ctx.Done()
		return "", context.Cause(ctx)
	}
	_, err := TryJoin(context.Background(), wait, wait,
		func(context.Context) (string, error) { defer returned.Add(1); return "", errCause },
		wait)
	if err != errCause {
		t.Fatalf("err = %v, want the first failure", err)
	}
	if returned.Load() != 4 {
		t.Fatalf("TryJoin returned with %d of 4 functions done", returned.Load())
	}

	out, err := TryJoin(context.Background(), after(time.Millisecond, "a", nil), after(0, "b", nil))
	if err != nil || out[0] != "a" || out[1] != "b" {
		t.Fatalf("TryJoin = %v, %v", out, err)
	}
}

func TestSelectFirstSuccessWins(t *testing.T) {
	defer noLeak(t)()
	var returned atomic.Int32
	var loserCause atomic.Value
	i, v, err := Select(context.Background(),
		func(ctx context.Context) (string, error) {
			defer returned.Add(1)
			<-ctx.Done()
			time.Sleep(5 * time.Millisecond) // losers are awaited, slow or not
			loserCause.Store(context.Cause(ctx))
			return "slow", ctx.Err()
		},
		func(context.Context) (string, error) {
			defer returned.Add(1)
			time.Sleep(5 * time.Millisecond)
			return "winner", nil
		},
		func(context.Context) (string, error) {
			defer returned.Add(1)
			return "", errCause // failing fast does not win
		},
	)
	if err != nil || i != 1 || v != "winner" {
		t.Fatalf("Select = %d, %q, %v; want 1, winner, nil", i, v, err)
	}
	if returned.Load() != 3 {
		t.Fatalf("Select returned with %d of 3 functions done", returned.Load())
	}
	if loserCause.Load() != errLostSelect {
		t.Fatalf("loser saw cause %v", loserCause.Load())
	}
}

func TestSelectAllFail(t *testing.T) {
	e1, e2 := errors.New("one"), errors.New("two")
	i, v, err := Select(context.Background(), after(0, 1, e1), after(time.Millisecond, 2, e2))
	if i != -1 || v != 0 || !errors.Is(err, e1) || !errors.Is(err, e2) {
		t.Fatalf("Select = %d, %d, %v; want -1, 0, both errors", i, v, err)
	}
	if _, _, err := Select[int](context.Background()); err != ErrNoFuncs {
		t.Fatalf("empty Select: %v", err)
	}
	_, _, err = Select(context.Background(), func(context.Context) (int, error) { panic("sel") })
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PanicError", err)
	}
}

func TestTimeout(t *testing.T) {
	defer noLeak(t)()
	_, err := Timeout(context.Background(), 5*time.Millisecond, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout and context.DeadlineExceeded", err)
	}
	var timeout interface{ Timeout() bool }
	if !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Fatal("timeout error does not report Timeout() true")
	}

	// An unrelated error after the deadline still reads as a timeout.
	_, err = Timeout(context.Background(), time.Millisecond, func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, errCause
	})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errCause) {
		t.Fatalf("err = %v, want ErrTimeout wrapping the function's error", err)
	}

	v, err := Timeout(context.Background(), time.Minute, func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("fast function: %d, %v", v, err)
	}
	_, err = Timeout(context.Background(), time.Minute, func(context.Context) (int, error) { return 0, errCause })
	if err != errCause {
		t.Fatalf("early failure: %v, want it unchanged", err)
	}

	// The parent's cancellation is not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Timeout(ctx, time.Minute, func(ctx context.Context) (int, error) { return 0, ctx.Err() })
	if errors.Is(err, ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("parent cancel: %v", err)
	}

	_, err = Timeout(context.Background(), time.Minute, func(context.Context) (int, error) { panic("late") })
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PanicError", err)
	}
	if !errors.Is(ErrTimeout, context.DeadlineExceeded) {
		t.Fatal("ErrTimeout is not context.DeadlineExceeded")
	}
}
