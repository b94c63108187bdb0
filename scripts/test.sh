#!/usr/bin/env bash
#   Build zexec and run its test suite with ctest.
#   --sanitize builds with AddressSanitizer + UndefinedBehaviorSanitizer.
#   --tsan builds with ThreadSanitizer and runs the loop, coroutine, pool,
#   broker and hostile-peer tests (labels unit, pool, remote, fault).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
build=${ZEXEC_BUILD_DIR:-build}
options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DZEXEC_WERROR=ON)
select=()
if [ "${1:-}" = "--sanitize" ]; then
    build=${ZEXEC_BUILD_DIR:-build-asan}
    options=(-DCMAKE_BUILD_TYPE=Debug -DZEXEC_WERROR=ON -DZEXEC_SANITIZE=ON)
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
elif [ "${1:-}" = "--tsan" ]; then
    build=${ZEXEC_BUILD_DIR:-build-tsan}
    options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DZEXEC_WERROR=ON -DZEXEC_TSAN=ON)
    #   halt_on_error: a race in a broker or worker process the tests start
    #   ends that process, which fails the test that started it. Why each
    #   suppression is there: tests/tsan.supp.
    export TSAN_OPTIONS=${TSAN_OPTIONS:-suppressions=$PWD/tests/tsan.supp:halt_on_error=1:second_deadlock_stack=1}
    #   Not the ten thousand coroutines alive at once: each is a TSan fiber
    #   with mappings of its own, past vm.max_map_count (a scale test on
    #   one thread, with nothing for TSan to find)
    select=(-L "unit|pool|remote|fault" -E "test_ten_thousand_coroutines_sleep_and_return_their_index")
fi
cmake -S . -B "$build" "${options[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure "${select[@]}"
