"""Snapshots of each main screen at 80×24 and 120×40, with a fixed clock, zone and data directory name.

Regenerate after a deliberate change with `pytest tests/tui/test_snapshots.py --snapshot-update`,
after looking at the new SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from payloads_tui.service.workspace import Workspace
from payloads_tui.settings import load_settings
from payloads_tui.tui.app import PayloadsApp, make_app
from payloads_tui.tui.screens.inbound_editor import InboundEditorScreen
from payloads_tui.tui.screens.job_detail import JobDetailScreen
from tests.tui.conftest import FIXED_NOW

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def drive(*keys: str, push: Callable[[PayloadsApp], object] | None = None) -> Callable[[Pilot], Awaitable[None]]:
    """Press `keys` (after pushing a screen, if given), wait for the app to settle, stop cursors blinking."""

    async def run_before(pilot: Pilot) -> None:
        app = pilot.app
        await pilot.pause(0.2)
        if push is not None:
            push(app)  # type: ignore[arg-type]
            await pilot.pause(0.3)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.15)
        await pilot.pause(0.4)
        for widget in app.screen.query("Input, TextArea"):
            if isinstance(widget, (Input, TextArea)):
                widget.cursor_blink = False
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_home(snap_compare, app: PayloadsApp, jobs: dict, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=drive())


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("tab", ["1", "2", "3", "4"])
def test_integration_tabs(snap_compare, app: PayloadsApp, jobs: dict, size: tuple[int, int], tab: str) -> None:
    assert snap_compare(app, terminal_size=size, run_before=drive("enter", tab))


@pytest.mark.parametrize("size", SIZES)
def test_jobs_failures_only(snap_compare, app: PayloadsApp, jobs: dict, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=drive("enter", "2", "f"))


@pytest.mark.parametrize("size", SIZES)
def test_job_detail(snap_compare, app: PayloadsApp, jobs: dict, size: tuple[int, int]) -> None:
    number = jobs["out_ok"].number
    assert snap_compare(app, terminal_size=size, run_before=drive(push=lambda a: a.push_screen(JobDetailScreen(number))))


@pytest.mark.parametrize("size", SIZES)
def test_inbound_editor(snap_compare, app: PayloadsApp, size: tuple[int, int]) -> None:
    push = lambda a: a.push_screen(InboundEditorScreen("stripe", "Checkout Session Completed (Webhook)"))  # noqa: E731
    assert snap_compare(app, terminal_size=size, run_before=drive(push=push))


@pytest.mark.parametrize("size", SIZES)
def test_inbound_editor_mappings(snap_compare, app: PayloadsApp, size: tuple[int, int]) -> None:
    push = lambda a: a.push_screen(InboundEditorScreen("stripe", "Customer: Created / Updated (Webhook)"))  # noqa: E731
    assert snap_compare(app, terminal_size=size, run_before=drive("alt+2", push=push))


@pytest.mark.parametrize("size", SIZES)
def test_keys_help(snap_compare, app: PayloadsApp, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=drive("enter", "question_mark"))


@pytest.fixture
def app_with_fixed_history(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PayloadsApp]:
    """The demo seeded an hour before the fixed now, by user `ops`: its history reads the same every run."""
    monkeypatch.setattr("payloads_tui.store.config.now", lambda: FIXED_NOW - 3600)
    monkeypatch.setattr("payloads_tui.service.workspace.current_user", lambda: "ops")
    settings = load_settings(config_file=home.parent / "no-settings.toml", environ={}, home=home)
    workspace = Workspace(settings)
    workspace.seed_demo()
    yield make_app(workspace, clock=lambda: FIXED_NOW)
    workspace.close()


@pytest.mark.parametrize("size", SIZES)
def test_history_tab(snap_compare, app_with_fixed_history: PayloadsApp, size: tuple[int, int]) -> None:
    assert snap_compare(app_with_fixed_history, terminal_size=size, run_before=drive("enter", "5"))
