package task

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestScopeWaitsForEveryChildEvenOnError(t *testing.T) {
	defer noLeak(t)()
	s := NewScope(context.Background())
	var slowDone atomic.Bool
	s.Go(func(context.Context) error { return errCause })
	s.Go(func(context.Context) error {
		time.Sleep(30 * time.Millisecond) // ignores its context on purpose
		slowDone.Store(true)
		return nil
	})
	if err := s.Wait(); err != errCause {
		t.Fatalf("Wait() = %v, want %v", err, errCause)
	}
	if !slowDone.Load() {
		t.Fatal("Wait returned before every child did")
	}
}

func TestScopeFirstErrorCancelsSiblings(t *testing.T) {
	defer noLeak(t)()
	s := NewScope(context.Background())
	var sawCause atomic.Value
	started := make(chan struct{})
	s.Go(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		sawCause.Store(context.Cause(ctx))
		return ctx.Err()
	})
	<-started
	s.Go(func(context.Context) error { return errCause })
	if err := s.Wait(); err != errCause {
		t.Fatalf("Wait() = %v, want the first error, not the sibling's echo", err)
	}
	if sawCause.Load() != errCause {
		t.Fatalf("sibling saw cause %v", sawCause.Load())
	}
}

func TestScopeParentCancelReachesGrandchildren(t *testing.T) {
	defer noLeak(t)()
	ctx, cancel := context.WithCancelCause(context.Background())
	s := NewScope(ctx)
	ready := make(chan struct{})
	var grandchildCause atomic.Value
	s.Go(func(ctx context.Context) error {
		inner := NewScope(ctx)
		inner.Go(func(ctx context.Context) error {
			close(ready)
			<-ctx.Done()
			grandchildCause.Store(context.Cause(ctx))
			return ctx.Err()
		})
		return inner.Wait()
	})
	<-ready
	cancel(errCause)
	err := s.Wait()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait() = %v, want context.Canceled from the cancelled parent", err)
	}
	if grandchildCause.Load() != errCause {
		t.Fatalf("grandchild saw cause %v, want the parent's", grandchildCause.Load())
	}
}

func TestScopeCancellationDoesNotGoUp(t *testing.T) {
	defer noLeak(t)()
	outer := NewScope(context.Background())
	innerDone := make(chan struct{})
	outer.Go(func(ctx context.Context) error {
		inner := NewScope(ctx)
		inner.Go(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		inner.Cancel(nil)
		err := inner.Wait()
		close(innerDone)
		return err
	})
	<-innerDone
	if outer.Context().Err() != nil {
		t.Fatal("cancelling a nested scope cancelled the outer one")
	}
	if err := outer.Wait(); err != nil {
		t.Fatalf("outer Wait() = %v, want nil (inner was stopped, not failed)", err)
	}
}

func TestScopePanicBecomesError(t *testing.T) {
	defer noLeak(t)()
	s := NewScope(context.Background())
	s.Go(func(context.Context) error { panic("boom") })
	err := s.Wait()
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Wait() = %v, want a *PanicError", err)
	}
	if pe.Value != "boom" {
		t.Fatalf("panic value %v", pe.Value)
	}
	if !strings.Contains(string(pe.Stack), "TestScopePanicBecomesError") {
		t.Fatalf("stack does not show the panicking function:\n%s", pe.Stack)
	}
	if !strings.Contains(err.Error(), "boom") {
		t.Fatalf("message %q lacks the panic value", err.Error())
	}

	s = NewScope(context.Background())
	s.Go(func(context.Context) error { panic(fmt.Errorf("wrapped: %w", errCause)) })
	if err := s.Wait(); !errors.Is(err, errCause) {
		t.Fatalf("errors.Is does not see through a panicked error: %v", err)
	}
}

func TestScopeGoexitBecomesError(t *testing.T) {
	defer noLeak(t)()
	s := NewScope(context.Background())
	s.Go(func(context.Context) error { runtime.Goexit(); return nil })
	if err := s.Wait(); err != ErrGoexit {
		t.Fatalf("Wait() = %v, want ErrGoexit", err)
	}
}

func TestScopeCloseStopsAndWaits(t *testing.T) {
	defer noLeak(t)()
	s := NewScope(context.Background())
	var returned atomic.Int32
	for range 5 {
		s.Go(func(ctx context.Context) error {
			<-ctx.Done()
			time.Sleep(time.Millisecond)
			returned.Add(1)
			return fmt.Errorf("stopping: %w", ctx.Err())
		})
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil: cancellation echoes are not failures", err)
	}
	if returned.Load() != 5 {
		t.Fatalf("Close returned with %d of 5 children done", returned.Load())
	}
}

func TestScopeCloseKeepsRealFailures(t *testing.T) {
	s := NewScope(context.Background())
	s.Go(func(ctx context.Context) error { <-ctx.Done(); return errCause })
	if err := s.Close(); err != errCause {
		t.Fatalf("Close() = %v, want the child's real failure", err)
	}
}

func TestScopeCancelWithCause(t *testing.T) {
	s := NewScope(context.Background())
	var seen atomic.Value
	s.Go(func(ctx context.Context) error {
		<-ctx.Done()
		seen.Store(context.Cause(ctx))
		return ctx.Err()
	})
	s.Cancel(errCause)
	if err := s.Wait(); err != errCause {
		t.Fatalf("Wait() = %v, want the Cancel cause", err)
	}
	if seen.Load() != errCause {
		t.Fatalf("child saw cause %v", seen.Load())
	}
	if s.Wait() != errCause {
		t.Fatal("second Wait gave a different result")
	}
}

func TestScopeChildStartsSiblings(t *testing.T) {
	s := NewScope(context.Background())
	var n atomic.Int32
	var spawn func(depth int) func(context.Context) error
	spawn = func(depth int) func(context.Context) error {
		return func(context.Context) error {
			n.Add(1)
			if depth > 0 {
				s.Go(spawn(depth - 1))
				s.Go(spawn(depth - 1))
			}
			return nil
		}
	}
	s.Go(spawn(4))
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 31 {
		t.Fatalf("%d children ran, want 31", n.Load())
	}
}

func TestScopeLimit(t *testing.T) {
	defer noLeak(t)()
	s := NewScope(context.Background(), WithLimit(2))
	var running, peak, total atomic.Int32
	for range 20 {
		s.Go(func(context.Context) error {
			r := running.Add(1)
			for {
				p := peak.Load()
				if r <= p || peak.CompareAndSwap(p, r) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
			total.Add(1)
			return nil
		})
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if peak.Load() > 2 || total.Load() != 20 {
		t.Fatalf("peak %d (limit 2), total %d of 20", peak.Load(), total.Load())
	}
}

func TestScopeLimitGoGivesUpWhenCancelled(t *testing.T) {
	defer noLeak(t)()
	ctx, cancel := context.WithCancel(context.Background())
	s := NewScope(ctx, WithLimit(1))
	s.Go(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	if s.TryGo(func(context.Context) error { return nil }) {
		t.Fatal("TryGo started a child with every slot taken")
	}
	var ran atomic.Bool
	goReturned := make(chan struct{})
	go func() {
		s.Go(func(context.Context) error { ran.Store(true); return nil })
		close(goReturned)
	}()
	time.Sleep(10 * time.Millisecond)
	cancel()
	<-goReturned
	if err := s.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait() = %v, want context.Canceled", err)
	}
	if ran.Load() {
		t.Fatal("a child waiting for a slot started after its scope was cancelled")
	}
}

func TestScopeGoAfterWaitPanics(t *testing.T) {
	s := NewScope(context.Background())
	s.Wait()
	defer func() {
		if recover() == nil {
			t.Fatal("Go after Wait did not panic")
		}
	}()
	s.Go(func(context.Context) error { return nil })
}

func TestScopeContextEndsAfterWait(t *testing.T) {
	s := NewScope(context.Background())
	s.Go(func(context.Context) error { return nil })
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if s.Context().Err() == nil {
		t.Fatal("scope context still live after Wait")
	}
}
