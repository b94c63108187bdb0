#!/usr/bin/env bash
#   The main job: build zexec, run the two seed programs (thread pool, then
#   process pool), then the distributed_primes demo: on a local pool, and
#   across a zexec-broker and one zexec-worker on tcp loopback, with CURVE
#   keys made by zexec-keygen (the secure setup of the README); then the
#   actor_bank demo (stateful actors, a worker killed, restarts, an audit),
#   on a process pool and on remote workers (a broker and two
#   zexec-workers that actor_bank --remote starts and stops itself).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
. scripts/deps.sh
build=${ZEXEC_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZEXEC_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "== asyncio_executor_thread (3 worker threads)"
time "$build/examples/asyncio_executor_thread"
echo
echo "== asyncio_executor_process (3 worker processes)"
time "$build/examples/asyncio_executor_process"

echo
echo "== distributed_primes (local thread pool)"
time "$build/examples/distributed_primes"

#   The same demo on remote workers: a broker and one worker in the
#   background on tcp loopback, both stopped on the way out, however the
#   script ends.
echo
echo "== distributed_primes (zexec-broker + one zexec-worker on tcp loopback, with CURVE keys)"
broker_pid=""
worker_pid=""
log_dir=$(mktemp -d)
stop_servers () {
    for pid in $worker_pid $broker_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    worker_pid=""
    broker_pid=""
}
cleanup () {
    stop_servers
    rm -rf "$log_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

#   A key pair for each peer; the broker lets in the coordinator's and
#   the worker's public keys, each in its own role
keys=$log_dir/keys
mkdir -p "$keys/clients" "$keys/workers"
for name in broker worker coordinator; do
    "$build/broker/zexec-keygen" "$keys/$name" >/dev/null 2>&1
done
cp "$keys/coordinator" "$keys/clients/"
cp "$keys/worker" "$keys/workers/"
echo "keys:    zexec-keygen broker, worker and coordinator in $keys"

#   A port that is free: the broker exits at once when it cannot bind
for _ in 1 2 3 4 5; do
    port=${ZEXEC_DEMO_PORT:-$((20000 + RANDOM % 20000))}
    "$build/broker/zexec-broker" --bind "tcp://127.0.0.1:$port" --cert "$keys/broker_secret" \
        --clients "$keys/clients" --workers "$keys/workers" 2>"$log_dir/broker.log" &
    broker_pid=$!
    sleep 0.3
    kill -0 "$broker_pid" 2>/dev/null && break
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=""
done
if [ -z "$broker_pid" ]; then
    echo "zexec-broker could not start:" >&2
    cat "$log_dir/broker.log" >&2
    exit 1
fi
endpoint="tcp://127.0.0.1:$port"
echo "broker:  zexec-broker --bind $endpoint --cert broker_secret --clients clients" \
     "--workers workers (pid $broker_pid)"
"$build/workers/zexec-worker" --connect "$endpoint" \
    --tasks "$build/examples/libzexec-primes.so" --workers "$(nproc)" \
    --server-key "$keys/broker" --cert "$keys/worker_secret" 2>"$log_dir/worker.log" &
worker_pid=$!
echo "worker:  zexec-worker --connect $endpoint --tasks $build/examples/libzexec-primes.so" \
     "--workers $(nproc) --server-key broker --cert worker_secret (pid $worker_pid)"
echo "coordinator: ZEXEC_SERVER_KEY=(broker's public key) ZEXEC_CERT=coordinator distributed_primes --endpoint $endpoint"
time env ZEXEC_SERVER_KEY="$("$build/broker/zexec-keygen" --show "$keys/broker")" \
    ZEXEC_CERT="$keys/coordinator" "$build/examples/distributed_primes" --endpoint "$endpoint"
stop_servers
echo
echo "-- the broker's and the worker's stderr"
cat "$log_dir/broker.log" "$log_dir/worker.log"

echo
echo "== actor_bank (account actors on 3 worker processes; one is killed with SIGKILL)"
time "$build/examples/actor_bank"

echo
echo "== actor_bank --remote (account actors on 2 zexec-workers through a zexec-broker," \
     "all started by actor_bank; the serving worker of acct-0 is killed with SIGKILL)"
time "$build/examples/actor_bank" --remote
