#!/bin/sh
# bench/device/matmul.sh: the cpu backend's f32 matmul against numpy.
#
#   bench/device/matmul.sh [-r RUNS]
#
# Builds host/device's test binary and makes build/venv-bench (numpy and
# threadpoolctl from PyPI) if missing, then runs RUNS rounds (default 5),
# alternating which goes first, of BenchmarkSgemm/1024 and /2048 (STARK's
# cpu backend on all GOMAXPROCS cores) and matmul_numpy.py (numpy's BLAS on
# its default threads). Both do the same per size and round: two warm-up
# products, then 7 timed ones, of which they report the median and the
# best GFLOP/s (2n^3 / seconds). Prints the machine, the kernel, numpy's
# BLAS, and a markdown table of the medians over the rounds of both
# figures, with the ratios STARK/numpy; the goal (>= 0.5x) is checked on
# the median. Raw figures: build/bench-device/results.txt. Progress goes to
# stderr, the table to stdout.
#
# Environment: GO (default go), PYTHON (the venv's python3 to create it).
set -eu

cd "$(dirname "$0")/../.."
RUNS=5
while [ $# -gt 0 ]; do
	case $1 in
	-r) RUNS=$2; shift 2 ;;
	*) echo "usage: $0 [-r RUNS]" >&2; exit 2 ;;
	esac
done
GO=${GO:-go}
VENV=build/venv-bench
OUT=build/bench-device
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import numpy' 2>/dev/null; then
	echo "creating $VENV (numpy from PyPI)" >&2
	"${PYTHON:-python3}" -m venv "$VENV"
	"$VENV/bin/pip" install -q numpy threadpoolctl >&2
fi
PY=$VENV/bin/python
"$GO" test -c -o "$OUT/device.test" ./host/device

RES=$OUT/results.txt
: >"$RES"
stark() {
	"$OUT/device.test" -test.run '^$' -test.v -test.bench '^BenchmarkSgemm$/^(1024|2048)$' -test.benchtime 7x >"$OUT/go.txt"
	grep -o 'kernel .*' "$OUT/go.txt" | head -1 | sed 's/^/# stark /' >>"$RES" || true
	awk '/^BenchmarkSgemm\/[0-9]+/ && NF > 3 {
		split($1, f, "[/-]"); p50 = ""; best = ""
		for (i = 2; i < NF; i++) {
			if ($(i+1) == "p50-GFLOP/s") p50 = $i
			if ($(i+1) == "max-GFLOP/s") best = $i
		}
		print "stark", f[2], "best", best, "median", p50, "runs", $2
	}' "$OUT/go.txt" | tee -a "$RES" >&2
}
numpy() {
	"$PY" bench/device/matmul_numpy.py -q | tee -a "$RES" >&2
}
r=1
while [ "$r" -le "$RUNS" ]; do
	echo "round $r/$RUNS" >&2
	if [ $((r % 2)) -eq 1 ]; then stark; numpy; else numpy; stark; fi
	r=$((r + 1))
done

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cpus; $("$GO" version)"
grep '^# stark' "$RES" | head -1 | sed 's/^# //'
"$PY" bench/device/matmul_numpy.py -r 0 | grep '^#' | sed 's/^# //'
"$PY" - "$RES" "$RUNS" <<'PYEOF'
import statistics, sys
res, runs = sys.argv[1], int(sys.argv[2])
# lines: SYSTEM SIZE best B median M runs R
fig = {}
for line in open(res):
    f = line.split()
    if len(f) >= 6 and f[0] in ("stark", "numpy"):
        d = fig.setdefault((f[0], int(f[1])), {"best": [], "median": []})
        d["best"].append(float(f[3]))
        d["median"].append(float(f[5]))
med = lambda xs: statistics.median(xs)
rng = lambda xs: "%.0f-%.0f" % (min(xs), max(xs))
print()
print("| size | STARK cpu GFLOP/s | numpy GFLOP/s | STARK / numpy | goal | met | STARK best | numpy best | best / best |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for n in sorted({n for (_, n) in fig}):
    g, p = fig[("stark", n)], fig[("numpy", n)]
    r = med(g["median"]) / med(p["median"])
    print("| %dx%d | %.1f (%s) | %.1f (%s) | **%.2fx** | >= 0.5x | %s | %.1f | %.1f | %.2fx |" % (
        n, n, med(g["median"]), rng(g["median"]), med(p["median"]), rng(p["median"]), r,
        "yes" if r >= 0.5 else "no", med(g["best"]), med(p["best"]), med(g["best"]) / med(p["best"])))
print()
print("GFLOP/s = 2n^3/s, f32, C = A*B. Per round each side times 7 products after 2 warm-ups; "
      "the table gives the median over %d alternating rounds of each round's median product "
      "(range over the rounds in brackets) and of each round's best product." % runs)
PYEOF
