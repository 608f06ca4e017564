#!/bin/sh
# gcc -wrapper for gcc.sh: runs each of gcc's subprogram invocations; for
# cc1, copies its /proc/PID/maps to $KPROG_MAPS while it compiles, so the
# test can tell the preload library is mapped into the compiler proper.
case "${1##*/}" in
cc1) ;;
*) exec "$@" ;;
esac
want=$(readlink -f "$1")
"$@" &
pid=$!
i=0
while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 1000 ]; do
	if [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$want" ]; then
		# cc1 is running; ld.so maps preloads before main, give it a moment.
		j=0
		while [ "$j" -lt 50 ] && ! grep -qF "${KPROG_LIB:-/nonexistent}" "/proc/$pid/maps" 2>/dev/null; do
			sleep 0.01
			j=$((j + 1))
		done
		cat "/proc/$pid/maps" >"$KPROG_MAPS" 2>/dev/null
		break
	fi
	sleep 0.01
	i=$((i + 1))
done
wait "$pid"
