#!/usr/bin/env bash
#   Installs the Debian packages zexec needs, only those missing.
#   Sourced by run.sh and test.sh; needs root (or sudo) when anything is missing.
zexec_packages="build-essential cmake pkg-config libzmq3-dev libczmq-dev libcmocka-dev iproute2"
zexec_missing=""
for package in $zexec_packages; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || zexec_missing="$zexec_missing $package"
done
if [ -n "$zexec_missing" ]; then
    echo "zexec: installing$zexec_missing"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $zexec_missing >/dev/null
fi
