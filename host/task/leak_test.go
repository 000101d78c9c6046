package task

import (
	"runtime"
	"testing"
	"time"
)

// noLeak records the goroutine count and returns a check that fails the
// test if, within a grace period, the count does not come back down to it.
// Tests that use it must not run in parallel.
func noLeak(t *testing.T) func() {
	t.Helper()
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("goroutines: %d before, %d after\n%s", before, n, buf)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
