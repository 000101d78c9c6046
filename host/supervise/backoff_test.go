package supervise_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stark-rt/stark/host/supervise"
)

const ms = time.Millisecond

func seeded() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func TestNoBackoff(t *testing.T) {
	for _, b := range []supervise.Backoff{supervise.NoBackoff(), {}, supervise.NoBackoff().WithJitter(1)} {
		for _, attempt := range []int{-1, 0, 1, 2, 1000, math.MaxInt} {
			if d := b.Delay(attempt, seeded()); d != 0 {
				t.Fatalf("%v: Delay(%d) = %v, want 0", b, attempt, d)
			}
		}
	}
}

func TestLinearBackoff(t *testing.T) {
	b := supervise.Linear(100*ms, time.Second)
	cases := map[int]time.Duration{
		-3: 100 * ms, 0: 100 * ms, // below 1 counts as the first restart
		1: 100 * ms, 2: 200 * ms, 3: 300 * ms, 9: 900 * ms, 10: time.Second,
		11: time.Second, 1 << 40: time.Second, math.MaxInt: time.Second,
	}
	for attempt, want := range cases {
		if got := b.Delay(attempt, nil); got != want {
			t.Errorf("Delay(%d) = %v, want %v", attempt, got, want)
		}
	}
	uncapped := supervise.Linear(time.Hour, 0)
	if got := uncapped.Delay(math.MaxInt, nil); got != math.MaxInt64 {
		t.Errorf("uncapped Delay(MaxInt) = %v, want saturation at the largest Duration", got)
	}
	if got := uncapped.Delay(3, nil); got != 3*time.Hour {
		t.Errorf("uncapped Delay(3) = %v", got)
	}
	if got := supervise.Linear(-time.Second, time.Minute).Delay(5, nil); got != 0 {
		t.Errorf("negative step gave %v, want 0", got)
	}
}

func TestExponentialBackoff(t *testing.T) {
	b := supervise.Exponential(10*ms, time.Second, 0)
	want := []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second, time.Second}
	for i, w := range want {
		if got := b.Delay(i+1, nil); got != w {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w)
		}
	}
	for _, attempt := range []int{62, 63, 64, 65, 1000, math.MaxInt} {
		if got := b.Delay(attempt, nil); got != time.Second {
			t.Errorf("Delay(%d) = %v, want the cap", attempt, got)
		}
	}

	// Uncapped: grows, saturates, never wraps negative.
	for _, base := range []time.Duration{1, 3, time.Second, math.MaxInt64} {
		u := supervise.Exponential(base, 0, 0)
		prev := time.Duration(0)
		for attempt := 1; attempt <= 200; attempt++ {
			d := u.Delay(attempt, nil)
			if d < prev || d <= 0 {
				t.Fatalf("base %v: Delay(%d) = %v after %v", base, attempt, d, prev)
			}
			prev = d
		}
		if prev != math.MaxInt64 {
			t.Fatalf("base %v: saturated at %v", base, prev)
		}
	}
}

func TestJitterIsSeededAndBounded(t *testing.T) {
	b := supervise.Exponential(100*ms, 10*time.Second, 0.5)

	// The documented formula: d − d·jitter·u, with u the rng's next Float64.
	ref := seeded()
	rng := seeded()
	for attempt := 1; attempt <= 12; attempt++ {
		d := supervise.Exponential(100*ms, 10*time.Second, 0).Delay(attempt, nil)
		want := d - time.Duration(float64(d)*0.5*ref.Float64())
		if got := b.Delay(attempt, rng); got != want {
			t.Fatalf("Delay(%d) = %v, want %v", attempt, got, want)
		}
	}

	// Pinned values for seed (1, 2), so a change in the draw shows up.
	rng = seeded()
	var got []time.Duration
	for attempt := 1; attempt <= 4; attempt++ {
		got = append(got, b.Delay(attempt, rng))
	}
	again := seeded()
	for i, d := range got {
		if d2 := b.Delay(i+1, again); d2 != d {
			t.Fatalf("same seed, attempt %d: %v then %v", i+1, d, d2)
		}
	}
	pinned := []time.Duration{66177218, 153861379, 298290521, 628082903}
	for i := range pinned {
		if got[i] != pinned[i] {
			t.Fatalf("seeded delays %v, want %v", got, pinned)
		}
	}

	// Bounds: in (d·(1−j), d] for every jitter, attempt and draw.
	rng = seeded()
	for _, j := range []float64{0.1, 0.5, 1} {
		jb := supervise.Exponential(time.Second, time.Minute, j)
		for attempt := 1; attempt <= 10; attempt++ {
			d := supervise.Exponential(time.Second, time.Minute, 0).Delay(attempt, nil)
			lo := d - time.Duration(float64(d)*j)
			for range 200 {
				got := jb.Delay(attempt, rng)
				if got > d || got < lo || (j == 1 && got <= 0) {
					t.Fatalf("jitter %v attempt %d: %v outside (%v, %v]", j, attempt, got, lo, d)
				}
			}
		}
	}

	// Jitter near the largest Duration neither overflows nor goes negative.
	huge := supervise.Exponential(time.Second, 0, 1)
	for range 1000 {
		if d := huge.Delay(100, rng); d < 0 {
			t.Fatalf("negative delay %v", d)
		}
	}
}

func TestJitterClampAndRNGUse(t *testing.T) {
	d := func(b supervise.Backoff) time.Duration { return b.Delay(3, seeded()) }
	if got := d(supervise.Exponential(time.Second, time.Minute, -1)); got != 4*time.Second {
		t.Errorf("negative jitter not clamped to 0: %v", got)
	}
	if got := d(supervise.Exponential(time.Second, time.Minute, math.NaN())); got != 4*time.Second {
		t.Errorf("NaN jitter not treated as 0: %v", got)
	}
	if d(supervise.Exponential(time.Second, time.Minute, 7)) != d(supervise.Exponential(time.Second, time.Minute, 1)) {
		t.Error("jitter above 1 not clamped to 1")
	}

	// Without jitter the rng is left alone.
	rng, fresh := seeded(), seeded()
	supervise.Linear(ms, time.Second).Delay(2, rng)
	supervise.Exponential(ms, time.Second, 0).Delay(2, rng)
	if rng.Uint64() != fresh.Uint64() {
		t.Error("a delay without jitter consumed the rng")
	}

	// A nil rng works, within bounds.
	for range 100 {
		if got := supervise.Linear(time.Second, 0).WithJitter(1).Delay(2, nil); got <= 0 || got > 2*time.Second {
			t.Fatalf("nil rng: %v", got)
		}
	}
}

func TestBackoffString(t *testing.T) {
	cases := map[string]supervise.Backoff{
		"none":                                  supervise.NoBackoff(),
		"linear(100ms, max 1s)":                 supervise.Linear(100*ms, time.Second),
		"linear(1s, no max)":                    supervise.Linear(time.Second, 0),
		"exponential(10ms, max 5s, jitter 0.2)": supervise.Exponential(10*ms, 5*time.Second, 0.2),
		"linear(1s, max 1m0s, jitter 1)":        supervise.Linear(time.Second, time.Minute).WithJitter(3),
	}
	for want, b := range cases {
		if got := b.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
