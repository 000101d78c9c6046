package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Options say what Run measures.
type Options struct {
	// Only runs the workload of this name (empty: all).
	Only string
	// Sizes of every run.
	Sizes Sizes
	// Quick is recorded in the report (the caller picks Sizes).
	Quick bool
	// Runs is how many times each measurement is repeated; the median is reported.
	Runs int
	// Systems to measure (default: both).
	Systems []System
	// Progress receives one line per measurement (nil: none).
	Progress io.Writer
}

// Row is one line of the results table.
type Row struct {
	Workload string  `json:"workload"`
	Metric   string  `json:"metric"`
	Unit     string  `json:"unit"`
	Stark    float64 `json:"stark"`
	Proto    float64 `json:"proto"`
	// Ratio is Stark/Proto.
	Ratio float64 `json:"ratio"`
	Goal  string  `json:"goal,omitempty"`
	// Met is nil when the row has no goal.
	Met *bool `json:"met,omitempty"`
	// Samples are the figures of every run, by system.
	Samples map[System][]float64 `json:"samples"`
}

// Report is the outcome of Run.
type Report struct {
	When       time.Time `json:"when"`
	GoVersion  string    `json:"go"`
	OS         string    `json:"os"`
	Arch       string    `json:"arch"`
	CPUs       int       `json:"cpus"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	Runs       int       `json:"runs"`
	Quick      bool      `json:"quick"`
	Sizes      Sizes     `json:"sizes"`
	Rows       []Row     `json:"rows"`
}

// Run measures the selected workloads and returns their rows. Each run of
// each system gets a fresh runtime or actor system, garbage is collected
// before every one, and the systems alternate run by run so that drift in
// the machine's speed affects both alike.
func Run(o Options) (*Report, error) {
	if o.Runs <= 0 {
		o.Runs = 1
	}
	if len(o.Systems) == 0 {
		o.Systems = Systems
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	rep := &Report{
		When: time.Now().UTC(), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Runs: o.Runs, Quick: o.Quick, Sizes: o.Sizes,
	}
	found := false
	for _, w := range Workloads() {
		if o.Only != "" && o.Only != w.Name {
			continue
		}
		found = true
		samples := map[System][]Sample{}
		g := runtime.NumGoroutine()
		for r := 1; r <= o.Runs; r++ {
			for _, sys := range o.Systems {
				settle(g)
				t := time.Now()
				s, err := w.Run[sys](o.Sizes)
				if err != nil {
					return nil, fmt.Errorf("%s on %s: %w", w.Name, sys, err)
				}
				samples[sys] = append(samples[sys], s)
				fmt.Fprintf(progress, "%-8s %-11s run %d/%d  %s  (%.1fs)\n", w.Name, sys, r, o.Runs, describe(w, s), time.Since(t).Seconds())
			}
		}
		settle(g)
		for _, m := range w.Metrics {
			rep.Rows = append(rep.Rows, row(w, m, samples))
		}
	}
	if !found {
		return nil, fmt.Errorf("no workload named %q (have %s)", o.Only, strings.Join(WorkloadNames(), ", "))
	}
	return rep, nil
}

// WorkloadNames lists the names -only accepts.
func WorkloadNames() []string {
	var names []string
	for _, w := range Workloads() {
		names = append(names, w.Name)
	}
	return names
}

func row(w Workload, m Metric, samples map[System][]Sample) Row {
	r := Row{Workload: w.Name, Metric: m.Name, Unit: m.Unit, Goal: m.Goal.Text, Samples: map[System][]float64{}}
	med := map[System]float64{}
	for _, sys := range Systems {
		var xs []float64
		for _, s := range samples[sys] {
			xs = append(xs, s[m.Key])
		}
		if xs != nil {
			r.Samples[sys] = xs
		}
		med[sys] = Median(xs)
	}
	r.Stark, r.Proto = med[Stark], med[Proto]
	r.Ratio = r.Stark / r.Proto
	if m.Goal.Met != nil {
		met := m.Goal.Met(r.Stark, r.Proto)
		r.Met = &met
	}
	return r
}

func describe(w Workload, s Sample) string {
	var parts []string
	for _, m := range w.Metrics {
		parts = append(parts, fmt.Sprintf("%s %s %s", m.Key, human(s[m.Key]), m.Unit))
	}
	return strings.Join(parts, ", ")
}

// human formats a figure with three significant digits and an SI suffix
// for large ones.
func human(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.Abs(v) >= 1e9:
		return fmt.Sprintf("%.3gG", v/1e9)
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%.3gk", v/1e3)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// WriteTable prints the report as an aligned table.
func (rep *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%s %s/%s, %d CPUs, GOMAXPROCS %d, median of %d run(s)%s\n\n",
		rep.GoVersion, rep.OS, rep.Arch, rep.CPUs, rep.GOMAXPROCS, rep.Runs, map[bool]string{true: ", quick sizes"}[rep.Quick])
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tunit\tSTARK\tProto.Actor\tSTARK/Proto\tgoal\tmet\t")
	for _, r := range rep.Rows {
		met := "-"
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*r.Met]
		}
		goal := r.Goal
		if goal == "" {
			goal = "-"
		}
		ratio := "-"
		if !math.IsNaN(r.Ratio) && !math.IsInf(r.Ratio, 0) {
			ratio = fmt.Sprintf("%.2fx", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Metric, r.Unit, human(r.Stark), human(r.Proto), ratio, goal, met)
	}
	return tw.Flush()
}

// WriteJSON writes the report to path as indented JSON. NaN figures (a
// system that was not measured) are written as null.
func (rep *Report) WriteJSON(path string) error {
	type jsonRow struct {
		Row
		Stark *float64 `json:"stark"`
		Proto *float64 `json:"proto"`
		Ratio *float64 `json:"ratio"`
	}
	num := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	out := struct {
		*Report
		Rows []jsonRow `json:"rows"`
	}{Report: rep}
	for _, r := range rep.Rows {
		out.Rows = append(out.Rows, jsonRow{Row: r, Stark: num(r.Stark), Proto: num(r.Proto), Ratio: num(r.Ratio)})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
