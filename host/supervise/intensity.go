package supervise

import "time"

// Intensity is OTP's restart intensity: it tells a supervisor when its
// children have restarted too often, meaning more than maxRestarts restarts
// within a sliding window of period.
//
// A restart recorded at time t counts at time now while now−t <= period,
// the window OTP uses (a restart exactly period old still counts), and
// drops out once now−t > period. Timestamps live in a ring of maxRestarts+1
// entries fixed at construction: that is all it takes to know whether the
// limit is exceeded, so memory never grows with the restart rate. Record
// and Count cost O(maxRestarts) at worst, O(1) amortised.
//
// An Intensity is not safe for concurrent use; it belongs to one supervisor.
type Intensity struct {
	max    int
	period time.Duration
	ring   []time.Time // the newest len(ring) restarts at most, oldest at head
	head   int
	n      int
}

// NewIntensity returns an Intensity allowing maxRestarts restarts within
// period. maxRestarts <= 0 allows none: the first restart already exceeds it
// (OTP's intensity 0, "never restart"). A period <= 0 makes the window an
// instant: only restarts recorded at the same time count together.
func NewIntensity(maxRestarts int, period time.Duration) *Intensity {
	maxRestarts = max(maxRestarts, 0)
	return &Intensity{
		max:    maxRestarts,
		period: max(period, 0),
		ring:   make([]time.Time, maxRestarts+1),
	}
}

// Record records a restart at now and reports whether the intensity is now
// exceeded: more than maxRestarts restarts, this one included, within the
// window ending at now. Times should not go backwards; a restart recorded
// later than now counts as inside the window.
func (in *Intensity) Record(now time.Time) bool {
	in.expire(now)
	if in.n == len(in.ring) {
		// Full: the oldest entry is not needed to tell that the limit is
		// exceeded, and the newest ones are the ones that leave last.
		in.head = (in.head + 1) % len(in.ring)
		in.n--
	}
	in.ring[(in.head+in.n)%len(in.ring)] = now
	in.n++
	return in.n > in.max
}

// Count returns how many recorded restarts fall within the window ending at
// now. It saturates at maxRestarts+1, the ring's size.
func (in *Intensity) Count(now time.Time) int {
	in.expire(now)
	return in.n
}

// Exceeded reports whether, at now, more than maxRestarts restarts fall
// within the window, without recording one.
func (in *Intensity) Exceeded(now time.Time) bool { return in.Count(now) > in.max }

// Reset forgets every recorded restart.
func (in *Intensity) Reset() {
	clear(in.ring)
	in.head, in.n = 0, 0
}

// MaxRestarts returns the number of restarts allowed within the period.
func (in *Intensity) MaxRestarts() int { return in.max }

// Period returns the length of the sliding window.
func (in *Intensity) Period() time.Duration { return in.period }

// expire drops restarts that have left the window ending at now.
func (in *Intensity) expire(now time.Time) {
	for in.n > 0 && now.Sub(in.ring[in.head]) > in.period {
		in.ring[in.head] = time.Time{}
		in.head = (in.head + 1) % len(in.ring)
		in.n--
	}
}
