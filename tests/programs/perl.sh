#!/usr/bin/env bash
# perl under the preload library: a hash- and string-heavy deterministic
# workload (workload.pl), run without the library, with it, and with it in
# per-thread cache mode (KALLOC_RSEQ=0); the outputs must be identical.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

perl=/usr/bin/perl
need "$perl"

run_base env KPROG_MAPS="$tmp/maps.base" "$perl" "$here/workload.pl" >"$tmp/out.base" 2>"$tmp/err.base"
check_rc "perl without preload" $? "$tmp/err.base"
expect_unmapped "$tmp/maps.base" "perl without preload"

for mode in default rseq0; do
	extra=()
	[ "$mode" = rseq0 ] && extra=(KALLOC_RSEQ=0)
	run_kalloc env "${extra[@]+"${extra[@]}"}" KPROG_MAPS="$tmp/maps.$mode" \
		"$perl" "$here/workload.pl" >"$tmp/out.$mode" 2>"$tmp/err.$mode"
	check_rc "perl workload under kalloc ($mode)" $? "$tmp/err.$mode"
	expect_mapped "$tmp/maps.$mode" "perl ($mode)"
	compare "perl workload ($mode)" "$tmp/out.base" "$tmp/out.$mode"
done
note "pass in $(elapsed)"
