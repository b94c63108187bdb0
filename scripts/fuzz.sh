#!/usr/bin/env bash
#   Fuzzes every decoder of bytes from a socket: builds the libFuzzer
#   harnesses in tests/fuzz/ with clang (ASan + UBSan) in build-fuzz and
#   runs each for SECONDS (default 30) from its seed corpus, as the ctest
#   entries fuzz.NAME (label fuzz). Then prints each harness's final
#   libFuzzer stats: runs, run length, executions per second.
#   Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
seconds=${1:-30}
build=${ZEXEC_FUZZ_BUILD_DIR:-build-fuzz}

#   clang and its sanitizer and libFuzzer runtimes, only those missing
zexec_install clang libclang-rt-14-dev

CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZEXEC_WERROR=ON \
    -DZEXEC_FUZZ=ON -DZEXEC_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$build" --target fuzz -j"$(nproc)"
status=0
ctest --test-dir "$build" -L fuzz --output-on-failure --no-tests=error || status=$?

echo "== fuzz: final libFuzzer stats (${seconds} s per harness)"
for log in "$build"/tests/fuzz/fuzz_*.log; do
    [ -f "$log" ] || continue
    name=$(basename "$log" .log)
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec:[[:space:]]*//p' "$log" | tail -n 1)
    final=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
    echo "$name: ${runs:-no final stats}, ${speed:-?} exec/s"
    if [ -n "$final" ]; then
        echo "    $final"
    fi
done
exit "$status"
