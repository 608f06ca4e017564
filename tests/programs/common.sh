# Shared helpers for the real-program tests; sourced by every script here.
#
#   script.sh LIB [ARGS...]      (or KALLOC_LIB=LIB script.sh)
#
# LIB is the preload library (build/libkalloc-preload.so).  Each script runs a
# program once without any preload ("base") and once with LD_PRELOAD=LIB
# ("kalloc"), checks that LIB really is mapped into the program under test,
# and compares the outputs.  Exit status: 0 pass, 1 fail, 77 skip (meson).
# KPROG_KEEP=1 keeps the temporary directory (outputs, maps copies) for a look.

set -u
set -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
test_name=$(basename "$0" .sh)

fail() {
	echo "FAIL [$test_name]: $*" >&2
	exit 1
}

skip() {
	echo "SKIP [$test_name]: $*"
	exit 77
}

note() {
	echo "[$test_name] $*"
}

lib=${1:-${KALLOC_LIB:-}}
[ -n "$lib" ] || fail "usage: $0 PRELOAD_LIBRARY (or KALLOC_LIB=...)"
[ -f "$lib" ] || fail "preload library not found: $lib"
# /proc/PID/maps names the file by its canonical path.
lib=$(readlink -f "$lib")
[ "$#" -gt 0 ] && shift

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kalloc-$test_name.XXXXXX") || fail "mktemp"
cleanup_hooks=()
cleanup() {
	local h
	for h in "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}"; do
		eval "$h" || true
	done
	if [ -n "${KPROG_KEEP:-}" ]; then
		echo "[$test_name] kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Programs come from the system, never from a user's PATH shims (pyenv...).
need() {
	local p
	for p in "$@"; do
		[ -x "$p" ] || skip "$p is not installed"
	done
}

# run_base CMD...   : without any preload library
# run_kalloc CMD... : with LD_PRELOAD=$lib (and KALLOC_* settings as given)
run_base() {
	env -u LD_PRELOAD "$@"
}
run_kalloc() {
	env LD_PRELOAD="$lib" "$@"
}

# describe_status RC: human-readable exit status of a child.
describe_status() {
	local rc=$1
	if [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then
		echo "killed by signal $((rc - 128)) ($(kill -l "$((rc - 128))" 2>/dev/null || echo '?'))"
	else
		echo "exit status $rc"
	fi
}

# check_rc WHAT RC [STDERR_FILE]: fail when RC is not zero.
check_rc() {
	local what=$1 rc=$2 errf=${3:-}
	if [ "$rc" -ne 0 ]; then
		if [ -n "$errf" ] && [ -s "$errf" ]; then
			echo "--- stderr of $what (last 40 lines) ---" >&2
			tail -n 40 "$errf" >&2
		fi
		fail "$what: $(describe_status "$rc")"
	fi
}

# expect_mapped MAPS_FILE WHAT: the copy of /proc/PID/maps lists the library.
expect_mapped() {
	local f=$1 what=$2
	[ -s "$f" ] || fail "$what: no /proc/PID/maps copy was taken ($f)"
	grep -qF " $lib" "$f" || fail "$what: $lib is not mapped into the process (LD_PRELOAD not in effect)"
	note "$what: $(basename "$lib") is mapped into the process"
}

# expect_unmapped MAPS_FILE WHAT: the base run really ran without it.
expect_unmapped() {
	local f=$1 what=$2
	[ -s "$f" ] || fail "$what: no /proc/PID/maps copy was taken ($f)"
	if grep -qF " $lib" "$f"; then
		fail "$what: $lib is mapped into the run that should be without it"
	fi
}

# compare WHAT BASE_FILE KALLOC_FILE: identical, or fail with a diff.
compare() {
	local what=$1 a=$2 b=$3
	if ! cmp -s "$a" "$b"; then
		echo "--- diff of $what: without preload (-) vs with $(basename "$lib") (+) ---" >&2
		diff -u "$a" "$b" | head -n 60 >&2
		fail "$what: output differs under $(basename "$lib")"
	fi
	note "$what: same output ($(wc -l <"$b") lines, sha256 $(sha256sum <"$b" | cut -c1-16))"
}

# elapsed: seconds since the script started, for the log.
elapsed() {
	echo "${SECONDS}s"
}
