// Package bench compares STARK's actor runtime with Proto.Actor Go on the
// same workloads: ping-pong, skynet, ask latency, idle-actor memory and
// fan-in. cmd/actorbench runs them side by side and prints a table; the
// tests here run the quick sizes on STARK alone as a smoke test.
//
// Both systems run with their defaults (STARK: one worker per GOMAXPROCS,
// bounded mailboxes; Proto.Actor: a goroutine per active mailbox, unbounded
// mailboxes), except that Proto.Actor's logger is silenced so that its
// start-up and dead-letter logging does not end up on the measured path.
// Every measurement gets a fresh runtime or actor system that is shut
// down afterwards. Where the two APIs differ, each workload's comment says
// what was chosen to keep the work equivalent.
package bench

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"
)

// System names one of the compared actor runtimes.
type System string

const (
	Stark System = "STARK"
	Proto System = "Proto.Actor"
)

// Systems lists the compared runtimes in table order.
var Systems = []System{Stark, Proto}

// Sizes are the workload sizes of one run.
type Sizes struct {
	// PingPongMessages is the number of messages bounced per ping-pong
	// measurement, split evenly over the pairs (each pair bounces an even
	// number of them).
	PingPongMessages int
	// SkynetDepth is the number of levels under the root: 10^SkynetDepth leaves.
	SkynetDepth int
	// AskWarmup asks are made and thrown away before AskCount timed ones.
	AskWarmup, AskCount int
	// IdleActors is the number of idle actors of the memory measurement.
	IdleActors int
	// FanInSenders goroutines each send FanInPerSender messages to one actor.
	FanInSenders, FanInPerSender int
}

// FullSizes are the sizes that the goals are stated for.
func FullSizes() Sizes {
	return Sizes{
		PingPongMessages: 2_000_000,
		SkynetDepth:      6,
		AskWarmup:        20_000,
		AskCount:         200_000,
		IdleActors:       1_000_000,
		FanInSenders:     max(8, 2*runtime.NumCPU()),
		FanInPerSender:   2_000_000 / max(8, 2*runtime.NumCPU()),
	}
}

// QuickSizes are small enough that all workloads on both systems finish in
// a few seconds; the tests and smoke runs use them.
func QuickSizes() Sizes {
	return Sizes{
		PingPongMessages: 100_000,
		SkynetDepth:      4,
		AskWarmup:        1_000,
		AskCount:         5_000,
		IdleActors:       50_000,
		FanInSenders:     max(8, 2*runtime.NumCPU()),
		FanInPerSender:   10_000,
	}
}

// SkynetSum is the sum of the leaf numbers 0..10^depth-1 that skynet must report.
func SkynetSum(depth int) int64 {
	n := pow10(depth)
	return n * (n - 1) / 2
}

// SkynetActors is the number of actors in a skynet tree of the given depth.
func SkynetActors(depth int) int64 {
	var total int64
	for i := 0; i <= depth; i++ {
		total += pow10(i)
	}
	return total
}

func pow10(n int) int64 {
	v := int64(1)
	for range n {
		v *= 10
	}
	return v
}

// Sample is what one run of a workload on one system measured, by metric key.
type Sample map[string]float64

// Metric is one row of the results table.
type Metric struct {
	Key  string // key in Sample
	Name string // row label
	Unit string
	// HigherIsBetter is true for throughputs, false for times and sizes.
	HigherIsBetter bool
	// Goal is the target this row is judged by; the zero Goal means none.
	Goal Goal
}

// Goal is a target for one metric.
type Goal struct {
	Text string
	// Met reports whether the goal holds for the given medians (proto is
	// NaN when Proto.Actor was not measured). Nil means no goal.
	Met func(stark, proto float64) bool
}

// ratioAtLeast is a goal of STARK/Proto.Actor >= r.
func ratioAtLeast(r float64) Goal {
	return Goal{
		Text: fmt.Sprintf("STARK >= %gx Proto.Actor", r),
		Met:  func(s, p float64) bool { return !math.IsNaN(p) && s >= r*p },
	}
}

// ratioAtMost is a goal of STARK/Proto.Actor <= r.
func ratioAtMost(r float64) Goal {
	return Goal{
		Text: fmt.Sprintf("STARK <= %gx Proto.Actor", r),
		Met:  func(s, p float64) bool { return !math.IsNaN(p) && s <= r*p },
	}
}

// starkAtMost is an absolute bound on STARK's figure.
func starkAtMost(v float64, unit string) Goal {
	return Goal{
		Text: fmt.Sprintf("STARK <= %g %s", v, unit),
		Met:  func(s, _ float64) bool { return s <= v },
	}
}

// Workload is one benchmark with an implementation per system.
type Workload struct {
	Name    string
	About   string
	Metrics []Metric
	Run     map[System]func(Sizes) (Sample, error)
}

// Workloads returns every workload in the order they run.
func Workloads() []Workload {
	n := runtime.NumCPU()
	return []Workload{
		{
			Name:  "pingpong",
			About: "pairs of actors bounce one message back and forth",
			Metrics: []Metric{
				{Key: "pairs1", Name: "ping-pong, 1 pair", Unit: "msgs/s", HigherIsBetter: true, Goal: ratioAtLeast(1.5)},
				{Key: "pairsN", Name: fmt.Sprintf("ping-pong, %d pairs", n), Unit: "msgs/s", HigherIsBetter: true, Goal: ratioAtLeast(1.5)},
			},
			Run: map[System]func(Sizes) (Sample, error){Stark: starkPingPongSample, Proto: protoPingPongSample},
		},
		{
			Name:  "skynet",
			About: "a tree of 10^depth leaves reports its sum to the root",
			Metrics: []Metric{
				{Key: "ms", Name: "skynet", Unit: "ms", Goal: ratioAtMost(0.5)},
			},
			Run: map[System]func(Sizes) (Sample, error){Stark: starkSkynetSample, Proto: protoSkynetSample},
		},
		{
			Name:  "ask",
			About: "sequential asks from a plain goroutine to one replying actor",
			Metrics: []Metric{
				{Key: "median", Name: "ask round trip, median", Unit: "ns", Goal: starkAtMost(1000, "ns")},
				{Key: "p99", Name: "ask round trip, p99", Unit: "ns"},
			},
			Run: map[System]func(Sizes) (Sample, error){Stark: starkAskSample, Proto: protoAskSample},
		},
		{
			Name:  "memory",
			About: "live heap (HeapAlloc after GC) per idle actor",
			Metrics: []Metric{
				{Key: "bytes", Name: "idle actor, heap", Unit: "B/actor", Goal: starkAtMost(512, "B")},
			},
			Run: map[System]func(Sizes) (Sample, error){Stark: starkIdleMemorySample, Proto: protoIdleMemorySample},
		},
		{
			Name:  "fanin",
			About: "many goroutines send to one counting actor",
			Metrics: []Metric{
				{Key: "all", Name: "fan-in, mailbox holds all", Unit: "msgs/s", HigherIsBetter: true},
				{Key: "wait", Name: "fan-in, STARK 4096 + wait", Unit: "msgs/s", HigherIsBetter: true},
			},
			Run: map[System]func(Sizes) (Sample, error){Stark: starkFanInSample, Proto: protoFanInSample},
		},
	}
}

// Median returns the median of xs (the mean of the middle two for an even
// count), or NaN for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// percentile returns the p-th percentile (0 < p <= 100, nearest rank) of
// sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// perSecond turns a count over a duration into a rate.
func perSecond(n int, d time.Duration) float64 {
	return float64(n) / d.Seconds()
}

// pairsFor returns the two pair counts of the ping-pong workload.
func pairsFor() (one, many int) { return 1, runtime.NumCPU() }

// pingPongPerPair splits total messages over pairs, rounded down to an even
// number per pair so that every ball that goes out comes back.
func pingPongPerPair(total, pairs int) int {
	per := total / pairs
	per -= per % 2
	return max(per, 2)
}
