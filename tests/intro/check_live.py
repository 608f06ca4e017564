#!/usr/bin/env python3
"""intro-live: busy.c (argument 1) running, kalloc-top (argument 2) and the signal.

  - KALLOC_STATS_SIGNAL=USR2: the text report appears on stderr while the
    program runs, and again at each signal;
  - with KALLOC_STATS=DIR/%p.json the signal writes the JSON report to the
    file named with the pid (3000 blocks held), and the exit replaces it
    (the blocks freed by then);
  - KALLOC_SHM=1: kalloc-top --once PID shows kmalloc-1792 with 3000 active
    objects and its header; --json parses and agrees; --sort=cache orders by
    name; the segment /dev/shm/kalloc.PID exists while the program runs and
    is gone after it exits;
  - a stale segment (a pid that is not running) is removed by kalloc-top.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from checks import check, done

busy, top = sys.argv[1], sys.argv[2]


def start(env_extra, stderr):
    env = dict(os.environ, **env_extra)
    p = subprocess.Popen([busy], stdout=subprocess.PIPE, stderr=stderr, env=env, text=True)
    line = p.stdout.readline()
    check(line.startswith("ready "), f"busy started: {line!r}")
    return p, int(line.split()[1])


def wait_for(pred, secs=10.0):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


with tempfile.TemporaryDirectory() as tmp:
    # the signal: the text report on stderr ----------------------------------------
    err_path = os.path.join(tmp, "err")
    with open(err_path, "w") as err:
        p, pid = start({"KALLOC_STATS_SIGNAL": "USR2"}, err)
        time.sleep(0.2)
        check(open(err_path).read().count("slabinfo: kmalloc-1792 ") == 0, "no report before the signal")
        os.kill(pid, signal.SIGUSR2)
        check(wait_for(lambda: "slabinfo: kmalloc-1792 " in open(err_path).read()),
              "the report on stderr after SIGUSR2, while the program runs")
        check(p.poll() is None, "the program still runs after the report")
        text = open(err_path).read()
        row = [l for l in text.splitlines() if l.startswith("slabinfo: kmalloc-1792 ")]
        check(row and int(row[0].split()[2]) == 3000, f"the report shows the 3000 blocks held: {row}")
        check("buddyinfo: Node 0" in text and "totals: " in text, "buddyinfo and totals in the signal report")
        os.kill(pid, signal.SIGUSR2)
        check(wait_for(lambda: open(err_path).read().count("slabinfo: kmalloc-1792 ") == 2),
              "a second signal, a second report")
        p.terminate()
        p.wait(10)
        check(open(err_path).read().count("slabinfo: kmalloc-1792 ") == 2, "no report at exit without KALLOC_STATS")

    # KALLOC_STATS=DIR/%p.json: JSON on the signal and at exit ------------------------
    p, pid = start({"KALLOC_STATS_SIGNAL": "USR2", "KALLOC_STATS": os.path.join(tmp, "%p.json")}, None)
    path = os.path.join(tmp, "%d.json" % pid)

    def active_1792():
        try:
            js = json.load(open(path))
        except (OSError, ValueError):
            return None
        k = [c for c in js["slabinfo"] if c["name"] == "kmalloc-1792"]
        return (js["pid"], k[0]["active_objs"] if k else None)

    os.kill(pid, signal.SIGUSR2)
    check(wait_for(lambda: active_1792() == (pid, 3000)), f"the signal wrote {path}: {active_1792()}")
    p.terminate()
    p.wait(10)
    check(active_1792() == (pid, 0), f"at exit {path} is replaced, the blocks freed: {active_1792()}")

    # kalloc-top against a live process ------------------------------------------
    p, pid = start({"KALLOC_SHM": "1"}, None)
    seg = "/dev/shm/kalloc.%d" % pid
    check(wait_for(lambda: os.path.exists(seg)), f"{seg} while the program runs")
    time.sleep(0.3)
    r = subprocess.run([top, "--once", str(pid)], capture_output=True, text=True)
    check(r.returncode == 0, f"kalloc-top --once exit {r.returncode}: {r.stderr}")
    rows = [l.split() for l in r.stdout.splitlines() if l.split()[-1:] == ["kmalloc-1792"]]
    check(len(rows) == 1 and int(rows[0][1]) == 3000, f"kalloc-top shows kmalloc-1792 with 3000 active: {rows}")
    check(("kalloc-top: pid %d" % pid) in r.stdout and "OBJS" in r.stdout, "kalloc-top's header")
    r = subprocess.run([top, "--json", str(pid)], capture_output=True, text=True)
    try:
        js = json.loads(r.stdout)
        k = [c for c in js["slabinfo"] if c["name"] == "kmalloc-1792"]
        check(js["pid"] == pid and k and k[0]["active_objs"] == 3000, "kalloc-top --json agrees")
        check(js["slabinfo"][0]["cache_bytes"] >= js["slabinfo"][-1]["cache_bytes"], "sorted by cache size")
    except ValueError as e:
        check(False, f"kalloc-top --json does not parse: {e}")
    r = subprocess.run([top, "--once", "--sort=cache", str(pid)], capture_output=True, text=True)
    names = []
    started = False
    for l in r.stdout.splitlines():
        if l.lstrip().startswith("OBJS"):
            started = True
        elif started and l.split():
            names.append(l.split()[-1])
    check(names == sorted(names) and len(names) >= 2, f"--sort=cache orders by name: {names}")
    r = subprocess.run([top, "--once"], capture_output=True, text=True)
    check(r.returncode == 0 and ("pid %d" % pid) in r.stdout, "kalloc-top without a pid finds the one segment")
    p.terminate()
    p.wait(10)
    check(not os.path.exists(seg), f"{seg} removed at exit")

    # a stale segment -------------------------------------------------------------
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = "/dev/shm/kalloc.%d" % dead.pid
    with open(stale, "wb") as f:
        f.write(b"\0" * 64)
    r = subprocess.run([top, "--once", str(dead.pid)], capture_output=True, text=True)
    check(r.returncode != 0 and "gone" in r.stderr, f"kalloc-top on a dead pid: {r.stderr}")
    check(not os.path.exists(stale), "the stale segment is removed")
    if os.path.exists(stale):
        os.unlink(stale)

done()
