//go:build unix

package sched

import (
	"syscall"
	"testing"
	"time"
)

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Skip("getrusage:", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestIdleSchedulerUsesNoCPU(t *testing.T) {
	s := New(Config{Workers: 4})
	s.Start()
	defer s.Stop()
	done := make(chan struct{})
	s.Submit(Func(func(*Worker) { close(done) }))
	<-done
	waitFor(t, "every worker to park", 2*time.Second, func() bool {
		return allParked(s)
	})
	before := cpuTime(t)
	time.Sleep(200 * time.Millisecond)
	used := cpuTime(t) - before
	// A spinning worker would burn the whole 200 ms; allow for the test
	// process's own housekeeping.
	if used > 40*time.Millisecond {
		t.Fatalf("idle scheduler used %v of CPU in 200ms", used)
	}
	t.Logf("CPU while idle: %v in 200ms", used)
}
