#!/usr/bin/env bash
# Programs run correctly under KALLOC_DEBUG=FZPU with the preload library:
# no false report, the same output as without it.  python3 with
# PYTHONMALLOC=malloc (every object a malloc) runs a small deterministic
# workload and shows from /proc/self/maps that the library is loaded; git
# prints its version; an unknown letter gives one warning line.  Usage: programs.sh path/to/libkalloc-preload.so
set -u
lib=$1
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 PYTHONMALLOC=malloc
work='
import json, re, sys
d = {str(i): [i, str(i) * 3, {"k": i}] for i in range(30000)}
s = json.dumps(d, sort_keys=True)
e = json.loads(s)
words = re.findall(r"[0-9]+", s)
l = sorted(set(words), key=lambda w: (len(w), w))
b = bytearray(); [b.extend(w.encode()) for w in l[:5000]]
print(len(e), len(words), len(l), sum(b) % 100003)
mapped = "libkalloc-preload" in open("/proc/self/maps").read()
print("preloaded" if mapped else "plain", file=sys.stderr)
'
if command -v python3 >/dev/null; then
	python3 -c "$work" >"$tmp/base.out" 2>"$tmp/base.err"
	KALLOC_DEBUG=FZPU LD_PRELOAD=$lib python3 -c "$work" >"$tmp/dbg.out" 2>"$tmp/dbg.err"
	rc=$?
	if [ $rc -ne 0 ] || grep -q "kalloc" "$tmp/dbg.err"; then
		echo "FAIL: python3 under KALLOC_DEBUG=FZPU: status $rc"; cat "$tmp/dbg.err"; fail=1
	fi
	if ! grep -q preloaded "$tmp/dbg.err"; then
		echo "FAIL: python3 did not map the preload library"; fail=1
	fi
	if ! cmp -s "$tmp/base.out" "$tmp/dbg.out"; then
		echo "FAIL: python3 output differs"; diff "$tmp/base.out" "$tmp/dbg.out" | head; fail=1
	fi
else
	echo "skip: no python3"
fi
if command -v git >/dev/null; then
	base=$(git --version)
	out=$(KALLOC_DEBUG=FZPU LD_PRELOAD=$lib git --version 2>"$tmp/git.err")
	if [ "$out" != "$base" ] || [ -s "$tmp/git.err" ]; then
		echo "FAIL: git --version under KALLOC_DEBUG=FZPU: '$out'"; cat "$tmp/git.err"; fail=1
	fi
fi
# An unknown letter: one warning line, the other letters still apply
# (git runs as before with F on).
if command -v git >/dev/null; then
	out=$(KALLOC_DEBUG=FQ LD_PRELOAD=$lib git --version 2>"$tmp/warn.err")
	if [ "$out" != "$base" ] || [ "$(wc -l <"$tmp/warn.err")" -ne 1 ] ||
		! grep -q "KALLOC_DEBUG=FQ: unknown letter 'Q' ignored" "$tmp/warn.err"; then
		echo "FAIL: KALLOC_DEBUG=FQ: want one warning line"; cat "$tmp/warn.err"; fail=1
	fi
fi
[ $fail -eq 0 ] && echo "pass"
exit $fail
