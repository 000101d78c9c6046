package bench

import (
	"bytes"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The smoke tests run every workload at the quick sizes on STARK only and
// check that the results make sense: exact counts and sums are checked
// inside the workloads themselves, the figures here.

func TestStarkPingPongExact(t *testing.T) {
	sz := QuickSizes()
	for _, pairs := range []int{1, runtime.NumCPU(), 3} {
		rate, err := StarkPingPong(pairs, sz.PingPongMessages)
		if err != nil {
			t.Fatalf("%d pairs: %v", pairs, err)
		}
		if rate <= 0 {
			t.Fatalf("%d pairs: rate %v", pairs, rate)
		}
	}
}

func TestStarkSkynetSum(t *testing.T) {
	if got, want := SkynetSum(6), int64(499_999_500_000); got != want {
		t.Fatalf("SkynetSum(6) = %d, want %d", got, want)
	}
	if got, want := SkynetActors(6), int64(1_111_111); got != want {
		t.Fatalf("SkynetActors(6) = %d, want %d", got, want)
	}
	for depth := 1; depth <= QuickSizes().SkynetDepth; depth++ {
		d, err := StarkSkynet(depth) // checks the sum
		if err != nil {
			t.Fatalf("depth %d: %v", depth, err)
		}
		if d <= 0 {
			t.Fatalf("depth %d: took %v", depth, d)
		}
	}
}

func TestStarkAsk(t *testing.T) {
	sz := QuickSizes()
	lat, err := StarkAsk(sz.AskWarmup, sz.AskCount)
	if err != nil {
		t.Fatal(err)
	}
	if len(lat) != sz.AskCount {
		t.Fatalf("%d latencies, want %d", len(lat), sz.AskCount)
	}
	med, p99 := percentile(lat, 50), percentile(lat, 99)
	if med <= 0 || p99 < med || med > 10*time.Millisecond {
		t.Fatalf("median %v, p99 %v", med, p99)
	}
}

func TestStarkIdleMemory(t *testing.T) {
	b, err := StarkIdleMemory(QuickSizes().IdleActors)
	if err != nil {
		t.Fatal(err)
	}
	// An actor cannot take less than its table slot, nor (sanely) 64 KiB.
	if b < 16 || b > 64<<10 {
		t.Fatalf("%.0f bytes per idle actor", b)
	}
}

func TestStarkFanIn(t *testing.T) {
	sz := QuickSizes()
	for _, holdAll := range []bool{true, false} {
		rate, err := StarkFanIn(sz.FanInSenders, sz.FanInPerSender, holdAll)
		if err != nil {
			t.Fatalf("holdAll=%v: %v", holdAll, err)
		}
		if rate <= 0 {
			t.Fatalf("holdAll=%v: rate %v", holdAll, rate)
		}
	}
}

// TestRunQuickStark goes through the harness (every workload, the table
// and the JSON) the way cmd/actorbench does, STARK only.
func TestRunQuickStark(t *testing.T) {
	var progress bytes.Buffer
	rep, err := Run(Options{Sizes: QuickSizes(), Quick: true, Runs: 1, Systems: []System{Stark}, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, w := range Workloads() {
		n += len(w.Metrics)
	}
	if len(rep.Rows) != n {
		t.Fatalf("%d rows, want %d", len(rep.Rows), n)
	}
	for _, r := range rep.Rows {
		if !(r.Stark > 0) {
			t.Errorf("%s: STARK figure %v", r.Metric, r.Stark)
		}
		if r.Proto == r.Proto { // not NaN
			t.Errorf("%s: Proto.Actor figure %v, but it was not run", r.Metric, r.Proto)
		}
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "skynet") || !strings.Contains(progress.String(), "run 1/1") {
		t.Fatalf("table:\n%s\nprogress:\n%s", table.String(), progress.String())
	}
	if err := rep.WriteJSON(filepath.Join(t.TempDir(), "r.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(Options{Only: "nope", Sizes: QuickSizes(), Systems: []System{Stark}}); err == nil {
		t.Fatal("unknown workload accepted")
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{7}, 7}} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := Median(nil); got == got {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
}

// STARK-only Go benchmarks, for profiling one workload at a time:
//
//	go test -run '^$' -bench StarkAsk -cpuprofile cpu.out
//	go tool pprof -top cpu.out

func BenchmarkStarkPingPong(b *testing.B) {
	for b.Loop() {
		if _, err := StarkPingPong(1, 200_000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*200_000), "ns/msg")
}

func BenchmarkStarkSkynet(b *testing.B) {
	for b.Loop() {
		if _, err := StarkSkynet(5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStarkAsk(b *testing.B) {
	// One runtime for the whole benchmark: b.N timed asks.
	lat, err := StarkAsk(1000, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(percentile(lat, 50)), "median-ns")
	b.ReportMetric(float64(percentile(lat, 99)), "p99-ns")
}

func BenchmarkStarkFanIn(b *testing.B) {
	sz := FullSizes()
	for b.Loop() {
		if _, err := StarkFanIn(sz.FanInSenders, 25_000, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sz.FanInSenders*25_000), "ns/msg")
}

func BenchmarkStarkFanInWait(b *testing.B) {
	sz := FullSizes()
	for b.Loop() {
		if _, err := StarkFanIn(sz.FanInSenders, 25_000, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sz.FanInSenders*25_000), "ns/msg")
}
