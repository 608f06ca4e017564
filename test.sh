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
rm -f "$log"
meson test -C "$build" --print-errorlogs --num-processes "$(nproc)" "$@"
rc=$?

if [ ! -f "$log" ]; then
	echo "no test log written"
	echo "0 passed, 1 failed"
	exit 1
fi
counts=$(python3 - "$log" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
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
