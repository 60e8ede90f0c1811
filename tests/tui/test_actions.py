"""Actions that need the service (test email, run, try) and the app-wide keys (palette, ?)."""

from __future__ import annotations

from typing import Any

import pytest
from textual import events
from textual.command import CommandPalette

from payloads_tui.service.service import Service
from payloads_tui.service.workspace import Workspace
from payloads_tui.tui.app import PayloadsApp, make_app
from payloads_tui.tui.screens.compose_email import ComposeEmailForm
from payloads_tui.tui.screens.integration import IntegrationScreen
from payloads_tui.tui.screens.keys import KeysScreen
from payloads_tui.tui.screens.run_outbound import RunOutboundScreen
from payloads_tui.tui.screens.try_inbound import TryInboundScreen
from payloads_tui.tui.widgets.form import field_rows
from payloads_tui.tui.widgets.jobs_table import JobsTable
from payloads_tui.tui.widgets.keyed_table import KeyedTable
from tests.tui.conftest import text_of, type_text, wait_for


@pytest.fixture
def live_app(workspace: Workspace) -> PayloadsApp:
    return make_app(workspace, service=Service(workspace, http=("127.0.0.1", 0), smtp=("127.0.0.1", 0)))


async def open_tab(app: PayloadsApp, pilot: object, key: str) -> IntegrationScreen:
    await pilot.press("enter")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen))
    await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "inbound-table")
    await pilot.press(key)  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    return app.screen  # type: ignore[return-value]


async def test_send_a_test_email_from_the_compose_form_and_see_its_job(live_app: PayloadsApp,
                                                                       workspace: Workspace, tmp_path) -> None:
    app = live_app
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: workspace.service_status().get("running"), what="the service")
        screen = await open_tab(app, pilot, "3")
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "emails-table"
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ComposeEmailForm))
        assert app.screen.query_one("#f-to").value == "billing@payloads.localhost"
        await pilot.press("tab", "tab")
        app.screen.query_one("#f-subject").value = ""
        await type_text(pilot, "Invoice 42 overdue")
        form = app.screen
        form.query_one("#f-from").value = "J\u00f6rg"
        await pilot.press("ctrl+s")
        sender_row = field_rows(form)["from"]
        await wait_for(pilot, lambda: sender_row.has_class("-invalid"), what="the sender refused")
        assert "'J\u00f6rg' is not an email address" in text_of(sender_row.query_one(".field-error"))
        assert app.screen is form
        form.query_one("#f-from").value = "J\u00f6rg <j\u00f6rg@ex\u00e4mple.com>"  # needs SMTPUTF8: it crashed
        form.query_one("#f-attach").value = str(tmp_path / "missing.pdf")
        await pilot.press("ctrl+s")
        attach_row = field_rows(form)["attach"]
        await wait_for(pilot, lambda: attach_row.has_class("-invalid"), what="the missing file refused")
        assert "missing.pdf: no such file" in text_of(attach_row.query_one(".field-error"))
        (tmp_path / "invoice.csv").write_text("number,amount\nINV-42,12.50\n")
        form.query_one("#f-attach").value = str(tmp_path / "invoice.csv")
        form.query_one("#f-to").value = "nobody@payloads.localhost"  # refused by the receiver: the form stays
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "nobody@payloads.localhost" in text_of(form.query_one("#form-error")),
                       what="the refusal in the form", timeout=10)
        assert app.screen is form and form.query_one("#f-subject").value == "Invoice 42 overdue"
        form.query_one("#f-to").value = "billing@payloads.localhost"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("2")
        table = screen.query_one("#inbound-jobs", JobsTable)
        await wait_for(pilot, lambda: len(table.numbers) == 1, what="the email's job", timeout=10)
        job = workspace.job(table.numbers[0])
        assert job.source == "Email" and job.payload == "Billing Notification (Email)"
        assert job.context["mail_from"] == "j\u00f6rg@ex\u00e4mple.com"
        await wait_for(pilot, lambda: workspace.job(job.number).status == "Completed", timeout=10)
        assert [a["filename"] for a in workspace.job(job.number).context["attachments"]] == ["invoice.csv"]
        await wait_for(pilot, lambda: workspace.job(job.number).status == "Completed", timeout=10)
        tasks = workspace.list_records("Task")
        assert any(t.get("subject") == "Invoice 42 overdue" for t in tasks)


async def open_run_dialog(app: PayloadsApp, pilot: object, payload: str) -> tuple[IntegrationScreen, Any]:
    """The Payloads tab, `r` on outbound `payload`: (the integration screen, the dialog's record list)."""
    screen = await open_tab(app, pilot, "1")
    await pilot.press("tab")  # type: ignore[attr-defined]
    screen.query_one("#outbound-table", KeyedTable).select_key(payload)
    await pilot.press("r")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, RunOutboundScreen))
    return screen, app.screen.query_one("#run-records")


async def test_r_runs_an_outbound_payload_on_chosen_records(live_app: PayloadsApp, workspace: Workspace) -> None:
    app = live_app
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: workspace.service_status().get("running"), what="the service")
        screen, records = await open_run_dialog(app, pilot, "Customer: Create")
        # only the Accounts its source selects (no stripe_id yet): Initech
        await wait_for(pilot, lambda: records.option_count == 1, what="the Account records")
        await pilot.press("space")
        assert list(records.selected) == ["acc_initech"]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.screen is screen)
        await wait_for(pilot, lambda: workspace.newest_jobs("outbound", integration="stripe"), what="the job")
        job = workspace.newest_jobs("outbound", integration="stripe")[0]
        assert job.payload == "Customer: Create" and job.source == "Console"
        await wait_for(pilot, lambda: any(job.number in n.message for n in app._notifications))


async def test_the_run_dialog_lists_a_matching_record_older_than_the_newest_200(
    app: PayloadsApp, workspace: Workspace
) -> None:
    from payloads_tui.store.records import RecordWrite

    workspace.records.apply([RecordWrite("insert", "Account", {"name": f"Synced {i}", "stripe_id": f"cus_{i}"})
                             for i in range(250)])  # newer than the demo's accounts, none selected by !stripe_id
    async with app.run_test(size=(120, 40)) as pilot:
        screen, records = await open_run_dialog(app, pilot, "Customer: Create")
        await wait_for(pilot, lambda: records.option_count == 1, what="Initech, the one Account without a stripe_id")
        assert records.get_option_at_index(0).value == "acc_initech"
        workspace.records.update("Account", "acc_initech", {"stripe_id": "cus_initech"})
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunOutboundScreen))
        await pilot.pause()
        assert app.screen.query_one("#run-records").option_count == 0
        assert "No Account record matches !stripe_id: running it sends nothing." in text_of(
            app.screen.query_one("#run-detail"))


async def test_t_tries_an_inbound_payload_on_a_sample(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, "1")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TryInboundScreen))
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "preview-body")
        app.post_message(events.Paste('{"data": {"object": {"id": "cus_try", "name": "Tried Co"}}}'))
        await wait_for(pilot, lambda: "1 record would be written" in text_of(app.screen.query_one("#preview-status")),
                       what="the dry run")
        assert "name = 'Tried Co'" in text_of(app.screen.query_one("#preview-records"))
        assert not any(r.get("name") == "Tried Co" for r in workspace.list_records("Account")), "a dry run writes nothing"
        await pilot.press("ctrl+r")  # running it for real needs the service
        await wait_for(pilot, lambda: any("not running" in n.message for n in app._notifications))


async def test_ctrl_p_opens_an_integration_by_name(app: PayloadsApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await type_text(pilot, "Open Stripe")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen), what="the integration")


async def test_palette_lists_the_screens_actions(app: PayloadsApp) -> None:
    from payloads_tui.tui.commands import commands_for

    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_tab(app, pilot, "1")
        titles = [c.title for c in commands_for(app, screen)]
        for expected in ("Open Stripe", "Run Customer: Create", "Send a test email", "Export Stripe",
                         "Toggle the failures filter", "Switch theme", "Try Customer: List (Response)"):
            assert expected in titles
        assert "Run Expose Account Status" not in titles, "API-initiated payloads are not run from the console"


async def test_question_mark_lists_every_key_of_the_screen(app: PayloadsApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, "2")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, KeysScreen))
        keys = text_of(app.screen.query_one("#keys-table"))
        for expected in ("Failures", "Retry", "Replay", "Filter", "Next tab", "Edit integration", "palette"):
            assert expected in keys, expected
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen))


async def test_a_sample_from_the_newest_job_reads_as_processing_read_it(app: PayloadsApp, workspace: Workspace) -> None:
    """ctrl+l: a response handler's mapping of `record` has the job's record; a Latin-1 body reads as Latin-1."""
    from payloads_tui.domain.models import HttpExchange
    from payloads_tui.store.demo import CUSTOMER_CREATED_RESPONSE, CUSTOMER_WEBHOOK
    from tests.tui.conftest import save_job

    answer = b'{"id": "cus_back", "created": 1764201600}'
    save_job(workspace, "inbound", CUSTOMER_CREATED_RESPONSE, minutes_ago=1, status="Completed",
             source="Response Handler", context={"record": {"id": "acc_acme"}, "job": "OUT-1"},
             request=HttpExchange(method="POST", url="http://127.0.0.1:12111/v1/customers", code=200,
                                  content_type="application/json", body=answer.decode(), body_size=len(answer)))
    latin = '{"data": {"object": {"id": "cus_j", "name": "Jürgen MÜLLER", "email": "j@x.example"}}}'
    save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=1, status="Completed",
             request=HttpExchange(method="POST", url="http://127.0.0.1:8787/api/stripe/customers",
                                  content_type="application/json; charset=iso-8859-1"))
    newest = workspace.newest_jobs("inbound", payload=CUSTOMER_WEBHOOK, limit=1)[0]
    workspace.jobs.externalize(newest.request, latin.encode("latin-1"), newest.request.content_type)
    workspace.jobs.save(newest)
    integration = workspace.integration("stripe")
    async with app.run_test(size=(120, 40)) as pilot:
        for name, expected in ((CUSTOMER_CREATED_RESPONSE, "update Account #0 → acc_acme"),
                               (CUSTOMER_WEBHOOK, "name = 'Jürgen MÜLLER'")):
            app.push_screen(TryInboundScreen("stripe", integration.inbound_payload(name)))
            await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "preview-body")
            await pilot.press("ctrl+l")
            await wait_for(pilot, lambda: expected in text_of(app.screen.query_one("#preview-records")),
                           what=f"the dry run of {name}")
            assert "1 record would be written" in text_of(app.screen.query_one("#preview-status"))
            await pilot.press("escape")


async def test_keys_typed_in_one_burst_apply_in_order(app: PayloadsApp) -> None:
    """Over SSH several keys arrive in one read: a backspace or a Tab must not act after the keys typed after it."""
    from textual import events

    from payloads_tui.tui.screens.integration_form import IntegrationForm

    def burst(*keys: str) -> None:  # posted without waiting, as the driver does for one read
        for key in keys:
            char = key if len(key) == 1 else {"space": " "}.get(key)
            app.post_message(events.Key(key, char))

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationForm))
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "f-name")
        burst(*"zzzzabcd", *["backspace"] * 6, *"Acme", "space", *"CRM", "tab", "tab", *"DESC")
        await pilot.pause(0.3)
        await pilot.pause()
        assert app.screen.query_one("#f-name").value == "zzAcme CRM"
        assert app.screen.query_one("#f-slug").value == "zzacme-crm"
        assert app.screen.query_one("#f-description").value == "DESC"


async def test_ctrl_o_shows_the_body_as_the_expressions_read_it(app: PayloadsApp, workspace: Workspace) -> None:
    """An XML or CSV body becomes JSON for the expressions: the integrator sees it before writing them."""
    async with app.run_test(size=(120, 40)) as pilot:
        await open_tab(app, pilot, "1")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TryInboundScreen))
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "preview-body")
        app.post_message(events.Paste('{"data": {"object": {"id": "cus_doc", "name": "Doc Co"}}}'))
        records = app.screen.query_one("#preview-records")
        await wait_for(pilot, lambda: "name = 'Doc Co'" in text_of(records), what="the records")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: '"name": "Doc Co"' in text_of(records), what="the parsed body")
        assert "the parsed body (ctrl+o: records)" in text_of(app.screen.query_one("#preview-status"))
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: "name = 'Doc Co'" in text_of(records), what="the records again")
