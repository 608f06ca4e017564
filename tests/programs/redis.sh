#!/usr/bin/env bash
# redis-server under the preload library, on 127.0.0.1 only.  A fixed command
# script (strings, big values, lists, hashes, sets, sorted sets, streams,
# HyperLogLog, bitmaps, Lua) runs against a server without the library and
# against one with it; the kalloc server then takes a bounded redis-benchmark
# run (200,000 requests of SET, GET, LPUSH, LPOP, INCR), must still answer
# PING and give back the values written before, and must exit cleanly (status
# 0) on SHUTDOWN NOSAVE.  All replies must match the server without it.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

server=/usr/bin/redis-server
cli=/usr/bin/redis-cli
bench=/usr/bin/redis-benchmark
need "$server" "$cli" "$bench" /usr/bin/python3 /usr/bin/awk
requests=${KPROG_REDIS_REQUESTS:-200000}

free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

cli_() {
	timeout 60 "$cli" -h 127.0.0.1 -p "$port" "$@"
}

server_pid=
kill_server() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -9 "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	server_pid=
}
cleanup_hooks+=(kill_server)

# start_server RUN: starts redis-server (runner chosen by RUN) on a free
# port, waits until it answers PING.  Retries with another port if the one
# picked was taken in the meantime.
start_server() {
	local run=$1 try i preload=()
	# env execs the server, so $! is the server's pid.
	if [ "$run" = base ]; then preload=(-u LD_PRELOAD); else preload=("LD_PRELOAD=$lib"); fi
	for try in 1 2 3; do
		port=$(free_port) || fail "no free port"
		env "${preload[@]}" "$server" --port "$port" --bind 127.0.0.1 --protected-mode yes \
			--save '' --appendonly no --daemonize no --dir "$tmp" \
			--logfile "$tmp/redis.$run.log" --loglevel notice &
		server_pid=$!
		for i in $(seq 1 200); do
			if ! kill -0 "$server_pid" 2>/dev/null; then
				break
			fi
			if [ "$(cli_ ping 2>/dev/null)" = PONG ]; then
				return 0
			fi
			sleep 0.05
		done
		if kill -0 "$server_pid" 2>/dev/null; then
			kill_server
			fail "redis-server ($run) did not answer PING within 10 s"
		fi
		wait "$server_pid"
		local rc=$?
		server_pid=
		if grep -q 'Address already in use' "$tmp/redis.$run.log" 2>/dev/null; then
			continue
		fi
		tail -n 30 "$tmp/redis.$run.log" >&2
		fail "redis-server ($run) exited at start: $(describe_status "$rc")"
	done
	fail "redis-server ($run): no usable port after 3 tries"
}

# stop_server RUN: SHUTDOWN NOSAVE, and the server must exit with status 0.
stop_server() {
	local run=$1 i rc
	cli_ shutdown nosave >/dev/null 2>&1
	for i in $(seq 1 200); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$server_pid" 2>/dev/null; then
		kill_server
		fail "redis-server ($run) still running 10 s after SHUTDOWN NOSAVE"
	fi
	wait "$server_pid"
	rc=$?
	server_pid=
	if [ "$rc" -ne 0 ]; then
		tail -n 40 "$tmp/redis.$run.log" >&2
		fail "redis-server ($run) did not exit cleanly: $(describe_status "$rc")"
	fi
	if grep -qE 'BUG REPORT|Guru Meditation|crashed by signal' "$tmp/redis.$run.log"; then
		tail -n 60 "$tmp/redis.$run.log" >&2
		fail "redis-server ($run) reported a crash in its log"
	fi
}

# The command script, and the read-back script run after the benchmark.
awk 'BEGIN {
	for (i = 1; i <= 2000; i++) printf("SET k:%d value-%d-%s\n", i, i * 7919 % 10007, substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26))
	for (i = 1; i <= 2000; i += 97) printf("GET k:%d\n", i)
	printf("MSET");
	for (i = 1; i <= 300; i++) printf(" m:%d %d", i, i * i)
	print ""
	printf("MGET"); for (i = 1; i <= 300; i += 13) printf(" m:%d", i); print ""
	print "SETRANGE big 1048575 x"
	print "STRLEN big"
	for (i = 1; i <= 400; i++) printf("APPEND grow chunk-%04d-%s\n", i, substr("0123456789abcdef0123456789abcdef", 1, 1 + i % 32))
	print "STRLEN grow"
	print "GETRANGE grow 5000 5100"
	for (i = 1; i <= 300; i++) printf("INCRBY c:%d %d\n", i % 17, i)
	for (i = 0; i < 17; i++) printf("GET c:%d\n", i)
	for (i = 1; i <= 3000; i++) printf("RPUSH l item-%d\n", i)
	print "LLEN l"
	print "LRANGE l 1000 1020"
	print "LPOP l 5"
	print "LINDEX l 2500"
	print "OBJECT ENCODING l"
	for (i = 1; i <= 600; i++) printf("HSET h f%d %d\n", i, i * 31)
	print "HLEN h"
	print "HGET h f333"
	print "HINCRBY h f1 1000"
	print "OBJECT ENCODING h"
	for (i = 1; i <= 1500; i++) printf("SADD s member-%d\n", i * 13 % 2011)
	print "SCARD s"
	print "SISMEMBER s member-26"
	print "SORT s ALPHA LIMIT 0 15"
	print "OBJECT ENCODING s"
	for (i = 1; i <= 1500; i++) printf("ZADD z %d zm-%d\n", i * 7 % 1009, i)
	print "ZCARD z"
	print "ZRANGE z 0 20 WITHSCORES"
	print "ZRANGEBYSCORE z 500 505"
	print "ZRANK z zm-777"
	print "ZREMRANGEBYRANK z 0 99"
	print "ZCOUNT z 0 1000"
	for (i = 1; i <= 500; i++) printf("XADD st %d-1 field %d other x%d\n", i, i, i)
	print "XLEN st"
	print "XRANGE st 100 105"
	for (i = 1; i <= 2000; i++) printf("PFADD hll e%d\n", i)
	print "PFCOUNT hll"
	for (i = 0; i < 5000; i += 7) printf("SETBIT bits %d 1\n", i)
	print "BITCOUNT bits"
	print "EVAL \"local t = {} for i = 1, 20000 do t[i] = tostring(i) end return #table.concat(t, \x27,\x27)\" 0"
	print "EVAL \"for i = 1, 500 do redis.call(\x27RPUSH\x27, KEYS[1], string.rep(\x27z\x27, i)) end return redis.call(\x27LLEN\x27, KEYS[1])\" 1 lualist"
	for (i = 1; i <= 2000; i += 3) printf("DEL k:%d\n", i)
	print "EXISTS k:1 k:2 k:3"
	print "DBSIZE"
}' >"$tmp/commands.txt" || fail "generating commands"
awk 'BEGIN {
	for (i = 1; i <= 2000; i += 61) printf("GET k:%d\n", i)
	print "STRLEN big"
	print "GETRANGE grow 0 200"
	print "LRANGE l 0 10"
	print "LLEN lualist"
	print "HGET h f1"
	print "HGET h f600"
	print "SCARD s"
	print "ZRANGE z 0 5 WITHSCORES"
	print "XRANGE st 499 500"
	print "PFCOUNT hll"
	print "BITCOUNT bits"
	print "GET m:300"
}' >"$tmp/verify.txt" || fail "generating read-back commands"

for run in base kalloc; do
	start_server "$run"
	if [ "$run" = kalloc ]; then
		cp "/proc/$server_pid/maps" "$tmp/maps.kalloc" 2>/dev/null
		expect_mapped "$tmp/maps.kalloc" "redis-server"
		grep -q '/usr/bin/redis-check-rdb$\|/usr/bin/redis-server$' "$tmp/maps.kalloc" ||
			fail "maps copy is not redis-server's"
	fi
	cli_ <"$tmp/commands.txt" >"$tmp/out.$run" 2>"$tmp/cli-err.$run" ||
		check_rc "redis-cli command script ($run)" 1 "$tmp/cli-err.$run"
	if [ "$run" = kalloc ]; then
		t0=$SECONDS
		timeout 120 "$bench" -h 127.0.0.1 -p "$port" -n "$requests" -q -t set,get,lpush,lpop,incr \
			>"$tmp/bench.out" 2>&1
		rc=$?
		tr '\r' '\n' <"$tmp/bench.out" | grep -E 'requests per second' | sed "s/^/[$test_name] benchmark: /"
		[ "$rc" -eq 0 ] || { tail -n 20 "$tmp/bench.out" >&2; fail "redis-benchmark: $(describe_status "$rc")"; }
		n=$(tr '\r' '\n' <"$tmp/bench.out" | grep -cE '^(SET|GET|INCR|LPUSH|LPOP)[^:]*: .*requests per second')
		[ "$n" -ge 5 ] || { cat "$tmp/bench.out" >&2; fail "redis-benchmark reported $n of 5 tests"; }
		note "benchmark: $requests requests x 5 tests in $((SECONDS - t0)) s"
		[ "$(cli_ ping)" = PONG ] || fail "redis-server under kalloc does not answer PING after the benchmark"
	fi
	{
		echo "== ping"
		cli_ ping
		echo "== read back"
		cli_ <"$tmp/verify.txt"
	} >"$tmp/verify.$run" 2>"$tmp/cli-err2.$run" || check_rc "redis-cli read-back ($run)" 1 "$tmp/cli-err2.$run"
	stop_server "$run"
done

compare "redis command script" "$tmp/out.base" "$tmp/out.kalloc"
compare "redis read-back after the benchmark" "$tmp/verify.base" "$tmp/verify.kalloc"
note "pass in $(elapsed)"
