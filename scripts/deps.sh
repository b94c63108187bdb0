#!/usr/bin/env bash
#   Installs the Debian packages zexec needs, only those missing.
#   Sourced by run.sh, test.sh, install-check.sh and fuzz.sh; needs root (or
#   sudo) when anything is missing. fuzz.sh calls zexec_install for its own.

#   zexec_install PACKAGE...: apt-get installs those of the packages that
#   are not installed yet (nothing, not even apt-get update, when none).
zexec_install () {
    local missing="" package sudo_cmd=""
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $package"
    done
    [ -n "$missing" ] || return 0
    echo "zexec: installing$missing"
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $missing >/dev/null
}

#   python3-zmq and python3-msgpack: python/zexec_peer.py, which the polyglot
#   tests run with /usr/bin/python3; libmicrohttpd-dev: zexec-broker
#   --metrics; libncurses-dev: zexec-top; prometheus: promtool and the
#   server the telemetry tests check the metrics with
zexec_install build-essential cmake pkg-config libzmq3-dev libczmq-dev libmsgpack-dev libcmocka-dev \
    iproute2 libuv1-dev python3-zmq python3-msgpack libmicrohttpd-dev libncurses-dev prometheus
