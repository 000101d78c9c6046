// Command actorbench runs the same actor workloads on STARK and on
// Proto.Actor Go in one process and prints a table of the medians, the
// ratio STARK/Proto.Actor and whether each goal was met.
//
//	go run ./cmd/actorbench                  # every workload, full sizes, 3 runs
//	go run ./cmd/actorbench -quick -runs 1   # smoke run, a few seconds
//	go run ./cmd/actorbench -only skynet -json skynet.json
//
// Progress goes to stderr, the table to stdout. The exit status is 1 when a
// workload fails (a wrong sum, a lost message), not when a goal is missed.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/stark-rt/stark/bench"
)

func main() {
	only := flag.String("only", "", "run only this workload: "+strings.Join(bench.WorkloadNames(), ", "))
	quick := flag.Bool("quick", false, "small sizes: a smoke run")
	runs := flag.Int("runs", 3, "repeat each measurement this many times and report the median")
	jsonPath := flag.String("json", "", "also write the results as JSON to this file")
	system := flag.String("system", "", "measure only this system: stark or proto (default both)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if err := run(*only, *quick, *runs, *jsonPath, *system, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "actorbench:", err)
		os.Exit(1)
	}
}

func run(only string, quick bool, runs int, jsonPath, system, cpuProfile string) error {
	if runs < 1 {
		return fmt.Errorf("-runs must be at least 1")
	}
	o := bench.Options{Only: only, Quick: quick, Runs: runs, Sizes: bench.FullSizes(), Progress: os.Stderr}
	if quick {
		o.Sizes = bench.QuickSizes()
	}
	switch strings.ToLower(system) {
	case "":
	case "stark":
		o.Systems = []bench.System{bench.Stark}
	case "proto", "protoactor", "proto.actor":
		o.Systems = []bench.System{bench.Proto}
	default:
		return fmt.Errorf("-system %q: want stark or proto", system)
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := bench.Run(o)
	if err != nil {
		return err
	}
	if err := rep.WriteTable(os.Stdout); err != nil {
		return err
	}
	if jsonPath != "" {
		return rep.WriteJSON(jsonPath)
	}
	return nil
}
