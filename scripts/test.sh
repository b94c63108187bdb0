#!/usr/bin/env bash
#   Build zexec and run its test suite with ctest.
#   --sanitize builds with AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
build=${ZEXEC_BUILD_DIR:-build}
options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DZEXEC_WERROR=ON)
if [ "${1:-}" = "--sanitize" ]; then
    build=${ZEXEC_BUILD_DIR:-build-asan}
    options=(-DCMAKE_BUILD_TYPE=Debug -DZEXEC_WERROR=ON -DZEXEC_SANITIZE=ON)
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
cmake -S . -B "$build" "${options[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure
