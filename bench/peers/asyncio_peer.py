#!/usr/bin/env python3
"""asyncio_peer.py - zexec-bench's workloads for Python's own executors.

DESIGN: the peer zexec's users would otherwise reach for is asyncio's
loop.run_in_executor() over concurrent.futures' ThreadPoolExecutor and
ProcessPoolExecutor. This script runs the same workloads zexec-bench runs
(round trips, tiny-task throughput at several depths, CPU scaling, blocking
tasks, payloads, a million tasks at once) the way a Python user would
write them, and prints one CSV line per figure, workload,executor,value,unit,
with executors py_thread and py_process, so zexec-bench can put the figures
beside its own. The million-task run happens in a fresh interpreter
(--mem-child) so that its peak RSS is its own and not what earlier
workloads left behind. Standard library only.

    python3 asyncio_peer.py [--quick] [--workers N] [--mem-count N] [--progress]
"""

import asyncio
import concurrent.futures
import os
import resource
import subprocess
import sys
import time

# ----------------------------------------------------------------------
# Tasks: module-level so ProcessPoolExecutor can pickle them


def square(n):
    return n * n


def spin(us):
    # Burns us microseconds of this thread's CPU, as zexec's bench_spin
    # does: under the GIL a thread only gains CPU time while it holds it.
    end = time.thread_time() + us / 1e6
    while time.thread_time() < end:
        pass
    return us


def nap(ms):
    time.sleep(ms / 1000)
    return ms


def echo(data):
    return data


# ----------------------------------------------------------------------
# Helpers


START = time.perf_counter()
PROGRESS = False


def progress(text):
    if PROGRESS:
        print(f"asyncio_peer [{time.perf_counter() - START:6.1f} s] {text}",
              file=sys.stderr, flush=True)


def report(workload, executor, value, unit):
    print(f"{workload},{executor},{value:.6g},{unit}", flush=True)


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def make_pool(kind, workers):
    if kind == "py_thread":
        return concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    return concurrent.futures.ProcessPoolExecutor(max_workers=workers)


def coordinator_cpu(kind):
    # Thread pools: the event loop's thread only, since the workers share
    # the process. Process pools: the whole coordinating process (loop,
    # the executor's manager thread, the queue feeder), children excluded.
    if kind == "py_thread":
        return time.thread_time()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def warm_up(loop, pool, workers):
    # Every worker started and ready, as zexec's pools are once created.
    await asyncio.gather(*[loop.run_in_executor(pool, nap, 1)
                           for _ in range(workers * 2)])
    await asyncio.gather(*[loop.run_in_executor(pool, square, i)
                           for i in range(1000)])


# ----------------------------------------------------------------------
# Workloads


async def round_trips(loop, pool, count, gap):
    samples = []
    for i in range(count):
        start = time.perf_counter()
        await loop.run_in_executor(pool, square, i)
        samples.append((time.perf_counter() - start) * 1e6)
        if gap:
            time.sleep(0.001)
    return percentile(samples, 0.50), percentile(samples, 0.99)


async def in_flight(loop, pool, kind, level, budget):
    """Keeps level tasks in flight for budget seconds; tasks/s, CPU us."""
    finished = loop.create_future()
    state = {"submitted": 0, "completed": 0, "wrong": 0}
    deadline = time.perf_counter() + budget

    def submit():
        n = state["submitted"]
        state["submitted"] += 1
        future = loop.run_in_executor(pool, square, n)
        future.add_done_callback(done)

    def done(future):
        if future.exception() is not None:
            state["wrong"] += 1
        state["completed"] += 1
        if time.perf_counter() < deadline:
            submit()
        elif state["completed"] == state["submitted"] and not finished.done():
            finished.set_result(None)

    cpu = coordinator_cpu(kind)
    start = time.perf_counter()
    for _ in range(level):
        submit()
    await finished
    elapsed = time.perf_counter() - start
    cpu = coordinator_cpu(kind) - cpu
    if state["wrong"]:
        raise RuntimeError(f"{state['wrong']} tasks failed")
    return state["completed"] / elapsed, cpu * 1e6 / state["completed"]


async def all_at_once(loop, pool, kind, count):
    cpu = coordinator_cpu(kind)
    start = time.perf_counter()
    results = await asyncio.gather(*[loop.run_in_executor(pool, square, i)
                                     for i in range(count)])
    elapsed = time.perf_counter() - start
    cpu = coordinator_cpu(kind) - cpu
    if any(r != i * i for i, r in enumerate(results)):
        raise RuntimeError("wrong result")
    return count / elapsed, cpu * 1e6 / count


async def run_batch(loop, pool, fn, args):
    start = time.perf_counter()
    await asyncio.gather(*[loop.run_in_executor(pool, fn, a) for a in args])
    return time.perf_counter() - start


def size_name(size):
    if size >= 1 << 20:
        return f"{size >> 20}MiB"
    if size >= 1 << 10:
        return f"{size >> 10}KiB"
    return f"{size}B"


def count_name(count):
    if count % 1000000 == 0:
        return f"{count // 1000000}m"
    if count % 1000 == 0:
        return f"{count // 1000}k"
    return str(count)


# Same parameters as zexec-bench; --quick scales them down.
SPIN_US = (10, 100, 1000, 10000)
PAYLOADS = (64, 1 << 10, 16 << 10, 256 << 10, 1 << 20, 16 << 20)
SPIN_NAMES = {10: "10us", 100: "100us", 1000: "1ms", 10000: "10ms"}


def even(n):
    return max(2, n + (n & 1))


async def run_kind(kind, args):
    loop = asyncio.get_running_loop()
    quick = args["quick"]
    workers = args["workers"]

    pool = make_pool(kind, workers)
    await warm_up(loop, pool, workers)

    # 1. Round trips, one in flight, plain and with 1 ms idle gaps
    progress(f"1 round trips, {kind}")
    p50, p99 = await round_trips(loop, pool, 500 if quick else 3000, False)
    report("rtt_p50", kind, p50, "us")
    report("rtt_p99", kind, p99, "us")
    p50, p99 = await round_trips(loop, pool, 100 if quick else 1000, True)
    report("rtt_gap_p50", kind, p50, "us")
    report("rtt_gap_p99", kind, p99, "us")

    # 2. Tiny tasks at several depths
    progress(f"2 tiny tasks, {kind}")
    for level in (1, 8, 64, 1000):
        rate, cpu = await in_flight(loop, pool, kind, level,
                                    0.15 if quick else 1.0)
        report(f"tiny_throughput_{level}", kind, rate, "tasks/s")
        report(f"tiny_coord_cpu_{level}", kind, cpu, "us/task")
    rate, cpu = await all_at_once(loop, pool, kind, 5000 if quick else 50000)
    report("tiny_throughput", kind, rate, "tasks/s")
    report("tiny_coord_cpu", kind, cpu, "us/task")

    # 5. Payloads: argument and result of the same size, bytes both ways
    progress(f"5 payloads, {kind}")
    total = (16 << 20) if quick else (128 << 20)
    for size in PAYLOADS:
        count = min(2000 if quick else 20000, max(4, total // size))
        data = b"x" * size
        # The first burst of a size, then a second on what it left
        first = await run_batch(loop, pool, echo, [data] * count)
        elapsed = await run_batch(loop, pool, echo, [data] * count)
        report(f"payload_{size_name(size)}_first", kind,
               2 * size * count / first / 1e9, "GB/s")
        report(f"payload_{size_name(size)}", kind,
               2 * size * count / elapsed / 1e9, "GB/s")
    pool.shutdown(wait=True)

    # 3. CPU-bound scaling: each duration on 1 worker, then on 2
    progress(f"3 CPU scaling, {kind}")
    # About 0.1 s (quick) or 0.5 s of work per batch, but at most 2,000
    # (10,000) tasks: Python's overhead per task is larger than 10 us.
    work, cap = (0.1, 2000) if quick else (0.5, 10000)
    counts = [even(min(cap, int(work / (us / 1e6)))) for us in SPIN_US]
    times = {}
    for n in (1, 2):
        scaling = make_pool(kind, n)
        await warm_up(loop, scaling, n)
        for us, count in zip(SPIN_US, counts):
            times[us, n] = await run_batch(loop, scaling, spin, [us] * count)
        scaling.shutdown(wait=True)
    for us, count in zip(SPIN_US, counts):
        name = SPIN_NAMES[us]
        report(f"cpu_{name}_1w", kind, count / times[us, 1], "tasks/s")
        report(f"cpu_{name}_2w", kind, count / times[us, 2], "tasks/s")
        report(f"cpu_{name}_speedup_2w", kind, times[us, 1] / times[us, 2], "x")

    # 4. Blocking tasks: 1,000 sleeps of 10 ms on 50 workers
    progress(f"4 blocking tasks, {kind}")
    blocking = make_pool(kind, 50)
    await warm_up(loop, blocking, 50)
    elapsed = await run_batch(loop, blocking, nap, [10] * 1000)
    blocking.shutdown(wait=True)
    report("blocking_total", kind, elapsed, "s")
    report("blocking_vs_ideal", kind, elapsed / 0.2, "x")


async def mem_child(kind, count, workers):
    """A fresh interpreter: count tiny tasks at once; peak RSS and wall."""
    loop = asyncio.get_running_loop()
    pool = make_pool(kind, workers)
    await warm_up(loop, pool, workers)
    start = time.perf_counter()
    futures = [loop.run_in_executor(pool, square, i) for i in range(count)]
    results = await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if results[-1] != (count - 1) * (count - 1):
        raise RuntimeError("wrong result")
    name = count_name(count)
    report(f"peak_rss_{name}", kind, peak, "MB")
    report(f"wall_{name}", kind, elapsed, "s")
    pool.shutdown(wait=True)


def memory(kind, count, workers):
    progress(f"6 {count} tasks at once, {kind} (fresh interpreter)")
    child = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--mem-child", kind,
         str(count), "--workers", str(workers)],
        stdout=subprocess.PIPE, text=True, check=False)
    sys.stdout.write(child.stdout)
    sys.stdout.flush()
    if child.returncode != 0:
        print(f"asyncio_peer: {kind} memory child failed ({child.returncode})",
              file=sys.stderr)


def main(argv):
    global PROGRESS
    args = {"quick": False, "workers": 2, "mem": None, "count": None}
    i = 1
    while i < len(argv):
        if argv[i] == "--quick":
            args["quick"] = True
        elif argv[i] == "--progress":
            PROGRESS = True
        elif argv[i] == "--workers" and i + 1 < len(argv):
            i += 1
            args["workers"] = int(argv[i])
        elif argv[i] == "--mem-count" and i + 1 < len(argv):
            i += 1
            args["count"] = int(argv[i])
        elif argv[i] == "--mem-child" and i + 2 < len(argv):
            args["mem"] = argv[i + 1]
            args["count"] = int(argv[i + 2])
            i += 2
        else:
            print("usage: asyncio_peer.py [--quick] [--workers N] "
                  "[--mem-count N] [--progress]", file=sys.stderr)
            return 2
        i += 1
    if args["mem"]:
        asyncio.run(mem_child(args["mem"], args["count"], args["workers"]))
        return 0
    # A million tasks take Python minutes and gigabytes per executor;
    # --quick runs 10,000 and names the rows so (peak_rss_10k).
    count = args["count"] or (10000 if args["quick"] else 1000000)
    for kind in ("py_thread", "py_process"):
        asyncio.run(run_kind(kind, args))
        memory(kind, count, args["workers"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
