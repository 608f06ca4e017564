#!/usr/bin/env bash
# bench/fastpath.sh: instructions per malloc(32) + free iteration, counted
# by callgrind, under kalloc and the other allocators (Debian packages);
# then, for kalloc and for glibc with libstdc++'s operators, per
# operator new(32) + delete(p) and new(32) + sized delete(p, 32) iteration
# (workload-fastpath_cxx).
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
count() { # allocator library (empty: glibc) [binary loop mode] -> instructions per iteration
	local pre=$1 exe=${2:-$bin} loop=${3:-fastpath_loop} mode=${4:-} a b
	for k in 1 2; do
		env KALLOC_RSEQ=0 ${pre:+LD_PRELOAD=$pre} valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$k" \
			--toggle-collect="$loop" "$exe" $((n * k)) $mode > /dev/null 2>&1
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
cxx=$here/build/bench/workload-fastpath_cxx
if [ -x "$cxx" ]; then
	printf '\n%-9s %-28s %s\n' allocator 'new(32)+delete(p)' 'new(32)+delete(p, 32)'
	printf '%-9s %-28s %s\n' kalloc "$(count "$here/build/libkalloc-preload.so" "$cxx" fastpath_unsized unsized)" \
		"$(count "$here/build/libkalloc-preload.so" "$cxx" fastpath_sized sized)"
	printf '%-9s %-28s %s\n' glibc "$(count "" "$cxx" fastpath_unsized unsized)" "$(count "" "$cxx" fastpath_sized sized)"
fi
