#!/usr/bin/env bash
# python3 under the preload library: an allocation-heavy deterministic
# workload (workload.py: dicts, lists, strings, objects, JSON, containers,
# cross-thread frees).  With PYTHONMALLOC=malloc every Python object is a
# malloc/free (millions of them); pymalloc's default mode is run too.  The
# runs with the library (rseq per-CPU caches, per-thread caches with
# KALLOC_RSEQ=0, pymalloc) must print what the run without it printed.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

py=/usr/bin/python3
need "$py"
export PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1

run_base env PYTHONMALLOC=malloc KPROG_MAPS="$tmp/maps.base" "$py" "$here/workload.py" \
	>"$tmp/out.base" 2>"$tmp/err.base"
check_rc "python3 without preload" $? "$tmp/err.base"
expect_unmapped "$tmp/maps.base" "python3 without preload"

# mode name, then the environment for it
modes=(
	"malloc PYTHONMALLOC=malloc"
	"malloc-rseq0 PYTHONMALLOC=malloc KALLOC_RSEQ=0"
	"pymalloc PYTHONMALLOC=pymalloc"
)
for m in "${modes[@]}"; do
	read -r mode envs <<<"$m"
	# shellcheck disable=SC2086
	run_kalloc env $envs KPROG_MAPS="$tmp/maps.$mode" \
		"$py" "$here/workload.py" >"$tmp/out.$mode" 2>"$tmp/err.$mode"
	check_rc "python3 workload under kalloc ($envs)" $? "$tmp/err.$mode"
	expect_mapped "$tmp/maps.$mode" "python3 ($envs)"
	compare "python3 workload ($envs)" "$tmp/out.base" "$tmp/out.$mode"
done
note "pass in $(elapsed)"
