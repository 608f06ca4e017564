# SPDX-License-Identifier: MIT
"""An in-memory SQLite database through Python's sqlite3 module: a table of
rows with text and an index, filled in transactions of 10,000 rows, then
point lookups, range aggregates, updates that grow the text, and deletes.
SQLite's page cache and B-tree nodes are heap blocks of a few hundred bytes
to a few KiB, Python's objects small ones.  Rows: 1,000,000 (times
BENCH_SCALE).  Prints the result line bench.sh reads."""
import os
import random
import sqlite3
import time

scale = float(os.environ.get("BENCH_SCALE", "1") or 1)
rows = max(10000, int(1000000 * scale))
rng = random.Random(42)

t0 = time.monotonic()
db = sqlite3.connect(":memory:")
db.execute("PRAGMA cache_size = -200000")
db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, body TEXT)")
db.execute("CREATE INDEX item_name ON item (name)")
batch = 10000
for start in range(0, rows, batch):
    db.executemany(
        "INSERT INTO item VALUES (?, ?, ?, ?)",
        ((i, f"name-{rng.getrandbits(40):010x}", i % 97, "x" * (20 + i % 60))
         for i in range(start, min(rows, start + batch))))
    db.commit()
hits = 0
for _ in range(rows // 10):
    i = rng.randrange(rows)
    hits += db.execute("SELECT grp FROM item WHERE id = ?", (i,)).fetchone() is not None
total = db.execute("SELECT grp, count(*), sum(length(body)) FROM item GROUP BY grp").fetchall()
for start in range(0, rows // 4, batch):
    db.executemany("UPDATE item SET body = body || ? WHERE id = ?",
                   (("y" * 40, rng.randrange(rows)) for _ in range(batch)))
    db.commit()
db.execute("DELETE FROM item WHERE grp < 30")
db.commit()
left = db.execute("SELECT count(*) FROM item").fetchone()[0]
db.close()
t1 = time.monotonic()
assert hits == rows // 10 and len(total) == 97 and left > 0
print(f"result time_s={t1 - t0:.6f} ops={rows}")
