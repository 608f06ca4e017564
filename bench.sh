#!/usr/bin/env bash
# ./bench.sh [--quick] [--reps N] [--only REGEX] [--base LIB]
#
# Runs the benchmarks of bench/ under kalloc, glibc, jemalloc, mimalloc and
# tcmalloc (LD_PRELOAD of each in turn, interleaved: every repetition runs
# each workload under every allocator before the next repetition), under
# kalloc-noharden (kalloc with its default hardening off, KALLOC_HARDEN=0:
# what the checks cost, in the same run) and kalloc-full (the hardened
# profile, KALLOC_HARDEN=full), and the multi-threaded ones also under
# kalloc-thread (kalloc in its per-thread fallback mode, KALLOC_RSEQ=0);
# takes the median of the repetitions, and
# writes build/bench/report.md (time and peak RSS per workload per
# allocator, ratios to kalloc, geometric means) and build/bench/report.svg.
# --quick: one repetition of smaller workloads, in about 5 minutes on two
# cores.  --base LIB adds an earlier build of kalloc's preload library as
# one more allocator, "kalloc-base", measured in the same interleaved run:
# its ratio to kalloc is what a change gained or lost.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

quick=0
reps=5
only=""
base=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; reps=1 ;;
	--reps) reps=$2; shift ;;
	--only) only=$2; shift ;;
	--base) base=$2; shift ;;
	-h|--help) sed -n '2,15p' "$0"; exit 0 ;;
	*) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

# ---- packages -------------------------------------------------------------
pkgs=(libbenchmark-dev libjemalloc2 libmimalloc2.0 libtcmalloc-minimal4 gnuplot-nox redis-server redis-tools time python3)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "bench.sh: installing ${missing[*]}" >&2
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	else
		echo "bench.sh: missing Debian packages; install them with:" >&2
		echo "  sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
fi
./run.sh --build

out="$here/build/bench"
bin="$here/build/bench"
mkdir -p "$out"
raw="$out/raw.tsv"
: > "$raw"

# ---- allocators -----------------------------------------------------------
find_lib() { # the first existing file among the arguments
	local f
	for f in "$@"; do [ -e "$f" ] && { echo "$f"; return; }; done
	echo ""
}
libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
declare -A lib
lib[kalloc]="$here/build/libkalloc-preload.so"
lib[glibc]=""
lib[jemalloc]=$(find_lib "$libdir/libjemalloc.so.2")
lib[mimalloc]=$(find_lib "$libdir/libmimalloc.so.2" "$libdir/libmimalloc.so")
lib[tcmalloc]=$(find_lib "$libdir/libtcmalloc_minimal.so.4")
allocs=(kalloc glibc jemalloc mimalloc tcmalloc kalloc-thread kalloc-prof)
# kalloc-thread: kalloc in its per-thread fallback mode (KALLOC_RSEQ=0, as
# where rseq is not to be had), on the multi-threaded workloads only.
lib[kalloc-thread]=${lib[kalloc]}
# kalloc-prof: kalloc with the sampled heap profile on (KALLOC_PROF; the
# profile, written at exit, goes to /dev/null).
lib[kalloc-prof]=${lib[kalloc]}
declare -A allocenv
allocenv[kalloc-thread]="KALLOC_RSEQ=0"
allocenv[kalloc-prof]="KALLOC_PROF=/dev/null"
# kalloc-noharden: the same library without its default checks
# (KALLOC_HARDEN=0); kalloc / kalloc-noharden is what they cost.
allocs+=(kalloc-noharden)
lib[kalloc-noharden]=${lib[kalloc]}
allocenv[kalloc-noharden]="KALLOC_HARDEN=0"
# kalloc-full: kalloc's hardened profile (KALLOC_HARDEN=full), on every
# workload; report.md compares it with glibc.
allocs+=(kalloc-full)
lib[kalloc-full]=${lib[kalloc]}
allocenv[kalloc-full]="KALLOC_HARDEN=full"
threaded='(-t[2-9]|pair|threadchurn|redis)'
if [ -n "$base" ]; then
	[ -e "$base" ] || { echo "bench.sh: --base $base: no such file" >&2; exit 2; }
	lib[kalloc-base]=$(cd "$(dirname "$base")" && pwd)/$(basename "$base")
	allocs+=(kalloc-base)
fi
for a in jemalloc mimalloc tcmalloc; do
	[ -n "${lib[$a]}" ] || { echo "bench.sh: $a not found under $libdir" >&2; exit 1; }
done
[ -e "${lib[kalloc]}" ] || { echo "bench.sh: ${lib[kalloc]} missing (build failed?)" >&2; exit 1; }

if [ $quick = 1 ]; then
	export BENCH_SCALE=0.2
	redis_n=20000
	min_time=0.01
else
	export BENCH_SCALE=1
	redis_n=200000
	min_time=0.2
fi

# ---- workloads ------------------------------------------------------------
py=/usr/bin/python3
[ -x "$py" ] || py=python3
workloads=(
	"larson-t1|$bin/workload-larson 1"
	"larson-t2|$bin/workload-larson 2"
	"larson-t4|$bin/workload-larson 4"
	"larson-t8|$bin/workload-larson 8"
	"prodcons-1pair|$bin/workload-prodcons 1"
	"prodcons-4pairs|$bin/workload-prodcons 4"
	"prodcons64-1pair|$bin/workload-prodcons 1 64"
	"smallloops-t1|$bin/workload-smallloops 1"
	"smallloops-t2|$bin/workload-smallloops 2"
	"pageblocks-t1|$bin/workload-pageblocks 1"
	"pageblocks-t2|$bin/workload-pageblocks 2"
	"threadchurn|$bin/workload-threadchurn 16"
	"frag|$bin/workload-frag"
	"tree|$bin/workload-tree"
	"realloc-huge|$bin/workload-realloc_huge"
	"bigblocks|$bin/workload-bigblocks"
	"python|$py $here/bench/python_workload.py"
	"sqlite|$py $here/bench/sqlite_workload.py"
	"redis|redis"
)
if [ -n "$only" ]; then
	sel=()
	for w in "${workloads[@]}"; do [[ "${w%%|*}" =~ $only ]] && sel+=("$w"); done
	workloads=("${sel[@]}")
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs one command under allocator $1; prints "time rss_kib".
run_one() {
	local a=$1; shift
	local pre=${lib[$a]}
	# shellcheck disable=SC2086
	if ! env ${allocenv[$a]:-} ${pre:+LD_PRELOAD=$pre} /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" > "$tmp/out" 2> "$tmp/err"; then
		echo "bench.sh: '$*' failed under $a:" >&2
		tail -5 "$tmp/err" >&2
		echo "nan nan"
		return
	fi
	local wall rss t
	read -r wall rss < <(tail -1 "$tmp/time")
	t=$(sed -n 's/^result time_s=\([0-9.]*\).*/\1/p' "$tmp/out" | tail -1)
	echo "${t:-$wall} $rss"
}

free_port() {
	"$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# redis-server under allocator $1 on 127.0.0.1; redis-benchmark (not
# preloaded) drives it.  Prints "time server_peak_rss_kib".
run_redis() {
	local a=$1 pre=${lib[$1]} port pid i
	port=$(free_port)
	# shellcheck disable=SC2086
	env ${allocenv[$a]:-} ${pre:+LD_PRELOAD=$pre} redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
		--daemonize no --loglevel warning > "$tmp/redis.log" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do
		redis-cli -h 127.0.0.1 -p "$port" ping > /dev/null 2>&1 && break
		sleep 0.05
	done
	local t0 t1
	t0=$(date +%s.%N)
	redis-benchmark -h 127.0.0.1 -p "$port" -n "$redis_n" -q -t set,get,lpush,lpop,incr,sadd,hset -d 64 -r 100000 \
		> "$tmp/redis.out" 2>&1 || true
	t1=$(date +%s.%N)
	local rss
	rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo nan)
	redis-cli -h 127.0.0.1 -p "$port" shutdown nosave > /dev/null 2>&1 || kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') ${rss:-nan}"
}

total=$((reps * ${#workloads[@]} * ${#allocs[@]}))
n=0
start=$(date +%s)
for r in $(seq 1 "$reps"); do
	# rotate the allocator order each repetition
	order=("${allocs[@]:$(( (r - 1) % ${#allocs[@]} ))}" "${allocs[@]:0:$(( (r - 1) % ${#allocs[@]} ))}")
	for w in "${workloads[@]}"; do
		name=${w%%|*}
		cmd=${w#*|}
		for a in "${order[@]}"; do
			n=$((n + 1))
			if [ "$a" = kalloc-thread ] && ! [[ "$name" =~ $threaded ]]; then
				continue
			fi
			if [ "$cmd" = redis ]; then
				res=$(run_redis "$a")
			else
				# shellcheck disable=SC2086
				res=$(run_one "$a" $cmd)
			fi
			read -r t rss <<< "$res"
			printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$a" "$r" "$t" "$rss" >> "$raw"
			printf '[%3d/%d %4ds] rep %d %-16s %-9s %9ss %8s KiB\n' "$n" "$total" $(( $(date +%s) - start )) \
				"$r" "$name" "$a" "$t" "$rss"
		done
	done
done

# ---- micro-benchmarks -----------------------------------------------------
if [ -x "$bin/kbench-micro" ] && [ -z "$only" ]; then
	for a in "${allocs[@]}"; do
		echo "micro-benchmarks under $a"
		pre=${lib[$a]}
		# shellcheck disable=SC2086
		env ${allocenv[$a]:-} ${pre:+LD_PRELOAD=$pre} "$bin/kbench-micro" --benchmark_min_time="$min_time" \
			--benchmark_format=json --benchmark_out="$out/micro-$a.json" --benchmark_out_format=json \
			> /dev/null 2> "$tmp/micro.err" || { echo "bench.sh: micro-benchmarks failed under $a" >&2; tail -3 "$tmp/micro.err" >&2; }
	done
	echo "kernel-style API (kalloc only)"
	"$bin/kbench-kapi" --benchmark_min_time="$min_time" --benchmark_format=json \
		--benchmark_out="$out/kapi.json" --benchmark_out_format=json > /dev/null 2>&1 || true
fi

"$py" "$here/bench/report.py" --out "$out" --quick "$quick" --reps "$reps"
echo "report: $out/report.md, chart: $out/report.svg"
