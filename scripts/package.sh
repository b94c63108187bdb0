#!/usr/bin/env bash
#   Builds the Debian packages zexec and zexec-dev (cmake/Packaging.cmake)
#   with CPack, in a clean build directory: build-deb, or
#   $ZEXEC_PACKAGE_BUILD_DIR. Release, warnings as errors, no tests,
#   installed under /usr with the systemd units and /etc/zexec. Prints the
#   two packages' paths on stdout, one a line; the rest goes to stderr.
#   Usage: scripts/package.sh
#   Then: apt install ./build-deb/zexec_*.deb ./build-deb/zexec-dev_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh >&2
#   dpkg-shlibdeps (dpkg-dev) and file, which CPack's DEB generator runs
zexec_install dpkg-dev file >&2
build=${ZEXEC_PACKAGE_BUILD_DIR:-build-deb}

rm -rf "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DZEXEC_WERROR=ON -DZEXEC_BUILD_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr -DZEXEC_INSTALL_SYSTEMD=ON >"$build.configure.log" 2>&1 \
    || { cat "$build.configure.log" >&2; exit 1; }
mv "$build.configure.log" "$build/configure.log"
cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 \
    || { cat "$build/build.log" >&2; exit 1; }
(cd "$build" && cpack -G DEB >cpack.log 2>&1) || { cat "$build/cpack.log" >&2; exit 1; }
grep '^-- zexec-dev depends on' "$build/cpack.log" >&2 || true
for deb in "$build"/zexec_*.deb "$build"/zexec-dev_*.deb; do
    [ -f "$deb" ] || { echo "package: no $deb made; see $build/cpack.log" >&2; exit 1; }
    realpath "$deb"
done
