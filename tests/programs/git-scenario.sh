#!/usr/bin/env bash
# git-scenario.sh REPO_DIR MAPS_FILE: builds a repository with fixed names
# and dates (so every hash is reproducible), runs gc and fsck, and prints
# hashes, logs and digests of everything git produced.  Run by git.sh, once
# without and once with the preload library (which then covers this shell
# and every git process it starts).
set -euo pipefail
repo=$1
maps=$2
src=$(cd "$(dirname "$0")" && pwd)

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME="$repo.home"
export GIT_AUTHOR_NAME="Ada Author" GIT_AUTHOR_EMAIL="ada@example.org"
export GIT_COMMITTER_NAME="Carl Committer" GIT_COMMITTER_EMAIL="carl@example.org"
export TZ=UTC LC_ALL=C
mkdir -p "$HOME"
t=1600000000
stamp() {
	t=$((t + 97))
	export GIT_AUTHOR_DATE="@$t +0000" GIT_COMMITTER_DATE="@$((t + 13)) +0000"
}
g() {
	git -c gc.auto=0 -c pack.threads=1 -c core.fsyncmethod=batch "$@"
}

g init -q -b main "$repo"
cd "$repo"
g config alias.maps "!cat /proc/\$PPID/maps > '$maps'"

# 200 files of varied sizes, deterministic content.
mkdir -p src/a src/b docs
awk 'BEGIN {
	for (f = 0; f < 200; f++) {
		dir = (f % 3 == 0) ? "src/a" : (f % 3 == 1) ? "src/b" : "docs"
		name = sprintf("%s/file%03d.txt", dir, f)
		n = 5 + (f * 37) % 400
		for (i = 0; i < n; i++)
			printf("line %d of file %d: %08x %s\n", i, f, (i * 2654435761 + f) % 4294967296,
				substr("the quick brown fox jumps over the lazy dog", 1 + (i + f) % 20)) > name
		close(name)
	}
}'
stamp
g add -A
g commit -q -m "initial: 200 files"

# 30 commits: edits, renames, deletions.
for i in $(seq 1 30); do
	for j in $(seq 0 9); do
		f=$(printf 'file%03d.txt' $(((i * 17 + j * 23) % 200)))
		p=$(ls src/a/$f src/b/$f docs/$f 2>/dev/null | head -n1 || true)
		[ -n "$p" ] && printf 'change %d.%d\n' "$i" "$j" >>"$p"
	done
	if [ $((i % 7)) -eq 0 ]; then
		f=$(ls docs | head -n1)
		g mv "docs/$f" "src/renamed-$i-$f"
	fi
	if [ $((i % 11)) -eq 0 ]; then
		f=$(ls src/b | tail -n1)
		g rm -q "src/b/$f"
	fi
	stamp
	g commit -q -a -m "commit $i"
done

# A branch, a merge, an annotated tag.
g checkout -q -b topic HEAD~5
for i in 1 2 3; do
	echo "topic $i" >"docs/topic$i.txt"
	g add "docs/topic$i.txt"
	stamp
	g commit -q -m "topic $i"
done
g checkout -q main
stamp
g merge -q --no-ff -m "merge topic" topic
stamp
g tag -a -m "release 1" v1

g maps

echo "== log"
g log --all --format='%H %T %P|%an|%ad|%cn|%cd|%s' --date=raw
echo "== objects"
g rev-list --objects --all | sort
echo "== gc"
g gc --quiet --prune=now
g count-objects -v | grep -E '^(count|in-pack|packs|prune-packable|garbage):'
g fsck --full --strict --no-progress
echo "== pack"
for idx in .git/objects/pack/*.idx; do
	g verify-pack -v "$idx" | grep -v '^chain length' | sort
done | sha256sum
ls .git/objects/pack | sort
echo "== contents"
g log -p --stat --all | sha256sum
g diff --stat HEAD~10 HEAD
g blame -s src/a/file000.txt | sha256sum
g archive --format=tar v1 | sha256sum
g grep -c 'change 1' HEAD | sort | head -n 20
g cat-file --batch-all-objects --batch-check | sort | sha256sum
g describe --tags
