package supervise

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff describes how long to wait before a restart. It is an immutable
// value; the zero value is NoBackoff. Computing a delay costs a few integer
// operations and, with jitter, one draw from the random source.
type Backoff struct {
	kind   backoffKind
	step   time.Duration // linear step, or exponential base
	max    time.Duration // cap; <= 0 for none
	jitter float64       // in [0, 1]
}

type backoffKind uint8

const (
	backoffNone backoffKind = iota
	backoffLinear
	backoffExponential
)

// NoBackoff restarts at once: every delay is zero.
func NoBackoff() Backoff { return Backoff{} }

// Linear waits step times the attempt number: step, 2·step, 3·step, ...,
// never more than max. A max <= 0 means no cap (short of the largest
// time.Duration); a negative step counts as zero.
func Linear(step, max time.Duration) Backoff {
	return Backoff{kind: backoffLinear, step: max0(step), max: max}
}

// Exponential waits base·2^(attempt-1): base, 2·base, 4·base, ..., never
// more than max (max <= 0: no cap short of the largest time.Duration).
//
// jitter, clamped to [0, 1], is the fraction of each delay that is
// randomised: the delay d becomes a value drawn uniformly from
// (d·(1−jitter), d]. So jitter 0 is exact, and jitter 1 is the "full jitter"
// of AWS's backoff write-up, anywhere in (0, d]. Jitter only ever shortens a
// delay, so the cap holds either way, and restarts of many children that
// failed together spread out instead of arriving in step.
func Exponential(base, max time.Duration, jitter float64) Backoff {
	return Backoff{kind: backoffExponential, step: max0(base), max: max, jitter: clampJitter(jitter)}
}

// WithJitter returns a copy of b with its jitter set (clamped to [0, 1]);
// see Exponential for what jitter does. It works for Linear too.
func (b Backoff) WithJitter(jitter float64) Backoff {
	b.jitter = clampJitter(jitter)
	return b
}

// Delay returns the wait before restart number attempt (1 is the first
// restart; attempt < 1 counts as 1). The result is never negative, never
// above the cap, and saturates instead of overflowing for large attempts.
//
// Jitter draws one float64 from rng; a seeded rng gives the same delays
// every run. A nil rng uses math/rand/v2's global source, which is not
// reproducible. Without jitter rng is not touched.
func (b Backoff) Delay(attempt int, rng *rand.Rand) time.Duration {
	attempt = max(attempt, 1)
	limit := b.max
	if limit <= 0 {
		limit = math.MaxInt64
	}
	var d time.Duration
	switch b.kind {
	case backoffNone:
		return 0
	case backoffLinear:
		if b.step != 0 && time.Duration(attempt) > limit/b.step {
			d = limit
		} else {
			d = min(b.step*time.Duration(attempt), limit)
		}
	case backoffExponential:
		shift := attempt - 1
		if b.step != 0 && (shift >= 63 || b.step > limit>>shift) {
			d = limit
		} else {
			d = min(b.step<<shift, limit)
		}
	}
	return b.jittered(d, rng)
}

func (b Backoff) jittered(d time.Duration, rng *rand.Rand) time.Duration {
	if b.jitter == 0 || d <= 0 {
		return d
	}
	var u float64
	if rng != nil {
		u = rng.Float64()
	} else {
		u = rand.Float64()
	}
	cut := time.Duration(float64(d) * b.jitter * u) // in [0, d): u < 1
	return d - min(max(cut, 0), d)
}

// String describes b, for logs and errors: "none", "linear(100ms, max 1s)",
// "exponential(10ms, max 5s, jitter 0.2)".
func (b Backoff) String() string {
	limit := "no max"
	if b.max > 0 {
		limit = "max " + b.max.String()
	}
	var s string
	switch b.kind {
	case backoffLinear:
		s = fmt.Sprintf("linear(%v, %s", b.step, limit)
	case backoffExponential:
		s = fmt.Sprintf("exponential(%v, %s", b.step, limit)
	default:
		return "none"
	}
	if b.jitter > 0 {
		s += fmt.Sprintf(", jitter %g", b.jitter)
	}
	return s + ")"
}

func max0(d time.Duration) time.Duration { return max(d, 0) }

func clampJitter(j float64) float64 {
	if !(j > 0) { // also NaN
		return 0
	}
	return min(j, 1)
}
