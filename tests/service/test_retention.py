"""Automatic retention: the running service prunes the job log by the retention settings."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from pathlib import Path

import pytest

from payloads_tui.domain.errors import StoreError
from payloads_tui.service.retention import Retention
from payloads_tui.service.service import Service
from payloads_tui.service.workspace import Workspace
from payloads_tui.settings import Settings
from payloads_tui.store.jobs import JobLog

DAY = 86400.0


def old_and_new_jobs(home: Path, old: int = 10, new: int = 3) -> None:
    """`old` jobs 40 days old, sealed in segments of 5, then `new` fresh ones in the open log."""
    with JobLog(home, durable=False, segment_jobs=5) as log:
        for created in [time.time() - 40 * DAY] * old + [time.time()] * new:
            job = log.create("inbound", "acme", "Customers", "External API", created=created)
            job.status = "Completed"
            log.save(job)
            if log.total() == old:
                log.settle()


def with_retention(settings: Settings, days: int, jobs: int) -> Settings:
    return dataclasses.replace(settings, limits=dataclasses.replace(settings.limits, retention_days=days,
                                                                    retention_jobs=jobs))


async def wait_until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_the_running_service_prunes_by_age_on_its_own(settings: Settings,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    old_and_new_jobs(settings.home)
    with Workspace(with_retention(settings, days=30, jobs=0)) as ws:
        service = Service(ws, http=False, smtp=False)
        assert service.retention is not None
        service.retention.first = 0.05
        caplog.set_level(logging.INFO, logger="payloads_tui.service.retention")
        await service.start()
        try:
            await wait_until(lambda: service.retention.dropped == 10)  # type: ignore[union-attr]
        finally:
            await service.stop()
        assert [j.number for j in ws.newest_jobs("inbound", limit=20)] == ["IN-13", "IN-12", "IN-11"]
        assert "retention: dropped 10 jobs (keeping the last 30 days)" in caplog.text


async def test_retention_by_count_runs_again_every_interval(settings: Settings,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    old_and_new_jobs(settings.home, old=10, new=3)
    with Workspace(with_retention(settings, days=0, jobs=8)) as ws:
        real, calls = ws.prune_jobs, []

        def counted(**limits: object) -> int:
            calls.append(limits)
            return real(**limits)  # type: ignore[arg-type]

        monkeypatch.setattr(ws, "prune_jobs", counted)
        retention = Retention(ws, first=0.0, interval=0.05)
        retention.start()
        try:
            await wait_until(lambda: len(calls) >= 3)
        finally:
            await retention.stop()
        assert calls[0] == {"max_age_days": None, "max_jobs": 8}
        assert retention.dropped == 5 and ws.jobs.total() == 8  # the oldest segment, once


async def test_no_limit_means_no_pruning_and_one_shot_services_have_none(settings: Settings) -> None:
    old_and_new_jobs(settings.home)
    with Workspace(with_retention(settings, days=0, jobs=0)) as ws:
        retention = Retention(ws, first=0.0)
        retention.start()
        await asyncio.sleep(0.1)
        await retention.stop()
        assert retention.dropped == 0 and ws.jobs.total() == 13
        assert Service(ws, http=False, smtp=False, retention=False).retention is None


async def test_a_failed_prune_is_logged_and_retention_goes_on(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    old_and_new_jobs(settings.home)
    with Workspace(with_retention(settings, days=30, jobs=0)) as ws:
        real = ws.prune_jobs
        failures = iter([StoreError("the disk is full")])

        def prune_jobs(**limits: object) -> int:  # the first attempt fails as a full disk would
            for error in failures:
                raise error
            return real(**limits)  # type: ignore[arg-type]

        monkeypatch.setattr(ws, "prune_jobs", prune_jobs)
        retention = Retention(ws, first=0.0, interval=0.05)
        retention.start()
        try:
            await wait_until(lambda: retention.dropped == 10)
        finally:
            await retention.stop()
        assert "retention: the job log could not be pruned: the disk is full" in caplog.text


async def test_stopping_waits_for_a_prune_under_way(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The log closes right after the service stops: a prune in its thread must be over by then."""
    old_and_new_jobs(settings.home)
    with Workspace(with_retention(settings, days=30, jobs=0)) as ws:
        real, started = ws.prune_jobs, threading.Event()

        def slow(**limits: object) -> int:  # a prune that takes a while (many segments and blobs)
            started.set()
            time.sleep(0.3)
            return real(**limits)  # type: ignore[arg-type]

        monkeypatch.setattr(ws, "prune_jobs", slow)
        retention = Retention(ws, first=0.0)
        retention.start()
        await asyncio.to_thread(started.wait, 5)
        await retention.stop()
        assert ws.jobs.total() == 3  # the prune finished before stop() returned
