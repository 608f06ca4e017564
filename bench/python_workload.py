# SPDX-License-Identifier: MIT
# A Python workload for the allocator benchmarks: dicts, lists, strings,
# small objects and JSON, the mix an interpreter's allocator sees.
# Prints "result time_s=... ops=..." like the C workloads.
import json
import os
import random
import time

scale = float(os.environ.get("BENCH_SCALE", "1"))
n = int(120000 * scale)
rng = random.Random(1234)


class Item:
    __slots__ = ("name", "tags", "score")

    def __init__(self, name, tags, score):
        self.name = name
        self.tags = tags
        self.score = score


t0 = time.monotonic()
ops = 0
for rnd in range(4):
    table = {}
    for i in range(n):
        key = "k%d-%d" % (rng.randrange(n), rnd)
        table[key] = Item(key * 2, [rng.random() for _ in range(rng.randrange(6))], i)
        ops += 1
    words = sorted(table, key=lambda k: table[k].score)
    blob = json.dumps({k: [table[k].score, len(table[k].tags)] for k in words[: n // 4]})
    back = json.loads(blob)
    assert len(back) == len(words[: n // 4])
    text = " ".join(words)
    counts = {}
    for w in text.split():
        counts[w[:3]] = counts.get(w[:3], 0) + 1
    ops += len(words)
    del table, words, blob, back, text, counts
print("result time_s=%.6f ops=%d" % (time.monotonic() - t0, ops))
