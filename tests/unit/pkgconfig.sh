#!/bin/sh
# SPDX-License-Identifier: MIT
#
# pkgconfig.sh BUILDDIR SOURCE CC...
#
# Builds SOURCE the way an application would, with
#   CC SOURCE $(pkg-config --cflags --libs kalloc)
# where pkg-config finds the uninstalled kalloc-uninstalled.pc of BUILDDIR
# (PKG_CONFIG_PATH=BUILDDIR/meson-uninstalled), then runs it against the
# libkalloc.so of BUILDDIR.  Exit status 77 (skipped) when pkg-config is
# missing.
set -eu

builddir=$1
src=$2
shift 2

if ! command -v pkg-config >/dev/null 2>&1; then
	echo "pkg-config not found: skipped"
	exit 77
fi

export PKG_CONFIG_PATH="$builddir/meson-uninstalled"
flags=$(pkg-config --cflags --libs kalloc)
echo "pkg-config --cflags --libs kalloc: $flags"
case "$flags" in
*-lkalloc*) ;;
*) echo "pkg-config gives no -lkalloc"; exit 1 ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kalloc-pkgconfig.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# shellcheck disable=SC2086  # the flags are words
"$@" -std=c11 -Wall -Wextra -Werror -o "$tmp/example_api" "$src" $flags -Wl,-rpath,"$builddir"

# It must run against the library of this build dir.
LD_LIBRARY_PATH="$builddir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/example_api"
lib=$(LD_LIBRARY_PATH="$builddir" ldd "$tmp/example_api" | awk '/libkalloc/ { print $3 }')
echo "linked against: $lib"
if [ -z "$lib" ] || [ "$(dirname "$(readlink -f "$lib")")" != "$(readlink -f "$builddir")" ]; then
	echo "not the library of $builddir"
	exit 1
fi
