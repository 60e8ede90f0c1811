"""The active log is preallocated (zeros ahead of its lines): what lies past the lines is never a job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from payloads_tui.domain.errors import StoreError
from payloads_tui.store.jobs import JOBS_DIR, PREALLOCATE, JobLog


def active_path(data_dir: Path) -> Path:
    [path] = sorted((data_dir / JOBS_DIR).glob("active-*.jsonl"))
    return path


def save_new(log: JobLog, count: int) -> list[str]:
    numbers = []
    for _ in range(count):
        job = log.create("inbound", "acme", "Customers", "Console")
        log.save(job)
        numbers.append(job.number)
    return numbers


def test_zeros_are_written_ahead_of_the_lines_and_trimmed_at_close(tmp_path: Path) -> None:
    log = JobLog(tmp_path)
    saved = save_new(log, 3)
    data = active_path(tmp_path).read_bytes()
    lines = data[: data.index(b"\0")]
    assert len(data) >= len(lines) + PREALLOCATE // 2
    assert data[len(lines) :] == bytes(len(data) - len(lines))
    assert lines.endswith(b"\n") and all(number.encode() in lines for number in saved)
    log.close()  # it records the exact next numbers: one more line
    closed = active_path(tmp_path).read_bytes()
    assert closed.startswith(lines) and closed.endswith(b"\n") and b"\0" not in closed
    with JobLog(tmp_path) as reopened:
        assert [job.number for job in reopened.newest(limit=10)] == saved[::-1]
        assert reopened.skipped_lines == 0


def test_more_zeros_are_written_when_the_lines_reach_them(tmp_path: Path) -> None:
    with JobLog(tmp_path, durable=False) as log:
        saved = []
        while active_path(tmp_path).stat().st_size < 2 * PREALLOCATE + 1:
            job = log.create("inbound", "acme", "Customers", "Console", error="x" * 4000)
            log.save(job)
            saved.append(job.number)
        data = active_path(tmp_path).read_bytes()
        assert data.index(b"\0") > PREALLOCATE  # the lines went past the first zeros
        assert data.count(b"\n") >= len(saved)
    with JobLog(tmp_path) as reopened:
        assert reopened.total() == len(saved)
        assert reopened.get(saved[-1]).error == "x" * 4000  # type: ignore[union-attr]


def test_a_line_after_the_zeros_is_never_replayed(tmp_path: Path) -> None:
    # A crash may persist a later, unacknowledged write while an earlier one is still zeros.
    with JobLog(tmp_path) as log:
        saved = save_new(log, 3)
    path = active_path(tmp_path)
    lines = path.read_bytes()
    stray = lines.splitlines()[-1].replace(saved[-1].encode(), b"IN-50") + b"\n"
    with open(path, "ab") as handle:
        handle.write(bytes(4096) + stray + bytes(512))

    reader = JobLog(tmp_path, read_only=True)
    assert reader.get("IN-50") is None
    assert reader.total() == 3
    reader.close()
    assert path.read_bytes() == lines + bytes(4096) + stray + bytes(512)  # a reader changes nothing

    with JobLog(tmp_path) as log:
        assert path.read_bytes() == lines  # the writer cut it off before writing after the lines
        assert log.get("IN-50") is None
        assert log.total() == 3 and log.skipped_lines == 0
        saved += save_new(log, 1)
    with JobLog(tmp_path) as log:
        assert [job.number for job in log.newest(limit=10)] == saved[::-1]
        assert log.get("IN-50") is None


def test_a_failed_write_leaves_nothing_after_the_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = JobLog(tmp_path)
    saved = save_new(log, 2)
    real_pwrite = os.pwrite

    def failing_pwrite(fd: int, data: bytes, offset: int) -> int:
        real_pwrite(fd, bytes(data)[: len(data) // 2], offset)  # half written, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "pwrite", failing_pwrite)
    with pytest.raises(StoreError, match="No space left on device"):
        save_new(log, 1)
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    data = active_path(tmp_path).read_bytes()
    assert data.endswith(b"\n") and b"\0" not in data  # the half-written line is gone
    saved += save_new(log, 1)
    log.close()
    with JobLog(tmp_path) as reopened:
        assert [job.number for job in reopened.newest(limit=10)] == saved[::-1]
        assert reopened.skipped_lines == 0


def test_a_nul_character_in_a_job_does_not_end_the_lines(tmp_path: Path) -> None:
    with JobLog(tmp_path) as log:
        saved = save_new(log, 1)
        job = log.create("inbound", "acme", "Customers", "Console", error="before\x00after")
        log.save(job)
        saved += [job.number] + save_new(log, 1)
        data = active_path(tmp_path).read_bytes()
        assert b"before\\u0000after" in data[: data.index(b"\0")]  # JSON escapes it
    with JobLog(tmp_path) as reopened:
        assert [j.number for j in reopened.newest(limit=10)] == saved[::-1]
        assert reopened.get(job.number).error == "before\x00after"  # type: ignore[union-attr]


def test_no_room_for_the_zeros_still_saves_the_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A nearly full disk: the 1 MiB of zeros ahead does not fit, the job's line does.
    log = JobLog(tmp_path)
    real_pwrite = os.pwrite

    def pwrite_small_only(fd: int, data: bytes, offset: int) -> int:
        if len(data) >= PREALLOCATE // 2:
            raise OSError(28, "No space left on device")
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite_small_only)
    saved = save_new(log, 3)
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    assert b"\0" not in active_path(tmp_path).read_bytes()
    saved += save_new(log, 1)  # room again: zeros ahead once more
    assert b"\0" in active_path(tmp_path).read_bytes()
    log.close()
    with JobLog(tmp_path) as reopened:
        assert [job.number for job in reopened.newest(limit=10)] == saved[::-1]
        assert reopened.skipped_lines == 0
