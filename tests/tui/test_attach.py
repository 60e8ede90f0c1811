"""A console attached to another process's service, when that service stops and when one starts again.

The "other process" is a thread with its own event loop running a `ControlServer` over a
writable workspace: the console's calls are blocking socket calls from its own loop, so
the service must not share that loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from payloads_tui.service.control import ControlServer
from payloads_tui.service.remote import RemoteWorkspace, attach
from payloads_tui.service.workspace import Workspace
from payloads_tui.settings import Settings, load_settings
from payloads_tui.tui.app import make_app
from payloads_tui.tui.screens.integration import IntegrationScreen
from payloads_tui.store.demo import CUSTOMER_WEBHOOK
from tests.tui.conftest import FIXED_NOW, Notices, text_of, wait_for


class ServiceThread:
    """A workspace (holding the data directory's lock) served on its control socket from a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        with Workspace(self.settings) as workspace:
            server = ControlServer(workspace)
            await server.start()
            self._ready.set()
            await self._stop.wait()
            await server.stop()

    def start(self) -> ServiceThread:
        self._thread.start()
        assert self._ready.wait(10), "the service thread did not start"
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            assert self._stop is not None
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr("payloads_tui.tui.app.WATCH_INTERVAL", 0.2)
    settings = load_settings(config_file=tmp_path / "no-settings.toml", environ={}, home=tmp_path / "data")
    with Workspace(settings) as ws:
        ws.seed_demo()
    return settings


@pytest.fixture
def services(settings: Settings) -> Iterator[list[ServiceThread]]:
    started: list[ServiceThread] = []
    yield started
    for service in started:
        service.stop()


async def test_an_attached_console_reads_on_when_its_service_stops_and_attaches_again(
    settings: Settings, services: list[ServiceThread]
) -> None:
    services.append(ServiceThread(settings).start())
    remote = attach(settings)
    assert remote is not None
    app = make_app(remote, clock=lambda: FIXED_NOW, attached_pid=os.getpid())  # type: ignore[arg-type]
    notices = Notices()
    async with app.run_test(size=(80, 24), message_hook=notices) as pilot:
        await pilot.pause()
        assert app.service_line()[0] == f"attached to a service (pid {os.getpid()})"

        services[0].stop()
        await wait_for(pilot, lambda: app.service_gone, what="the console noticing its service stopped")
        assert isinstance(app.workspace, Workspace) and app.workspace.read_only
        assert any(n.title == "Service stopped" for n in notices.seen)
        assert "stopped; attaches again when one starts" in app.service_line()[0]
        await pilot.press("enter")  # the integration opens from the files: no crash, nothing to attach to
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen) and app.screen.integration is not None)
        before = len(notices.seen)
        await pilot.press("2", "R")
        await wait_for(pilot, lambda: len(notices.seen) > before)
        assert "stopped; the console attaches again" in notices.seen[-1].message
        title = app.screen.query_one("#inbound-jobs-title")
        assert "○ read-only, as read at" in text_of(title)

        with Workspace(settings) as meanwhile:  # a job that arrives while no service answers the console
            job = meanwhile.jobs.create("inbound", "stripe", CUSTOMER_WEBHOOK, "External API", status="Completed")
            meanwhile.jobs.save(job)
        services.append(ServiceThread(settings).start())
        await wait_for(pilot, lambda: isinstance(app.workspace, RemoteWorkspace), timeout=10,
                       what="the console attaching to the new service")
        assert not app.service_gone and app.service_line()[0].startswith("attached to a service")
        assert [i.slug for i in app.workspace.integrations()] == ["stripe"]
        table = app.screen.query_one("#inbound-jobs")
        await wait_for(pilot, lambda: job.number in table.numbers, what="the job that arrived meanwhile")
        assert "● live" in text_of(title)


async def test_a_no_service_console_says_which_service_runs_its_directory(
    settings: Settings, services: list[ServiceThread]
) -> None:
    read_only = Workspace(settings, read_only=True)
    app = make_app(read_only, clock=lambda: FIXED_NOW)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert app.service_line()[0] == "read-only · service off"
            services.append(ServiceThread(settings).start())
            await wait_for(pilot, lambda: app.elsewhere_pid == os.getpid(), timeout=10)
            assert app.service_line()[0] == (
                f"read-only (--no-service) · a service (pid {os.getpid()}) runs this data directory")
            assert app.workspace is read_only, "--no-service never attaches"
            services[0].stop()
            await wait_for(pilot, lambda: app.elsewhere_pid is None, timeout=10)
    finally:
        read_only.close()


async def test_a_prune_through_the_service_reloads_the_attached_consoles_jobs(
    settings: Settings, services: list[ServiceThread], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`payloads jobs prune` beside an attached console: its tables and figures showed dropped jobs."""
    from payloads_tui.store.jobs import JobLog

    monkeypatch.setattr(JobLog.__init__, "__kwdefaults__", {**JobLog.__init__.__kwdefaults__, "segment_jobs": 8})
    with Workspace(settings) as ws:
        made = []
        for _ in range(20):
            job = ws.jobs.create("inbound", "stripe", CUSTOMER_WEBHOOK, "External API", status="Completed")
            ws.jobs.save(job)
            made.append(job.number)
        ws.jobs.settle()
    services.append(ServiceThread(settings).start())
    remote = attach(settings)
    assert remote is not None
    app = make_app(remote, attached_pid=os.getpid())  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen) and app.screen.integration is not None)
        await pilot.press("2")
        table = app.screen.query_one("#inbound-jobs")
        await wait_for(pilot, lambda: made[0] in table.numbers, what="the oldest job listed")
        dropped = attach(settings).prune_jobs(max_jobs=8)  # a second client, as the CLI is
        assert dropped >= 8
        await wait_for(pilot, lambda: made[0] not in table.numbers, what="the table read again")
        assert len(table.numbers) == 20 - dropped
