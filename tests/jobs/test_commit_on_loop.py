"""`JobLog.commit_on_loop`: a batch only one caller waits for is committed by that caller's loop.

The loop's own commit must be as durable as the writer thread's, hand back the same
errors, and step aside whenever blocking the loop could cost more than the hand-over:
several waiters, a commit already in flight, slow commits, a full active log.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from payloads_tui.domain.errors import StoreError
from payloads_tui.store import jobs as jobs_module
from payloads_tui.store.jobs import JobLog

#: Commits this slow or slower keep the loop out; far above a healthy disk's, so a busy test machine does not flake.
SLOW = 0.1


@pytest.fixture(autouse=True)
def patient_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs_module, "INLINE_COMMIT_SECONDS", SLOW)


def new_job(log: JobLog):  # noqa: ANN201 - a Job
    return log.create("inbound", "acme", "Customers", "External API")


def committing_threads(log: JobLog, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the threads that run each group commit from now on."""
    names: list[str] = []
    commit = JobLog._commit

    def recording(self: JobLog, items: list) -> None:
        names.append(threading.current_thread().name)
        commit(self, items)

    monkeypatch.setattr(JobLog, "_commit", recording)
    return names


async def test_a_lone_save_is_committed_by_its_loop_and_is_durable(tmp_path: Path, monkeypatch) -> None:
    log = JobLog(tmp_path)
    log.commit_on_loop = True
    threads = committing_threads(log, monkeypatch)
    saved = []
    for _ in range(3):
        job = new_job(log)
        fsyncs = log.fsyncs
        await log.save_durable(job)
        assert log.fsyncs == fsyncs + 1  # on disk before the await returned
        saved.append(job.number)
    assert threads == [threading.current_thread().name] * 3
    assert log.loop_commits == 3
    log.close()
    with JobLog(tmp_path, read_only=True) as reader:
        assert [job.number for job in reader.newest("inbound", limit=10)] == saved[::-1]


async def test_off_by_default_the_writer_thread_commits(tmp_path: Path, monkeypatch) -> None:
    log = JobLog(tmp_path)
    threads = committing_threads(log, monkeypatch)
    await log.save_durable(new_job(log))
    assert threads == ["joblog-writer"]
    assert log.loop_commits == 0
    log.close()


async def test_a_batch_many_wait_for_goes_to_the_writer_thread(tmp_path: Path, monkeypatch) -> None:
    log = JobLog(tmp_path)
    log.commit_on_loop = True
    threads = committing_threads(log, monkeypatch)
    jobs = [new_job(log) for _ in range(20)]
    await asyncio.gather(*(log.save_durable(job) for job in jobs))
    assert threads and set(threads) == {"joblog-writer"}
    assert log.loop_commits == 0
    log.close()
    with JobLog(tmp_path) as reopened:
        assert reopened.total() == 20


async def test_slow_commits_go_back_to_the_writer_thread_until_they_are_fast(tmp_path: Path, monkeypatch) -> None:
    log = JobLog(tmp_path)
    log.commit_on_loop = True
    threads = committing_threads(log, monkeypatch)
    sync = jobs_module._sync_data
    stall = SLOW * 2.5

    def slow_sync(fd: int) -> None:
        time.sleep(stall)
        sync(fd)

    monkeypatch.setattr(jobs_module, "_sync_data", slow_sync)
    await log.save_durable(new_job(log))  # the first commit is on the loop: nothing said the disk was slow
    await log.save_durable(new_job(log))  # the loop waited too long last time: the writer thread commits
    monkeypatch.setattr(jobs_module, "_sync_data", sync)
    await log.save_durable(new_job(log))  # still the thread: it learns the disk is fast again
    await log.save_durable(new_job(log))  # back on the loop
    assert threads == ["MainThread", "joblog-writer", "joblog-writer", "MainThread"]
    log.close()


async def test_a_commit_that_would_fill_the_active_log_is_left_to_the_writer_thread(tmp_path: Path, monkeypatch) -> None:
    log = JobLog(tmp_path, segment_jobs=3)
    log.commit_on_loop = True
    threads = committing_threads(log, monkeypatch)
    numbers = []
    for _ in range(7):
        job = new_job(log)
        await log.save_durable(job)
        numbers.append(job.number)
    log.settle()
    assert "joblog-writer" in threads and "MainThread" in threads
    assert log.seals >= 1, "the writer thread froze and sealed the full active logs"
    log.close()
    with JobLog(tmp_path, read_only=True) as reader:
        assert [job.number for job in reader.newest("inbound", limit=10)] == numbers[::-1]


async def test_a_failed_commit_on_the_loop_fails_its_waiter_and_loses_nothing_later(tmp_path: Path, monkeypatch) -> None:
    log = JobLog(tmp_path)
    log.commit_on_loop = True
    await log.save_durable(new_job(log))
    assert log.loop_commits == 1

    def full_disk(fd: int, data: bytes, offset: int) -> None:
        raise OSError(28, "No space left on device")

    write = jobs_module._write_at
    monkeypatch.setattr(jobs_module, "_write_at", full_disk)
    with pytest.raises(StoreError, match="No space left on device"):
        await asyncio.wait_for(log.save_durable(new_job(log)), timeout=5)
    monkeypatch.setattr(jobs_module, "_write_at", write)
    after = new_job(log)
    await log.save_durable(after)
    log.close()
    with JobLog(tmp_path, read_only=True) as reader:
        assert reader.get(after.number) is not None
        assert reader.total() == 2


async def test_loop_commits_and_saves_from_a_thread_interleave_without_loss(tmp_path: Path) -> None:
    log = JobLog(tmp_path)
    log.commit_on_loop = True
    stop = threading.Event()
    by_thread: list[str] = []

    def saver() -> None:  # a thread saving as the console's workers do: each save waits for its commit
        while not stop.is_set() and len(by_thread) < 2000:
            job = new_job(log)
            log.save(job)
            by_thread.append(job.number)
            time.sleep(0.0005)  # leave the writer idle now and then, so the loop commits too

    thread = threading.Thread(target=saver)
    thread.start()
    by_loop = []
    try:
        for _ in range(200):
            job = new_job(log)
            await asyncio.wait_for(log.save_durable(job), timeout=5)
            by_loop.append(job.number)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert log.loop_commits > 0, "no batch was left to the loop: this test did not test it"
    log.close()
    with JobLog(tmp_path, read_only=True) as reader:
        stored = {job.number for job in reader.newest("inbound", limit=10_000)}
    assert set(by_loop) | set(by_thread) <= stored
    assert len(stored) == len(by_loop) + len(by_thread)
