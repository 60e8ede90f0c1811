"""Benchmark: outbound jobs/s of the executor against a bare httpx loop, same endpoint, same run.

The endpoint is uvicorn (httptools) in a child process on 127.0.0.1, answering every
request with 200 and a small JSON body. Measured at the same concurrency:

- bare: `concurrency` asyncio workers, each with its own `httpx.AsyncClient`, POSTing
  a small JSON body until `requests` are done (BASELINES.md: the best arrangement);
  also with one shared client, for comparison;
- ours: `Executor.run_outbound(..., wait=True)` of a payload with `request_per_record`
  over `requests` records, no response handler: the time covers querying the records,
  building the requests, logging every job durably (group commit), sending, and
  logging each result. With one client per worker (our default) and a shared client.

Reports requests/s (medians of `rounds`) and ours / bare (target >= 0.7 at 16).

    .venv/bin/python bench/outbound.py [--requests 2000] [--concurrency 16] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from payloads_tui.domain.models import Element, Integration, OutboundPayload, Source  # noqa: E402
from payloads_tui.engine.events import EventBus  # noqa: E402
from payloads_tui.engine.executor import Executor  # noqa: E402
from payloads_tui.engine.inbound import InboundProcessor  # noqa: E402
from payloads_tui.settings import Limits  # noqa: E402
from payloads_tui.store.config import ConfigStore  # noqa: E402
from payloads_tui.store.history import HistoryLog  # noqa: E402
from payloads_tui.store.jobs import JobLog  # noqa: E402
from payloads_tui.store.records import RecordStore, RecordWrite  # noqa: E402
from payloads_tui.store.vault import Vault  # noqa: E402

SERVER = """
import sys, uvicorn
BODY = b'{"ok":true,"id":"thing_1"}'
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http="httptools", log_level="warning",
            access_log=False, lifespan="off", timeout_keep_alive=120)
"""
PHASE_TIMEOUT = 120.0
BODY = b'{"name":"Customer 1","n":1,"metadata":{"local_id":"i00001"}}'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the benchmark endpoint did not start")


async def bare(url: str, requests: int, concurrency: int, per_worker: bool) -> tuple[float, float]:
    """(requests/s, CPU µs of this process per request)."""
    clients = [httpx.AsyncClient() for _ in range(concurrency if per_worker else 1)]
    left = requests

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            response = await client.post(f"{url}/things", content=BODY,
                                          headers={"Content-Type": "application/json"})
            assert response.status_code == 200

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.wait_for(
        asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(concurrency))), PHASE_TIMEOUT)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    for client in clients:
        await client.aclose()
    return requests / elapsed, cpu / requests * 1e6


class Ours:
    """A data directory with `requests` records and a payload that sends one request per record."""

    def __init__(self, home: Path, url: str, requests: int) -> None:
        self.home = home
        self.vault = Vault(home, env_key="1wT6bU3DqnLkXj2-Jv6mN4TqG8s3v0mXrKk9c2iY7aE=")
        self.config = ConfigStore(home, HistoryLog(home), user="bench")
        self.records = RecordStore(home)
        self.jobs = JobLog(home)  # durable, as in production
        self.events = EventBus()
        self.records.apply([
            RecordWrite("insert", "Item", {"id": f"i{n:05}", "name": f"Customer {n}", "n": n})
            for n in range(requests)
        ])
        self.config.create(Integration(
            slug="bench", name="Bench", variables={"base": url},
            outbound=[OutboundPayload(
                name="Send", method="POST", content_type="json", endpoint="{base}/things",
                request_per_record=True, sources=[Source(name="items", object="Item")],
                elements=[Element(path="name", expression="name"), Element(path="n", expression="n"),
                          Element(path="metadata.local_id", expression="id")],
            )],
        ))

    async def run(self, concurrency: int, per_worker: bool) -> tuple[float, float]:
        """(jobs/s, CPU µs of this process, all threads, per job)."""
        executor = Executor(
            jobs=self.jobs, records=self.records, config=self.config, vault=self.vault, events=self.events,
            inbound=InboundProcessor(self.records, self.config.schema),
            limits=Limits(outbound_concurrency=concurrency, outbound_per_host=concurrency),
            client_per_worker=per_worker,
        )
        await executor.start()
        try:
            started, cpu = time.perf_counter(), time.process_time()
            jobs = await asyncio.wait_for(executor.run_outbound("bench", "Send", wait=True), PHASE_TIMEOUT)
            await self.jobs.flush()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            await executor.stop()
        assert all(job.status == "Completed" for job in jobs), {job.error for job in jobs}
        return len(jobs) / elapsed, cpu / len(jobs) * 1e6


Results = dict[str, list[tuple[float, float]]]


async def measure(url: str, home: Path, requests: int, concurrency: int, rounds: int) -> Results:
    ours = Ours(home, url, requests)
    results: Results = {k: [] for k in ("bare_per_worker", "bare_shared", "ours_per_worker", "ours_shared")}
    await bare(url, 200, concurrency, True)  # warm up the endpoint and the imports
    for _ in range(rounds):
        results["bare_per_worker"].append(await bare(url, requests, concurrency, True))
        results["bare_shared"].append(await bare(url, requests, concurrency, False))
        results["ours_per_worker"].append(await ours.run(concurrency, True))
        results["ours_shared"].append(await ours.run(concurrency, False))
    ours.jobs.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    process, url = start_server()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = asyncio.run(measure(url, Path(tmp), args.requests, args.concurrency, args.rounds))
    finally:
        process.terminate()
        process.wait(timeout=10)
    median = {k: statistics.median(rps for rps, _ in v) for k, v in results.items()}
    cpu = {k: statistics.median(us for _, us in v) for k, v in results.items()}
    baseline = median["bare_per_worker"]
    print(f"{args.requests} POSTs per run, concurrency {args.concurrency}, medians of {args.rounds} rounds")
    print("(CPU: this process, all threads, per request: steadier than wall time on a shared machine)\n")
    print("| arrangement | requests/s | / bare (client per worker) | CPU µs / request |")
    print("|---|---|---|---|")
    labels = {
        "bare_per_worker": "bare httpx, one client per worker",
        "bare_shared": "bare httpx, one shared client",
        "ours_per_worker": "Executor.run_outbound, client per worker (default)",
        "ours_shared": "Executor.run_outbound, shared client",
    }
    for key, label in labels.items():
        print(f"| {label} | {median[key]:,.0f} | {median[key] / baseline:.2f} | {cpu[key]:,.0f} |")
    ratio = median["ours_per_worker"] / baseline
    cpu_ratio = cpu["bare_per_worker"] / cpu["ours_per_worker"]
    verdict = "PASS" if ratio >= 0.7 else "BELOW TARGET"
    print(f"\nours / bare = {ratio:.2f} by wall time (target >= 0.70: {verdict}); "
          f"{cpu_ratio:.2f} by CPU per request")


if __name__ == "__main__":
    main()
