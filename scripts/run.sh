#!/usr/bin/env bash
#   The main job: build zexec, then run the two seed programs
#   (thread pool, then process pool).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
build=${ZEXEC_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "== asyncio_executor_thread (3 worker threads)"
time "$build/examples/asyncio_executor_thread"
echo
echo "== asyncio_executor_process (3 worker processes)"
time "$build/examples/asyncio_executor_process"
