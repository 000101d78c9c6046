package task

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// errLostSelect is the cause losers of a Select see through context.Cause.
var errLostSelect = errors.New("task: another function won the select")

// Join runs every fn concurrently with ctx, waits for all of them, and
// returns their results in the order of fns. The error is that of the
// lowest-indexed fn that failed (nil if none); a failure does not cancel the
// others (see TryJoin). Each result is whatever its fn returned, so the
// results of the functions that succeeded are usable even when err is not
// nil. A panic in a fn becomes a *PanicError.
//
// It costs one goroutine per fn.
func Join[T any](ctx context.Context, fns ...func(context.Context) (T, error)) ([]T, error) {
	out := make([]T, len(fns))
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	wg.Add(len(fns))
	for i, fn := range fns {
		go guard(func() error {
			v, err := fn(ctx)
			out[i] = v
			return err
		}, func(err error) {
			errs[i] = err
			wg.Done()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// TryJoin is Join that gives up early: the first fn to fail (in time)
// cancels the context of the others, and its error is the one returned.
// TryJoin still waits for every fn to return before it does.
//
// It costs one goroutine per fn and one context.WithCancelCause.
func TryJoin[T any](ctx context.Context, fns ...func(context.Context) (T, error)) ([]T, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(context.Canceled)
	out := make([]T, len(fns))
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	wg.Add(len(fns))
	for i, fn := range fns {
		go guard(func() error {
			v, err := fn(ctx)
			out[i] = v
			return err
		}, func(err error) {
			if err != nil {
				once.Do(func() {
					first = err
					cancel(err)
				})
			}
			wg.Done()
		})
	}
	wg.Wait()
	return out, first
}

// Select runs every fn concurrently and returns the index and result of the
// first one to succeed. The moment one succeeds the others' context is
// cancelled (context.Cause says another function won); Select returns only
// after all of them have returned, and drops what the losers return, so a
// loser must release anything it acquired itself.
//
// If none succeeds, Select returns index -1 and an error joining every fn's
// error in index order (errors.Is and errors.As see each one). With no fns it
// returns ErrNoFuncs. It costs one goroutine per fn.
func Select[T any](ctx context.Context, fns ...func(context.Context) (T, error)) (int, T, error) {
	var zero T
	if len(fns) == 0 {
		return -1, zero, ErrNoFuncs
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(context.Canceled)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		winner = -1
		result T
	)
	errs := make([]error, len(fns))
	wg.Add(len(fns))
	for i, fn := range fns {
		go guard(func() error {
			v, err := fn(ctx)
			if err == nil {
				mu.Lock()
				won := winner < 0
				if won {
					winner, result = i, v
				}
				mu.Unlock()
				if won {
					cancel(errLostSelect)
				}
			}
			return err
		}, func(err error) {
			errs[i] = err
			wg.Done()
		})
	}
	wg.Wait()
	if winner >= 0 {
		return winner, result, nil
	}
	return -1, zero, errors.Join(errs...)
}

// Timeout runs fn on the calling goroutine with a context that ends after
// d. If fn fails once that deadline has passed, the error wraps both
// ErrTimeout and fn's error, so errors.Is(err, ErrTimeout) and
// errors.Is(err, context.DeadlineExceeded) both hold. A deadline of the
// parent ctx that comes first is the parent's, not this one: fn's error is
// then returned unchanged. If fn succeeds, even late, its result stands.
//
// Timeout waits for fn to return: fn must watch its context for the timeout
// to cut it short. A panic in fn becomes a *PanicError. It costs one
// context.WithTimeoutCause (one timer).
func Timeout[T any](ctx context.Context, d time.Duration, fn func(context.Context) (T, error)) (v T, err error) {
	ctx, cancel := context.WithTimeoutCause(ctx, d, ErrTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			var zero T
			v, err = zero, newPanicError(r)
		}
	}()
	v, err = fn(ctx)
	if err != nil && context.Cause(ctx) == ErrTimeout {
		err = fmt.Errorf("%w after %v: %w", ErrTimeout, d, err)
	}
	return v, err
}
