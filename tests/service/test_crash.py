"""kill -9 under load: every webhook answered 202 is in the log and ends Completed after a restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from payloads_tui.store.jobs import JobLog
from payloads_tui.store.records import RecordStore

from .conftest import children_of, exited

SCRIPT = Path(__file__).with_name("serve_script.py")
ROOT = Path(__file__).resolve().parents[2]
KILL_AFTER_ACCEPTED = 150


async def start_server(home: Path) -> tuple[asyncio.subprocess.Process, int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), str(home),
        stdout=asyncio.subprocess.PIPE, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
    assert line.startswith(b"READY "), line
    return process, int(line.split()[1])


async def send_until_killed(port: int, worker: int, accepted: dict[str, str], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        for n in range(10_000):
            if stop.is_set():
                return
            key = f"w{worker}-{n}"
            try:
                answer = await client.post("/api/load/ping", json={"key": key, "n": n})
            except httpx.HTTPError:
                return  # the server died under us
            assert answer.status_code == 202, answer.text
            accepted[key] = answer.json()["job"]


@pytest.mark.parametrize("senders", [8, 1], ids=["8-senders", "1-sender"])
async def test_kill_9_mid_load_loses_no_accepted_job(tmp_path: Path, senders: int) -> None:
    """8 senders: most commits are the writer thread's; 1 sender: most are the loop's own (`commit_on_loop`)."""
    home = tmp_path / "home"
    process, port = await start_server(home)
    accepted: dict[str, str] = {}
    stop = asyncio.Event()
    tasks = [asyncio.create_task(send_until_killed(port, w, accepted, stop)) for w in range(senders)]
    deadline = time.monotonic() + 20
    while len(accepted) < KILL_AFTER_ACCEPTED and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    workers = children_of(process.pid)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    stop.set()
    assert workers, "the service should have started its inbound worker process"
    assert all(exited(pid) for pid in workers), "the inbound worker outlived its service"
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
    assert len(accepted) >= KILL_AFTER_ACCEPTED, "the load did not get going"

    process, port = await start_server(home)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:
                health = (await client.get("/healthz")).json()
                if health["jobs_queued"] == health["jobs_running"] == 0:
                    break
                assert time.monotonic() < deadline, f"recovery did not finish: {health}"
                await asyncio.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=20)
    assert process.returncode == 0

    with JobLog(home) as jobs:
        statuses = {key: jobs.get(number) for key, number in accepted.items()}
    missing = [key for key, job in statuses.items() if job is None]
    assert missing == [], f"{len(missing)} jobs answered 202 are not in the log"
    unfinished = {key: job.status for key, job in statuses.items() if job.status != "Completed"}  # type: ignore[union-attr]
    assert unfinished == {}
    bodies = {json.loads(job.request.body)["key"] for job in statuses.values()}  # type: ignore[union-attr]
    assert bodies == set(accepted)
    records = RecordStore(home)
    try:
        written = {record["key"] for record in records.all("Ping")}
    finally:
        records.close()
    assert set(accepted) <= written
