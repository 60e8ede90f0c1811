"""Shared parts of the service benchmarks (`http_ingest.py`, `smtp_ingest.py`): drain and fsync floor."""

from __future__ import annotations

import os
import time
from pathlib import Path

#: Longest wait for the service to finish the jobs of a run (seconds).
DRAIN_TIMEOUT = 180.0


def wait_drained(http_port: int) -> float:
    """Time when the service's executor has nothing queued or running (asked through `/healthz`)."""
    import httpx

    deadline = time.monotonic() + DRAIN_TIMEOUT
    while time.monotonic() < deadline:
        state = httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=10).json()
        if state["jobs_queued"] == 0 and state["jobs_running"] == 0:
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit("ours did not finish its jobs within the drain timeout")


def fsync_latency(directory: Path, samples: int = 50) -> tuple[float, float]:
    """p50 and p90 (seconds) of appending 1 KB and fdatasync in `directory`: the floor of a durable answer."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(samples):
            os.write(fd, b"x" * 1024)
            started = time.perf_counter()
            os.fdatasync(fd)
            times.append(time.perf_counter() - started)
    finally:
        os.close(fd)
        path.unlink()
    times.sort()
    return times[len(times) // 2], times[len(times) * 9 // 10]
