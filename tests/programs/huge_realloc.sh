#!/usr/bin/env bash
# huge_realloc.sh LIB HUGE_REALLOC_EXE: the huge path's realloc.  The program
# grows a buffer from 4 MiB to 2 GiB by doubling, checking contents at every
# step (huge_realloc.c).  It runs without the library, then with it under
# strace -f -e trace=mremap: the output must be the same and the library must
# have grown the block with at least KPROG_MIN_MREMAP (8) successful mremap
# calls rather than by copying.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

exe=${1:-}
[ -n "$exe" ] && [ -x "$exe" ] || fail "usage: $0 LIB HUGE_REALLOC_EXE"
need /usr/bin/strace
min_mremap=${KPROG_MIN_MREMAP:-8}

if ! /usr/bin/strace -f -e trace=none -o /dev/null /bin/true 2>"$tmp/strace-probe"; then
	skip "strace cannot trace here: $(head -n1 "$tmp/strace-probe")"
fi

run_base env KPROG_MAPS="$tmp/maps.base" "$exe" >"$tmp/out.base" 2>"$tmp/err.base"
check_rc "huge_realloc without preload" $? "$tmp/err.base"
expect_unmapped "$tmp/maps.base" "huge_realloc without preload"

env -u LD_PRELOAD KPROG_MAPS="$tmp/maps.kalloc" /usr/bin/strace -f -qq -e trace=mremap \
	-o "$tmp/strace.out" -E LD_PRELOAD="$lib" "$exe" >"$tmp/out.kalloc" 2>"$tmp/err.kalloc"
check_rc "huge_realloc under kalloc (strace)" $? "$tmp/err.kalloc"
expect_mapped "$tmp/maps.kalloc" "huge_realloc"
compare "huge_realloc" "$tmp/out.base" "$tmp/out.kalloc"

ok=$(grep -E 'mremap\(' "$tmp/strace.out" | grep -cvE '= -1 ')
failed=$(grep -E 'mremap\(' "$tmp/strace.out" | grep -cE '= -1 ')
note "mremap calls under kalloc: $ok succeeded, $failed failed"
if [ "$ok" -lt "$min_mremap" ]; then
	echo "--- strace -e trace=mremap output ---" >&2
	cat "$tmp/strace.out" >&2
	fail "expected at least $min_mremap successful mremap calls growing the block, saw $ok"
fi
note "pass in $(elapsed)"
