#!/usr/bin/env bash
# gcc under the preload library: gcc -O2 compiles a generated 1000-function
# C file (gcc-gen.awk; cc1, as, collect2 and ld all inherit LD_PRELOAD),
# links it and runs the program.  Without the library and with it, the
# object files must be byte-identical (so are their nm and size listings),
# the diagnostics the same (none) and the program's output the same.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

need /usr/bin/gcc /usr/bin/nm /usr/bin/size /usr/bin/awk
export LC_ALL=C
nfuncs=${KPROG_GCC_FUNCS:-1000}

awk -v n="$nfuncs" -f "$here/gcc-gen.awk" >"$tmp/gen.c" || fail "generating the C file"

# build RUN: compile, link and run in $tmp/RUN; exit status 11 (compile),
# 12 (link) or 13 (program) on failure.
build() {
	local run=$1 d=$tmp/$1 runner wrap=()
	mkdir -p "$d" && cp "$tmp/gen.c" "$d/gen.c" && cd "$d" || return 1
	if [ "$run" = base ]; then
		runner=run_base
	else
		runner=run_kalloc
		wrap=(-wrapper "$here/gcc-wrapper.sh")
	fi
	$runner env KPROG_LIB="$lib" KPROG_MAPS="$d/maps" \
		/usr/bin/gcc "${wrap[@]+"${wrap[@]}"}" -O2 -Wall -Wextra -c gen.c -o gen.o 2>diag || return 11
	$runner /usr/bin/gcc gen.o -o gen 2>>diag || return 12
	$runner ./gen >run.out || return 13
}

# Both builds at once: the test has the machine to itself (not parallel).
build base &
pid_base=$!
build kalloc &
pid_kalloc=$!
for run in base kalloc; do
	d=$tmp/$run
	if [ "$run" = base ]; then wait "$pid_base"; else wait "$pid_kalloc"; fi
	rc=$?
	case $rc in
	0) ;;
	11) check_rc "gcc -O2 -c ($run)" 1 "$d/diag" ;;
	12) check_rc "gcc link ($run)" 1 "$d/diag" ;;
	*) fail "the compiled program ($run) failed ($(describe_status "$rc"))" ;;
	esac
	{
		echo "== diagnostics"
		cat "$d/diag"
		echo "== object"
		sha256sum <"$d/gen.o"
		size "$d/gen.o" | awk '{ print $1, $2, $3, $4 }'
		nm "$d/gen.o"
		echo "== program"
		cat "$d/run.out"
	} >"$tmp/out.$run"
done
expect_mapped "$tmp/kalloc/maps" "gcc's cc1"
grep -q '/cc1$' "$tmp/kalloc/maps" || fail "maps copy is not cc1's"
compare "gcc -O2 on $nfuncs functions (object, nm, size, program output)" "$tmp/out.base" "$tmp/out.kalloc"
note "pass in $(elapsed)"
