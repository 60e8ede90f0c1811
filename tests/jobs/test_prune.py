"""Retention: prune drops whole old segments, and the blobs only they referred to."""

from __future__ import annotations

import os
import time
from pathlib import Path

from payloads_tui.domain.models import HttpExchange, Job
from payloads_tui.store.jobs import JobLog

SEGMENT = 5
DAY = 86400.0


def add(log: JobLog, count: int, created: float, **fields: object) -> list[Job]:
    jobs = []
    for _ in range(count):
        job = log.create("inbound", "acme", "Customers", "External API", **fields)
        job.status = "Completed"
        job.created = created
        log.save(job)
        jobs.append(job)
    return jobs


def segment_files(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "jobs").glob("seg-*"))


def test_prune_by_age_drops_only_segments_wholly_older(tmp_path: Path) -> None:
    now = time.time()
    with JobLog(tmp_path, durable=False, segment_jobs=SEGMENT) as log:
        old = add(log, 10, now - 40 * DAY)
        log.settle()
        recent = add(log, 12, now - 1 * DAY)
        log.settle()
        sealed_before = segment_files(tmp_path)
        dropped = log.prune(max_age_days=30)
        assert dropped == len(old)
        assert log.total() == len(recent)
        assert all(log.get(j.number) is None for j in old)
        assert all(log.get(j.number) is not None for j in recent)
        assert {j.number for j in log.newest(limit=100)} == {j.number for j in recent}
        assert len(segment_files(tmp_path)) < len(sealed_before)
        assert log.prune(max_age_days=30) == 0
    with JobLog(tmp_path, durable=False, segment_jobs=SEGMENT) as reopened:
        assert reopened.total() == len(recent)
        assert reopened.get(old[0].number) is None
        # Numbers of pruned jobs are still never handed out again.
        assert int(reopened.new_number("inbound")[3:]) > recent[-1].seq


def test_prune_by_count_keeps_at_most_max_jobs_dropping_oldest_whole_segments(tmp_path: Path) -> None:
    with JobLog(tmp_path, durable=False, segment_jobs=SEGMENT) as log:
        jobs = add(log, 31, time.time())
        log.settle()
        dropped = log.prune(max_jobs=12)
        kept = log.total()
        assert dropped + kept == len(jobs)
        assert kept <= 12
        kept_numbers = {j.number for j in log.newest("inbound", limit=100)}
        assert kept_numbers == {j.number for j in jobs[-kept:]}  # the newest survive


def test_a_late_update_of_a_pruned_job_is_dropped_not_resurrected(tmp_path: Path) -> None:
    with JobLog(tmp_path, durable=False, segment_jobs=SEGMENT) as log:
        old = add(log, 10, time.time() - 40 * DAY)
        log.settle()
        add(log, 3, time.time())
        log.prune(max_age_days=30)
        old[0].status = "Failed"
        log.save(old[0])
        assert log.get(old[0].number) is None
        assert log.total() == 3


def test_prune_deletes_blobs_only_pruned_jobs_referred_to(tmp_path: Path) -> None:
    now = time.time()
    with JobLog(tmp_path, durable=False, segment_jobs=SEGMENT, blob_threshold=64) as log:
        only_old, shared = HttpExchange(), HttpExchange()
        log.externalize(only_old, b"o" * 1000, "text/plain")
        log.externalize(shared, b"s" * 1000, "text/plain")
        assert only_old.body_blob and shared.body_blob
        add(log, 4, now - 40 * DAY, request=only_old)
        add(log, 1, now - 40 * DAY, request=shared)
        log.settle()
        add(log, 5, now, request=shared)
        log.settle()
        for sha in (only_old.body_blob, shared.body_blob):  # written when those jobs came
            os.utime(log.blobs.path_of(sha), (now - 40 * DAY, now - 40 * DAY))
        assert log.prune(max_age_days=30) == 5
        assert not log.blobs.exists(only_old.body_blob)
        assert log.blobs.exists(shared.body_blob)


def test_prune_keeps_an_old_blob_a_new_job_is_about_to_refer_to(tmp_path: Path) -> None:
    """The body of a job being received equals one only pruned jobs had: storing it again (before the
    new job is logged) must keep the blob, or the new job would point at nothing."""
    now = time.time()
    with JobLog(tmp_path, durable=False, segment_jobs=SEGMENT, blob_threshold=64) as log:
        old = HttpExchange()
        log.externalize(old, b"b" * 1000, "text/plain")
        assert old.body_blob
        add(log, 5, now - 40 * DAY, request=old)
        log.settle()
        add(log, 2, now)
        path = log.blobs.path_of(old.body_blob)
        os.utime(path, (now - 40 * DAY, now - 40 * DAY))
        arriving = HttpExchange()
        log.externalize(arriving, b"b" * 1000, "text/plain")  # same bytes: the blob is put again
        assert arriving.body_blob == old.body_blob
        assert log.prune(max_age_days=30) == 5
        assert log.blobs.exists(old.body_blob)
        add(log, 1, now, request=arriving)
        [newest] = log.newest("inbound", limit=1)
        assert log.body_of(newest.request) == b"b" * 1000


def test_prune_keeps_a_data_blob_a_newer_job_refers_to(tmp_path: Path) -> None:
    now = time.time()
    rows = [{"id": f"acc_{i}", "name": "n" * 50} for i in range(20)]
    with JobLog(tmp_path, durable=False, segment_jobs=SEGMENT, blob_threshold=64) as log:
        old = add(log, 5, now - 40 * DAY)
        for i, job in enumerate(old):
            log.keep_data(job, rows if i == 0 else [*rows, {"id": f"only_{i}"}])
            log.save(job)
        shas = [job.data_blob for job in old]
        assert all(shas) and len(set(shas)) == 5
        log.settle()
        replayed = add(log, 1, now, data_blob=old[0].data_blob)[0]
    with JobLog(tmp_path, durable=False, segment_jobs=SEGMENT, blob_threshold=64) as log:  # heads read from disk
        for sha in shas:
            os.utime(log.blobs.path_of(sha), (now - 40 * DAY, now - 40 * DAY))  # type: ignore[arg-type]
        assert log.prune(max_age_days=30) == 5
        assert log.blobs.exists(shas[0])  # type: ignore[arg-type]
        assert not any(log.blobs.exists(sha) for sha in shas[1:])  # type: ignore[arg-type]
        assert log.data_of(log.get(replayed.number)) == rows  # type: ignore[arg-type]
