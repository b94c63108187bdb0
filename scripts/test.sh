#!/usr/bin/env bash
#   Build zexec and run its test suite with ctest, warnings as errors.
#   Usage: scripts/test.sh [--sanitize | --tsan | --release | --clang]
#     (none)      RelWithDebInfo in build/, the whole suite.
#     --sanitize  AddressSanitizer + UndefinedBehaviorSanitizer (Debug, in
#                 build-asan/), the whole suite.
#     --tsan      ThreadSanitizer (build-tsan/): the loop, coroutine, pool,
#                 broker and hostile-peer tests (labels unit, pool, remote,
#                 fault).
#     --release   Release with gcc (build-release/), the build a user's
#                 `cmake -DCMAKE_BUILD_TYPE=Release` makes: the whole suite.
#     --clang     Release with clang (build-clang/; installs clang if it is
#                 missing): the unit, pool and remote tests.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
build=${ZEXEC_BUILD_DIR:-build}
options=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DZEXEC_WERROR=ON)
select=()
case "${1:-}" in
    "") ;;
    --sanitize)
        build=${ZEXEC_BUILD_DIR:-build-asan}
        options=(-DCMAKE_BUILD_TYPE=Debug -DZEXEC_WERROR=ON -DZEXEC_SANITIZE=ON)
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
        export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
        ;;
    --tsan)
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
        ;;
    --release)
        #   -O3 sees what -O2 does not (-Wformat-truncation, -Wstringop-*):
        #   a user's release build must not be the first to
        build=${ZEXEC_BUILD_DIR:-build-release}
        options=(-DCMAKE_BUILD_TYPE=Release -DZEXEC_WERROR=ON)
        export CC=gcc
        ;;
    --clang)
        zexec_install clang
        build=${ZEXEC_BUILD_DIR:-build-clang}
        options=(-DCMAKE_BUILD_TYPE=Release -DZEXEC_WERROR=ON)
        export CC=clang
        select=(-L "unit|pool|remote")
        ;;
    *)
        echo "usage: scripts/test.sh [--sanitize | --tsan | --release | --clang]" >&2
        exit 2
        ;;
esac
cmake -S . -B "$build" "${options[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure "${select[@]}"
