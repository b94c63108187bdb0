#!/usr/bin/env bash
#   The example configurations of the Debian package (packaging/etc/)
#   against the programs' option tables, so that neither drifts:
#     - every option in PROGRAM --help (but config, help and version) has
#       a line in its file, `name = value' or commented `# name = value';
#     - the file as shipped, and with every such line uncommented, parses:
#       PROGRAM --config FILE stops on a failure of its own start (made
#       certain by a command-line option that cannot work), never on a
#       line of FILE.
#   Usage: check-example-configs.sh ZEXEC-BROKER ZEXEC-WORKER DIR
#   (ctest runs it as example_configs_name_every_option_and_parse)
set -euo pipefail
broker=$1
worker=$2
dir=$3
scratch=$(mktemp -d "${TMPDIR:-/tmp}/zexec-configs.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
failures=0

fail () {
    echo "check-example-configs: $*" >&2
    failures=$((failures + 1))
}

#   check PROGRAM FILE EXPECTED-STATUS EXPECTED-ERROR OPTION...: the file
#   names every option; it parses as shipped and uncommented, the
#   program then exiting with EXPECTED-STATUS and saying EXPECTED-ERROR
#   (an extended regular expression) when given OPTION... on the command
#   line
check () {
    local program=$1 file=$2 expect_status=$3 expect_error=$4
    shift 4
    local name options option copy status output
    name=$(basename "$program")
    options=$("$program" --help | sed -nE 's/^  (-[a-zA-Z], )?--([a-z0-9-]+).*/\2/p' \
              | grep -vxE 'config|help|version')
    [ -n "$options" ] || fail "$name --help lists no options"
    for option in $options; do
        grep -qE "^(# )?$option( = |$)" "$file" \
            || fail "$file has no line for $name's --$option (add '# $option = ...')"
    done
    copy=$scratch/$(basename "$file")
    : >"$copy"
    while IFS= read -r line; do
        for option in $options; do
            if [[ $line =~ ^#\ $option(\ =\ |$) ]]; then
                line=${line#\# }
                break
            fi
        done
        printf '%s\n' "$line" >>"$copy"
    done <"$file"
    for config in "$file" "$copy"; do
        status=0
        output=$(timeout 30 "$program" --config "$config" "$@" 2>&1) || status=$?
        if [ "$status" -ne "$expect_status" ] || ! grep -qE -- "$expect_error" <<<"$output" \
           || grep -qF -- "$config:" <<<"$output"; then
            fail "$name --config $config $*: exit $status, expected $expect_status and" \
                 "'$expect_error'; it said: $output"
        else
            echo "$name --config $config: parses"
        fi
    done
}

#   The broker binds an ipc endpoint in a directory that does not exist
#   (uncommented, its CURVE lines name keys that may not exist either)
check "$broker" "$dir/broker.conf" 1 \
      "^zexec-broker: (cannot bind ipc:///nonexistent-zexec-check/|cannot enforce CURVE)" \
      --bind ipc:///nonexistent-zexec-check/broker.ipc
#   The worker loads a task library that does not exist
check "$worker" "$dir/worker-default.conf" 2 \
      "^zexec-worker: cannot load /nonexistent-zexec-check/libtasks.so" \
      --tasks /nonexistent-zexec-check/libtasks.so

if [ "$failures" -ne 0 ]; then
    echo "check-example-configs: $failures failed" >&2
    exit 1
fi
echo "check-example-configs: ok"
