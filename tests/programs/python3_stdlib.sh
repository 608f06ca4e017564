#!/usr/bin/env bash
# CPython's own tests under the preload library: a few quick modules of the
# test package (Debian's libpython3.X-testsuite), run with every Python
# allocation going through malloc (PYTHONMALLOC=malloc).  The per-test
# outcomes with the library must equal those without it, and all must pass
# or be skipped.  When the package is missing it is installed if this runs
# as root with apt reachable; otherwise the test is skipped (status 77).
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

py=/usr/bin/python3
need "$py"
ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || fail "python3 does not run"
pkg=libpython$ver-testsuite
modules=(${KPROG_PY_TESTS:-test_dict test_list test_set test_tuple test_unicode test_bytes test_deque test_json test_re test_collections test_array test_ordered_dict test_functools test_long test_zlib test_thread})

has_suite() {
	"$py" -c 'import test.support, test.test_dict' 2>/dev/null
}

if ! has_suite; then
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
		skip "$pkg is not installed and cannot be installed here (not root or no apt-get)"
	fi
	note "installing $pkg (apt-get; upgrades python$ver to the same version if needed)"
	export DEBIAN_FRONTEND=noninteractive
	aptopts=(-y -qq --no-install-recommends -o DPkg::Lock::Timeout=120)
	if ! timeout 200 apt-get install "${aptopts[@]}" "$pkg" >"$tmp/apt.log" 2>&1; then
		timeout 90 apt-get update -qq >>"$tmp/apt.log" 2>&1 &&
			timeout 200 apt-get install "${aptopts[@]}" "$pkg" >>"$tmp/apt.log" 2>&1
	fi
	if ! has_suite; then
		tail -n 5 "$tmp/apt.log"
		skip "$pkg is not installed and apt-get could not install it (no network?)"
	fi
fi

export PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 PYTHONMALLOC=malloc
cd "$tmp" || fail "cd $tmp"

# Both runs at once: the test has the machine to itself (not parallel).
run_base env KPROG_MAPS="$tmp/maps.base" "$py" "$here/stdlib_runner.py" "${modules[@]}" \
	>"$tmp/out.base" 2>"$tmp/err.base" &
pid_base=$!
run_kalloc env KPROG_MAPS="$tmp/maps.kalloc" "$py" "$here/stdlib_runner.py" "${modules[@]}" \
	>"$tmp/out.kalloc" 2>"$tmp/err.kalloc" &
pid_kalloc=$!
wait "$pid_base"
rc=$?
if [ "$rc" -ne 0 ]; then
	tail -n 40 "$tmp/err.base" >&2
	fail "CPython tests fail even without the preload library; choose other modules"
fi
expect_unmapped "$tmp/maps.base" "python3 without preload"
wait "$pid_kalloc"
rc=$?
expect_mapped "$tmp/maps.kalloc" "python3"
grep '^#' "$tmp/out.kalloc" | sed "s/^# /[$test_name] /"
compare "CPython test outcomes (${#modules[@]} modules)" "$tmp/out.base" "$tmp/out.kalloc"
check_rc "CPython tests under kalloc" "$rc" "$tmp/err.kalloc"
note "pass in $(elapsed)"
