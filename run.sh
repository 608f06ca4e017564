#!/usr/bin/env bash
# ./run.sh [COMMAND...]
#
# Builds kalloc (installing missing Debian build packages when run as root,
# otherwise naming them) and runs COMMAND with the allocator preloaded.  With
# no COMMAND it runs a short demo.  ./run.sh --build only builds.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build="$here/build"
lib="$build/libkalloc-preload.so"

build_pkgs=(meson ninja-build gcc g++ pkg-config libc6-dev libbenchmark-dev liburcu-dev)
# Extra packages for ./test.sh (real programs the tests run under kalloc).
test_pkgs=(python3 perl git sqlite3 redis-server redis-tools strace libpython3.11-testsuite google-perftools)

missing_pkgs() {
	local p
	for p in "$@"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
			printf '%s\n' "$p"
		fi
	done
}

ensure_pkgs() {
	local missing
	mapfile -t missing < <(missing_pkgs "$@")
	[ "${#missing[@]}" -eq 0 ] && return 0
	if [ "$(id -u)" -eq 0 ]; then
		echo "run.sh: installing ${missing[*]}" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	else
		echo "run.sh: missing Debian packages; install them with:" >&2
		echo "  sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
}

do_build() {
	if command -v dpkg-query >/dev/null 2>&1; then
		if [ "${KALLOC_TEST_DEPS:-0}" = 1 ]; then
			ensure_pkgs "${build_pkgs[@]}" "${test_pkgs[@]}"
		else
			ensure_pkgs "${build_pkgs[@]}"
		fi
	fi
	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build" "$here" >&2
	fi
	ninja -C "$build" >&2
}

if [ "${1:-}" = "--build" ]; then
	do_build
	exit 0
fi

do_build

if [ "$#" -eq 0 ]; then
	echo "== kalloc demo: the kernel-style API ==" >&2
	"$build/tests/kalloc-demo"
	echo >&2
	echo "== kalloc demo: python3 under LD_PRELOAD, with KALLOC_STATS=1 ==" >&2
	py=/usr/bin/python3
	[ -x "$py" ] || py=python3
	KALLOC_STATS=1 LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" "$py" -c '
import collections
words = [str(i * 7919 % 10007) for i in range(200000)]
c = collections.Counter(words)
print("python3 under kalloc: %d words, %d distinct, most common %s" % (len(words), len(c), c.most_common(1)[0]))
'
	exit 0
fi

export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}"
exec "$@"
