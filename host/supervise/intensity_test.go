package supervise_test

import (
	"testing"
	"time"

	"github.com/stark-rt/stark/host/clock"
	"github.com/stark-rt/stark/host/supervise"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestIntensityExceeded(t *testing.T) {
	clk := clock.NewVirtual(epoch)
	in := supervise.NewIntensity(3, time.Second)
	for i := range 3 {
		if in.Record(clk.Now()) {
			t.Fatalf("restart %d of 3 allowed exceeded the intensity", i+1)
		}
		clk.Advance(100 * ms)
	}
	if !in.Record(clk.Now()) {
		t.Fatal("fourth restart within the period did not exceed an intensity of 3")
	}
	if n := in.Count(clk.Now()); n != 4 {
		t.Fatalf("Count = %d, want 4", n)
	}
}

// The window is closed at both ends, as in OTP: a restart exactly one period
// old still counts; one nanosecond later it does not.
func TestIntensityWindowBoundary(t *testing.T) {
	clk := clock.NewVirtual(epoch)
	in := supervise.NewIntensity(1, time.Second)
	in.Record(clk.Now())
	clk.Advance(time.Second)
	if in.Count(clk.Now()) != 1 {
		t.Fatal("a restart exactly one period old left the window")
	}
	if !in.Record(clk.Now()) {
		t.Fatal("two restarts one period apart did not exceed an intensity of 1")
	}

	in.Reset()
	clk.Set(epoch.Add(time.Hour))
	in.Record(clk.Now())
	clk.Advance(time.Second + time.Nanosecond)
	if in.Count(clk.Now()) != 0 {
		t.Fatal("a restart older than the period is still counted")
	}
	if in.Record(clk.Now()) {
		t.Fatal("restarts more than one period apart exceeded an intensity of 1")
	}
}

// A steady rate slides the window: five per second is allowed at one every
// 250ms (a 1s window holds at most five of them), but not at one every
// 200ms, where the closed window holds six.
func TestIntensitySlidingRate(t *testing.T) {
	clk := clock.NewVirtual(epoch)
	in := supervise.NewIntensity(5, time.Second)
	for i := range 1000 {
		if in.Record(clk.Now()) {
			t.Fatalf("restart %d at one per 250ms exceeded 5 per second", i+1)
		}
		clk.Advance(250 * ms)
	}

	in.Reset()
	exceededAt := -1
	for i := range 10 {
		if in.Record(clk.Now()) {
			exceededAt = i
			break
		}
		clk.Advance(200 * ms)
	}
	if exceededAt != 5 {
		t.Fatalf("one per 200ms exceeded at restart %d, want the sixth (index 5)", exceededAt)
	}
}

func TestIntensityCountSaturatesAndExpires(t *testing.T) {
	clk := clock.NewVirtual(epoch)
	in := supervise.NewIntensity(2, time.Second)
	for range 10 {
		in.Record(clk.Now())
	}
	if n := in.Count(clk.Now()); n != 3 {
		t.Fatalf("Count = %d, want saturation at maxRestarts+1 = 3", n)
	}
	if !in.Exceeded(clk.Now()) {
		t.Fatal("Exceeded false with the ring full")
	}
	clk.Advance(time.Second + 1)
	if n := in.Count(clk.Now()); n != 0 || in.Exceeded(clk.Now()) {
		t.Fatalf("Count = %d after the period passed, want 0", n)
	}
	if in.MaxRestarts() != 2 || in.Period() != time.Second {
		t.Fatalf("limits %d in %v", in.MaxRestarts(), in.Period())
	}
}

func TestIntensityZeroNeverRestarts(t *testing.T) {
	for _, max := range []int{0, -1} {
		in := supervise.NewIntensity(max, time.Hour)
		if !in.Record(epoch) {
			t.Fatalf("intensity %d: the first restart did not exceed it", max)
		}
		if in.MaxRestarts() != 0 {
			t.Fatalf("intensity %d: MaxRestarts() = %d", max, in.MaxRestarts())
		}
	}
}

func TestIntensityZeroPeriodIsAnInstant(t *testing.T) {
	in := supervise.NewIntensity(1, 0)
	if in.Record(epoch) {
		t.Fatal("first restart exceeded")
	}
	if !in.Record(epoch) {
		t.Fatal("two restarts at the same instant did not exceed 1")
	}
	if in.Record(epoch.Add(time.Nanosecond)) {
		t.Fatal("a zero period kept restarts from an earlier instant")
	}
}

func TestIntensityReset(t *testing.T) {
	in := supervise.NewIntensity(1, time.Minute)
	in.Record(epoch)
	in.Record(epoch)
	in.Reset()
	if in.Count(epoch) != 0 || in.Record(epoch) {
		t.Fatal("Reset kept restarts")
	}
}
