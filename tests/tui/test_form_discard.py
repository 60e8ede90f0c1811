"""Dialog forms keep what was typed: esc asks before discarding it, and a failed import or export stays open.

Also: a new payload's editor names the payload in its top bar once it is saved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.widgets import Input, Select, Static, Switch

from payloads_tui.service.workspace import Workspace
from payloads_tui.tui.app import PayloadsApp, make_app
from payloads_tui.tui.screens.bundle_forms import ExportForm, ImportForm
from payloads_tui.tui.screens.confirm import ConfirmScreen
from payloads_tui.tui.screens.credential_form import CredentialForm
from payloads_tui.tui.screens.endpoint_forms import ApiForm, EmailForm
from payloads_tui.tui.screens.form_screen import FormScreen
from payloads_tui.tui.screens.inbound_editor import InboundEditorScreen
from payloads_tui.tui.screens.integration import IntegrationScreen
from payloads_tui.tui.screens.integration_form import IntegrationForm
from tests.tui.conftest import FIXED_NOW, Notices, text_of, type_text, wait_for

PASSPHRASE = "correct horse battery"

Opener = Callable[[PayloadsApp, object], Awaitable[None]]


def on_tab(tab: str, key: str | None) -> Opener:
    """Open the integration (once), switch to `tab`, press `key` (if any) on its first table."""

    async def open_form(app: PayloadsApp, pilot: object) -> None:
        if not isinstance(app.screen, IntegrationScreen):
            await pilot.press("enter")  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen), what="the integration")
        screen = app.screen
        await pilot.press(tab)  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: app.focused is not None and screen.tabs.active_pane in app.focused.ancestors,
                       what="focus in the tab")
        if key is not None:
            await pilot.press(key)  # type: ignore[attr-defined]

    return open_form


def home_key(key: str) -> Opener:
    async def open_form(app: PayloadsApp, pilot: object) -> None:
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "integrations-table")
        await pilot.press(key)  # type: ignore[attr-defined]

    return open_form


def set_input(control_id: str, text: str) -> Callable[[FormScreen], None]:
    def edit(form: FormScreen) -> None:
        form.query_one(f"#{control_id}", Input).value = text

    return edit


def flip_switch(control_id: str) -> Callable[[FormScreen], None]:
    def edit(form: FormScreen) -> None:
        switch = form.query_one(f"#{control_id}", Switch)
        switch.value = not switch.value

    return edit


def choose(control_id: str, value: str) -> Callable[[FormScreen], None]:
    def edit(form: FormScreen) -> None:
        form.query_one(f"#{control_id}", Select).value = value

    return edit


def on_emails(key: str) -> Opener:
    """Press `key` on the Email Services table (below the External APIs)."""

    async def open_form(app: PayloadsApp, pilot: object) -> None:
        await on_tab("3", None)(app, pilot)
        app.screen.query_one("#emails-table").focus()
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "emails-table")
        await pilot.press(key)  # type: ignore[attr-defined]

    return open_form


#: form → (how to open it, its class, an edit, the control and the value the edit leaves there). Every form
#: shares `FormScreen`'s esc; these cover each kind of field (text, secret, switch, select, fields a type adds
#: on open) and the forms that do their work before closing; the others differ only in which text is typed.
FORMS = {
    "new integration": (home_key("n"), IntegrationForm, set_input("f-name", "Acme"), "f-name", "Acme"),
    "new credential": (on_tab("4", "n"), CredentialForm, set_input("s-token", "sk_typed"), "s-token", "sk_typed"),
    "edit External API": (on_tab("3", "enter"), ApiForm, flip_switch("f-active"), "f-active", False),
    "new Email Service": (on_emails("n"), EmailForm, choose("f-payload", "Billing Notification (Email)"),
                          "f-payload", "Billing Notification (Email)"),
    "edit credential type": (on_tab("4", "enter"), CredentialForm, choose("f-kind", "basic"), "f-kind", "basic"),
    "export": (home_key("x"), ExportForm, set_input("f-path", "elsewhere.json"), "f-path", "elsewhere.json"),
    "import": (home_key("i"), ImportForm, set_input("f-passphrase", "typed"), "f-passphrase", "typed"),
}




async def open_settled(app: PayloadsApp, pilot: object, opener: Opener, form_class: type) -> FormScreen:
    """Open a form and wait until it has focus (it has settled on what it opened with)."""
    await opener(app, pilot)
    await wait_for(pilot, lambda: isinstance(app.screen, form_class), what=form_class.__name__)
    form = app.screen
    await wait_for(pilot, lambda: app.focused is not None and app.focused.screen is form, what="focus in the form")
    await pilot.pause(0.1)  # type: ignore[attr-defined]
    return form  # type: ignore[return-value]


@pytest.mark.parametrize("which", list(FORMS))
async def test_esc_asks_before_discarding_what_was_typed_in_a_form(
    app: PayloadsApp, workspace: Workspace, which: str
) -> None:
    opener, form_class, edit, control_id, edited = FORMS[which]
    before = workspace.integration("stripe")
    async with app.run_test(size=(120, 40)) as pilot:
        # untouched: esc closes at once
        form = await open_settled(app, pilot, opener, form_class)
        beneath = app.screen_stack[-2]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is beneath, what="the form to close")
        # edited: esc asks; "n" keeps the form and what was typed
        form = await open_settled(app, pilot, opener, form_class)
        edit(form)
        await pilot.pause()
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the discard question")
        assert "Discard the unsaved changes?" in text_of(app.screen.query_one("#confirm-question", Static))
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is form, what="the form again")
        assert form.query_one(f"#{control_id}").value == edited  # type: ignore[attr-defined]
        # the Cancel button asks too; "y" discards
        await pilot.click("#form-cancel")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the discard question")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is beneath, what="the form to close")
    assert workspace.integration("stripe") == before
    assert [i.slug for i in workspace.integrations()] == ["stripe"]


async def test_a_field_changed_and_changed_back_is_no_change(app: PayloadsApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_settled(app, pilot, home_key("n"), IntegrationForm)
        await type_text(pilot, "Acme")
        assert form.query_one("#f-slug", Input).value == "acme"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the discard question")
        await pilot.press("escape")  # esc on the question keeps the form
        await wait_for(pilot, lambda: app.screen is form)
        await pilot.press("backspace", "backspace", "backspace", "backspace")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen.id == "integrations-screen", what="the form to close at once")


async def test_a_read_only_consoles_form_closes_at_once_where_a_writable_one_asks(
    app: PayloadsApp, workspace: Workspace
) -> None:
    opener = on_tab("3", "enter")
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_settled(app, pilot, opener, ApiForm)
        form.query_one("#f-description", Input).value = "changed"
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the discard question")
    read_only = Workspace(workspace.settings, read_only=True)
    try:
        ro_app = make_app(read_only, clock=lambda: FIXED_NOW)
        async with ro_app.run_test(size=(120, 40)) as pilot:
            form = await open_settled(ro_app, pilot, opener, ApiForm)
            form.query_one("#f-description", Input).value = "changed while read-only"
            await pilot.pause()
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(ro_app.screen, IntegrationScreen), what="the form to close")
    finally:
        read_only.close()


async def test_a_failed_import_keeps_the_dialog_and_what_was_typed(
    workspace: Workspace, tmp_path: Path
) -> None:
    bundle = workspace.export("stripe", tmp_path / "stripe-secrets.json", passphrase=PASSPHRASE)
    notices = Notices()
    app = make_app(workspace, clock=lambda: FIXED_NOW)
    async with app.run_test(size=(80, 24), message_hook=notices) as pilot:
        form = await open_settled(app, pilot, home_key("i"), ImportForm)
        form.query_one("#f-path", Input).value = str(bundle)
        form.query_one("#f-conflict", Select).value = "rename"
        await pilot.press("ctrl+s")
        error = form.query_one("#form-error", Static)
        await wait_for(pilot, lambda: "passphrase" in text_of(error), what="the error in the form")
        assert app.screen is form
        assert "Could not import the bundle" in text_of(error)
        assert form.query_one("#f-path", Input).value == str(bundle)
        assert form.query_one("#f-conflict", Select).value == "rename"
        assert [i.slug for i in workspace.integrations()] == ["stripe"]
        # add the passphrase and try again
        form.query_one("#f-passphrase", Input).value = PASSPHRASE
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: len(workspace.integrations()) == 2, what="the import")
        await wait_for(pilot, lambda: app.screen.id == "integrations-screen", what="the form to close")
        await wait_for(pilot, lambda: any(n.message.startswith("Imported Stripe") for n in notices.seen),
                       what="the notification")
        assert not any(n.severity == "error" for n in notices.seen)


async def test_a_failed_export_keeps_the_dialog_and_what_was_typed(app: PayloadsApp, tmp_path: Path) -> None:
    notices = Notices()
    unwritable = tmp_path / "missing-dir" / "nested" / "b.json"
    async with app.run_test(size=(80, 24), message_hook=notices) as pilot:
        form = await open_settled(app, pilot, home_key("x"), ExportForm)
        form.query_one("#f-path", Input).value = str(unwritable)
        await pilot.press("ctrl+s")
        error = form.query_one("#form-error", Static)
        await wait_for(pilot, lambda: "Could not export the bundle" in text_of(error), what="the error in the form")
        assert app.screen is form
        assert form.query_one("#f-path", Input).value == str(unwritable)
        written = tmp_path / "b.json"
        form.query_one("#f-path", Input).value = str(written)
        await pilot.press("ctrl+s")
        await wait_for(pilot, written.exists, what="the bundle")
        await wait_for(pilot, lambda: app.screen.id == "integrations-screen", what="the form to close")
        await wait_for(pilot, lambda: any(n.message == f"Exported stripe to {written} without secrets."
                                          for n in notices.seen), what="the notification")


async def test_a_new_payload_is_named_in_the_top_bar_once_saved(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen))
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "inbound-table")
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, InboundEditorScreen))
        editor = app.screen
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "h-name", what="the name field")
        where = editor.query_one("#topbar-where", Static)
        assert text_of(where).endswith("Stripe › new inbound payload")
        await type_text(pilot, "Refund (Webhook)")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: workspace.integration("stripe").inbound_payload("Refund (Webhook)"),
                       what="the save")
        await wait_for(pilot, lambda: text_of(where).endswith("Stripe › Refund (Webhook)"), what="the new name")
