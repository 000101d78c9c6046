#!/bin/sh
# bench/c/run.sh: benchmarks of the C ABI (libstark.so), side by side.
#
#   bench/c/run.sh [-r RUNS] [-quick]      (or: make bench-c RUNS=7)
#
# Builds bench/c/cbench.c (-O2) against build/lib and bench/c/goping (the Go
# side of the ping-pong), then runs every measurement RUNS times (default
# 5), each in a fresh process, alternating them round by round (the C and Go
# ping-pong back to back, in alternating order), and prints a markdown table
# of the medians, the goal checks and the ratio C/Go ping-pong. -quick:
# smaller sizes and 3 runs, a smoke test of a few seconds. Progress goes to
# stderr, the table to stdout; the raw figures are kept in
# build/bench-c/results.txt. The exit status is non-zero when a measurement
# fails its own check (a lost message), not when a goal is missed.
#
# Environment: CC, GO, MAKE, LIB_DIR (default build/lib).
set -eu

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
RUNS=${RUNS:-5}
QUICK=0
while [ $# -gt 0 ]; do
	case $1 in
	-r) RUNS=$2; shift 2 ;;
	-quick) QUICK=1; shift ;;
	*) echo "usage: $0 [-r RUNS] [-quick]" >&2; exit 2 ;;
	esac
done
CC=${CC:-cc}
GO=${GO:-go}
MAKE=${MAKE:-make}
LIB_DIR=${LIB_DIR:-build/lib}
OUT=build/bench-c

N_SEND=1000000 N_PP=2000000 N_POLL=1000000 N_FLOOR=10000000
if [ "$QUICK" = 1 ]; then
	N_SEND=100000 N_PP=200000 N_POLL=100000 N_FLOOR=1000000
	[ "$RUNS" = 5 ] && RUNS=3
fi
CORES=$(nproc)

# ---- build ------------------------------------------------------------------
mkdir -p "$OUT"
[ -e "$LIB_DIR/libstark.so" ] || $MAKE -s lib LIB_DIR="$LIB_DIR"
$CC -std=c11 -O2 -Wall -Wextra -Werror -I abi -o "$OUT/cbench" bench/c/cbench.c -pthread \
	-L"$LIB_DIR" -lstark -Wl,-rpath,"$(cd "$LIB_DIR" && pwd)"
(cd bench && $GO build -o "$ROOT/$OUT/goping" ./c/goping)

# ---- run --------------------------------------------------------------------
RES=$OUT/results.txt
: >"$RES"

# m NAME CMD...: runs CMD and records its "key value" lines as NAME.key.
m() {
	name=$1
	shift
	if ! out=$("$@"); then
		echo "run.sh: '$*' failed" >&2
		exit 1
	fi
	echo "$out" | sed "s/^/$name./" >>"$RES"
}

CB=$OUT/cbench
GP=$OUT/goping
r=1
while [ "$r" -le "$RUNS" ]; do
	echo "run $r of $RUNS" >&2
	m floor $CB floor -n $N_FLOOR
	if [ $((r % 2)) = 1 ]; then
		m send8 $CB send -n $N_SEND -payload 8
		m gosend8 $GP -send -n $N_SEND
	else
		m gosend8 $GP -send -n $N_SEND
		m send8 $CB send -n $N_SEND -payload 8
	fi
	m try8 $CB send -n $N_SEND -payload 8 -try
	m send0 $CB send -n $N_SEND -payload 0
	m wait8 $CB send -n $N_SEND -payload 8 -mailbox 4096 -wait
	# The C and Go ping-pong back to back, the order alternating by round.
	for pairs in 1 "$CORES"; do
		if [ $((r % 2)) = 1 ]; then
			m "cpp$pairs" $CB pingpong -n $N_PP -pairs "$pairs"
			m "cpost$pairs" $CB pingpong -n $N_PP -pairs "$pairs" -post
			m "gopp$pairs" $GP -n $N_PP -pairs "$pairs"
		else
			m "gopp$pairs" $GP -n $N_PP -pairs "$pairs"
			m "cpost$pairs" $CB pingpong -n $N_PP -pairs "$pairs" -post
			m "cpp$pairs" $CB pingpong -n $N_PP -pairs "$pairs"
		fi
	done
	m cpp8b $CB pingpong -n $N_PP -pairs 1 -payload 8
	for b in 256 64 16 1; do
		m "poll$b" $CB poll -n $N_POLL -batch "$b"
	done
	r=$((r + 1))
done

# ---- report -----------------------------------------------------------------
# med KEY: the median of KEY's figures.
med() {
	grep "^$1 " "$RES" | awk '{print $2}' | sort -g |
		awk '{a[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
# range KEY [DIV SUFFIX]: "min-max" of KEY's figures (divided by DIV, with SUFFIX).
range() {
	grep "^$1 " "$RES" | awk '{print $2}' | sort -g |
		awk -v d="${2:-1}" -v s="${3:-}" 'NR == 1 {lo = $1} {hi = $1}
			END {if (d == 1) printf "%.0f-%.0f", lo, hi; else printf "%.2f%s-%.2f%s", lo / d, s, hi / d, s}'
}
# rate X: X messages/s as 1.23M.
rate() { awk -v x="$1" 'BEGIN {printf "%.2fM", x / 1e6}'; }
ns() { awk -v x="$1" 'BEGIN {printf "%.0f", x}'; }
le() { awk -v x="$1" -v y="$2" 'BEGIN {print (x <= y) ? "met" : "MISSED"}'; }
ge() { awk -v x="$1" -v y="$2" 'BEGIN {print (x >= y) ? "met" : "MISSED"}'; }
# pratio KEY_A KEY_B: the median of A/B over the rounds (A and B ran back to
# back in each round, so their ratio drifts less than either figure).
pratio() {
	grep "^$1 " "$RES" | awk '{print $2}' >"$OUT/.a"
	grep "^$2 " "$RES" | awk '{print $2}' >"$OUT/.b"
	paste "$OUT/.a" "$OUT/.b" | awk '{print $1 / $2}' | sort -g |
		awk '{a[NR] = $1} END {if (NR % 2) m = a[(NR + 1) / 2]; else m = (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m}'
	rm -f "$OUT/.a" "$OUT/.b"
}

SEND8=$(med send8.sender_ns)
CPP1=$(med cpp1.msgs_per_s) GOPP1=$(med gopp1.msgs_per_s)
CPPN=$(med "cpp$CORES.msgs_per_s") GOPPN=$(med "gopp$CORES.msgs_per_s")
R1=$(pratio cpp1.msgs_per_s gopp1.msgs_per_s) RN=$(pratio "cpp$CORES.msgs_per_s" "gopp$CORES.msgs_per_s")
P1=$(pratio cpost1.msgs_per_s gopp1.msgs_per_s) PN=$(pratio "cpost$CORES.msgs_per_s" "gopp$CORES.msgs_per_s")

echo
echo "C ABI benchmarks: medians of $RUNS runs (the runs column: lowest-highest), $CORES cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), $($GO version | awk '{print $3}'), one worker per core"
echo
echo "| measurement | unit | median | runs | goal | met |"
echo "| --- | --- | --- | --- | --- | --- |"
row() { echo "| $1 | $2 | $3 | $4 | $5 | $6 |"; }
row "C->Go call floor (stark_abi_version, an empty export)" "ns/call" "$(ns "$(med floor.call_ns)")" "$(range floor.call_ns)" "-" "-"
row "stark_send 8 B from a C thread, sender cost (mailbox holds all)" "ns/msg" "$(ns "$SEND8")" "$(range send8.sender_ns)" "<= 150 ns" "$(le "$SEND8" 150)"
row "... the same send from a goroutine in Go (goping -send: copy + SendEnvelope, no cgo)" "ns/msg" "$(ns "$(med gosend8.sender_ns)")" "$(range gosend8.sender_ns)" "-" "-"
row "stark_send 8 B, end to end, until the actor counted all" "ns/msg" "$(ns "$(med send8.e2e_ns)")" "$(range send8.e2e_ns)" "-" "-"
row "stark_try_send 8 B, sender cost" "ns/msg" "$(ns "$(med try8.sender_ns)")" "$(range try8.sender_ns)" "-" "-"
row "stark_send 0 B, sender cost" "ns/msg" "$(ns "$(med send0.sender_ns)")" "$(range send0.sender_ns)" "-" "-"
row "stark_send 8 B, mailbox 4096 + OVERFLOW_WAIT (sender cost = end to end)" "ns/msg" "$(ns "$(med wait8.sender_ns)")" "$(range wait8.sender_ns)" "-" "-"
row "ping-pong, 1 pair, native C actors (stark_ctx_send, 0 B)" "msgs/s" "$(rate "$CPP1")" "$(range cpp1.msgs_per_s 1e6 M)" "-" "-"
row "ping-pong, 1 pair, Go actors (goping)" "msgs/s" "$(rate "$GOPP1")" "$(range gopp1.msgs_per_s 1e6 M)" "-" "-"
row "ratio C (stark_ctx_send) / Go, 1 pair (median of the per-round ratios)" "x" "$R1" "-" "-" "-"
row "ping-pong, 1 pair, native C actors (stark_ctx_post, 0 B)" "msgs/s" "$(rate "$(med cpost1.msgs_per_s)")" "$(range cpost1.msgs_per_s 1e6 M)" "-" "-"
row "**ratio C (stark_ctx_post) / Go, 1 pair**" "x" "$P1" "-" ">= 0.5x" "$(ge "$P1" 0.5)"
row "ping-pong, $CORES pairs (one per core), native C actors" "msgs/s" "$(rate "$CPPN")" "$(range "cpp$CORES.msgs_per_s" 1e6 M)" "-" "-"
row "ping-pong, $CORES pairs, Go actors" "msgs/s" "$(rate "$GOPPN")" "$(range "gopp$CORES.msgs_per_s" 1e6 M)" "-" "-"
row "ratio C (stark_ctx_send) / Go, $CORES pairs" "x" "$RN" "-" "-" "-"
row "ping-pong, $CORES pairs, native C actors (stark_ctx_post)" "msgs/s" "$(rate "$(med "cpost$CORES.msgs_per_s")")" "$(range "cpost$CORES.msgs_per_s" 1e6 M)" "-" "-"
row "**ratio C (stark_ctx_post) / Go, $CORES pairs**" "x" "$PN" "-" ">= 0.5x" "$(ge "$PN" 0.5)"
row "ping-pong, 1 pair, native C actors, 8 B payload" "msgs/s" "$(rate "$(med cpp8b.msgs_per_s)")" "$(range cpp8b.msgs_per_s 1e6 M)" "-" "-"
for b in 256 64 16 1; do
	row "polled actor, batch $b: poll thread CPU (stark_poll + stark_poll_done)" "ns/msg" "$(ns "$(med "poll$b.poll_cpu_ns")")" "$(range "poll$b.poll_cpu_ns")" "-" "-"
	row "... wall time, C sender thread to last stark_poll_done (avg batch $(ns "$(med "poll$b.avg_batch")"))" "ns/msg" "$(ns "$(med "poll$b.wall_ns")")" "$(range "poll$b.wall_ns")" "-" "-"
done
echo
echo "Sizes: send $N_SEND msgs (after 10,000 warm-up), ping-pong $N_PP msgs split over the pairs, poll $N_POLL msgs, floor $N_FLOOR calls."
echo "Goals: stark_send from C $(le "$SEND8" 150) (median $(ns "$SEND8") ns/msg, goal <= 150); C/Go ping-pong with stark_ctx_post $(ge "$P1" 0.5) (1 pair ${P1}x, $CORES pairs ${PN}x, goal >= 0.5x; with stark_ctx_send ${R1}x / ${RN}x)."
