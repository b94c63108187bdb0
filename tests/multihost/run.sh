#!/usr/bin/env bash
#   tests/multihost/run.sh BUILD_DIR - zexec across three "hosts".
#
#   Makes three network namespaces - coordinator, broker, workers - each
#   with one veth link to a bridge that lives in a fourth namespace, so
#   every interface, address and route this script creates exists only
#   inside those namespaces (nothing is added to the host's own stack):
#
#       coordinator 10.77.0.1 --+
#       broker      10.77.0.2 --+-- bridge zxbr0 (in the "net" namespace)
#       workers     10.77.0.3 --+
#
#   Then zexec-broker listens on tcp://10.77.0.2:5555 in the broker
#   namespace, a worker connects from the workers namespace and a
#   coordinator runs with --endpoint tcp://10.77.0.2:5555 from the
#   coordinator namespace.
#
#   Check 1 (distributed run): the distributed_primes demo when
#   BUILD_DIR/examples/distributed_primes and libzexec-primes.so exist
#   (its last stdout line must be "primes below N: COUNT" with the right
#   count), otherwise the seed example asyncio_executor_thread (exit 0,
#   results line with 0,1,4,9,16,25 in any order, last line "exiting").
#
#   Check 2 (link loss): a seed-example worker serves the broker; once
#   it is running the coordinator's first task, the workers namespace's
#   link goes down (ip link set eth0 down). The coordinator's futures
#   must all end - with a worker-lost or no-workers error, or a result -
#   and the coordinator must exit 0, within 25 s (no hang).
#   Check 3 (recovery): the link comes back up; the worker must register
#   with the broker again and a new run must give all six results.
#   Check 4 (blip): the link goes down for 1 s mid-run; every future must
#   end (a result, or worker lost) and the coordinator exit within 25 s.
#   Check 5 (named actor across hosts): a zexec-worker in the workers
#   namespace serves examples/bank_account.c's account actor
#   (libzexec-bank.so, service "bank"). Coordinator A (tests/actor_peer
#   spawn, coordinator namespace) spawns an account registered at the
#   broker as "mh-account" with 100, deposits 30 and waits; coordinator B
#   (actor_peer lookup, a separate process in the workers namespace: a
#   third host) looks the name up through the broker, must read 130 on the
#   worker A placed it on, deposits 12 and exits 0; then A must read
#   "final balance 142 (2 transfers applied)" and exit 0.
#
#   Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2's ip; when
#   namespaces cannot be made it says why on one line and exits 77
#   (ctest: skipped). Everything (processes, namespaces and with them the
#   veths and the bridge) is removed by the EXIT trap, pass or fail.
set -u

SKIP=77
build="${1:-}"
if [ -z "$build" ] || [ ! -d "$build" ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
build="$(cd "$build" && pwd)"

broker_bin="$build/broker/zexec-broker"
worker_bin="$build/workers/zexec-worker"
seed_bin="$build/examples/asyncio_executor_thread"
demo_bin="$build/examples/distributed_primes"
demo_lib="$build/examples/libzexec-primes.so"
peer_bin="$build/tests/actor_peer"
bank_lib="$build/examples/libzexec-bank.so"
for binary in "$broker_bin" "$worker_bin" "$seed_bin" "$peer_bin"; do
    if [ ! -x "$binary" ]; then
        echo "multihost: FAIL: $binary is missing: build first" >&2
        exit 1
    fi
done
if [ ! -f "$bank_lib" ]; then
    echo "multihost: FAIL: $bank_lib is missing: build first" >&2
    exit 1
fi

#   ---------------------------------------------------------------------
#   Can we make namespaces here? One line and 77 when not.
if [ "$(id -u)" -ne 0 ]; then
    echo "multihost: SKIP: needs root to create network namespaces (running as uid $(id -u))"
    exit $SKIP
fi
if ! command -v ip >/dev/null 2>&1; then
    echo "multihost: SKIP: no 'ip' command (install Debian's iproute2)"
    exit $SKIP
fi
if ! command -v timeout >/dev/null 2>&1; then
    echo "multihost: SKIP: no 'timeout' command (coreutils)"
    exit $SKIP
fi

#   Names carry our PID so parallel runs do not clash; the addresses can
#   repeat between runs because each run's links are in its own namespaces.
tag="zxmh$$"
ns_net="$tag-net"
ns_coord="$tag-coord"
ns_broker="$tag-broker"
ns_workers="$tag-workers"
namespaces="$ns_net $ns_coord $ns_broker $ns_workers"
addr_coord=10.77.0.1
addr_broker=10.77.0.2
addr_workers=10.77.0.3
port=5555
endpoint="tcp://$addr_broker:$port"

logs="$(mktemp -d "${TMPDIR:-/tmp}/zexec-multihost.XXXXXX")"
pids=""                 #   background processes we started
made=""                 #   namespaces we created
status=1
started=$SECONDS

#   ---------------------------------------------------------------------
cleanup ()
{
    local rc=$?
    trap - EXIT INT TERM HUP
    #   Our own background processes first, by PID, politely then not
    local pid
    for pid in $pids; do
        kill -TERM "$pid" 2>/dev/null
    done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=""
        for pid in $pids; do
            kill -0 "$pid" 2>/dev/null && alive="$alive $pid"
        done
        [ -z "$alive" ] && break
        sleep 0.2
    done
    for pid in $pids; do
        kill -KILL "$pid" 2>/dev/null
    done
    #   Anything else still inside our namespaces (children of the above)
    local ns
    for ns in $made; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null
        done
    done
    wait 2>/dev/null
    #   Deleting a namespace destroys the veths and the bridge inside it
    for ns in $made; do
        ip netns del "$ns" 2>/dev/null \
            || echo "multihost: warning: could not delete namespace $ns" >&2
    done
    rm -rf "$logs"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

fail ()
{
    echo "multihost: FAIL: $*"
    local file
    for file in "$logs"/*.log; do
        [ -s "$file" ] || continue
        echo "---- $(basename "$file") (last 40 lines)"
        tail -n 40 "$file"
    done
    exit 1
}

#   Runs ip with a bound; keeps its error text for the caller.
bounded_ip ()
{
    timeout 10 ip "$@" 2>>"$logs/ip.err"
}

#   Starts a background process in a namespace; its PID goes to $last_pid.
#   ip netns exec execs the command in place, so the PID is timeout's.
start_in ()
{
    local ns="$1" log="$2"
    shift 2
    : >"$log"
    ip netns exec "$ns" timeout -k 5 "$@" >"$log" 2>&1 &
    last_pid=$!
    pids="$pids $last_pid"
}

#   Waits up to $2 seconds for file $1 to have at least $4 lines matching
#   the extended regex $3 (default 1).
wait_for_lines ()
{
    local file="$1" seconds="$2" regex="$3" count="${4:-1}"
    local tries=$((seconds * 20))
    while [ "$tries" -gt 0 ]; do
        local found
        found=$(grep -cE "$regex" "$file" 2>/dev/null)
        [ "${found:-0}" -ge "$count" ] && return 0
        sleep 0.05
        tries=$((tries - 1))
    done
    return 1
}

#   Every step's bound is cut to what is left of a 105 s budget, so the
#   script ends (and cleans up) before ctest's 120 s TIMEOUT kills it.
deadline=$((SECONDS + 105))
budget ()
{
    local want="$1" left=$((deadline - SECONDS))
    if [ "$left" -lt 1 ]; then
        echo "multihost: FAIL: out of time (105 s budget)" >&2
        left=1
    fi
    [ "$want" -lt "$left" ] && echo "$want" || echo "$left"
}

#   ---------------------------------------------------------------------
#   The namespaces. The first one tells us whether we may make them at all.
if ! timeout 10 ip netns add "$ns_net" 2>"$logs/netns.err"; then
    echo "multihost: SKIP: cannot create a network namespace (no CAP_NET_ADMIN/CAP_SYS_ADMIN, or unshare not permitted): $(head -n 1 "$logs/netns.err")"
    exit $SKIP
fi
made="$ns_net"
for ns in "$ns_coord" "$ns_broker" "$ns_workers"; do
    timeout 10 ip netns add "$ns" 2>>"$logs/netns.err" \
        || fail "cannot create namespace $ns: $(tail -n 1 "$logs/netns.err")"
    made="$made $ns"
done
for ns in $namespaces; do
    bounded_ip -n "$ns" link set lo up || fail "cannot bring lo up in $ns"
done

#   The bridge and the veth pairs are created inside the net namespace
#   and one end of each pair is moved straight into its node namespace:
#   no interface ever appears in the host's namespace.
if ! bounded_ip -n "$ns_net" link add zxbr0 type bridge; then
    echo "multihost: SKIP: cannot create a bridge inside a namespace (no bridge support in this kernel?): $(tail -n 1 "$logs/ip.err")"
    exit $SKIP
fi
bounded_ip -n "$ns_net" link set zxbr0 up || fail "cannot bring the bridge up"
for node in coord broker workers; do
    eval "ns=\$ns_$node addr=\$addr_$node"
    if ! bounded_ip -n "$ns_net" link add "to-$node" type veth peer name eth0 netns "$ns"; then
        echo "multihost: SKIP: cannot create a veth pair between namespaces (no veth support?): $(tail -n 1 "$logs/ip.err")"
        exit $SKIP
    fi
    bounded_ip -n "$ns_net" link set "to-$node" master zxbr0 \
        && bounded_ip -n "$ns_net" link set "to-$node" up \
        && bounded_ip -n "$ns" addr add "$addr/24" dev eth0 \
        && bounded_ip -n "$ns" link set eth0 up \
        || fail "cannot set up the link of $ns: $(tail -n 1 "$logs/ip.err")"
done
echo "multihost: namespaces $ns_coord ($addr_coord), $ns_broker ($addr_broker), $ns_workers ($addr_workers) on a bridge in $ns_net"

#   Reachability, layer 3: ping when it is installed (not in a minimal image)
if command -v ping >/dev/null 2>&1; then
    for pair in "$ns_coord $addr_broker" "$ns_workers $addr_broker" "$ns_broker $addr_workers"; do
        set -- $pair
        # Links come up asynchronously; allow a few tries
        ok=""
        for _ in 1 2 3 4 5; do
            if timeout 5 ip netns exec "$1" ping -c 1 -W 1 "$2" >/dev/null 2>&1; then
                ok=1
                break
            fi
        done
        [ -n "$ok" ] || fail "ping from $1 to $2 fails"
    done
    echo "multihost: ping between namespaces ok"
fi

#   ---------------------------------------------------------------------
#   The broker, bound to its namespace address only, without keys: a
#   private network, so --insecure
start_in "$ns_broker" "$logs/broker.log" 115 "$broker_bin" --bind "$endpoint" --insecure \
    --verbose
broker_pid=$last_pid
wait_for_lines "$logs/broker.log" 10 "listening on" \
    || fail "the broker did not start listening on $endpoint"

#   Reachability, layer 4: a TCP connection to the broker from the other
#   two namespaces (bash's /dev/tcp; zmq drops the idle connection).
for ns in "$ns_coord" "$ns_workers"; do
    ok=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        if timeout 3 ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$addr_broker/$port" 2>/dev/null; then
            ok=1
            break
        fi
        sleep 0.3
    done
    [ -n "$ok" ] || fail "cannot reach $endpoint from $ns"
done
echo "multihost: $endpoint reachable from $ns_coord and $ns_workers"

#   ---------------------------------------------------------------------
#   Check 1: a distributed run
if [ -x "$demo_bin" ] && [ -f "$demo_lib" ]; then
    limit=10000000
    expected=664579                 #   primes below 10^7
    echo "multihost: check 1: distributed_primes --limit $limit over $endpoint"
    start_in "$ns_workers" "$logs/worker1.log" 115 \
        "$worker_bin" --connect "$endpoint" --tasks "$demo_lib" --workers 2 --verbose
    worker_pid=$last_pid
    wait_for_lines "$logs/broker.log" 15 "worker .* ready" 1 \
        || fail "the worker in $ns_workers did not register with the broker"
    timeout -k 5 "$(budget 45)" ip netns exec "$ns_coord" \
        "$demo_bin" --endpoint "$endpoint" --limit "$limit" --chunk 100000 \
        >"$logs/coordinator1.log" 2>"$logs/coordinator1.err"
    rc=$?
    [ "$rc" -eq 124 ] && fail "distributed_primes did not finish in time"
    [ "$rc" -eq 0 ] || fail "distributed_primes exited with $rc"
    last="$(tail -n 1 "$logs/coordinator1.log")"
    [ "$last" = "primes below $limit: $expected" ] \
        || fail "distributed_primes said '$last', expected 'primes below $limit: $expected'"
    echo "multihost: check 1 ok: $last"
    #   Check 2 needs the seed's task: swap the worker
    kill -TERM "$worker_pid" 2>/dev/null
    wait "$worker_pid" 2>/dev/null
    ready_before=$(grep -cE "worker .* ready" "$logs/broker.log")
    start_in "$ns_workers" "$logs/worker2.log" 115 "$seed_bin" --worker "$endpoint"
    worker_log="$logs/worker2.log"
    wait_for_lines "$logs/broker.log" 15 "worker .* ready" $((ready_before + 1)) \
        || fail "the seed worker in $ns_workers did not register with the broker"
else
    echo "multihost: check 1: asyncio_executor_thread --endpoint $endpoint (no distributed_primes demo in $build/examples)"
    start_in "$ns_workers" "$logs/worker1.log" 115 "$seed_bin" --worker "$endpoint"
    worker_log="$logs/worker1.log"
    wait_for_lines "$logs/broker.log" 15 "worker .* ready" 1 \
        || fail "the worker in $ns_workers did not register with the broker"
    timeout -k 5 "$(budget 30)" ip netns exec "$ns_coord" "$seed_bin" --endpoint "$endpoint" \
        >"$logs/coordinator1.log" 2>&1
    rc=$?
    [ "$rc" -eq 124 ] && fail "the coordinator did not finish in time"
    [ "$rc" -eq 0 ] || fail "the coordinator exited with $rc"
    results="$(grep -E "run_blocking_tasks: results: \[" "$logs/coordinator1.log" | tail -n 1)"
    [ -n "$results" ] || fail "no results line from the coordinator"
    sorted="$(echo "$results" | sed -e 's/.*\[//' -e 's/\].*//' | tr -d ' ' | tr ',' '\n' \
              | sort -n | tr '\n' ' ')"
    [ "$sorted" = "0 1 4 9 16 25 " ] || fail "wrong results: $results"
    last="$(tail -n 1 "$logs/coordinator1.log")"
    [ "$last" = "MainThread run_blocking_tasks: exiting" ] \
        || fail "the coordinator's last line is '$last'"
    grep -qE "blocks\([0-5]\): done" "$logs/worker1.log" \
        || fail "the worker in $ns_workers did not run the tasks"
    echo "multihost: check 1 ok: $(echo "$results" | sed 's/.*results: //'), computed in $ns_workers"
fi

#   ---------------------------------------------------------------------
#   Checks 2-4 run the seed example against a seed worker whose link is
#   cut. seed_run NAME SECONDS DOWN_FOR starts the coordinator, takes the
#   workers namespace's link down as soon as the worker starts one of its
#   tasks, brings it back after DOWN_FOR seconds ("" = only after the
#   coordinator ends), and checks that all six futures ended - each with
#   a result, or failed with worker lost / no workers - and that the
#   coordinator exited 0 within SECONDS. Sets ok_count, failed, reasons,
#   cut_at, elapsed.
seed_run ()
{
    local name="$1" seconds="$2" down_for="$3"
    seconds=$(budget "$seconds")
    local out="$logs/$name.log"
    local running_before
    running_before=$(grep -cE "blocks\([0-9]+\): running" "$worker_log")
    local t0=$SECONDS
    local lost_before
    lost_before=$(grep -cE "silent for .*declared lost" "$logs/broker.log")
    : >"$out"
    ip netns exec "$ns_coord" timeout -k 5 "$seconds" "$seed_bin" --endpoint "$endpoint" \
        >"$out" 2>&1 &
    local coord_pid=$!
    pids="$pids $coord_pid"
    wait_for_lines "$worker_log" 15 "blocks\([0-9]+\): running" $((running_before + 1)) \
        || fail "$name: the worker never started a task of this run"
    bounded_ip -n "$ns_workers" link set eth0 down || fail "cannot take $ns_workers's link down"
    cut_at=$((SECONDS - t0))
    if [ -n "$down_for" ]; then
        sleep "$down_for"
        bounded_ip -n "$ns_workers" link set eth0 up || fail "cannot bring $ns_workers's link up"
    fi
    wait "$coord_pid"
    local rc=$?
    elapsed=$((SECONDS - t0))
    if [ -z "$down_for" ]; then
        #   Down until the broker has declared the worker lost, even when
        #   the results beat the cut and the coordinator ended at once:
        #   else a link back within the liveness leaves nothing for check
        #   3 to see (the worker never left)
        wait_for_lines "$logs/broker.log" "$(budget 15)" "silent for .*declared lost" \
                       $((lost_before + 1)) \
            || fail "$name: the broker did not declare the cut-off worker lost"
        bounded_ip -n "$ns_workers" link set eth0 up || fail "cannot bring $ns_workers's link up"
    fi
    [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] \
        && fail "$name: the coordinator hung: its futures did not end within $seconds s of the link cut"
    [ "$rc" -eq 0 ] || fail "$name: the coordinator exited with $rc"
    local last
    last="$(tail -n 1 "$out")"
    [ "$last" = "MainThread run_blocking_tasks: exiting" ] \
        || fail "$name: the coordinator's last line is '$last'"
    failed=$(grep -c "task failed:" "$out")
    results="$(grep -E "run_blocking_tasks: results: \[" "$out" | tail -n 1 | sed 's/.*results: //')"
    [ -n "$results" ] || fail "$name: no results line"
    ok_count=$(echo "$results" | tr -cd ',' | wc -c)
    if [ "$results" = "[]" ]; then ok_count=0; else ok_count=$((ok_count + 1)); fi
    [ $((failed + ok_count)) -eq 6 ] \
        || fail "$name: 6 futures expected to end, $ok_count results and $failed failures"
    local other
    other=$(grep "task failed:" "$out" | grep -viE "lost|no workers" | head -n 1)
    [ -z "$other" ] || fail "$name: unexpected failure: $other"
    reasons="$(grep "task failed:" "$out" | sed 's/.*task failed: //' \
               | sed -E "s/worker [^ ]+ \(pid [0-9]+\)/worker W/; s/ [0-9]+ ms/ N ms/; s/task '[^']*'/task T/" \
               | sort | uniq -c | sed -E 's/^ +//' | paste -sd ';' -)"
}

#   Check 2: the link goes down mid-run and stays down. The broker notices
#   the silent worker after 3 heartbeats (~3 s) and fails what it held
#   (worker lost); anything still queued fails after its no-worker wait
#   (5 s). More than 25 s is a hang.
echo "multihost: check 2: taking $ns_workers's link down mid-run"
ready_before=$(grep -cE "worker .* ready" "$logs/broker.log")
seed_run coordinator2 25 ""
[ "$failed" -gt 0 ] || echo "multihost: check 2: note: no future failed (the results beat the link cut)"
echo "multihost: check 2 ok: link down at ${cut_at}s, all 6 futures ended in ${elapsed}s: $ok_count results $results, $failed failed${reasons:+ ($reasons)}"

#   (Check 2 keeps the link down until the broker has declared the worker
#   lost, so that there is always a return to see.)
#   Check 3: with the link back, the worker reconnects on its own (it
#   stops hearing the broker too) and a new run completes in full.
#   (ready_before was counted before the link went down, so a worker that
#   is already back by now is counted too.)
wait_for_lines "$logs/broker.log" "$(budget 20)" "worker .* ready" $((ready_before + 1)) \
    || fail "check 3: the worker did not register again after its link came back"
seconds=$(budget 20)
timeout -k 5 "$seconds" ip netns exec "$ns_coord" "$seed_bin" --endpoint "$endpoint" \
    >"$logs/coordinator3.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "check 3: the coordinator exited with $rc after the worker came back"
results="$(grep -E "run_blocking_tasks: results: \[" "$logs/coordinator3.log" | tail -n 1)"
sorted="$(echo "$results" | sed -e 's/.*\[//' -e 's/\].*//' | tr -d ' ' | tr ',' '\n' \
          | sort -n | tr '\n' ' ')"
[ "$sorted" = "0 1 4 9 16 25 " ] || fail "check 3: wrong results after the worker came back: $results"
echo "multihost: check 3 ok: the worker re-registered with its link back; results $(echo "$results" | sed 's/.*results: //')"

#   Check 4: a one-second blip mid-run. Either the held tasks complete once
#   the link is back (TCP retransmits what was sent meanwhile) or, when
#   the silence outlasts the liveness window, they fail as lost; either
#   way every future ends and the coordinator exits, within 25 s.
echo "multihost: check 4: a 1 s link blip mid-run"
seed_run coordinator4 25 1
echo "multihost: check 4 ok: link down at ${cut_at}s for 1 s, all 6 futures ended in ${elapsed}s: $ok_count results $results, $failed failed${reasons:+ ($reasons)}"

#   ---------------------------------------------------------------------
#   Check 5 (named actor across hosts): a zexec-worker in the workers
#   namespace hosts bank_account.c's account actors for service "bank"
#   (its own service, so the seed worker above is never dealt the spawn).
#   Coordinator A, in the coordinator namespace, spawns an account
#   registered as "mh-account" (opening 100), deposits 30, and waits for
#   a go file; coordinator B, another process in the workers namespace,
#   looks the name up through the broker, must read A's balance (130) on
#   the worker A was told, deposits 12 and exits 0; then A, told to go,
#   must read 142 with both transfers applied, and exit 0.
echo "multihost: check 5: a named actor spawned from $ns_coord, looked up and asked from $ns_workers"
mh_name="mh-account"
mh_state="$logs/mh-account.state"       #   The account's file, on the worker's host
mh_go="$logs/check5.go"
start_in "$ns_workers" "$logs/bank-worker.log" 115 \
    "$worker_bin" --connect "$endpoint" --tasks "$bank_lib" --service bank --workers 2 --verbose
wait_for_lines "$logs/bank-worker.log" 15 "answered: serving as" \
    || fail "check 5: the bank worker in $ns_workers did not register with the broker"
start_in "$ns_coord" "$logs/peer-a.log" "$(budget 40)" \
    "$peer_bin" spawn --endpoint "$endpoint" --service bank --name "$mh_name" \
    --state "$mh_state" --opening 100 --deposit 30 --id 1 --go "$mh_go"
peer_a=$last_pid
#   Until A has deposited and waits (or has died: then at once)
tries=$(($(budget 40) * 20))
while ! grep -q "^spawn: waiting for" "$logs/peer-a.log" 2>/dev/null; do
    kill -0 "$peer_a" 2>/dev/null || { wait "$peer_a"; fail "check 5: coordinator A exited with $? before it waited"; }
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || fail "check 5: coordinator A did not spawn and deposit in time"
    sleep 0.05
done
timeout -k 5 "$(budget 40)" ip netns exec "$ns_workers" \
    "$peer_bin" lookup --endpoint "$endpoint" --service bank --name "$mh_name" \
    --expect 130 --deposit 12 --id 2 >"$logs/peer-b.log" 2>&1
rc=$?
[ "$rc" -eq 124 ] && fail "check 5: coordinator B did not finish in time"
[ "$rc" -eq 0 ] || fail "check 5: coordinator B (lookup in $ns_workers) exited with $rc"
: >"$mh_go"
wait "$peer_a"
rc=$?
[ "$rc" -eq 124 ] && fail "check 5: coordinator A did not finish in time"
[ "$rc" -eq 0 ] || fail "check 5: coordinator A (spawn in $ns_coord) exited with $rc"
placed="$(sed -n "s/^spawn: '$mh_name' placed on worker \([^ ]*\) .*/\1/p" "$logs/peer-a.log")"
found="$(sed -n "s/^lookup: '$mh_name' found on worker \([^ ]*\) .*/\1/p" "$logs/peer-b.log")"
[ -n "$placed" ] && [ "$placed" = "$found" ] \
    || fail "check 5: A placed the actor on worker '$placed', B found it on '$found'"
last="$(tail -n 1 "$logs/peer-a.log")"
[ "$last" = "spawn: final balance 142 (2 transfers applied)" ] \
    || fail "check 5: coordinator A's last line is '$last', expected 'spawn: final balance 142 (2 transfers applied)'"
echo "multihost: check 5 ok: B in $ns_workers found '$mh_name' on $found, read 130 and deposited 12; A in $ns_coord then read $(echo "$last" | sed 's/^spawn: final //')"

echo "multihost: PASS in $((SECONDS - started)) s"
exit 0
