#!/usr/bin/env python3
"""Checks that the library's files form the stack meson.build's core_layers lists.

Usage: layers.py LIBKALLOC_CORE.a SRC_DIR FILE.c...   (FILE.c in layer order, bottom first)

Fails (exit 1), naming each offence, when
  - an object file refers to a symbol defined by a file later in the list (read with nm from
    the archive: a reference counts for the file that makes it, inline functions from headers
    included);
  - a file other than the top two (the API files) defines a symbol with default visibility
    (readelf): the layers below export nothing;
  - a source file or header includes a header of a layer above its own.
A header X.h belongs to X.c (or X.cc), except those named in HEADER_LAYER below.
"""
import collections
import os
import re
import subprocess
import sys

HEADER_LAYER = {
    "base.h": None,            # below every layer
    "rseq.h": "front_region.c",
    "stats_snap.h": "stats.c",  # the snapshot's layout, plain C (kalloc-top includes it too)
    "internal.h": "kapi.c",    # every header: for the files on top and the tests
}


def members(archive, tool):
    """Yields (member .c name, output line) of `tool` run on the archive."""
    out = subprocess.run(tool + [archive], capture_output=True, text=True, check=True).stdout
    cur = None
    for line in out.splitlines():
        m = re.search(r"(?:^File: .*|:)$", line.strip()) and re.search(r"src_([^/\]]+\.cc?)\.o\]?:?$", line.strip())
        if m:
            cur = m.group(1)
            continue
        if cur:
            yield cur, line


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    archive, src, order = sys.argv[1], sys.argv[2], sys.argv[3:]
    rank = {f: i for i, f in enumerate(order)}
    bad = []

    defined, used = {}, collections.defaultdict(set)
    for f, line in members(archive, ["nm"]):
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRVWGC":
            defined.setdefault(parts[2], f)
        elif len(parts) == 2 and parts[0] == "U":
            used[f].add(parts[1])
    seen = set(defined.values()) | set(used)
    for f in sorted(seen - set(rank)):
        bad.append(f"{f} is in the library but not in the layer list")
    edges = 0
    for f, syms in sorted(used.items()):
        for s in sorted(syms):
            g = defined.get(s)
            if not g or g == f:
                continue
            edges += 1
            if rank.get(g, -1) > rank.get(f, -1):
                bad.append(f"{f} (layer {rank[f]}) refers to {s} of {g} (layer {rank[g]}), above it")

    api = set(order[-2:])
    for f, line in members(archive, ["readelf", "-sW"]):
        parts = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(parts) >= 8 and parts[4] in ("GLOBAL", "WEAK") and parts[5] == "DEFAULT" \
                and parts[6] != "UND" and f not in api:
            bad.append(f"{f} exports {parts[7]}: only {' and '.join(sorted(api))} export symbols")

    def layer_of(name):
        if name in HEADER_LAYER:
            h = HEADER_LAYER[name]
            return -1 if h is None else rank[h]
        if name.endswith(".h"):
            return rank.get(name[:-2] + ".c", rank.get(name[:-2] + ".cc"))
        return rank.get(name)

    includes = 0
    for name in sorted(os.listdir(src)):
        if not name.endswith((".c", ".cc", ".h")):
            continue
        mine = layer_of(name)
        if mine is None:
            bad.append(f"{name}: no layer (add it to core_layers or to HEADER_LAYER in {sys.argv[0]})")
            continue
        with open(os.path.join(src, name)) as fh:
            for inc in re.findall(r'^#include "([^"]+)"', fh.read(), re.M):
                includes += 1
                theirs = layer_of(inc)
                if theirs is None and inc != "kalloc.h":
                    bad.append(f"{name} includes {inc}, which belongs to no layer")
                elif theirs is not None and theirs > mine:
                    bad.append(f"{name} (layer {mine}) includes {inc} (layer {theirs}), above it")

    for b in bad:
        print("layers:", b)
    print(f"layers: {len(order)} files, {edges} references between them, {includes} includes: "
          f"{'stack holds' if not bad else str(len(bad)) + ' offence(s)'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
