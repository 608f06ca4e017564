#!/usr/bin/env bash
# git under the preload library: git-scenario.sh builds a 200-file
# repository with 34 commits, a merge and a tag, fixed names and dates, then
# gc, fsck, log, blame, archive...  Run without the library and with it; every
# hash and digest must be identical.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

need /usr/bin/git /usr/bin/awk
export PATH=/usr/bin:/bin

run_base bash "$here/git-scenario.sh" "$tmp/repo.base" "$tmp/maps.base" >"$tmp/out.base" 2>"$tmp/err.base"
check_rc "git scenario without preload" $? "$tmp/err.base"
expect_unmapped "$tmp/maps.base" "git without preload"

run_kalloc bash "$here/git-scenario.sh" "$tmp/repo.kalloc" "$tmp/maps.kalloc" >"$tmp/out.kalloc" 2>"$tmp/err.kalloc"
check_rc "git scenario under kalloc" $? "$tmp/err.kalloc"
expect_mapped "$tmp/maps.kalloc" "git"
grep -q '/usr/bin/git$' "$tmp/maps.kalloc" || fail "maps copy is not git's"
compare "git scenario" "$tmp/out.base" "$tmp/out.kalloc"
note "pass in $(elapsed)"
