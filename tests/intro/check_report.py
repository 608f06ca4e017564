#!/usr/bin/env python3
"""intro-report: runs report.c's program (argument 1) and checks its reports.

Exact counts from the script (kmalloc-1792: 37 held; intro-widget: 70 held;
one huge area of 9 MiB), the JSON parsing (json.loads, as python3 -m
json.tool does) and agreeing with the text report line by line, buddyinfo's
free blocks adding up to the free pages, malloc_info parsing as XML in
glibc's shape, and mallinfo2 agreeing with the JSON's totals.
"""
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from checks import check, done



out = subprocess.run([sys.argv[1]], capture_output=True, text=True)
print(out.stderr, end="")
check(out.returncode == 0, f"report program exited {out.returncode}")
parts = out.stdout.split("----\n")
check(len(parts) >= 4, "four sections")
if len(parts) < 4:
    print(out.stdout[:2000])
    sys.exit(1)
js_text, text, xml_text, mi_text = parts[:4]

# JSON parses (what python3 -m json.tool does) ------------------------------
try:
    js = json.loads(js_text)
except ValueError as e:
    print(js_text[:3000])
    print("FAIL: JSON does not parse:", e)
    sys.exit(1)
caches = {c["name"]: c for c in js["slabinfo"]}

# exact counts ------------------------------------------------------------------
k = caches.get("kmalloc-1792")
check(k is not None, "kmalloc-1792 in slabinfo")
if k:
    check(k["active_objs"] == 37, f"kmalloc-1792 active_objs {k['active_objs']} != 37")
    check(k["objsize"] == 1792, "kmalloc-1792 objsize")
    check(k["num_objs"] == k["slabs"] * k["objperslab"], "kmalloc-1792 num_objs = slabs * objperslab")
    check(k["active_objs"] + k["cpu_cached"] <= k["num_objs"], "kmalloc-1792 active + cached <= num_objs")
w = caches.get("intro-widget")
check(w is not None, "intro-widget in slabinfo")
if w:
    check(w["active_objs"] == 70, f"intro-widget active_objs {w['active_objs']} != 70")
    check(w["objsize"] >= 200, "intro-widget objsize")
    check(w["num_objs"] >= 100, "intro-widget has slots for the 100 allocated")
    check(w["num_objs"] == w["slabs"] * w["objperslab"], "intro-widget num_objs = slabs * objperslab")
vm = js["vmallocinfo"]
check(vm["count"] == 1, f"one huge area, not {vm['count']}")
check(len(vm["areas"]) == 1 and vm["areas"][0]["size"] >= 9 << 20, "the area holds 9 MiB")
t = js["totals"]
check(t["mapped"] >= t["resident"] > 0, "mapped >= resident > 0")
check(t["in_use"] >= 37 * 1792 + 70 * 200 + (9 << 20), "in use counts the blocks held")
check(0 <= t["fragmentation"] < 1, "fragmentation in [0, 1)")

# buddyinfo: the free blocks add up to the free pages ------------------------------
for z in js["buddyinfo"]:
    pages = sum(n << o for o, n in enumerate(z["free_blocks"]))
    check(pages == z["free_pages"], f"zone {z['zone']}: blocks {pages} pages != free {z['free_pages']}")
    check(len(z["free_blocks"]) == 11, "eleven buddy orders")

# the text says the same -------------------------------------------------------------
lines = text.splitlines()
for name, c in caches.items():
    want = [c["active_objs"], c["num_objs"], c["objsize"], c["objperslab"], c["pagesperslab"], c["slabs"],
            c["cpu_cached"]]
    row = [l for l in lines if l.split()[:2] == ["slabinfo:", name]]
    check(len(row) == 1, f"one text slabinfo line for {name}")
    if row:
        got = [int(x) for x in row[0].split()[2:9]]
        check(got == want, f"text {name} {got} != JSON {want}")
for z in js["buddyinfo"]:
    row = [l for l in lines if re.match(r"buddyinfo: Node %d, zone +%s " % (z["node"], z["zone"]), l)]
    check(len(row) == 1, f"text buddyinfo line for {z['zone']}")
    if row:
        nums = [int(x) for x in row[0].split(",", 1)[1].split()[2:13]]
        check(nums == z["free_blocks"], f"text buddyinfo {nums} != JSON {z['free_blocks']}")
check(any(l.startswith("vmallocinfo: 1 areas, %d bytes" % vm["bytes"]) for l in lines), "text vmallocinfo total")
tot = [l for l in lines if l.startswith("totals: ")]
check(len(tot) == 1 and ("in use %d KiB" % (t["in_use"] >> 10)) in tot[0], "text totals agree")

# malloc_info: XML in glibc's shape ---------------------------------------------------
try:
    root = ET.fromstring(xml_text)
    check(root.tag == "malloc" and root.get("version") == "1", "<malloc version=\"1\">")
    heap = root.find("heap")
    check(heap is not None and heap.get("nr") == "0", "<heap nr=\"0\">")
    check(heap.find("sizes") is not None, "<sizes>")
    mm = [e for e in root.findall("total") if e.get("type") == "mmap"]
    check(len(mm) == 1 and int(mm[0].get("count")) == 1 and int(mm[0].get("size")) == vm["bytes"],
          "<total type=\"mmap\"> is the huge area")
    fast = [e for e in root.findall("total") if e.get("type") == "fast"]
    check(len(fast) == 1, "<total type=\"fast\">")
except ET.ParseError as e:
    check(False, f"malloc_info is not XML: {e}")

# mallinfo2 from the same numbers ------------------------------------------------------
mi = {}
for l in mi_text.splitlines():
    p = l.split()
    if len(p) == 2 and p[1].isdigit():
        mi[p[0]] = int(p[1])
check(mi.get("hblks") == 1 and mi.get("hblkhd") == vm["bytes"], "mallinfo2 hblks/hblkhd are the huge area")
check(mi.get("arena") == t["mapped"] - vm["bytes"] - vm["kept_bytes"], "mallinfo2 arena is the chunks' bytes")
check(mi.get("arena", 0) >= mi.get("uordblks", 1), "mallinfo2 uordblks <= arena")

done()
