#!/bin/sh
#   run.sh HARNESS SEEDS FOUND LOG SECONDS: what a fuzz.NAME ctest entry
#   runs. Fuzzes with HARNESS for SECONDS, starting from the seed corpus in
#   SEEDS (only read) and writing new inputs to FOUND; libFuzzer's output
#   goes to LOG, and a crash, leak or timeout leaves its input beside LOG
#   as crash-*, leak-* or timeout-*. Prints the final stats (or the end of
#   the log on failure) and exits with libFuzzer's status.
harness=$1 seeds=$2 found=$3 log=$4 seconds=$5
mkdir -p "$found" || exit 1
status=0
"$harness" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$(dirname "$log")/" \
    "$found" "$seeds" >"$log" 2>&1 || status=$?
grep -E '^(INFO: seed corpus|#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs|stat::)' "$log"
if [ "$status" -ne 0 ]; then
    echo "== $harness failed ($status); end of $log:"
    tail -n 80 "$log"
fi
exit "$status"
