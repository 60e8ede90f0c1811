"""Fixtures of the service tests: a demo workspace on tmp_path and a running Service on ephemeral ports."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from payloads_tui.domain.models import FINISHED_STATUSES, Job
from payloads_tui.engine.events import Event
from payloads_tui.service.service import Service
from payloads_tui.service.workspace import Workspace
from payloads_tui.settings import Limits, Settings

#: Small limits so the 413 / 552 tests send little.
#: Few outbound workers: each builds an httpx client (and its TLS context), which is slow.
TEST_LIMITS = Limits(max_body_bytes=64 * 1024, max_message_bytes=32 * 1024, outbound_concurrency=2)


#: Seconds every fsync is slowed by in `slow_fsync`.
SLOW_FSYNC = 0.3


@pytest.fixture(autouse=True)
def _no_env_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYLOADS_SECRET_KEY", raising=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", http="127.0.0.1:0", smtp="127.0.0.1:0", limits=TEST_LIMITS)


@pytest.fixture
def workspace(settings: Settings) -> Iterator[Workspace]:
    ws = Workspace(settings)
    ws.seed_demo()
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def events(workspace: Workspace) -> Iterator[list[Event]]:
    seen: list[Event] = []
    unsubscribe = workspace.events.subscribe(seen.append)
    yield seen
    unsubscribe()


@pytest.fixture
async def service(workspace: Workspace) -> AsyncIterator[Service]:
    svc = Service(workspace, http=("127.0.0.1", 0), smtp=("127.0.0.1", 0))
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


@pytest.fixture
async def client(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    assert service.http_url is not None
    async with httpx.AsyncClient(base_url=service.http_url, timeout=10) as http:
        yield http


@pytest.fixture
def slow_fsync(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every fsync/fdatasync takes SLOW_FSYNC longer (the data is still synced); yields when each ended."""
    synced: list[float] = []

    def slowed(real: Callable[[int], None]) -> Callable[[int], None]:
        def sync(fd: int) -> None:
            time.sleep(SLOW_FSYNC)
            real(fd)
            synced.append(time.monotonic())

        return sync

    monkeypatch.setattr(os, "fsync", slowed(os.fsync))
    monkeypatch.setattr(os, "fdatasync", slowed(os.fdatasync))
    return synced


def children_of(pid: int) -> list[int]:
    """Child processes of `pid`, whichever of its threads started them."""
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def exited(pid: int, timeout: float = 10.0) -> bool:
    """Whether `pid` is gone or a zombie within `timeout` (an orphan is reaped by whoever adopts it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False


async def wait_for_job(workspace: Workspace, number: str, timeout: float = 10.0) -> Job:
    """The job once it has finished; fails the test if it does not finish within `timeout`."""
    deadline = time.monotonic() + timeout
    job = workspace.jobs.get(number)
    while job is None or job.status not in FINISHED_STATUSES:
        if time.monotonic() > deadline:
            pytest.fail(f"job {number} did not finish in {timeout} s (status: {job.status if job else 'missing'})")
        await asyncio.sleep(0.02)
        job = workspace.jobs.get(number)
    return job
