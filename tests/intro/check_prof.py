#!/usr/bin/env python3
"""intro-prof: the sampled heap profile of leak.c (argument 1).

Runs it with KALLOC_PROF=DIR/%p.heap and checks
  - both files are written, named with the pid;
  - the collapsed stacks put leak_from_here on top (names resolved from the
    binary's symbols, main below it), with an estimate of its live bytes
    within 35% of the 8,000,000 leaked (about 120 samples at the 64 KiB
    rate used here: the standard error is near 9%);
  - churn_site and grow_site, which free all they allocate, have no live
    bytes, though they allocated far more than the leak (their samples were
    recorded and forgotten: the header's allocation count exceeds the live
    count);
  - calloc_site (calloc, 1,000,000 bytes leaked) is there too;
  - google-pprof --text (Debian's google-perftools) reads the profile and
    names leak_from_here as the top function.
Then runs it with KALLOC_PROF_SAMPLE=1 (every block sampled) to check the
program still runs and the profile's live count is exactly what leaked.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

from checks import check, done

leak = sys.argv[1]


def run(tmp, extra):
    env = dict(os.environ, KALLOC_PROF=os.path.join(tmp, "%p.heap"), **extra)
    p = subprocess.Popen([leak], env=env, stderr=subprocess.PIPE, text=True)
    _, err = p.communicate(timeout=120)
    print(err, end="")
    check(p.returncode == 0, f"leak exited {p.returncode}")
    return p.pid


def parse_collapsed(path):
    stacks = {}
    for line in open(path):
        frames, _, n = line.rstrip("\n").rpartition(" ")
        stacks[frames] = stacks.get(frames, 0) + int(n)
    return stacks


with tempfile.TemporaryDirectory() as tmp:
    pid = run(tmp, {"KALLOC_PROF_SAMPLE": "64K"})
    heap = os.path.join(tmp, "%d.heap" % pid)
    col = heap + ".collapsed"
    check(os.path.exists(heap) and os.path.exists(col), f"{heap} and .collapsed written: {os.listdir(tmp)}")
    if os.path.exists(heap) and os.path.exists(col):
        head = open(heap).readline()
        m = re.match(r"heap profile:\s*(\d+):\s*(\d+) \[\s*(\d+):\s*(\d+)\] @ heap_v2/65536", head)
        check(m is not None, f"pprof's heap_v2 header: {head!r}")
        if m:
            live, allocs = int(m.group(1)), int(m.group(3))
            check(allocs > live, f"freed samples were recorded and forgotten: {allocs} allocated, {live} live")
        check("MAPPED_LIBRARIES:" in open(heap).read(), "the maps section")
        stacks = parse_collapsed(col)
        by_leaf = {}
        for frames, n in stacks.items():
            leaf = frames.split(";")[-1]
            by_leaf[leaf] = by_leaf.get(leaf, 0) + n
        top = max(stacks.items(), key=lambda kv: kv[1]) if stacks else ("", 0)
        check(top[0].endswith("main;leak_from_here"), f"top stack ends main;leak_from_here: {top}")
        est = by_leaf.get("leak_from_here", 0)
        check(5_200_000 <= est <= 10_800_000, f"leak_from_here estimated {est} bytes (8,000,000 leaked)")
        check("churn_site" not in by_leaf and "grow_site" not in by_leaf,
              f"the sites that free all they allocate are not live: {sorted(by_leaf)}")
        check(by_leaf.get("calloc_site", 0) > 0, f"calloc_site's leak is there: {sorted(by_leaf)}")
        pprof = shutil.which("google-pprof") or shutil.which("pprof")
        check(pprof is not None, "google-pprof is installed (Debian google-perftools; ./test.sh installs it)")
        if pprof:
            r = subprocess.run([pprof, "--text", leak, heap], capture_output=True, text=True)
            rows = [l for l in r.stdout.splitlines() if re.match(r"\s*[0-9.]+\s+[0-9.]+%", l)]
            check(r.returncode == 0 and rows and rows[0].split()[-1] == "leak_from_here",
                  f"google-pprof --text: top function {rows[:2]} (stderr: {r.stderr[-300:]})")
            m = re.search(r"Total: ([0-9.]+) MB", r.stdout)
            check(m and 5.0 <= float(m.group(1)) <= 11.5, f"google-pprof's total: {m.group(0) if m else r.stdout[:300]}")

with tempfile.TemporaryDirectory() as tmp:
    pid = run(tmp, {"KALLOC_PROF_SAMPLE": "1"})
    heap = os.path.join(tmp, "%d.heap" % pid)
    if os.path.exists(heap):
        head = open(heap).readline()
        m = re.match(r"heap profile:\s*(\d+):\s*(\d+)", head)
        live = int(m.group(1)) if m else -1
        # 4000 + 1000 leaked blocks; stdio may hold a buffer or two
        check(5000 <= live <= 5004, f"every block sampled: {live} live, 5000 leaked")
    else:
        check(False, "profile written with KALLOC_PROF_SAMPLE=1")

done()
