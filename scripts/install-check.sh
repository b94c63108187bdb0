#!/usr/bin/env bash
#   Install check: build zexec, install it into a scratch prefix, then build
#   tests/install/consumer.c against that prefix alone, four ways, and run
#   each build:
#     - CMake, find_package (zexec): zexec::zexec and zexec::zexec-static;
#     - cc $(pkg-config --cflags --libs libzexec), the shared library;
#     - cc with pkg-config --static, libzexec.a.
#   Any failure stops it with "install-check: FAILED" and keeps the scratch
#   directory for a look. zexec is built in build-inst (or
#   $ZEXEC_INSTALL_BUILD_DIR) without its tests.
#   pkg-config's output is split into words on purpose below. Output is
#   captured before grep -q looks at it: under pipefail, "cmd | grep -q"
#   fails at random when grep exits first and cmd dies of SIGPIPE.
#   shellcheck disable=SC2046,SC2086
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
build=${ZEXEC_INSTALL_BUILD_DIR:-build-inst}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/zexec-install.XXXXXX")
prefix=$scratch/prefix

trap 'echo "install-check: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'if [ $? -eq 0 ]; then rm -rf "$scratch"; else echo "install-check: kept $scratch" >&2; fi' EXIT
fail () {
    echo "install-check: FAILED: $*" >&2
    exit 1
}

echo "== build zexec in $build and install it into $prefix"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZEXEC_WERROR=ON \
      -DZEXEC_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
cmake --install "$build" --prefix "$prefix" >/dev/null
(cd "$prefix" && find . ! -type d | sort | sed 's|^\./|    |')

for file in lib/libzexec.a lib/libzexec.so lib/libzexec.so.0 include/zexec.h \
            lib/pkgconfig/libzexec.pc lib/cmake/zexec/zexecConfig.cmake \
            lib/cmake/zexec/zexecConfigVersion.cmake lib/cmake/zexec/zexecTargets.cmake \
            share/man/man1/zexec-broker.1 share/man/man1/zexec-worker.1 \
            share/man/man1/zexec-keygen.1 share/man/man1/zexec-top.1 \
            share/zexec/python/zexec_peer.py; do
    [ -e "$prefix/$file" ] || fail "$file was not installed"
done
{ [ -L "$prefix/lib/libzexec.so" ] && [ -L "$prefix/lib/libzexec.so.0" ]; } \
    || fail "libzexec.so and libzexec.so.0 should be symlinks"
grep -q 'SONAME.*\[libzexec\.so\.0\]' <<<"$(readelf -d "$prefix/lib/libzexec.so")" \
    || fail "libzexec.so has no SONAME libzexec.so.0"
/usr/bin/python3 "$prefix/share/zexec/python/zexec_peer.py" worker --help >/dev/null \
    || fail "the installed zexec_peer.py does not run"
for program in asyncio_executor_thread asyncio_executor_process zexec-bench; do
    [ ! -e "$prefix/bin/$program" ] || fail "$program should not be installed"
done

#   Nothing below may see the build tree: only the prefix, and the system
#   for libczmq and libzmq.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
unset LD_LIBRARY_PATH CPATH C_INCLUDE_PATH LIBRARY_PATH CMAKE_PREFIX_PATH
[ "$(pkg-config --variable=pcfiledir libzexec)" = "$prefix/lib/pkgconfig" ] \
    || fail "pkg-config found another libzexec.pc"
libdir=$(realpath "$(pkg-config --variable=libdir libzexec)")
[ "$libdir" = "$prefix/lib" ] || fail "libzexec.pc says libdir is $libdir"

#   The programs are installed and run from the prefix: each is an
#   executable file that answers --help with its usage and exit 0, and one
#   linked to the shared libzexec loads the installed one.
for program in zexec-broker zexec-worker zexec-keygen zexec-top; do
    { [ -f "$prefix/bin/$program" ] && [ -x "$prefix/bin/$program" ]; } \
        || fail "bin/$program was not installed as an executable file"
    status=0
    output=$(timeout 30 "$prefix/bin/$program" --help 2>&1) || status=$?
    [ "$status" -eq 0 ] || fail "bin/$program --help exited with $status: $output"
    grep -q "^usage: $program " <<<"$output" || fail "bin/$program --help printed '$output'"
    echo "bin/$program --help: $(head -n 1 <<<"$output")"
    #   (its RUNPATH is $ORIGIN/../lib, so ldd says $prefix/bin/../lib)
    loaded=$(awk '$1 ~ /^libzexec/ { print $3 }' <<<"$(ldd "$prefix/bin/$program")")
    if [ -n "$loaded" ]; then
        [ "$(realpath "$loaded")" = "$(realpath "$prefix/lib/libzexec.so.0")" ] \
            || fail "bin/$program loads $loaded, not $prefix/lib/libzexec.so.0"
    fi
done

#   run NAME PROGRAM: runs a consumer build; it must say "consumer ok".
run () {
    local output
    output=$(timeout 120 "$2") || fail "$1 exited with $?"
    [ "$output" = "consumer ok" ] || fail "$1 printed '$output'"
    echo "$1: $output"
}

echo "== CMake consumer: find_package (zexec) with CMAKE_PREFIX_PATH=$prefix"
cmake -S tests/install -B "$scratch/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      >"$scratch/cmake.log" || { cat "$scratch/cmake.log"; fail "cmake -S tests/install"; }
grep '^-- zexec ' "$scratch/cmake.log"
grep -qx "zexec_DIR:PATH=$prefix/lib/cmake/zexec" "$scratch/cmake/CMakeCache.txt" \
    || fail "find_package (zexec) did not use $prefix"
cmake --build "$scratch/cmake" -j"$(nproc)" >/dev/null
#   CMake links an imported shared library outside the system with a
#   build-tree rpath, so no LD_LIBRARY_PATH is needed.
grep -q "libzexec.so.0 => $prefix/lib/" <<<"$(ldd "$scratch/cmake/consumer")" \
    || fail "cmake consumer does not load $prefix/lib/libzexec.so.0"
! grep -q libzexec <<<"$(ldd "$scratch/cmake/consumer-static")" \
    || fail "cmake consumer-static loads libzexec.so"
run "cmake consumer (zexec::zexec)" "$scratch/cmake/consumer"
run "cmake consumer-static (zexec::zexec-static)" "$scratch/cmake/consumer-static"

echo "== pkg-config consumer: PKG_CONFIG_PATH=$PKG_CONFIG_PATH"
cflags=(-std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror)
echo "    shared: $(pkg-config --cflags --libs libzexec)"
cc "${cflags[@]}" tests/install/consumer.c -o "$scratch/consumer-pc" \
   $(pkg-config --cflags --libs libzexec) -Wl,-rpath,"$libdir"
grep -q "libzexec.so.0 => $prefix/lib/" <<<"$(ldd "$scratch/consumer-pc")" \
    || fail "pkg-config consumer does not load $prefix/lib/libzexec.so.0"
run "pkg-config consumer (libzexec.so)" "$scratch/consumer-pc"

#   --static gives what libzexec.a needs. -lzexec becomes -l:libzexec.a, or
#   the linker would take libzexec.so beside it. Debian's norm.pc (pulled
#   in by libzmq) names "libprotokit.a" bare, which cc would look for in
#   the current directory; -l: makes the linker search its path for it.
static_libs=$(pkg-config --static --libs libzexec \
    | sed -E 's/(^| )-lzexec( |$)/\1-l:libzexec.a\2/; s/(^| )(lib[^ ]*\.a)( |$)/\1-l:\2\3/g')
echo "    static: $static_libs"
cc "${cflags[@]}" tests/install/consumer.c -o "$scratch/consumer-pc-static" \
   $(pkg-config --cflags libzexec) $static_libs
! grep -q libzexec <<<"$(ldd "$scratch/consumer-pc-static")" \
    || fail "pkg-config static consumer loads libzexec.so"
run "pkg-config consumer (libzexec.a)" "$scratch/consumer-pc-static"

echo "install-check: ok"
