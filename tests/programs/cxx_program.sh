#!/usr/bin/env bash
# cxx_program.sh LIB CXX_PROGRAM_EXE: a real C++ program (cxx_program.cpp:
# four threads of std::map, std::unordered_map, std::string, std::vector,
# std::list, std::shared_ptr trees, class hierarchies with virtual and
# over-aligned destructors, std::function, exceptions; merged across
# threads), built by meson with the project's C++ compiler.  It runs without
# the library and with it, in both front-cache modes: the outputs must be the
# same, the library must be mapped, and operator new must be kalloc's
# (dladdr of _Znwm) under the library and not without it.  And the other
# side: the library needs no C++ runtime (no libstdc++ in its DT_NEEDED),
# and a C program under it runs without one mapped.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

exe=${1:-}
[ -n "$exe" ] && [ -x "$exe" ] || fail "usage: $0 LIB CXX_PROGRAM_EXE"

if command -v readelf >/dev/null; then
	readelf -dW "$lib" | grep -F NEEDED | grep -qE 'libstdc\+\+|libc\+\+' &&
		fail "$lib depends on a C++ runtime: $(readelf -dW "$lib" | grep -F NEEDED | tr -s ' ' | tr '\n' ';')"
fi
run_kalloc /bin/cat /proc/self/maps >"$tmp/maps.c" 2>"$tmp/err.c"
check_rc "cat (a C program) under kalloc" $? "$tmp/err.c"
expect_mapped "$tmp/maps.c" "cat (a C program)"
grep -qE 'libstdc\+\+|libc\+\+' "$tmp/maps.c" && fail "a C program under kalloc has a C++ runtime mapped"

run_base env KPROG_MAPS="$tmp/maps.base" KPROG_NEW="$tmp/new.base" "$exe" >"$tmp/out.base" 2>"$tmp/err.base"
check_rc "cxx_program without preload" $? "$tmp/err.base"
expect_unmapped "$tmp/maps.base" "cxx_program without preload"
grep -q kalloc "$tmp/new.base" && fail "without preload, operator new comes from $(cat "$tmp/new.base")"

for rseq in 1 0; do
	what="cxx_program (KALLOC_RSEQ=$rseq)"
	run_kalloc env KALLOC_RSEQ=$rseq KPROG_MAPS="$tmp/maps.$rseq" KPROG_NEW="$tmp/new.$rseq" "$exe" \
		>"$tmp/out.$rseq" 2>"$tmp/err.$rseq"
	check_rc "$what" $? "$tmp/err.$rseq"
	expect_mapped "$tmp/maps.$rseq" "$what"
	grep -qF "$lib" "$tmp/new.$rseq" || fail "$what: operator new comes from $(cat "$tmp/new.$rseq"), not $lib"
	compare "$what" "$tmp/out.base" "$tmp/out.$rseq"
done
note "pass in $(elapsed)"
