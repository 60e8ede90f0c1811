"""Payload editors from the keyboard: create an inbound payload, preview a sample, save; errors; leaving."""

from __future__ import annotations

from textual import events

from payloads_tui.service.workspace import Workspace
from payloads_tui.tui.app import PayloadsApp
from payloads_tui.tui.screens.confirm import ConfirmScreen
from payloads_tui.tui.screens.inbound_editor import InboundEditorScreen
from payloads_tui.tui.screens.integration import IntegrationScreen
from payloads_tui.tui.screens.outbound_editor import OutboundEditorScreen
from payloads_tui.tui.widgets.list_editor import ListEditor
from tests.tui.conftest import text_of, type_text, wait_for

SAMPLE = '{"type": "checkout.session.completed", "data": {"object": {"client_reference_id": "ORD-1001", "amount_total": 4200}}}'


async def open_new_inbound(app: PayloadsApp, pilot: object) -> InboundEditorScreen:
    await pilot.press("enter")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen))
    await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "inbound-table")
    await pilot.press("n")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, InboundEditorScreen))
    await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "h-name", what="the name field")
    return app.screen  # type: ignore[return-value]


async def test_create_preview_and_save_an_inbound_payload_from_the_keyboard(
    app: PayloadsApp, workspace: Workspace
) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_new_inbound(app, pilot)
        await type_text(pilot, "Order: Paid (Webhook)")
        # the new payload starts with one target; edit it: enter on the table opens its form
        targets = editor.query_one("#targets", ListEditor)
        targets.table.focus()
        await pilot.press("enter")
        await type_text(pilot, "Payment\n")  # name
        await type_text(pilot, "Payment\n")  # object (one without a schema)
        await type_text(pilot, "data.object\n")  # items
        assert editor.model.targets[0].object == "Payment"
        # mappings: alt+2, add one, type it
        await pilot.press("alt+2")
        mappings = editor.query_one("#mappings", ListEditor)
        await wait_for(pilot, lambda: app.focused is mappings.table, what="the mappings table")
        await pilot.press("a")
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "mappings-field")
        await type_text(pilot, "number\n")
        await pilot.press("tab")  # the source stays "item"
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "mappings-expression")
        await type_text(pilot, "client_reference_id\n")
        assert [(m.field, m.expression) for m in editor.model.targets[0].mappings] == [("number", "client_reference_id")]
        assert targets.table._rows["0"]["mappings"] == "1", "the targets table counts the new mapping at once"
        # preview: paste a sample, see the record it would write
        await pilot.press("alt+3")
        body = editor.query_one("#preview-body")
        await wait_for(pilot, lambda: app.focused is body, what="the sample body")
        app.post_message(events.Paste(SAMPLE))  # as the terminal delivers a paste
        status = editor.query_one("#editor-status-preview")
        await wait_for(pilot, lambda: "1 record would be written" in text_of(status), what="the preview")
        records = text_of(editor.query_one("#preview-records"))
        assert "insert Payment #0" in records and "number = 'ORD-1001'" in records
        # nothing is stored until ctrl+s
        assert workspace.integration("stripe").inbound_payload("Order: Paid (Webhook)") is None
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: workspace.integration("stripe").inbound_payload("Order: Paid (Webhook)"))
        saved = workspace.integration("stripe").inbound_payload("Order: Paid (Webhook)")
        assert saved is not None and saved.targets[0].items == "data.object"
        assert not editor.has_unsaved_changes()
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen))
        assert "Order: Paid (Webhook)" in app.screen.query_one("#inbound-table").keys
        await wait_for(pilot, lambda: app.screen.query_one("#inbound-table").cursor_key == "Order: Paid (Webhook)",
                       what="the cursor on the new payload")


async def test_alt_digit_from_a_terminal_that_sends_esc_and_the_digit_switches_sections(app: PayloadsApp) -> None:
    """tmux and xterm send Alt+2 as ESC 2, which Textual reads as the key macOS types for Option+2 (™)."""
    from textual._xterm_parser import XTermParser

    [alt_two] = [event for event in XTermParser().feed("\x1b2") if isinstance(event, events.Key)]
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_new_inbound(app, pilot)
        name = app.focused
        await type_text(pilot, "Orders")
        alt_two.set_sender(app)
        app._driver.send_message(alt_two)  # as the driver hands on what the terminal sent
        mappings = editor.query_one("#mappings", ListEditor)
        await wait_for(pilot, lambda: app.focused is mappings.table, what="the mappings section")
        assert name.value == "Orders", "nothing typed into the field"  # type: ignore[union-attr]


async def test_a_bad_expression_says_what_is_wrong_as_you_type(app: PayloadsApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_new_inbound(app, pilot)
        targets = editor.query_one("#targets", ListEditor)
        targets.table.focus()
        await pilot.press("enter", "tab", "tab")
        assert app.focused is not None and app.focused.id == "targets-items"
        await type_text(pilot, "data.items[")
        error = targets.query(".field-error").filter(".field-error")
        await wait_for(pilot, lambda: any(text_of(e) for e in error if e.parent.has_class("-invalid")),
                       what="the expression error")
        await type_text(pilot, "0]")
        await wait_for(pilot, lambda: not any(row.has_class("-invalid") for row in targets.query("FieldRow")))


async def test_save_shows_a_validation_error_next_to_its_field(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_new_inbound(app, pilot)
        targets = editor.query_one("#targets", ListEditor)
        targets.table.focus()
        await pilot.press("enter", "tab")
        await type_text(pilot, "order")  # object names start with a capital letter
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(r.has_class("-invalid") for r in targets.query("FieldRow")),
                       what="the error at the field")
        invalid = [r for r in targets.query("FieldRow") if r.has_class("-invalid")]
        assert [r.name for r in invalid] == ["object"]
        assert "capital letter" in text_of(invalid[0].query_one(".field-error"))
        assert workspace.integration("stripe").inbound_payload("New inbound payload") is None


async def test_leaving_with_unsaved_changes_asks_first(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_new_inbound(app, pilot)
        await type_text(pilot, "Draft")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is editor)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen))
        assert workspace.integration("stripe").inbound_payload("Draft") is None


async def test_outbound_editor_edits_a_source_and_a_header(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(OutboundEditorScreen("stripe", "Customer: Create"))
        await wait_for(pilot, lambda: isinstance(app.screen, OutboundEditorScreen))
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "h-name", what="the editor")
        editor = app.screen
        await pilot.press("alt+2")
        sources = editor.query_one("#sources-editor", ListEditor)
        await wait_for(pilot, lambda: app.focused is sources.table)
        await pilot.press("enter", "tab", "tab")
        assert app.focused is not None and app.focused.id == "sources-editor-filter"
        app.focused.value = ""
        await type_text(pilot, "status == 'Customer'")
        await pilot.press("alt+4")
        extras = editor.query_one("#extras-editor", ListEditor)
        await wait_for(pilot, lambda: app.focused is extras.table)
        await pilot.press("a")
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "extras-editor-where")
        await pilot.press("tab")
        app.focused.value = ""
        await type_text(pilot, "Idempotency-Key\n")
        await type_text(pilot, "{id}\n")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: not editor.has_unsaved_changes(), what="the save")
        payload = workspace.integration("stripe").outbound_payload("Customer: Create")
        assert payload is not None
        assert payload.sources[0].filter == "status == 'Customer'"
        assert payload.headers["Idempotency-Key"] == "{id}"


def test_the_preview_says_when_saving_would_refuse_the_payload(workspace: Workspace) -> None:
    """An upsert without a match key previewed as writes (each item overwriting the last) that saving refuses."""
    import msgspec

    from payloads_tui.domain.models import Target
    from payloads_tui.tui.widgets.preview import save_problem

    integration = workspace.integration("stripe")
    payload = integration.inbound[0]
    assert save_problem(integration, payload) is None
    keyless = msgspec.structs.replace(payload, targets=[Target(name="Line", object="Line", items="@", operation="upsert")])
    assert save_problem(integration, keyless) == "targets[0].match_key: upsert needs a match key"
    new = msgspec.structs.replace(keyless, id="new-one", name="New")
    assert save_problem(integration, new) == "targets[0].match_key: upsert needs a match key"


async def test_a_row_added_takes_the_keys_typed_right_after_a(app: PayloadsApp) -> None:
    """`a` then `name` in one burst: the name goes into the new row's first field, not three more rows."""
    from textual import events

    async with app.run_test(size=(80, 24)) as pilot:
        editor = await open_new_inbound(app, pilot)
        await pilot.press("alt+2")
        mappings = editor.query_one("#mappings", ListEditor)
        await wait_for(pilot, lambda: app.focused is mappings.table, what="the mappings table")
        for key in "aname":  # one read from the terminal: posted without waiting
            app.post_message(events.Key(key, key))
        await wait_for(pilot, lambda: editor.model.targets[0].mappings and
                       editor.model.targets[0].mappings[0].field == "name", what="the typed name")
        await pilot.pause(0.2)
        assert [m.field for m in editor.model.targets[0].mappings] == ["name"]
