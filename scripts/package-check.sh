#!/usr/bin/env bash
#   Package check: installs the Debian packages zexec and zexec-dev with
#   apt-get, checks what they installed, then purges them again and
#   removes what they brought (dependencies apt-get installed, the user
#   zexec), leaving the machine as it found it. It checks:
#     - the packages' state: conffiles, the user zexec, /etc/zexec/keys;
#     - /usr/bin/zexec-broker, zexec-worker, zexec-keygen and zexec-top: --version
#       and --help, and the library they load;
#     - a real start: zexec-broker on tcp://127.0.0.1:* with
#       --endpoint-file, a zexec-worker connected to it with a task library
#       built against the package, and a coordinator built against it
#       running tasks on that worker; then both stopped with SIGTERM;
#     - the shipped configurations as the units use them: the broker with
#       /etc/zexec/broker.conf and a worker with worker-default.conf, both
#       as the user zexec, and the coordinator through them;
#     - tests/install/consumer.c built with pkg-config (shared and static)
#       and with CMake's find_package (zexec::zexec, zexec::zexec-static),
#       and run;
#     - the man pages, with groff -man -ww (no warning allowed);
#     - systemd-analyze verify on the installed units, and systemd-analyze
#       security's exposure score for each.
#   Usage: scripts/package-check.sh [ZEXEC.deb ZEXEC-DEV.deb]
#   Without arguments it builds them with scripts/package.sh. Needs root.
#   It refuses to run where zexec is installed already. On a failure it
#   says where and keeps its scratch directory, but still purges.
#   pkg-config's output is split into words on purpose below.
#   shellcheck disable=SC2046,SC2086
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
#   systemd-analyze (systemd), groff (groff-base), and man (man-db), which
#   systemd-analyze verify runs to check the units' Documentation=man:...
zexec_install systemd groff-base man-db

fail () {
    echo "package-check: FAILED: $*" >&2
    exit 1
}
[ "$(id -u)" -eq 0 ] || fail "run it as root: it installs and purges packages"
for package in zexec zexec-dev; do
    if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
        fail "$package is installed already; this check would purge it (apt-get purge $package)"
    fi
done

if [ $# -eq 2 ]; then
    debs=("$(realpath "$1")" "$(realpath "$2")")
elif [ $# -eq 0 ]; then
    echo "== packages: scripts/package.sh"
    mapfile -t debs < <(bash scripts/package.sh)
else
    echo "usage: scripts/package-check.sh [ZEXEC.deb ZEXEC-DEV.deb]" >&2
    exit 2
fi
[ "${#debs[@]}" -eq 2 ] || fail "expected two packages, got: ${debs[*]}"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/zexec-package-check.XXXXXX")
#   The user zexec reads the task library built here
chmod 0755 "$scratch"
#   Process pools make their ipc sockets in TMPDIR: here, not in /tmp
export TMPDIR=$scratch
packages_before=$scratch/packages.before
dpkg-query -W -f='${Package}\n' | sort >"$packages_before"
had_user=no
getent passwd zexec >/dev/null && had_user=yes
had_group=no
getent group zexec >/dev/null && had_group=yes
had_run_dir=no
[ -e /run/zexec ] && had_run_dir=yes
#   systemd-analyze verify leaves this stamp where no systemd runs
had_units_load=no
[ -e /run/systemd/systemd-units-load ] && had_units_load=yes
pids=()

#   However it ends: stop what it started, purge the packages and what
#   apt-get installed with them, remove the user zexec it made.
cleanup () {
    local status=$? pid new path
    trap - EXIT ERR
    set +e
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [ "$had_run_dir" = yes ] || rm -rf /run/zexec
    [ "$had_units_load" = yes ] || rm -f /run/systemd/systemd-units-load
    echo "== purge"
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq zexec-dev zexec >"$scratch/purge.log" 2>&1 \
        || { cat "$scratch/purge.log" >&2; status=1; }
    new=$(comm -13 "$packages_before" <(dpkg-query -W -f='${Package}\n' | sort))
    if [ -n "$new" ]; then
        echo "purging what the packages brought: $new"
        DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $new >>"$scratch/purge.log" 2>&1 \
            || { cat "$scratch/purge.log" >&2; status=1; }
    fi
    if [ "$had_user" = no ] && getent passwd zexec >/dev/null; then
        deluser --system --quiet zexec 2>>"$scratch/purge.log" || status=1
    fi
    if [ "$had_group" = no ] && getent group zexec >/dev/null; then
        delgroup --system --quiet zexec 2>>"$scratch/purge.log" || status=1
    fi
    #   Nothing of the packages is left
    for path in /usr/bin/zexec-broker /usr/lib/systemd/system/zexec-broker.service /etc/zexec \
                "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libzexec.so.0"; do
        if [ -e "$path" ]; then
            echo "package-check: $path is left after the purge" >&2
            status=1
        fi
    done
    if [ "$status" -eq 0 ]; then
        rm -rf "$scratch"
        echo "package-check: ok"
    else
        echo "package-check: FAILED; kept $scratch" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "package-check: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

echo "== install: apt-get install -y ./zexec_*.deb ./zexec-dev_*.deb"
mkdir "$scratch/debs"
cp "${debs[@]}" "$scratch/debs/"
(cd "$scratch/debs" && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y ./zexec_*.deb ./zexec-dev_*.deb >"$scratch/install.log" 2>&1) \
    || { cat "$scratch/install.log" >&2; fail "apt-get install"; }
version=$(dpkg-query -W -f='${Version}' zexec)
echo "installed zexec and zexec-dev $version"
dpkg-query -W -f='${Version}' zexec-dev | grep -qx "$version" || fail "zexec-dev is not $version"

echo "== the packages' state"
conffiles=$(dpkg-query -W -f='${Conffiles}\n' zexec)
for file in /etc/zexec/broker.conf /etc/zexec/worker-default.conf; do
    [ -f "$file" ] || fail "$file was not installed"
    grep -q " $file " <<<"$conffiles" || fail "$file is not a conffile of zexec"
done
getent passwd zexec >/dev/null || fail "the postinst made no user zexec"
[ "$(stat -c '%U:%G %a' /etc/zexec/keys)" = "root:zexec 750" ] \
    || fail "/etc/zexec/keys is $(stat -c '%U:%G %a' /etc/zexec/keys), not root:zexec 750"
echo "conffiles: /etc/zexec/broker.conf, /etc/zexec/worker-default.conf;" \
     "user: $(getent passwd zexec); /etc/zexec/keys: root:zexec 750"

echo "== the installed programs"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for program in zexec-broker zexec-worker zexec-keygen zexec-top; do
    output=$(timeout 30 "/usr/bin/$program" --version) || fail "$program --version exited $?"
    [ "$output" = "$program ${version%-*}" ] || fail "$program --version said '$output'"
    output=$(timeout 30 "/usr/bin/$program" --help) || fail "$program --help exited $?"
    grep -q "^usage: $program " <<<"$output" || fail "$program --help said '$output'"
    echo "/usr/bin/$program: $(timeout 30 "/usr/bin/$program" --version); --help: $(head -n 1 <<<"$output")"
done
#   loads_package_lib PROGRAM: whether it loads the package's libzexec.so.0
#   (ldd may name it by /lib, the same directory on a merged /usr)
loads_package_lib () {
    local loaded
    loaded=$(awk '$1 == "libzexec.so.0" { print $3 }' <<<"$(ldd "$1")")
    [ -n "$loaded" ] && [ "$(realpath "$loaded")" = "$(realpath "/usr/lib/$multiarch/libzexec.so.0")" ]
}
loads_package_lib /usr/bin/zexec-worker \
    || fail "zexec-worker does not load /usr/lib/$multiarch/libzexec.so.0: $(ldd /usr/bin/zexec-worker)"

echo "== a task library and a coordinator built against the package (pkg-config)"
cflags=(-std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror)
cc "${cflags[@]}" -shared -fPIC tests/install/check_tasks.c -o "$scratch/libzexec-check-tasks.so" \
   $(pkg-config --cflags --libs libzexec)
cc "${cflags[@]}" tests/install/check_remote.c -o "$scratch/check_remote" \
   $(pkg-config --cflags --libs libzexec)

#   start NAME COMMAND...: runs COMMAND in the background, its stderr in
#   $scratch/NAME.log; its pid in $started
start () {
    local name=$1
    shift
    "$@" 2>"$scratch/$name.log" &
    started=$!
    pids+=("$started")
}

#   wait_for FILE PATTERN: until FILE has a line matching PATTERN (10 s)
wait_for () {
    for _ in $(seq 100); do
        grep -qE "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "no '$2' in $1 after 10 s: $(cat "$1" 2>/dev/null)"
}

#   stop NAME PID: SIGTERM, then it must exit 0
stop () {
    local status=0
    kill "$2"
    wait "$2" || status=$?
    [ "$status" -eq 0 ] || fail "$1 exited $status on SIGTERM: $(cat "$scratch/$1.log")"
}

#   remote ENDPOINT BROKER-LOG: a worker (the worker's options follow) with
#   the task library joins the broker, the coordinator runs tasks on it,
#   and the worker stops
remote () {
    local endpoint=$1 broker_log=$2 worker_pid
    shift 2
    start worker "$@" --tasks "$scratch/libzexec-check-tasks.so" --verbose
    worker_pid=$started
    wait_for "$broker_log" "worker .*\.$worker_pid\.[0-9a-f]+\.[0-9]+ ready"
    output=$(timeout 60 "$scratch/check_remote" "$endpoint" "$worker_pid") \
        || fail "check_remote $endpoint exited $?"
    [ "$output" = "remote ok" ] || fail "check_remote said '$output'"
    echo "worker (pid $worker_pid) joined; coordinator: $output"
    stop worker "$worker_pid"
}

echo "== a real start: zexec-broker --bind 'tcp://127.0.0.1:*' --endpoint-file, then a zexec-worker"
start broker /usr/bin/zexec-broker --bind 'tcp://127.0.0.1:*' \
    --endpoint-file "$scratch/endpoint" --verbose
broker_pid=$started
wait_for "$scratch/endpoint" "^tcp://127\.0\.0\.1:[0-9]+$"
endpoint=$(head -n 1 "$scratch/endpoint")
echo "broker (pid $broker_pid) listens on $endpoint"
remote "$endpoint" "$scratch/broker.log" /usr/bin/zexec-worker --connect "$endpoint"
stop broker "$broker_pid"
grep -q "shutting down" "$scratch/broker.log" || fail "the broker did not say it shut down"
echo "both stopped with SIGTERM, exit 0"

echo "== the shipped configurations, as the user zexec: /etc/zexec/broker.conf and worker-default.conf"
#   What the units' RuntimeDirectory= and UMask= would do
if [ "$had_run_dir" = no ]; then
    install -d -o zexec -g zexec -m 0750 /run/zexec
fi
as_zexec=(setpriv --reuid=zexec --regid=zexec --init-groups --)
start broker sh -c 'umask 0007 && exec "$@"' sh "${as_zexec[@]}" /usr/bin/zexec-broker \
    --config /etc/zexec/broker.conf --verbose
broker_pid=$started
wait_for "$scratch/broker.log" "listening on ipc:///run/zexec/broker.ipc"
echo "broker (pid $broker_pid, user $(ps -o user= -p "$broker_pid")) listens on ipc:///run/zexec/broker.ipc"
remote ipc:///run/zexec/broker.ipc "$scratch/broker.log" \
    "${as_zexec[@]}" /usr/bin/zexec-worker --config /etc/zexec/worker-default.conf
stop broker "$broker_pid"

echo "== tests/install/consumer.c against the package: pkg-config"
echo "    shared: $(pkg-config --cflags --libs libzexec)"
[ "$(pkg-config --variable=pcfiledir libzexec)" = "/usr/lib/$multiarch/pkgconfig" ] \
    || fail "pkg-config found libzexec.pc in $(pkg-config --variable=pcfiledir libzexec)"
cc "${cflags[@]}" tests/install/consumer.c -o "$scratch/consumer-pc" \
   $(pkg-config --cflags --libs libzexec)
#   --static: -lzexec becomes -l:libzexec.a, and Debian's norm.pc's bare
#   libprotokit.a -l:libprotokit.a, as scripts/install-check.sh explains
static_libs=$(pkg-config --static --libs libzexec \
    | sed -E 's/(^| )-lzexec( |$)/\1-l:libzexec.a\2/; s/(^| )(lib[^ ]*\.a)( |$)/\1-l:\2\3/g')
echo "    static: $static_libs"
cc "${cflags[@]}" tests/install/consumer.c -o "$scratch/consumer-pc-static" \
   $(pkg-config --cflags libzexec) $static_libs

echo "== tests/install/consumer.c against the package: CMake find_package (zexec)"
cmake -S tests/install -B "$scratch/cmake" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$scratch/cmake.log" \
    || { cat "$scratch/cmake.log"; fail "cmake -S tests/install"; }
grep '^-- zexec ' "$scratch/cmake.log"
grep -qx "zexec_DIR:PATH=/usr/lib/$multiarch/cmake/zexec" "$scratch/cmake/CMakeCache.txt" \
    || fail "find_package (zexec) did not use /usr/lib/$multiarch/cmake/zexec"
cmake --build "$scratch/cmake" -j"$(nproc)" >"$scratch/cmake-build.log" \
    || { cat "$scratch/cmake-build.log"; fail "building tests/install"; }

for consumer in consumer-pc consumer-pc-static cmake/consumer cmake/consumer-static; do
    case $consumer in
        *static) ! grep -q libzexec <<<"$(ldd "$scratch/$consumer")" \
                     || fail "$consumer loads libzexec.so" ;;
        *) loads_package_lib "$scratch/$consumer" \
               || fail "$consumer does not load the package's libzexec: $(ldd "$scratch/$consumer")" ;;
    esac
    output=$(timeout 120 "$scratch/$consumer") || fail "$consumer exited $?"
    [ "$output" = "consumer ok" ] || fail "$consumer printed '$output'"
    echo "$consumer: $output"
done

echo "== man pages: groff -man -ww -z"
#   A Debian image may keep dpkg from installing /usr/share/man
#   (path-exclude in /etc/dpkg/dpkg.cfg.d/): then the package's own copies
man_dir=/usr/share/man/man1
verify_man=yes
if [ ! -e "$man_dir/zexec-broker.1" ]; then
    verify_man=no
    grep -qs '^path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/* \
        || fail "$man_dir/zexec-broker.1 was not installed"
    dpkg-deb -x "$scratch"/debs/zexec_*.deb "$scratch/data"
    man_dir=$scratch/data/usr/share/man/man1
    echo "(dpkg excludes /usr/share/man here: checking the pages in the package)"
fi
for program in zexec-broker zexec-worker zexec-keygen zexec-top; do
    page=$man_dir/$program.1
    [ -f "$page" ] || fail "no man page $page"
    warnings=$(groff -man -ww -z "$page" 2>&1) || fail "groff failed on $page: $warnings"
    [ -z "$warnings" ] || fail "groff warns on $page: $warnings"
    for section in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" FILES EXAMPLES "SEE ALSO"; do
        grep -qx "\.SH $section" "$page" || fail "$page has no $section"
    done
    echo "$page: $(grep -c '^\.SH' "$page") sections, no warnings"
done

echo "== systemd-analyze verify"
#   It checks that ExecStart's program exists and that man finds the
#   Documentation= pages, and it also reports on units these pull in:
#   anything about ours is a failure
units=(/usr/lib/systemd/system/zexec-broker.service zexec-worker@default.service)
output=$(systemd-analyze verify --man="$verify_man" "${units[@]}" 2>&1) \
    || fail "systemd-analyze verify: $output"
! grep -i zexec <<<"$output" || fail "systemd-analyze verify: $output"
echo "systemd-analyze verify --man=$verify_man ${units[*]}: ok"
for unit in zexec-broker.service zexec-worker@default.service; do
    score=$(systemd-analyze security --offline=yes "$unit" 2>&1 | grep 'Overall exposure level' || true)
    echo "systemd-analyze security $unit: ${score:-no score}"
done
