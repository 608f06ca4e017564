#!/usr/bin/env bash
# sqlite3 under the preload library: 100,000 INSERT statements in one
# transaction into an on-disk database, an index, aggregates, a join, a
# window function, an update/delete pass and an integrity check; the same
# SQL is run without the library and with it, and the outputs must match.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

sqlite=/usr/bin/sqlite3
need "$sqlite" /usr/bin/awk

# The SQL script: the .system line copies the maps of the sqlite3 process
# (the shell's parent) while it holds the loaded database.
awk -v maps_cmd='.system cat /proc/$PPID/maps > "$KPROG_MAPS"' 'BEGIN {
	print "PRAGMA journal_mode=WAL;"
	print "PRAGMA cache_size=-16000;"
	print "CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, val REAL, blob BLOB);"
	print "BEGIN;"
	for (i = 1; i <= 100000; i++) {
		g = (i * 7919) % 1000
		printf("INSERT INTO t(id, grp, name, val, blob) VALUES(%d, %d, '\''name-%d-%s'\'', %d.%02d, zeroblob(%d));\n",
			i, g, (i * 31) % 50021, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26), i % 9973, i % 100, i % 300)
	}
	print "COMMIT;"
	print "CREATE INDEX t_grp ON t(grp, name);"
	print "CREATE INDEX t_name ON t(name);"
	print maps_cmd
	print ".headers on"
	print "SELECT count(*), sum(grp), total(val), sum(length(blob)), min(name), max(name) FROM t;"
	print "SELECT grp, count(*), round(avg(val), 4), min(id), max(id) FROM t GROUP BY grp ORDER BY grp LIMIT 40;"
	print "SELECT grp, count(*) AS n FROM t WHERE name LIKE '\''name-1%'\'' GROUP BY grp HAVING n > 20 ORDER BY n DESC, grp LIMIT 20;"
	print "SELECT a.grp, count(*), sum(b.id - a.id), max(b.name) FROM t a JOIN t b ON a.grp = b.grp AND a.id < b.id WHERE a.id <= 2000 GROUP BY a.grp ORDER BY 2 DESC, 1 LIMIT 30;"
	print "SELECT id, val, rank() OVER (PARTITION BY grp ORDER BY val DESC, id) FROM t WHERE grp IN (7, 77, 777) ORDER BY grp, 3 LIMIT 30;"
	print "SELECT substr(group_concat(name, '\'','\''), 1, 200) FROM (SELECT name FROM t WHERE grp = 123 ORDER BY name);"
	print "UPDATE t SET name = upper(name) || '\''#'\'' WHERE id % 3 = 0;"
	print "DELETE FROM t WHERE id % 5 = 0;"
	print "SELECT count(*), sum(length(name)), count(DISTINCT grp) FROM t;"
	print "EXPLAIN QUERY PLAN SELECT * FROM t WHERE grp = 5 ORDER BY name;"
	print "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50000) SELECT count(*), sum(x), max(length(printf('\''%0*d'\'', x % 200, x))) FROM c;"
	print "VACUUM;"
	print "PRAGMA integrity_check;"
	print "SELECT count(*) FROM t INDEXED BY t_name WHERE name > '\''name-4'\'';"
}' >"$tmp/script.sql" || fail "generating the SQL script"

for run in base kalloc; do
	if [ "$run" = base ]; then runner=run_base; else runner=run_kalloc; fi
	$runner env KPROG_MAPS="$tmp/maps.$run" "$sqlite" -bail "$tmp/db.$run" \
		<"$tmp/script.sql" >"$tmp/out.$run" 2>"$tmp/err.$run"
	check_rc "sqlite3 ($run)" $? "$tmp/err.$run"
	[ -s "$tmp/err.$run" ] && { cat "$tmp/err.$run" >&2; fail "sqlite3 ($run) wrote to stderr"; }
done
expect_unmapped "$tmp/maps.base" "sqlite3 without preload"
expect_mapped "$tmp/maps.kalloc" "sqlite3"
grep -q '/usr/bin/sqlite3$' "$tmp/maps.kalloc" || fail "maps copy is not sqlite3's"
compare "sqlite3 script" "$tmp/out.base" "$tmp/out.kalloc"
note "pass in $(elapsed)"
