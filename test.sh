#!/usr/bin/env bash
# ./test.sh [meson test arguments...]
#
# Builds kalloc like ./run.sh (installing missing Debian packages when run as
# root, the test programs included), runs every test, and ends with the line
# "N passed, N failed".  Exit status is non-zero when anything failed.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build="$here/build"

KALLOC_TEST_DEPS=1 "$here/run.sh" --build || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

log="$build/meson-logs/testlog.json"
log2="$build/meson-logs/testlog-perthread.json"
rm -f "$log" "$log2"
meson test -C "$build" --print-errorlogs --num-processes "$(nproc)" "$@"
rc=$?
# The API suite and the real programs again, with the per-thread front
# caches (KALLOC_RSEQ=0); the percpu and stress suites run both modes by
# themselves.
if [ "$#" -eq 0 ]; then
	echo "== api and programs suites again with KALLOC_RSEQ=0 (per-thread caches) =="
	meson test -C "$build" --print-errorlogs --num-processes "$(nproc)" --setup perthread --suite api --suite programs
	rc2=$?
	[ "$rc" -eq 0 ] && rc=$rc2
fi

if [ ! -f "$log" ]; then
	echo "no test log written"
	echo "0 passed, 1 failed"
	exit 1
fi
counts=$(python3 - "$log" "$log2" <<'PY'
import json, os, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    if not os.path.exists(path):
        continue
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(passed, failed, skipped)
PY
)
read -r passed failed skipped <<<"$counts"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
