// Command wasmbench measures STARK's WASM actors side by side in one
// process: a 1 KiB msgpack round trip through a WASM actor against a raw
// wazero call of the same module, sandboxed (interruptible) against
// trusted execution, the same workload on Extism's Go host, the cost of
// spawning an actor from a cached module, and the memory of 10,000 live
// C-guest actors. Every measurement is repeated -runs times, interleaved,
// and the median is reported.
//
//	make guests && cd bench && go run ./cmd/wasmbench          # full run
//	go run ./cmd/wasmbench -quick -runs 1                      # smoke run
//
// The guests are built from source by make guests into build/wasm (or
// $WASM_OUT). Progress goes to stderr, the tables (markdown) to stdout.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/stark-rt/stark/bench/wasmcompare"
)

func main() {
	runs := flag.Int("runs", 5, "repeat each measurement this many times and report the median")
	quick := flag.Bool("quick", false, "small sizes: a smoke run")
	dir := flag.String("dir", "", "where the guests are (default: build/wasm at the repository root)")
	flag.Parse()
	if err := run(*runs, *quick, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "wasmbench:", err)
		os.Exit(1)
	}
}

type sample struct{ wall, cpu []float64 }

func (s *sample) add(c wasmcompare.Cost) {
	s.wall = append(s.wall, c.Wall)
	s.cpu = append(s.cpu, c.CPU)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func run(runs int, quick bool, dir string) error {
	if runs < 1 {
		return fmt.Errorf("-runs must be at least 1")
	}
	if dir == "" {
		dir = wasmcompare.WasmDir("..")
	}
	g := func(name string) (string, error) {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s not built (run make guests at the repository root): %w", p, err)
		}
		return p, nil
	}
	paths := map[string]string{}
	for _, n := range []string{"c-bench.wasm", "go-bench.wasm", "counter-c.wasm", "extism-c.wasm", "extism-go.wasm"} {
		p, err := g(n)
		if err != nil {
			return err
		}
		paths[n] = p
	}
	nC, nGo, nSpawn, nLive := 200_000, 20_000, 2_000, 10_000
	if quick {
		nC, nGo, nSpawn, nLive = 5_000, 500, 100, 500
	}
	ctx := context.Background()
	data := wasmcompare.Payload1KiB()
	in, want := wasmcompare.BenchInput(7, data), wasmcompare.BenchOutput(7, data)

	type entry struct {
		name string
		n    int
		f    func() (wasmcompare.Cost, error)
	}
	var s1, s2 *wasmcompare.Stark
	var err error
	if s1, err = wasmcompare.NewStark(ctx, 1); err != nil {
		return err
	}
	defer s1.Close(ctx)
	if s2, err = wasmcompare.NewStark(ctx, runtime.GOMAXPROCS(0)); err != nil {
		return err
	}
	defer s2.Close(ctx)
	extism := func(file string, n int) func() (wasmcompare.Cost, error) {
		return func() (wasmcompare.Cost, error) {
			ns, err := wasmcompare.MeasureExtism(ctx, paths[file], "handle", in, want, n)
			return wasmcompare.Cost{Wall: ns, CPU: ns}, err
		}
	}
	entries := []entry{
		{"raw wazero, C guest, trusted", nC, func() (wasmcompare.Cost, error) { return wasmcompare.MeasureRaw(ctx, paths["c-bench.wasm"], false, nC) }},
		{"raw wazero, C guest, interruptible", nC, func() (wasmcompare.Cost, error) { return wasmcompare.MeasureRaw(ctx, paths["c-bench.wasm"], true, nC) }},
		{"actor, C guest, trusted, 1 worker", nC, func() (wasmcompare.Cost, error) { return s1.MeasureActor(ctx, paths["c-bench.wasm"], true, nC, 256) }},
		{"actor, C guest, sandboxed, 1 worker", nC, func() (wasmcompare.Cost, error) { return s1.MeasureActor(ctx, paths["c-bench.wasm"], false, nC, 256) }},
		{"actor, C guest, trusted, 2 workers", nC, func() (wasmcompare.Cost, error) { return s2.MeasureActor(ctx, paths["c-bench.wasm"], true, nC, 256) }},
		{"actor, C guest, sandboxed, 2 workers", nC, func() (wasmcompare.Cost, error) { return s2.MeasureActor(ctx, paths["c-bench.wasm"], false, nC, 256) }},
		{"Extism, C plugin", nC, extism("extism-c.wasm", nC)},
		{"raw wazero, Go guest, trusted", nGo, func() (wasmcompare.Cost, error) {
			return wasmcompare.MeasureRaw(ctx, paths["go-bench.wasm"], false, nGo)
		}},
		{"actor, Go guest, trusted, 1 worker", nGo, func() (wasmcompare.Cost, error) { return s1.MeasureActor(ctx, paths["go-bench.wasm"], true, nGo, 256) }},
		{"actor, Go guest, sandboxed, 1 worker", nGo, func() (wasmcompare.Cost, error) { return s1.MeasureActor(ctx, paths["go-bench.wasm"], false, nGo, 256) }},
		{"Extism, Go plugin", nGo, extism("extism-go.wasm", nGo)},
		{"ask latency, C guest, sandboxed", nC / 10, func() (wasmcompare.Cost, error) {
			ns, err := s2.MeasureAsk(ctx, paths["c-bench.wasm"], false, nC/10)
			return wasmcompare.Cost{Wall: ns}, err
		}},
		{"spawn + first ask, C guest (cached module)", nSpawn, func() (wasmcompare.Cost, error) {
			ns, err := s2.MeasureSpawn(ctx, paths["counter-c.wasm"], nSpawn)
			return wasmcompare.Cost{Wall: ns}, err
		}},
	}
	samples := make([]sample, len(entries))
	var rss, heap []float64
	for r := range runs {
		for i, e := range entries {
			fmt.Fprintf(os.Stderr, "run %d/%d: %s (%d)...", r+1, runs, e.name, e.n)
			c, err := e.f()
			if err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
			fmt.Fprintf(os.Stderr, " %.0f ns wall, %.0f ns cpu\n", c.Wall, c.CPU)
			samples[i].add(c)
			runtime.GC()
		}
		fmt.Fprintf(os.Stderr, "run %d/%d: %d live C-guest actors...", r+1, runs, nLive)
		rp, hp, err := s2.LiveMemory(ctx, paths["counter-c.wasm"], nLive)
		if err != nil {
			return fmt.Errorf("live memory: %w", err)
		}
		fmt.Fprintf(os.Stderr, " %.0f B RSS, %.0f B heap per actor\n", rp, hp)
		rss, heap = append(rss, rp), append(heap, hp)
		time.Sleep(200 * time.Millisecond) // let the stopped actors go
	}

	med := func(i int) (float64, float64) { return median(samples[i].wall), median(samples[i].cpu) }
	fmt.Printf("WASM actors, %d runs, median (GOMAXPROCS=%d, %s)\n\n", runs, runtime.GOMAXPROCS(0), runtime.Version())
	fmt.Println("| measurement | n | wall ns/op | CPU ns/op |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	for i, e := range entries {
		w, c := med(i)
		cs := fmt.Sprintf("%.0f", c)
		if c == 0 || strings.HasPrefix(e.name, "Extism") || strings.HasPrefix(e.name, "ask") || strings.HasPrefix(e.name, "spawn") {
			cs = "-"
		}
		fmt.Printf("| %s | %d | %.0f | %s |\n", e.name, e.n, w, cs)
	}
	liveRSS, liveHeap := median(rss), median(heap)
	fmt.Printf("| %d live C-guest actors: RSS / Go heap per actor | %d | %.0f B / %.0f B | total %.0f MiB RSS |\n\n",
		nLive, nLive, liveRSS, liveHeap, liveRSS*float64(nLive)/(1<<20))

	ratio := func(a, b int, cpu bool) float64 {
		wa, ca := med(a)
		wb, cb := med(b)
		if cpu {
			return ca / cb
		}
		return wa / wb
	}
	goal := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Println("| comparison | ratio | goal |")
	fmt.Println("| --- | ---: | --- |")
	r1 := ratio(2, 0, true)
	fmt.Printf("| actor / raw wazero, C guest, trusted, CPU per message (1 worker) | %.2fx | <= 1.2x: %s |\n", r1, goal(r1 <= 1.2))
	r1s := ratio(3, 1, true)
	fmt.Printf("| actor / raw wazero, C guest, interruptible, CPU per message (1 worker) | %.2fx | (reported) |\n", r1s)
	r2 := ratio(3, 2, false)
	fmt.Printf("| sandboxed / trusted actor, C guest, 1 worker | %.2fx | <= 1.5x: %s |\n", r2, goal(r2 <= 1.5))
	r2g := ratio(9, 8, false)
	fmt.Printf("| sandboxed / trusted actor, Go guest, 1 worker | %.2fx | (reported) |\n", r2g)
	fmt.Printf("| STARK sandboxed actor / Extism, C (1 worker, wall) | %.2fx | (reported) |\n", ratio(3, 6, false))
	fmt.Printf("| STARK sandboxed actor / Extism, Go (1 worker, wall) | %.2fx | (reported) |\n", ratio(9, 10, false))
	sp, _ := med(12)
	fmt.Printf("| spawn + first ask from a cached C module | %.1f us | <= 100 us: %s |\n", sp/1000, goal(sp <= 100_000))
	total := liveRSS * 10_000 / (1 << 30)
	fmt.Printf("| RSS of 10,000 live C-guest actors (from the per-actor median) | %.2f GiB | < 1 GiB: %s |\n", total, goal(total < 1))
	return nil
}
