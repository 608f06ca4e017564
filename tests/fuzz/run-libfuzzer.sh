#!/usr/bin/env bash
# Builds tests/fuzz/ops.c as a libFuzzer target with clang (AddressSanitizer
# off: kalloc is the allocator under test) over the kalloc sources and runs
# it for SECONDS (default 60).  Crashes are written to build/fuzz/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${1:-60}
out="$here/build/fuzz"
mkdir -p "$out/corpus"
# src/cxxrt.cc, the one C++ source (weak references to the C++ runtime),
# as the meson build compiles it: no RTTI, nothing of libstdc++ linked.
clang++ -O1 -g -std=c++17 -D_GNU_SOURCE -fvisibility=hidden -fno-rtti \
	-I"$here/include" -I"$here/src" -c "$here/src/cxxrt.cc" -o "$out/cxxrt.o"
clang -O1 -g -std=c11 -D_GNU_SOURCE -DKALLOC_LIBFUZZER -fsanitize=fuzzer \
	-I"$here/include" -I"$here/src" -ftls-model=initial-exec -fno-builtin-malloc \
	"$here/tests/fuzz/ops.c" "$here"/src/*.c "$out/cxxrt.o" -lpthread -o "$out/ops-fuzzer"
cd "$out"
./ops-fuzzer -max_total_time="$secs" -max_len=20000 -rss_limit_mb=4096 corpus
