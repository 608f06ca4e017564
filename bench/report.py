# SPDX-License-Identifier: MIT
"""Turns build/bench/raw.tsv and the Google Benchmark JSON files written by
bench.sh into build/bench/report.md (tables with medians, ratios to kalloc and
geometric means) and build/bench/report.svg (a chart, with gnuplot)."""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys

ALLOCS = ["kalloc", "glibc", "jemalloc", "mimalloc", "tcmalloc"]
PEERS = ALLOCS[1:]
# The micro-benchmarks' "best peer": the best of the other general-purpose
# allocators (not glibc, not an earlier kalloc build given with --base).
BEST_OF = ["jemalloc", "mimalloc", "tcmalloc"]
# The other allocators a workload's "best peer" is taken from.
GENERAL = ["glibc"] + BEST_OF
# Workloads whose "time" is a duration; everything here is, lower is better.
SCALING = ["larson-t1", "larson-t2", "larson-t4", "larson-t8"]


def median(v):
    v = [x for x in v if not math.isnan(x)]
    return statistics.median(v) if v else float("nan")


def geomean(v):
    v = [x for x in v if x > 0 and not math.isnan(x)]
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else float("nan")


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}g}" if x < 1000 else f"{x:.0f}"


def load_raw(path):
    data = {}  # (workload, alloc) -> ([times], [rss])
    order = []
    for line in open(path):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 5:
            continue
        w, a, _, t, rss = parts
        if w not in order:
            order.append(w)
        d = data.setdefault((w, a), ([], []))
        d[0].append(float(t) if t != "nan" else float("nan"))
        d[1].append(float(rss) if rss != "nan" else float("nan"))
    return order, data


def load_micro(out):
    res = {}
    for a in ALLOCS:
        p = os.path.join(out, f"micro-{a}.json")
        if not os.path.exists(p):
            continue
        for b in json.load(open(p)).get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            ns = b["real_time"] * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
            items = b.get("items_per_second")
            per_item = 1e9 / items if items else ns
            res.setdefault(b["name"], {})[a] = per_item
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", default="0")
    ap.add_argument("--reps", default="1")
    args = ap.parse_args()
    out = args.out
    order, data = load_raw(os.path.join(out, "raw.tsv"))
    # bench.sh --base adds "kalloc-base", an earlier build of kalloc, as one
    # more column: its ratio to kalloc is the change between the builds.
    for a in sorted({a for (_, a) in data} - set(ALLOCS)):
        ALLOCS.append(a)
        PEERS.append(a)
    med = {k: (median(v[0]), median(v[1])) for k, v in data.items()}

    lines = []
    host = os.uname()
    ncpu = os.cpu_count()
    lines.append("# kalloc benchmark report\n")
    lines.append(
        f"Machine: {host.nodename} ({host.machine}, {ncpu} CPUs, Linux {host.release}); "
        f"{'quick pass' if args.quick == '1' else 'full run'}, median of {args.reps} repetition(s), "
        "allocators interleaved; LD_PRELOAD of each.\n"
    )
    lines.append("Time is the workload's own measured phase (seconds; redis: the redis-benchmark run). "
                 "Peak RSS is the process's maximum resident set (MiB; redis: the server's VmHWM). "
                 "Ratios are peer / kalloc: above 1 means kalloc is faster or smaller.\n")

    def table(metric, idx, unit, scale):
        lines.append(f"\n## {metric}\n")
        hdr = "| workload | " + " | ".join(f"{a} ({unit})" for a in ALLOCS) + " | " + \
              " | ".join(f"{p}/kalloc" for p in PEERS) + " | best peer/kalloc |"
        lines.append(hdr)
        lines.append("|" + "---|" * (2 + len(ALLOCS) + len(PEERS)))
        ratios = {p: [] for p in PEERS}
        for w in order:
            vals = [med.get((w, a), (float("nan"),) * 2)[idx] for a in ALLOCS]
            k = vals[0]
            row = [fmt(v * scale) for v in vals]
            rr = []
            for p, v in zip(PEERS, vals[1:]):
                r = v / k if k and not math.isnan(k) and not math.isnan(v) and k > 0 else float("nan")
                rr.append(fmt(r))
                if not math.isnan(r):
                    ratios[p].append(r)
            # the best of the four other allocators (not kalloc's own variants)
            peer_vals = [v for a, v in zip(ALLOCS, vals) if a in GENERAL and not math.isnan(v)]
            best = min(peer_vals) / k if peer_vals and k and not math.isnan(k) and k > 0 else float("nan")
            lines.append(f"| {w} | " + " | ".join(row) + " | " + " | ".join(rr) + f" | {fmt(best)} |")
        gm = {p: geomean(ratios[p]) for p in PEERS}
        lines.append("| **geometric mean** | " + " | ".join("" for _ in ALLOCS) + " | " +
                     " | ".join(f"**{fmt(gm[p])}**" for p in PEERS) + " | |")
        return gm

    gm_t = table("Time", 0, "s", 1)
    gm_r = table("Peak RSS", 1, "MiB", 1 / 1024)

    lines.append("\n## Summary\n")
    lines.append("| peer | time: peer/kalloc (geomean) | peak RSS: peer/kalloc (geomean) |")
    lines.append("|---|---|---|")
    for p in PEERS:
        lines.append(f"| {p} | {fmt(gm_t[p])} | {fmt(gm_r[p])} |")

    # the default hardening's cost: kalloc against the same library with
    # KALLOC_HARDEN=0 (bench.sh's kalloc-noharden)
    if "kalloc-noharden" in PEERS:
        t, r = gm_t["kalloc-noharden"], gm_r["kalloc-noharden"]
        lines.append("\nDefault hardening (kalloc against kalloc-noharden, geometric mean): time "
                     f"{fmt((1 / t - 1) * 100 if t > 0 else float('nan'))}%, peak RSS "
                     f"{fmt((1 / r - 1) * 100 if r > 0 else float('nan'))}% "
                     "(positive: the checks cost that much).")
    # the hardened profile (bench.sh's kalloc-full) against glibc: its goal
    # is at most 1.3x glibc's time on the geometric mean
    if any(a == "kalloc-full" for (_, a) in data):
        lines.append("\n## Hardened profile (KALLOC_HARDEN=full) against glibc\n")
        lines.append("| workload | kalloc-full (s) | glibc (s) | kalloc-full/glibc time | kalloc-full/glibc peak RSS |")
        lines.append("|---|---|---|---|---|")
        rt, rr = [], []
        for w in order:
            f, g = med.get((w, "kalloc-full")), med.get((w, "glibc"))
            if not f or not g:
                continue
            t = f[0] / g[0] if g[0] > 0 else float("nan")
            r = f[1] / g[1] if g[1] > 0 else float("nan")
            rt.append(t)
            rr.append(r)
            lines.append(f"| {w} | {fmt(f[0])} | {fmt(g[0])} | {fmt(t)} | {fmt(r)} |")
        lines.append(f"| **geometric mean** | | | **{fmt(geomean(rt))}** | **{fmt(geomean(rr))}** |")

    # scaling of the larson workload (throughput = ops / time; same total work)
    if all((w, "kalloc") in med for w in SCALING):
        lines.append("\n## Scaling (larson, same total work; throughput relative to 1 thread of each allocator)\n")
        lines.append("| allocator | " + " | ".join(w.split("-t")[1] + " threads" for w in SCALING) +
                     " | 8 threads / 2 threads |")
        lines.append("|---|" + "---|" * (len(SCALING) + 1))
        for a in ALLOCS:
            t = [med.get((w, a), (float("nan"), 0))[0] for w in SCALING]
            if any(math.isnan(x) for x in t):
                continue
            rel = [t[0] / x for x in t]
            lines.append(f"| {a} | " + " | ".join(fmt(x) for x in rel) + f" | {fmt(t[1] / t[3])} |")

    micro = load_micro(out)
    if micro:
        lines.append("\n## Micro-benchmarks (ns per operation; Google Benchmark)\n")
        lines.append("| benchmark | " + " | ".join(ALLOCS) + " | best peer / kalloc |")
        lines.append("|---|" + "---|" * (len(ALLOCS) + 1))
        for name, v in micro.items():
            k = v.get("kalloc")
            best = min((v[p] for p in BEST_OF if p in v), default=None)
            ratio = best / k if k and best else float("nan")
            lines.append(f"| {name} | " + " | ".join(fmt(v.get(a)) for a in ALLOCS) + f" | {fmt(ratio)} |")
    kapi = os.path.join(out, "kapi.json")
    if os.path.exists(kapi):
        lines.append("\n## Kernel-style API (kalloc only; ns per operation)\n")
        lines.append("| benchmark | ns |")
        lines.append("|---|---|")
        for b in json.load(open(kapi)).get("benchmarks", []):
            items = b.get("items_per_second")
            lines.append(f"| {b['name']} | {fmt(1e9 / items if items else b['real_time'])} |")

    report = "\n".join(lines) + "\n"
    open(os.path.join(out, "report.md"), "w").write(report)
    print(report)

    # chart: time and RSS ratios (peer / kalloc) per workload
    dat = os.path.join(out, "report.dat")
    with open(dat, "w") as f:
        f.write("# workload " + " ".join(f"time-{p} rss-{p}" for p in PEERS) + "\n")
        for w in order:
            k = med.get((w, "kalloc"))
            if not k:
                continue
            vals = []
            for p in PEERS:
                v = med.get((w, p), (float("nan"),) * 2)
                vals.append(v[0] / k[0] if k[0] > 0 else float("nan"))
                vals.append(v[1] / k[1] if k[1] > 0 else float("nan"))
            f.write(w + " " + " ".join("nan" if math.isnan(x) else f"{x:.4f}" for x in vals) + "\n")
    gp = f"""
set terminal svg size 1100,800 dynamic enhanced font 'sans,11' background rgb 'white'
set output '{os.path.join(out, "report.svg")}'
set datafile missing 'nan'
set key noenhanced
set xtics noenhanced
peers = "{' '.join(PEERS)}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -30
set grid ytics
set logscale y 2
set key outside right top
set multiplot layout 2,1 title 'kalloc against its peers: ratio peer / kalloc (above 1: kalloc better; log scale)'
set title 'Time'
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb 'black'
plot for [i=0:{len(PEERS) - 1}] '{dat}' using 2*i+2:xtic(1) title word(peers, i+1)
set title 'Peak RSS'
plot for [i=0:{len(PEERS) - 1}] '{dat}' using 2*i+3:xtic(1) title word(peers, i+1)
unset multiplot
"""
    try:
        subprocess.run(["gnuplot"], input=gp, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report.py: gnuplot failed: {e}", file=sys.stderr)


if __name__ == "__main__":
    main()
