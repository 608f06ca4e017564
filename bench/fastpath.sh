#!/usr/bin/env bash
# bench/fastpath.sh: instructions per malloc(32) + free iteration, counted
# by callgrind, under kalloc and the other allocators (Debian packages).
# callgrind runs kalloc in its per-thread mode (valgrind has no rseq); the
# per-thread mode runs the same fast-path instructions as the rseq mode.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$here/build/bench/workload-fastpath
[ -x "$bin" ] || { echo "fastpath.sh: build first (./run.sh --build)" >&2; exit 1; }
command -v valgrind > /dev/null || { echo "fastpath.sh: valgrind is not installed" >&2; exit 1; }
libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=200000
count() { # allocator library (empty: glibc) -> instructions per iteration
	local pre=$1 a b
	for k in 1 2; do
		env KALLOC_RSEQ=0 ${pre:+LD_PRELOAD=$pre} valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$k" \
			--toggle-collect=fastpath_loop "$bin" $((n * k)) > /dev/null 2>&1
	done
	a=$(sed -n 's/^summary: //p' "$tmp/cg.1")
	b=$(sed -n 's/^summary: //p' "$tmp/cg.2")
	# the difference of two runs cancels the warm-up loop and start-up
	echo $(( (b - a) / n ))
}
printf '%-9s %s\n' allocator 'instructions per malloc(32)+free iteration'
printf '%-9s %s\n' kalloc "$(count "$here/build/libkalloc-preload.so")"
printf '%-9s %s\n' glibc "$(count "")"
for a in jemalloc:libjemalloc.so.2 mimalloc:libmimalloc.so.2 tcmalloc:libtcmalloc_minimal.so.4; do
	f=$libdir/${a#*:}
	[ -e "$f" ] && printf '%-9s %s\n' "${a%%:*}" "$(count "$f")"
done
