"""Benchmark: the job log with 1,000 jobs stored against 1,000,000, and a bare append baseline.

Measured in one run, so the machine's noise hits all figures alike:
(a) durable ingest (jobs/s): 64 concurrent `save_durable` callers for a few seconds,
    each creating a webhook-sized job (1 KB JSON body) and saving it; at both sizes,
    five 3-second runs, alternating; the median run of each counts (best shown too),
    and the process CPU time per job (all threads), steadier than rates on a shared
    machine;
(b) time to open the log; (c) latency of `newest(limit=100)`,
    `newest(statuses={'Failed'})`, `counts()` and `get()` (a random job, mostly a cold
    segment, and the same job again, warm); (d) RSS of a fresh process that opens the
    1M log, and after it ran the queries; (e) the bare baseline: build and encode the
    same jobs, append them as JSON lines with one fdatasync per 64 - our ingest is
    reported as a ratio of it.

The 1,000,000 jobs are written straight into sealed segments by `JobLog._bulk_seal`
(an internal helper for this purpose: same segment writer as a seal, no active log,
not fsynced, then one `os.sync()` so its writeback does not slow what follows); the
1,000 through the ordinary `save_soon` path.

    .venv/bin/python bench/job_log_growth.py [--big 1000000] [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from payloads_tui.domain.models import HttpExchange, Job  # noqa: E402
from payloads_tui.store.jobs import JobLog  # noqa: E402

CONCURRENCY = 64
BODY = msgspec.json.encode(
    {
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "type": "customer.updated",
        "data": {"object": {"id": "cus_9s6XKzkNRiz8i3", "email": "jane@example.com", "metadata": {"note": "x" * 800}}},
    }
).decode()
STATUSES = ["Completed"] * 90 + ["Failed"] * 3 + ["Partially Completed"] * 5 + ["Cancelled"] * 2
INTEGRATIONS = ["stripe", "hubspot", "shopify"]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def webhook_request() -> HttpExchange:
    return HttpExchange(
        method="POST",
        url="/api/stripe/customers",
        headers={"content-type": "application/json", "user-agent": "Stripe/1.0", "stripe-signature": "••••"},
        content_type="application/json",
        body=BODY,
        body_size=len(BODY),
    )


def webhook_job(number: str, i: int, status: str = "Queued") -> Job:
    return Job(
        number=number,
        kind="inbound",
        integration=INTEGRATIONS[i % 3],
        payload="Customer: Created / Updated (Webhook)",
        source="External API",
        status=status,  # type: ignore[arg-type]
        request=webhook_request(),
    )


def prefill_jobs(count: int, start_created: float) -> Iterator[Job]:
    rng = random.Random(7)
    for i in range(1, count + 1):
        kind_out = i % 10 == 0
        number = f"OUT-{i // 10}" if kind_out else f"IN-{i - i // 10}"
        job = webhook_job(number, i, rng.choice(STATUSES))
        if kind_out:
            job.kind = "outbound"
            job.payload = "Customer: Get All (Request)"
            job.source = "Console"
        job.created = job.modified = start_created + i * 0.01
        yield job


def prefill(directory: Path, count: int, bulk: bool) -> float:
    started = time.perf_counter()
    log = JobLog(directory, durable=False)
    jobs = prefill_jobs(count, time.time() - count * 0.01)
    if bulk:
        log._bulk_seal(jobs)
    else:
        for job in jobs:
            log.save_soon(job)
    log.close()
    return time.perf_counter() - started


async def ingest(log: JobLog, seconds: float) -> tuple[float, float]:
    """(jobs/s, process CPU µs per job) of 64 concurrent callers creating and durably saving jobs."""
    stop = time.perf_counter() + seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            job = log.create(
                "inbound", "stripe", "Customer: Created / Updated (Webhook)", "External API", request=webhook_request()
            )
            await log.save_durable(job)
            done += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - started), (time.process_time() - cpu) / done * 1e6


def bare_append(directory: Path, seconds: float) -> tuple[float, float]:
    """Build, encode and append jobs as JSON lines, one fdatasync per 64: the floor of our cost."""
    encoder = msgspec.json.Encoder()
    fd = os.open(directory / "bare.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    done = 0
    started, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        lines = [encoder.encode(webhook_job(f"IN-{done + k + 1}", k)) + b"\n" for k in range(CONCURRENCY)]
        os.write(fd, b"".join(lines))
        os.fdatasync(fd)
        done += CONCURRENCY
    os.close(fd)
    return done / (time.perf_counter() - started), (time.process_time() - cpu) / done * 1e6


def median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def query_latencies(log: JobLog, size: int) -> dict[str, float]:
    rng = random.Random(11)
    inbound = log.total("inbound")
    random_numbers = [f"IN-{rng.randint(1, inbound)}" for _ in range(20)]
    numbers = iter(random_numbers)
    warm = random_numbers[0]
    log.get(warm)
    return {
        "newest(limit=100)": median_ms(lambda: log.newest(limit=100), 20),
        "newest('inbound', limit=100)": median_ms(lambda: log.newest("inbound", limit=100), 20),
        "newest(statuses={'Failed'})": median_ms(lambda: log.newest(statuses={"Failed"}), 20),
        "counts()": median_ms(log.counts, 20),
        "counts(since=1 h ago)": median_ms(lambda: log.counts(since=time.time() - 3600), 5),
        "get(random) - cold segment mostly": median_ms(lambda: log.get(next(numbers)), 20),
        "get(same) - warm": median_ms(lambda: log.get(warm), 20),
    }


def child_rss(directory: Path) -> None:
    """Run in a fresh process: open the log, report RSS before/after open and after queries."""
    before = rss_mb()
    started = time.perf_counter()
    log = JobLog(directory)
    opened = time.perf_counter() - started
    after_open = rss_mb()
    query_latencies(log, log.total())
    after_queries = rss_mb()
    log.close()
    print(f"{before:.1f} {after_open:.1f} {after_queries:.1f} {opened * 1000:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one ingest run")
    parser.add_argument("--rounds", type=int, default=5, help="ingest runs per size, alternating")
    parser.add_argument("--child-rss", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss:
        child_rss(args.child_rss)
        return

    with tempfile.TemporaryDirectory() as small_tmp, tempfile.TemporaryDirectory() as big_tmp:
        small_dir, big_dir = Path(small_tmp), Path(big_tmp)
        prefill_small = prefill(small_dir, args.small, bulk=False)
        prefill_big = prefill(big_dir, args.big, bulk=True)
        started = time.perf_counter()
        os.sync()
        synced = time.perf_counter() - started
        print(
            f"prefill: {args.small:,} jobs in {prefill_small:.1f} s; {args.big:,} jobs in {prefill_big:.1f} s "
            f"(+ {synced:.1f} s os.sync)"
        )

        child = subprocess.run(
            [sys.executable, __file__, "--child-rss", str(big_dir)], capture_output=True, text=True, check=True
        )
        rss_before, rss_open, rss_queries, child_open_ms = (float(x) for x in child.stdout.split())

        sizes = {args.small: small_dir, args.big: big_dir}
        open_ms: dict[int, float] = {}
        latencies: dict[int, dict[str, float]] = {}
        for size, directory in sizes.items():
            started = time.perf_counter()
            log = JobLog(directory)
            open_ms[size] = (time.perf_counter() - started) * 1000
            latencies[size] = query_latencies(log, size)
            log.close()

        runs: dict[int, list[tuple[float, float]]] = {size: [] for size in sizes}
        for _ in range(args.rounds):
            for size, directory in sizes.items():
                log = JobLog(directory)
                runs[size].append(asyncio.run(ingest(log, args.seconds)))
                log.close()
        bare_runs = [bare_append(small_dir, args.seconds) for _ in range(3)]

    rates = {size: [rate for rate, _ in size_runs] for size, size_runs in runs.items()}
    cpu = {size: statistics.median(us for _, us in size_runs) for size, size_runs in runs.items()}
    bare = statistics.median(rate for rate, _ in bare_runs)
    bare_cpu = statistics.median(us for _, us in bare_runs)
    small_rate, big_rate = statistics.median(rates[args.small]), statistics.median(rates[args.big])
    small_best, big_best = max(rates[args.small]), max(rates[args.big])
    s, b = f"{args.small:,} stored", f"{args.big:,} stored"
    print()
    print(f"| what | {s} | {b} | ratio big/small |")
    print("|---|---|---|---|")
    print(
        f"| durable ingest, {CONCURRENCY} concurrent save_durable (jobs/s, median of {args.rounds}) "
        f"| {small_rate:,.0f} | {big_rate:,.0f} | {big_rate / small_rate:.2f} |"
    )
    print(f"| same, best of {args.rounds} | {small_best:,.0f} | {big_best:,.0f} | {big_best / small_best:.2f} |")
    print(
        f"| median ingest as a share of the bare baseline ({bare:,.0f} jobs/s, median of 3) "
        f"| {small_rate / bare:.0%} | {big_rate / bare:.0%} | |"
    )
    small_cpu, big_cpu = cpu[args.small], cpu[args.big]
    print(
        f"| CPU per durable job, all threads (µs; bare baseline {bare_cpu:.1f} µs) "
        f"| {small_cpu:.1f} | {big_cpu:.1f} | {big_cpu / small_cpu:.2f} |"
    )
    small_open, big_open = open_ms[args.small], open_ms[args.big]
    print(f"| open (ms) | {small_open:.1f} | {big_open:.1f} | {big_open / small_open:.1f} |")
    for name in latencies[args.small]:
        small_ms, big_ms = latencies[args.small][name], latencies[args.big][name]
        print(f"| {name} (ms, median) | {small_ms:.2f} | {big_ms:.2f} | {big_ms / small_ms:.1f} |")
    print()
    print(
        f"ingest runs (jobs/s): {', '.join(f'{r:,.0f}' for r in rates[args.small])} (small); "
        f"{', '.join(f'{r:,.0f}' for r in rates[args.big])} (big)"
    )
    print(
        f"RSS of a fresh process: {rss_before:.0f} MB before opening the {args.big:,}-job log, "
        f"{rss_open:.0f} MB after opening it ({child_open_ms:.0f} ms), {rss_queries:.0f} MB after the queries above"
    )


if __name__ == "__main__":
    main()
