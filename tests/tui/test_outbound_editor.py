"""The outbound editor from the keyboard: child sources, nested array elements to any depth, read-only.

Every test drives the editor with keys, then reads what the store holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
from textual.widgets import Select
from textual.widgets._footer import FooterKey

from payloads_tui.domain.models import ChildSource, Element, OutboundPayload
from payloads_tui.engine.requestbuild import build_document, query_sources
from payloads_tui.service.workspace import Workspace
from payloads_tui.settings import load_settings
from payloads_tui.store.demo import CUSTOMER_CREATE, CUSTOMER_WEBHOOK, EXPOSE_ACCOUNTS
from payloads_tui.tui.app import PayloadsApp, make_app
from payloads_tui.tui.screens.confirm import ConfirmScreen
from payloads_tui.tui.screens.inbound_editor import InboundEditorScreen
from payloads_tui.tui.screens.outbound_editor import OutboundEditorScreen
from payloads_tui.tui.widgets.form import FieldRow
from payloads_tui.tui.widgets.nested_elements import NestedElementsEditor
from payloads_tui.tui.widgets.outbound_sources import SourcesEditor
from tests.tui.conftest import FIXED_NOW, text_of, type_text, wait_for

SIZE = (80, 24)


def stored(workspace: Workspace, name: str) -> OutboundPayload:
    payload = workspace.integration("stripe").outbound_payload(name)
    assert payload is not None
    return payload


async def open_editor(app: PayloadsApp, pilot: object, name: str) -> OutboundEditorScreen:
    app.push_screen(OutboundEditorScreen("stripe", name))
    await wait_for(pilot, lambda: isinstance(app.screen, OutboundEditorScreen), what="the editor")
    await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "h-name", what="its name field")
    return app.screen  # type: ignore[return-value]


async def open_first_array(app: PayloadsApp, pilot: object) -> tuple[OutboundEditorScreen, NestedElementsEditor]:
    """The editor of Expose Account Status, opened at the fields of its first array element (accounts[])."""
    editor = await open_editor(app, pilot, EXPOSE_ACCOUNTS)
    elements = editor.query_one(NestedElementsEditor)
    await pilot.press("alt+3")
    await wait_for(pilot, lambda: app.focused is elements.editor.table)
    await pilot.press("enter")  # accounts[] is an array: enter opens its fields
    await wait_for(pilot, lambda: elements.depth == 1)
    return editor, elements


def focused_id(app: PayloadsApp) -> str | None:
    return app.focused.id if app.focused is not None else None


async def choose(pilot: object, app: PayloadsApp, value: str) -> None:
    """Pick `value` in the focused select from the keyboard: enter opens it, ↓ moves, enter picks."""
    select = app.focused
    assert isinstance(select, Select)
    values = [None, *(v for _, v in select._options[1:])]  # the blank option comes first
    await pilot.press("enter")  # type: ignore[attr-defined]
    await pilot.press(*["down"] * values.index(value), "enter")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: select.value == value, what=f"{value} chosen")


def invalid_rows(root: object) -> dict[str, str]:
    return {row.name or "": text_of(row.query_one(".field-error"))
            for row in root.query(FieldRow) if row.has_class("-invalid")}  # type: ignore[attr-defined]


async def test_a_child_source_is_added_from_the_keyboard_and_saved(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot, CUSTOMER_CREATE)
        sources = editor.query_one(SourcesEditor)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: app.focused is sources.source_list.table, what="the sources table")
        await pilot.press("c")  # the child records of the source under the cursor
        await wait_for(pilot, lambda: app.focused is sources.child_list.table, what="the children table")
        assert "Sources › accounts › child records" in text_of(sources.query_one("#children-path"))
        await pilot.press("a")
        await wait_for(pilot, lambda: focused_id(app) == "children-editor-name", what="the new child's name")
        await type_text(pilot, "orders\n")
        await type_text(pilot, "Order\n")
        assert focused_id(app) == "children-editor-parent_field"
        assert app.focused.value == "account_id"  # type: ignore[union-attr]  # guessed from the parent's object
        await pilot.press("enter")
        await type_text(pilot, "status == 'Open'\n")
        await type_text(pilot, "number\n")
        assert focused_id(app) == "children-editor-descending"
        await pilot.press("enter", "tab")  # descending on, then the limit
        await type_text(pilot, "10\n")
        await wait_for(pilot, lambda: app.focused is sources.child_list.table, what="back at the table")
        assert not invalid_rows(sources.child_list)
        await pilot.press("escape")  # up to the sources, on the same source
        await wait_for(pilot, lambda: app.focused is sources.source_list.table, what="the sources again")
        assert isinstance(app.screen, OutboundEditorScreen)
        assert str(sources.source_list.table.row_values("0")["children"]) == "1 ›"  # type: ignore[index]
        assert stored(workspace, CUSTOMER_CREATE).sources[0].children == []  # nothing saved before ctrl+s
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not editor.has_unsaved_changes(), what="the save")
    assert stored(workspace, CUSTOMER_CREATE).sources[0].children == [
        ChildSource(name="orders", object="Order", parent_field="account_id", filter="status == 'Open'",
                    sort="number", descending=True, limit=10)]


async def test_a_bad_child_filter_is_shown_at_its_child_when_saving(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot, CUSTOMER_CREATE)
        sources = editor.query_one(SourcesEditor)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: app.focused is sources.source_list.table)
        await pilot.press("c", "a")
        await wait_for(pilot, lambda: focused_id(app) == "children-editor-name")
        await type_text(pilot, "lines\nOrder\n\nstatus ==\n")
        assert "filter" in invalid_rows(sources.child_list)  # said as typed
        await pilot.press("escape")
        await wait_for(pilot, lambda: not sources.showing_children)
        await pilot.press("ctrl+s")  # the store refuses it: back in the children, at the filter
        await wait_for(pilot, lambda: sources.showing_children and focused_id(app) == "children-editor-filter",
                       what="the error at its field")
        assert "filter" in invalid_rows(sources.child_list)
    assert stored(workspace, CUSTOMER_CREATE).sources[0].children == []


async def test_a_limit_that_is_not_a_number_is_said_at_once_and_not_saved(
    app: PayloadsApp, workspace: Workspace
) -> None:
    before = stored(workspace, CUSTOMER_CREATE).sources[0].limit
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot, CUSTOMER_CREATE)
        sources = editor.query_one(SourcesEditor)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: app.focused is sources.source_list.table)
        await pilot.press("enter")
        await wait_for(pilot, lambda: focused_id(app) == "sources-editor-name")
        sources.source_list.query_one("#sources-editor-limit").focus()
        await pilot.pause()
        await type_text(pilot, "-5x")
        await wait_for(pilot, lambda: invalid_rows(sources.source_list).get("limit") == "a whole number, or empty",
                       what="the limit said to be wrong as typed")
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert editor.has_unsaved_changes(), "not saved as 'no limit'"
    assert stored(workspace, CUSTOMER_CREATE).sources[0].limit == before


async def test_max_attempts_that_is_not_a_number_is_not_saved_as_the_old_value(
    app: PayloadsApp, workspace: Workspace
) -> None:
    before = stored(workspace, CUSTOMER_CREATE).max_attempts
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot, CUSTOMER_CREATE)
        field = editor.query_one("#h-attempts")
        field.value = "3x"  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(n.title == "Not saved" for n in app._notifications), what="the refusal")
        assert "attempts" in " ".join(invalid_rows(editor))
        field.value = str(before + 1)  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: stored(workspace, CUSTOMER_CREATE).max_attempts == before + 1, what="the save")


async def test_nested_array_elements_are_built_from_the_keyboard_to_any_depth(
    app: PayloadsApp, workspace: Workspace
) -> None:
    integration = workspace.integration("stripe")
    payload = integration.outbound_payload(EXPOSE_ACCOUNTS)
    assert payload is not None
    payload.sources[0].children.append(ChildSource(name="orders", object="Order", parent_field="account_id"))
    workspace.save_integration(integration)
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot, EXPOSE_ACCOUNTS)
        elements = editor.query_one(NestedElementsEditor)
        table = elements.editor.table
        await pilot.press("alt+3")
        await wait_for(pilot, lambda: app.focused is table, what="the elements table")
        await pilot.press("a")
        await wait_for(pilot, lambda: focused_id(app) == "elements-editor-path")
        await type_text(pilot, "customers\n")
        assert focused_id(app) == "elements-editor-placement"
        await pilot.press("tab")
        assert focused_id(app) == "elements-editor-each"
        await choose(pilot, app, "accounts")
        # an array hides source and expression; its item fields open from the button below the form
        await pilot.press("tab")
        assert focused_id(app) == "elements-open"
        await pilot.press("enter")
        await wait_for(pilot, lambda: elements.depth == 1 and app.focused is table, what="the item fields")
        assert "Elements › customers[] ›" in text_of(elements.query_one("#elements-path"))
        # item field 1: name = record.name (placement does not apply inside an array)
        await pilot.press("a")
        await wait_for(pilot, lambda: focused_id(app) == "elements-editor-path")
        await type_text(pilot, "name\n")
        assert focused_id(app) == "elements-editor-each"
        await pilot.press("tab", "tab")
        assert focused_id(app) == "elements-editor-expression"
        await type_text(pilot, "name\n")
        await wait_for(pilot, lambda: app.focused is table)
        # item field 2: an array again, of the account's child records; enter on its row opens it
        await pilot.press("a")
        await wait_for(pilot, lambda: focused_id(app) == "elements-editor-path")
        await type_text(pilot, "orders\n")
        await choose(pilot, app, "orders")
        await pilot.press("shift+tab", "shift+tab")
        assert app.focused is table
        await pilot.press("enter")
        await wait_for(pilot, lambda: elements.depth == 2, what="the second level")
        assert "Elements › customers[] › orders[] ›" in text_of(elements.query_one("#elements-path"))
        await pilot.press("a")
        await wait_for(pilot, lambda: focused_id(app) == "elements-editor-path")
        await type_text(pilot, "number\n")
        await pilot.press("tab", "tab")
        await type_text(pilot, "number\n")
        # esc goes up a level at a time, to the element that was opened
        await pilot.press("escape")
        await wait_for(pilot, lambda: elements.depth == 1 and elements.editor.index == 1, what="level 1")
        await pilot.press("escape")
        await wait_for(pilot, lambda: elements.depth == 0 and elements.editor.index == 1, what="the top level")
        assert isinstance(app.screen, OutboundEditorScreen)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not editor.has_unsaved_changes(), what="the save")
    saved = stored(workspace, EXPOSE_ACCOUNTS)
    assert saved.elements[1] == Element(path="customers", each="accounts", elements=[
        Element(path="name", expression="name"),
        Element(path="orders", each="orders", elements=[Element(path="number", expression="number")]),
    ])
    # what the labels promise: one item per record, nested arrays of each record's child records
    rows = query_sources(saved, workspace.records)
    body, _ = build_document(workspace.integration("stripe"), saved, rows, now_iso="2025-11-24T16:00:00Z")
    customers = {c["name"]: c["orders"] for c in json.loads(body)["customers"]}
    assert customers == {"Acme Corp": [{"number": "ORD-1001"}, {"number": "ORD-2024-0042"}],
                         "Globex": [{"number": "ORD-1002"}], "Initech": []}


async def test_a_bad_nested_expression_is_shown_as_typed_and_where_it_is_when_saving(
    app: PayloadsApp, workspace: Workspace
) -> None:
    before = stored(workspace, EXPOSE_ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        editor, elements = await open_first_array(app, pilot)
        await pilot.press("down", "enter")  # the field `name`: enter edits it
        await wait_for(pilot, lambda: focused_id(app) == "elements-editor-path")
        await pilot.press("tab", "tab", "tab")
        assert focused_id(app) == "elements-editor-expression"
        await type_text(pilot, "name[")
        await wait_for(pilot, lambda: "expression" in invalid_rows(elements.editor), what="the error as typed")
        assert str(elements.editor.table.row_values("1")["expression"].style) == "red"  # type: ignore[index,union-attr]
        await pilot.press("escape")  # from the field, up to the top level: the edit stays
        await wait_for(pilot, lambda: elements.depth == 0)
        assert editor.model.elements[0].elements[1].expression == "name["
        assert isinstance(app.screen, OutboundEditorScreen)
        await pilot.press("ctrl+s")  # the store refuses it: the editor opens the level and points at it
        await wait_for(pilot, lambda: elements.depth == 1 and "expression" in invalid_rows(elements.editor),
                       what="the error at its field")
        assert elements.editor.index == 1
        assert focused_id(app) == "elements-editor-expression"
        assert editor.has_unsaved_changes()
    assert stored(workspace, EXPOSE_ACCOUNTS) == before


async def test_leaving_nested_levels_keeps_edits_and_the_unsaved_guard_still_asks(
    app: PayloadsApp, workspace: Workspace
) -> None:
    before = stored(workspace, EXPOSE_ACCOUNTS)
    async with app.run_test(size=SIZE) as pilot:
        editor, elements = await open_first_array(app, pilot)
        await pilot.press("d")  # delete the field `id`
        await wait_for(pilot, lambda: len(editor.model.elements[0].elements) == 4)
        await pilot.press("backspace")  # backspace on the table goes up too
        await wait_for(pilot, lambda: elements.depth == 0)
        assert "4 fields" in str(elements.editor.table.row_values("0")["expression"])  # type: ignore[index]
        await pilot.press("enter")
        await wait_for(pilot, lambda: elements.depth == 1)
        assert [e.path for e in elements.level()] == ["name", "status", "stripe_id", "balance"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: elements.depth == 0)
        await pilot.press("escape")  # at the top level esc leaves the editor: it asks first
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is editor)
        assert len(editor.model.elements[0].elements) == 4
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: not isinstance(app.screen, (ConfirmScreen, OutboundEditorScreen)))
    assert stored(workspace, EXPOSE_ACCOUNTS) == before


async def test_an_array_naming_a_missing_source_says_so_instead_of_failing(
    app: PayloadsApp, workspace: Workspace
) -> None:
    """As after deleting the source an array names: the row says so, and saving is refused at that field."""
    before = msgspec.to_builtins(workspace.integration("stripe"))
    async with app.run_test(size=SIZE) as pilot:
        editor = await open_editor(app, pilot, EXPOSE_ACCOUNTS)
        elements = editor.query_one(NestedElementsEditor)
        editor.model.elements.append(Element(path="lines", each="lines"))  # no source or child source is named so
        elements.edit(editor.model.elements)
        await pilot.press("alt+3")
        await wait_for(pilot, lambda: app.focused is elements.editor.table)
        await pilot.press("down")
        await wait_for(pilot, lambda: elements.editor.index == 1)
        each = elements.editor.query_one("#elements-editor-each", Select)
        assert each.value == "lines"
        assert "no source or child source is named 'lines'" in invalid_rows(elements.editor)["each"]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "neither a source nor a child source" in invalid_rows(elements.editor).get("each", ""),
                       what="the store's refusal at the field")
    assert msgspec.to_builtins(workspace.integration("stripe")) == before


def read_only_app(home: Path) -> tuple[PayloadsApp, Workspace]:
    settings = load_settings(config_file=home.parent / "no-settings.toml", environ={}, home=home)
    read_only = Workspace(settings, read_only=True)
    return make_app(read_only, clock=lambda: FIXED_NOW), read_only


async def test_a_read_only_console_does_not_offer_saving_and_says_why(workspace: Workspace, home: Path) -> None:
    app, read_only = read_only_app(home)
    before = msgspec.to_builtins(workspace.integration("stripe"))
    try:
        async with app.run_test(size=SIZE) as pilot:
            editors = (OutboundEditorScreen("stripe", CUSTOMER_CREATE), InboundEditorScreen("stripe", CUSTOMER_WEBHOOK))
            for screen in editors:
                app.push_screen(screen)
                await wait_for(pilot, lambda s=screen: app.screen is s and focused_id(app) == "h-name")
                await type_text(pilot, " (draft)")
                await wait_for(pilot, lambda s=screen: s.has_unsaved_changes())
                footer_keys = [key.key for key in app.screen.query(FooterKey)]
                assert "escape" in footer_keys and "ctrl+s" not in footer_keys
                assert "read-only" in text_of(app.screen.query_one("#editor-status-dirty"))
                await pilot.press("ctrl+s")
                await wait_for(pilot, lambda: any(n.title == "Read-only console" and "--no-service" in n.message
                                                  for n in app._notifications), what="the notice")
                assert not any(n.severity == "error" for n in app._notifications)
                app._notifications.clear()
                await pilot.press("escape")
                await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
                assert "read-only" in text_of(app.screen.query_one("#confirm-detail"))
                await pilot.press("y")
                await wait_for(pilot, lambda s=screen: app.screen is not s
                               and not isinstance(app.screen, ConfirmScreen))
    finally:
        read_only.close()
    assert msgspec.to_builtins(workspace.integration("stripe")) == before


async def test_a_writable_console_still_shows_the_save_key(app: PayloadsApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await open_editor(app, pilot, CUSTOMER_CREATE)
        await wait_for(pilot, lambda: "ctrl+s" in [key.key for key in app.screen.query(FooterKey)], what="ctrl+s")


def test_new_child_sources_guess_the_parent_field_from_the_parent_object() -> None:
    from payloads_tui.tui.widgets.outbound_sources import snake_case

    assert snake_case("OrderLine") == "order_line"
    assert snake_case("Account") == "account"
