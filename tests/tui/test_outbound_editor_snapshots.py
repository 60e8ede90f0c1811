"""Snapshots of the outbound editor's child records and nested array elements, at 80×24 and 120×40.

Regenerate after a deliberate change with
`pytest tests/tui/test_outbound_editor_snapshots.py --snapshot-update`, after looking at the new SVGs.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from payloads_tui.domain.models import ChildSource, Element
from payloads_tui.service.workspace import Workspace
from payloads_tui.store.demo import EXPOSE_ACCOUNTS
from payloads_tui.tui.app import PayloadsApp
from payloads_tui.tui.screens.outbound_editor import OutboundEditorScreen
from payloads_tui.tui.widgets.nested_elements import NestedElementsEditor
from payloads_tui.tui.widgets.outbound_sources import SourcesEditor

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture
def with_children(workspace: Workspace) -> Workspace:
    """The demo with child records on `Expose Account Status` and an array of them inside `accounts[]`."""
    integration = workspace.integration("stripe")
    payload = integration.outbound_payload(EXPOSE_ACCOUNTS)
    assert payload is not None
    payload.sources[0].children += [
        ChildSource(name="orders", object="Order", parent_field="account_id", filter="status == 'Open'",
                    sort="number", limit=20),
        ChildSource(name="tasks", object="Task", parent_field="account_id", descending=True),
    ]
    payload.elements[0].elements.append(Element(path="open_orders", each="orders", elements=[
        Element(path="number", expression="number"),
        Element(path="total", expression="amount_total"),
    ]))
    workspace.save_integration(integration)
    return workspace


Step = tuple[str, Callable[[PayloadsApp], bool]]


def focused_on(widget_id: str) -> Callable[[PayloadsApp], bool]:
    return lambda app: app.focused is not None and app.focused.id == widget_id


def open_editor(*steps: Step) -> Callable[[Pilot], Awaitable[None]]:
    """Open `Expose Account Status` in the editor; press each step's key and wait until its condition holds."""

    async def settle(pilot: Pilot, condition: Callable[[PayloadsApp], bool], what: str) -> None:
        deadline = time.monotonic() + 5
        while not condition(pilot.app):  # type: ignore[arg-type]
            assert time.monotonic() < deadline, f"timed out waiting after {what}"
            await pilot.pause(0.05)

    async def run_before(pilot: Pilot) -> None:
        pilot.app.push_screen(OutboundEditorScreen("stripe", EXPOSE_ACCOUNTS))
        await settle(pilot, focused_on("h-name"), "opening the editor")
        for key, condition in steps:
            await pilot.press(key)
            await settle(pilot, condition, key)
        await pilot.pause(0.3)
        for widget in pilot.app.screen.query(Input):
            widget.cursor_blink = False
        await pilot.pause(0.1)

    return run_before


def elements(app: PayloadsApp) -> NestedElementsEditor:
    return app.screen.query_one(NestedElementsEditor)


@pytest.mark.parametrize("size", SIZES)
def test_child_records_of_a_source(snap_compare, app: PayloadsApp, with_children: Workspace,
                                   size: tuple[int, int]) -> None:
    steps = [("alt+2", focused_on("sources-editor-table")),
             ("c", lambda a: a.screen.query_one(SourcesEditor).showing_children)]
    assert snap_compare(app, terminal_size=size, run_before=open_editor(*steps))


@pytest.mark.parametrize("size", SIZES)
def test_nested_elements_of_an_array(snap_compare, app: PayloadsApp, with_children: Workspace,
                                     size: tuple[int, int]) -> None:
    steps = [("alt+3", focused_on("elements-editor-table")), ("enter", lambda a: elements(a).depth == 1)]
    steps += [("down", lambda a, row=row: elements(a).editor.index == row) for row in range(1, 6)]
    # into accounts[], onto its own array open_orders[]
    assert snap_compare(app, terminal_size=size, run_before=open_editor(*steps))
