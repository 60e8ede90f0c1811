"""Snapshots of each main screen at 80×24 and 120×40, with a fixed clock, zone and data directory name.

Regenerate after a deliberate change with `pytest tests/tui/test_snapshots.py --snapshot-update`,
after looking at the new SVGs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from payloads_tui.tui.app import PayloadsApp
from payloads_tui.tui.screens.inbound_editor import InboundEditorScreen
from payloads_tui.tui.screens.job_detail import JobDetailScreen

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
