"""A read-only job log beside the process that writes it (`payloads jobs` while a service runs):
it changes no file, and it always sees a consistent snapshot of what was committed."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from payloads_tui.domain.errors import StoreError
from payloads_tui.domain.models import HttpExchange
from payloads_tui.store.jobs import JOBS_DIR, JobLog


def files(tmp_path: Path) -> dict[str, tuple[int, int, int]]:
    """Every file of the job log with its inode, size and mtime."""
    folder = tmp_path / JOBS_DIR
    return {
        entry.name: (entry.inode(), entry.stat().st_size, entry.stat().st_mtime_ns)
        for entry in os.scandir(folder)
    }


def save_new(log: JobLog, count: int, status: str = "Completed") -> list[str]:
    numbers = []
    for _ in range(count):
        job = log.create("inbound", "acme", "Orders", "External API")
        job.status = status  # type: ignore[assignment]
        log.save(job)
        numbers.append(job.number)
    return numbers


def test_a_reader_beside_a_seal_in_progress_changes_nothing_and_sees_every_job(tmp_path: Path) -> None:
    writer = JobLog(tmp_path, durable=False, segment_jobs=5)
    release = threading.Event()
    manifest_due = threading.Event()
    write_manifest = writer._write_manifest

    def held_manifest(*args: object, **kwargs: object) -> None:
        manifest_due.set()
        assert release.wait(30)
        write_manifest(*args, **kwargs)  # type: ignore[arg-type]

    writer._write_manifest = held_manifest  # type: ignore[method-assign]
    try:
        saved = save_new(writer, 5)  # fills the active log: the sealer writes segment 1, then waits
        assert manifest_due.wait(30)
        saved += save_new(writer, 2)  # into the next active log
        before = files(tmp_path)
        assert {"active-00000001.jsonl", "active-00000002.jsonl"} <= set(before)
        assert any(name.startswith("seg-") for name in before)  # written, not yet in the manifest

        reader = JobLog(tmp_path, read_only=True)
        assert reader.total() == 7
        assert [job.number for job in reader.newest("inbound", limit=100)] == saved[::-1]
        assert all(reader.get(number) is not None for number in saved)
        reader.close()
        assert files(tmp_path) == before
    finally:
        release.set()
    writer.settle()
    writer.close()
    with JobLog(tmp_path) as reopened:
        assert [job.number for job in reopened.newest("inbound", limit=100)] == saved[::-1]


def test_a_reader_leaves_a_line_being_written_alone(tmp_path: Path) -> None:
    with JobLog(tmp_path, durable=False) as writer:
        saved = save_new(writer, 3)
    active = tmp_path / JOBS_DIR / "active-00000001.jsonl"
    with open(active, "ab") as handle:
        handle.write(b'{"number":"IN-4","kind":"inbound","integ')  # a write still under way
    size = active.stat().st_size
    reader = JobLog(tmp_path, read_only=True)
    assert [job.number for job in reader.newest(limit=10)] == saved[::-1]
    reader.close()
    assert active.stat().st_size == size


def test_a_read_only_log_refuses_changes_and_creates_nothing(tmp_path: Path) -> None:
    empty = JobLog(tmp_path / "nothing-here", read_only=True)
    assert empty.total() == 0 and empty.newest(limit=5) == []
    assert not (tmp_path / "nothing-here").exists()
    with JobLog(tmp_path, durable=False) as writer:
        job = writer.create("inbound", "acme", "Orders", "External API")
        writer.save(job)
    reader = JobLog(tmp_path, read_only=True)
    attempts = [
        lambda: reader.create("inbound", "acme", "Orders", "External API"),
        lambda: reader.save(job),
        lambda: reader.prune(max_jobs=0),
        lambda: reader.externalize(HttpExchange(method="POST", url="/"), b"\xff" * 10, "application/octet-stream"),
    ]
    for attempt in attempts:
        with pytest.raises(StoreError, match="read-only"):
            attempt()
    reader.settle()
    reader.close()
    assert not (tmp_path / "blobs").exists()


def test_readers_of_a_busy_log_always_see_a_consistent_snapshot(tmp_path: Path) -> None:
    """The writer seals every 50 jobs (every ~30 ms) and rewrites old segments (updates of sealed jobs), deleting
    the files it replaced; readers opened meanwhile see every committed job exactly once."""
    writer = JobLog(tmp_path, durable=False, segment_jobs=50)
    committed: list[str] = []
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            while not stop.is_set() and len(committed) < 5000:
                numbers = save_new(writer, 3, status="Queued")
                committed.extend(numbers)
                old = writer.get(committed[len(committed) // 2])  # most often in a sealed segment
                assert old is not None
                old.status = "Completed"
                writer.save(old)
                time.sleep(0.002)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    reads = 0
    deadline = time.monotonic() + 3
    try:
        while time.monotonic() < deadline and thread.is_alive():
            seen_before = len(committed)
            reader = JobLog(tmp_path, read_only=True)
            listed = [job.number for job in reader.newest("inbound", limit=10_000)]
            assert reader.total() == len(listed) >= seen_before
            assert listed == [f"IN-{n}" for n in range(len(listed), 0, -1)]  # no gap, no double
            assert not listed or reader.get(listed[-1]) is not None
            reader.close()
            reads += 1
    finally:
        stop.set()
        thread.join(30)
    writer.close()
    assert not failures, failures
    assert reads >= 5 and writer.seals >= 5


def test_a_read_only_workspace_reads_the_job_log_read_only(tmp_path: Path) -> None:
    from payloads_tui.service.workspace import Workspace
    from payloads_tui.settings import Settings

    with Workspace(Settings(home=tmp_path)) as owner:  # what `payloads serve` holds
        job = owner.jobs.create("inbound", "acme", "Orders", "External API")
        owner.jobs.save(job)
        before = files(tmp_path)
        with Workspace(Settings(home=tmp_path), read_only=True) as reader:  # what `payloads jobs` opens
            assert reader.jobs.read_only
            assert reader.job(job.number.lower()).number == job.number
        assert files(tmp_path) == before
