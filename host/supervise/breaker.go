package supervise

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stark-rt/stark/host/clock"
)

// ErrCircuitOpen is returned by a Breaker that rejects a call: it is open,
// or half-open with every trial slot taken.
var ErrCircuitOpen = errors.New("supervise: circuit open")

// BreakerState is the state of a Breaker.
type BreakerState int32

const (
	// BreakerClosed lets every call through and counts consecutive failures.
	BreakerClosed BreakerState = iota
	// BreakerOpen rejects every call until its open timeout has passed.
	BreakerOpen
	// BreakerHalfOpen lets a few trial calls through: enough successes
	// close the breaker, one failure opens it again.
	BreakerHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	}
	return "BreakerState(" + strconv.Itoa(int(s)) + ")"
}

// BreakerConfig configures a Breaker. Zero fields take the defaults given.
type BreakerConfig struct {
	// FailureThreshold is how many consecutive failures, while closed, open
	// the breaker. Default 5.
	FailureThreshold int
	// SuccessThreshold is how many consecutive successful trials, while
	// half-open, close it again. Default 1.
	SuccessThreshold int
	// OpenTimeout is how long the breaker stays open before it lets a trial
	// through. Default 10s.
	OpenTimeout time.Duration
	// HalfOpenMax is how many trial calls may be in flight at once while
	// half-open; more are rejected. Default 1.
	HalfOpenMax int
	// Clock times the open timeout. Default clock.Real{}; with a
	// clock.Virtual, transitions happen exactly when the test moves time.
	Clock clock.Clock
	// IsFailure decides whether an error returned by a call counts as a
	// failure. Errors for which it returns false are neutral: they count
	// toward neither threshold (and, while half-open, just free their trial
	// slot). Default: every non-nil error except context.Canceled, which
	// says the caller gave up, not that the callee is unwell. A nil error is
	// always a success.
	IsFailure func(error) bool
}

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.FailureThreshold <= 0 {
		c.FailureThreshold = 5
	}
	if c.SuccessThreshold <= 0 {
		c.SuccessThreshold = 1
	}
	if c.OpenTimeout <= 0 {
		c.OpenTimeout = 10 * time.Second
	}
	if c.HalfOpenMax <= 0 {
		c.HalfOpenMax = 1
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.IsFailure == nil {
		c.IsFailure = defaultIsFailure
	}
	return c
}

func defaultIsFailure(err error) bool { return !errors.Is(err, context.Canceled) }

// BreakerStats counts what a Breaker has seen since it was made.
type BreakerStats struct {
	State        BreakerState
	Successes    uint64 // calls that returned nil
	Failures     uint64 // calls that failed (IsFailure true, or panicked)
	Ignored      uint64 // calls whose error IsFailure called neutral
	Rejections   uint64 // calls refused with ErrCircuitOpen
	StateChanges uint64 // transitions between states
}

// Breaker is a circuit breaker for calls to something that may be unwell,
// typically asks to another actor or a remote service. While closed it lets
// calls through and counts consecutive failures; FailureThreshold of them
// open it. While open it rejects calls with ErrCircuitOpen; after
// OpenTimeout it turns half-open and lets up to HalfOpenMax trial calls
// through: SuccessThreshold consecutive successes close it, a single failure
// opens it again for another OpenTimeout.
//
// The open-to-half-open transition is read off the Clock when the breaker
// is next used; the breaker starts no timer and no goroutine. A call's
// outcome only steers the state it was admitted in: a slow call admitted
// while closed that fails after the breaker opened is counted in the stats
// but does not touch the new state's counters.
//
// A Breaker is safe for concurrent use. Allow and the done function each
// take one mutex; the clock is read only while open and when opening.
type Breaker struct {
	cfg BreakerConfig

	mu        sync.Mutex
	state     BreakerState
	gen       uint64 // bumped on every transition
	openedAt  time.Time
	failures  int // consecutive, while closed
	successes int // consecutive, while half-open
	trials    int // in flight, while half-open
	stats     BreakerStats
}

// NewBreaker returns a closed breaker configured by cfg.
func NewBreaker(cfg BreakerConfig) *Breaker {
	return &Breaker{cfg: cfg.withDefaults()}
}

type outcome uint8

const (
	outcomeSuccess outcome = iota
	outcomeFailure
	outcomeIgnored
)

// Allow asks to make one call. If the breaker rejects it, Allow returns
// ErrCircuitOpen (and a done that does nothing). Otherwise the caller makes
// the call and must then call done exactly once with its error; a done that
// is never called keeps a half-open trial slot taken for good. Extra calls
// of done are ignored. Allow allocates the done closure; Do and Call do not.
func (b *Breaker) Allow() (done func(err error), err error) {
	gen, err := b.allow()
	if err != nil {
		return func(error) {}, err
	}
	var once atomic.Bool
	return func(err error) {
		if !once.Swap(true) {
			b.finish(gen, b.classify(err))
		}
	}, nil
}

// Do runs fn through the breaker: it returns ErrCircuitOpen without calling
// fn when the breaker rejects the call, ctx.Err() without calling fn when
// ctx has already ended, and fn's error otherwise. A panic in fn counts as a
// failure and then continues up the stack.
func (b *Breaker) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	_, err := Call(ctx, b, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	})
	return err
}

// Call is Do for functions that return a value.
func Call[T any](ctx context.Context, b *Breaker, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	gen, err := b.allow()
	if err != nil {
		return zero, err
	}
	returned := false
	defer func() {
		if !returned {
			b.finish(gen, outcomeFailure) // panic or runtime.Goexit
		}
	}()
	v, err := fn(ctx)
	returned = true
	b.finish(gen, b.classify(err))
	return v, err
}

// State returns the breaker's state now, first making the open-to-half-open
// transition if the open timeout has passed.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	return b.state
}

// Stats returns the counters and the current state (as State reports it).
func (b *Breaker) Stats() BreakerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	s := b.stats
	s.State = b.state
	return s
}

func (b *Breaker) classify(err error) outcome {
	switch {
	case err == nil:
		return outcomeSuccess
	case b.cfg.IsFailure(err):
		return outcomeFailure
	default:
		return outcomeIgnored
	}
}

func (b *Breaker) allow() (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	switch b.state {
	case BreakerOpen:
		b.stats.Rejections++
		return 0, ErrCircuitOpen
	case BreakerHalfOpen:
		if b.trials >= b.cfg.HalfOpenMax {
			b.stats.Rejections++
			return 0, ErrCircuitOpen
		}
		b.trials++
	}
	return b.gen, nil
}

func (b *Breaker) finish(gen uint64, o outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch o {
	case outcomeSuccess:
		b.stats.Successes++
	case outcomeFailure:
		b.stats.Failures++
	default:
		b.stats.Ignored++
	}
	if gen != b.gen {
		return // admitted under an earlier state
	}
	switch b.state {
	case BreakerClosed:
		switch o {
		case outcomeSuccess:
			b.failures = 0
		case outcomeFailure:
			b.failures++
			if b.failures >= b.cfg.FailureThreshold {
				b.open()
			}
		}
	case BreakerHalfOpen:
		b.trials--
		switch o {
		case outcomeSuccess:
			b.successes++
			if b.successes >= b.cfg.SuccessThreshold {
				b.transition(BreakerClosed)
			}
		case outcomeFailure:
			b.open()
		}
	default:
		// Open admits nothing, and every transition bumps gen, so no call
		// of the current generation can finish while open.
		panic("supervise: breaker call finished in state " + b.state.String())
	}
}

// advance turns an open breaker half-open once its timeout has passed. It
// reads the clock only while open. Caller holds b.mu.
func (b *Breaker) advance() {
	if b.state == BreakerOpen && b.cfg.Clock.Now().Sub(b.openedAt) >= b.cfg.OpenTimeout {
		b.transition(BreakerHalfOpen)
	}
}

// open opens the breaker from now. Caller holds b.mu.
func (b *Breaker) open() {
	b.transition(BreakerOpen)
	b.openedAt = b.cfg.Clock.Now()
}

// transition enters state s with fresh counters. Caller holds b.mu.
func (b *Breaker) transition(s BreakerState) {
	b.state = s
	b.gen++
	b.failures, b.successes, b.trials = 0, 0, 0
	b.stats.StateChanges++
}
