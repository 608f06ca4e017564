"""Allocation-heavy, deterministic Python workload for the preload tests.

Prints one line per phase: the phase name and a digest of what it computed.
The output depends only on the computation, never on addresses or timing,
so it must be byte-identical with and without a preloaded allocator.
Set KPROG_MAPS=path to get a copy of /proc/self/maps taken mid-run.
"""
import array
import collections
import gc
import hashlib
import heapq
import io
import json
import os
import queue
import random
import re
import struct
import sys
import threading
import zlib


def digest(obj):
    h = hashlib.sha256()
    h.update(repr(obj).encode())
    return h.hexdigest()[:32]


def report(name, obj):
    print("%-12s %s" % (name, digest(obj)), flush=True)


def phase_dicts(rng):
    # Many small dicts and a big one; insert, update, delete in random order.
    big = {}
    for i in range(120000):
        big["k%07d" % rng.randrange(10**7)] = i
    keys = list(big)
    rng.shuffle(keys)
    for k in keys[: len(keys) // 2]:
        del big[k]
    small = [{"id": i, "name": "n%d" % i, "tags": ["t%d" % (i % 7), "u%d" % (i % 11)]}
             for i in range(40000)]
    merged = collections.defaultdict(int)
    for d in small:
        for t in d["tags"]:
            merged[t] += d["id"]
    return (len(big), sum(big.values()), sorted(big)[:50], sorted(merged.items()))


def phase_lists(rng):
    lists = [[rng.random() for _ in range(rng.randrange(1, 64))] for _ in range(20000)]
    flat = [x for l in lists for x in l]
    flat.sort()
    # grow and shrink a list by appends/pops (realloc of the item array)
    grow = []
    for i in range(300000):
        grow.append(i)
    while len(grow) > 1000:
        grow.pop()
    tuples = sorted((int(x * 1e6) % 997, i) for i, x in enumerate(flat[:100000]))
    return (len(flat), round(sum(flat), 6), grow[-5:], tuples[:20], tuples[-20:])


def phase_strings(rng):
    parts = []
    for i in range(100000):
        parts.append("%d:%s" % (i, "ab" * (i % 13)))
    joined = ",".join(parts)
    words = joined.split(",")
    # repeated concatenation: the string object is resized in place
    s = ""
    for i in range(20000):
        s += chr(97 + i % 26)
    u = "".join(chr(0x400 + (i % 200)) for i in range(50000))  # non-ASCII
    b = bytearray()
    for i in range(200000):
        b += struct.pack("<I", i * 2654435761 & 0xFFFFFFFF)
    z = zlib.compress(bytes(b), 6)
    up = joined.upper().replace("AB", "Xy")
    found = re.findall(r"(\d+):(?:ab){5,}", joined)
    return (len(joined), len(words), hashlib.sha256(s.encode()).hexdigest(),
            hashlib.sha256(u.encode()).hexdigest(), len(z), zlib.crc32(bytes(b)),
            hashlib.sha256(up.encode()).hexdigest(), len(found), found[:10])


class Node:
    def __init__(self, key, left=None, right=None):
        self.key = key
        self.left = left
        self.right = right


class Slotted:
    __slots__ = ("a", "b", "c")

    def __init__(self, a, b, c):
        self.a, self.b, self.c = a, b, c


def insert(root, key):
    if root is None:
        return Node(key)
    node = root
    while True:
        if key < node.key:
            if node.left is None:
                node.left = Node(key)
                return root
            node = node.left
        else:
            if node.right is None:
                node.right = Node(key)
                return root
            node = node.right


def inorder(root):
    out, stack, node = [], [], root
    while stack or node:
        while node:
            stack.append(node)
            node = node.left
        node = stack.pop()
        out.append(node.key)
        node = node.right
    return out


def phase_objects(rng):
    root = None
    for _ in range(60000):
        root = insert(root, rng.randrange(10**9))
    keys = inorder(root)
    objs = [Slotted(i, str(i), (i, i + 1)) for i in range(100000)]
    total = sum(o.a + len(o.b) + o.c[1] for o in objs)
    # reference cycles left for the cycle collector
    for i in range(20000):
        a, b = [], {}
        a.append(b)
        b["a"] = a
        b["pad"] = "x" * (i % 100)
    gc.collect()
    del root, objs
    return (len(keys), keys[:10], keys[-10:], total)


def phase_json(rng):
    doc = {"items": [{"id": i, "v": rng.random(), "s": "s%d" % rng.randrange(1000),
                      "l": list(range(i % 10))} for i in range(30000)]}
    text = json.dumps(doc, sort_keys=True)
    back = json.loads(text)
    text2 = json.dumps(back, sort_keys=True, indent=1)
    buf = io.StringIO()
    for item in back["items"][:5000]:
        buf.write("%(id)d %(s)s\n" % item)
    return (len(text), hashlib.sha256(text2.encode()).hexdigest(),
            hashlib.sha256(buf.getvalue().encode()).hexdigest())


def phase_containers(rng):
    sets = set()
    for i in range(150000):
        sets.add((i * 7919) % 100003)
    for i in range(0, 100003, 3):
        sets.discard(i)
    dq = collections.deque()
    for i in range(200000):
        dq.append(i)
        if i % 3 == 0:
            dq.popleft()
    heap = []
    for i in range(100000):
        heapq.heappush(heap, (rng.randrange(10**6), i))
    top = [heapq.heappop(heap) for _ in range(1000)]
    arr = array.array("d", (i * 0.5 for i in range(200000)))
    counter = collections.Counter(str(i % 1000) for i in range(200000))
    od = collections.OrderedDict((str(i), i) for i in range(50000))
    for i in range(0, 50000, 2):
        od.move_to_end(str(i))
    return (len(sets), sum(sets), len(dq), dq[0], top[:5], sum(arr),
            counter.most_common(3), list(od)[:5], list(od)[-5:])


def phase_threads(rng):
    # Objects made in worker threads and freed in the main thread (and
    # the reverse): cross-thread frees in the allocator.
    q = queue.Queue(maxsize=256)
    back = queue.Queue()
    seeds = [rng.randrange(10**9) for _ in range(4)]

    def producer(seed):
        r = random.Random(seed)
        for i in range(5000):
            q.put([str(r.randrange(10**6)) * (1 + i % 5) for _ in range(8)])
        q.put(None)

    def consumer():
        acc = 0
        while True:
            item = back.get()
            if item is None:
                break
            acc += sum(len(x) for x in item)
        back.put(acc)

    ts = [threading.Thread(target=producer, args=(s,)) for s in seeds]
    c = threading.Thread(target=consumer)
    for t in ts:
        t.start()
    c.start()
    done = 0
    total = 0
    while done < len(ts):
        item = q.get()
        if item is None:
            done += 1
            continue
        total += sum(len(x) for x in item)
        back.put(item)  # freed by the consumer thread
    back.put(None)
    for t in ts:
        t.join()
    c.join()
    acc = back.get()
    return (total, acc)


def main():
    rng = random.Random(20240601)
    maps_out = os.environ.get("KPROG_MAPS")
    phases = [phase_dicts, phase_lists, phase_strings, phase_objects,
              phase_json, phase_containers, phase_threads]
    results = []
    for n, ph in enumerate(phases):
        r = ph(rng)
        results.append(r)
        report(ph.__name__[6:], r)
        if n == 3 and maps_out:
            with open("/proc/self/maps") as src, open(maps_out, "w") as dst:
                dst.write(src.read())
    report("all", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
