"""Group commit: concurrent saves share fsyncs, are durable when awaited, visible at once."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

from payloads_tui.store.jobs import JobLog


async def test_concurrent_save_durable_share_fsyncs_and_are_durable(tmp_path: Path) -> None:
    log = JobLog(tmp_path)
    jobs = [log.create("inbound", "acme", "Customers", "External API") for _ in range(1000)]
    await asyncio.gather(*(log.save_durable(job) for job in jobs))
    fsyncs = log.fsyncs
    assert 1 <= fsyncs <= 50, f"{fsyncs} fsyncs for 1,000 jobs: not group-committed"
    log.close()
    with JobLog(tmp_path) as reopened:
        assert reopened.total() == 1000
        assert {j.number for j in reopened.newest("inbound", limit=1000)} == {j.number for j in jobs}


async def test_save_durable_returns_only_after_the_commit(tmp_path: Path) -> None:
    log = JobLog(tmp_path)
    job = log.create("inbound", "acme", "Customers", "External API")
    before = log.fsyncs
    await log.save_durable(job)
    assert log.fsyncs == before + 1
    log.close()


async def test_the_event_loop_keeps_running_during_commits(tmp_path: Path) -> None:
    log = JobLog(tmp_path)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    for _ in range(20):
        await log.save_durable(log.create("inbound", "acme", "Customers", "External API"))
    stop.set()
    await task
    # Each fsync happened in the writer thread while the loop went on ticking.
    assert ticks >= 20
    log.close()


async def test_save_soon_is_visible_at_once_and_durable_after_flush(tmp_path: Path) -> None:
    log = JobLog(tmp_path)
    job = log.create("inbound", "acme", "Customers", "External API")
    await log.save_durable(job)
    job.status = "Completed"
    job.records_processed = 3
    log.save_soon(job)
    seen = log.get(job.number)
    assert seen is not None and seen.status == "Completed" and seen.records_processed == 3
    assert [j.status for j in log.newest(statuses={"Completed"})] == ["Completed"]
    await log.flush()
    assert log.counts() == {"Completed": 1}
    log.close()
    with JobLog(tmp_path) as reopened:
        again = reopened.get(job.number)
        assert again is not None and again.status == "Completed"


def test_save_soon_from_plain_threads_then_flush_sync(tmp_path: Path) -> None:
    log = JobLog(tmp_path)

    def write(count: int) -> None:
        for _ in range(count):
            log.save_soon(log.create("outbound", "acme", "Orders", "Schedule"))

    threads = [threading.Thread(target=write, args=(50,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.flush_sync()
    assert log.total("outbound") == 200
    log.close()
    with JobLog(tmp_path) as reopened:
        numbers = sorted(int(j.number[4:]) for j in reopened.newest("outbound", limit=500))
        assert numbers == list(range(1, 201))


def test_a_saved_job_is_a_snapshot_of_the_moment_it_was_saved(tmp_path: Path) -> None:
    with JobLog(tmp_path, durable=False) as log:
        job = log.create("inbound", "acme", "Customers", "Console")
        log.save_soon(job)
        job.status = "Failed"  # changed after saving, never saved again
        log.flush_sync()
        stored = log.get(job.number)
        assert stored is not None and stored.status == "Queued"
        assert stored is not job


def test_a_failed_seal_loses_nothing_and_is_finished_later(tmp_path: Path, monkeypatch) -> None:
    from payloads_tui.store import jobs as jobs_module

    real_seal = jobs_module.seal
    failures = []

    def failing_seal(*args, **kwargs):
        failures.append(1)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jobs_module, "seal", failing_seal)
    log = JobLog(tmp_path, durable=False, segment_jobs=4)
    saved = []
    for _ in range(9):
        job = log.create("inbound", "acme", "Customers", "Console")
        log.save(job)
        saved.append(job.number)
    log.flush_sync()
    assert failures, "the seal was never attempted"
    assert [log.get(n) is not None for n in saved] == [True] * 9  # served from memory meanwhile
    assert [j.number for j in log.newest("inbound", limit=100)] == list(reversed(saved))
    monkeypatch.setattr(jobs_module, "seal", real_seal)
    log.settle()
    assert log.seals >= 1
    log.close()
    with JobLog(tmp_path, durable=False, segment_jobs=4) as reopened:
        assert reopened.total() == 9
        assert [j.number for j in reopened.newest("inbound", limit=100)] == list(reversed(saved))


def test_without_fdatasync_commits_use_fsync(tmp_path: Path, monkeypatch) -> None:
    # macOS has no os.fdatasync: every commit must still reach the disk.
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.delattr(os, "fdatasync")
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    with JobLog(tmp_path) as log:
        job = log.create("inbound", "acme", "Customers", "Console")
        log.save(job)
        assert log.fsyncs == 1 and synced
    with JobLog(tmp_path) as reopened:
        assert reopened.get(job.number) is not None
