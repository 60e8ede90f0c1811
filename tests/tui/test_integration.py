"""The integration page: highlights, tab keys, and each tab's keys that need no service."""

from __future__ import annotations

import time

import pytest

from payloads_tui.service.workspace import Workspace
from payloads_tui.tui.app import PayloadsApp, make_app
from payloads_tui.tui.screens.confirm import ConfirmScreen
from payloads_tui.tui.screens.credential_form import CredentialForm
from payloads_tui.tui.screens.endpoint_forms import ApiForm, EmailForm
from payloads_tui.tui.screens.inbound_editor import InboundEditorScreen
from payloads_tui.tui.screens.integration import IntegrationScreen
from payloads_tui.tui.screens.outbound_editor import OutboundEditorScreen
from payloads_tui.tui.screens.secret import RevealForm, SecretScreen
from payloads_tui.tui.widgets.keyed_table import KeyedTable
from tests.tui.conftest import CUSTOMER_CREATE, CUSTOMER_WEBHOOK, save_job, text_of, type_text, wait_for


async def open_stripe(app: PayloadsApp, pilot: object) -> IntegrationScreen:
    await pilot.press("enter")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen), what="the integration screen")
    await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "inbound-table", what="its tables")
    screen = app.screen
    assert isinstance(screen, IntegrationScreen)
    return screen


async def test_highlights_show_todays_figures(app: PayloadsApp, jobs: dict) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stripe(app, pilot)
        figures = text_of(screen.query_one("#highlights-figures"))
        assert "5 jobs today" in figures
        assert "2 failures today" in figures
        assert f"last {jobs['out_failed'].number} Failed 10m ago" in figures


async def test_how_long_ago_moves_on_without_new_jobs(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("payloads_tui.tui.screens.integrations.FIGURES_INTERVAL", 0.1)
    monkeypatch.setattr("payloads_tui.tui.screens.integration.FIGURES_INTERVAL", 0.1)
    started = time.time()  # after the demo was seeded: the newest activity is this job
    job = workspace.jobs.create("inbound", "stripe", CUSTOMER_WEBHOOK, "External API", status="Failed",
                                created=started, modified=started)
    workspace.jobs.save(job)
    clock = [started + 1]
    app = make_app(workspace, clock=lambda: clock[0])
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.screen.query_one("#integrations-table")
        await wait_for(pilot, lambda: str(table.row_values("stripe")["last"]) == "just now")
        clock[0] += 100
        await wait_for(pilot, lambda: str(table.row_values("stripe")["last"]) == "1m ago", what="the list's time")
        screen = await open_stripe(app, pilot)
        assert f"last {job.number} Failed 1m ago" in text_of(screen.query_one("#highlights-figures"))
        clock[0] += 3600
        await wait_for(pilot, lambda: "Failed 1h ago" in text_of(screen.query_one("#highlights-figures")),
                       what="the highlights' time")


async def test_the_newest_jobs_news_shows_at_once(app: PayloadsApp, workspace: Workspace) -> None:
    from payloads_tui.service.events import JobChanged

    job = save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=1, status="Queued")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_stripe(app, pilot)
        assert f"last {job.number} Queued" in text_of(screen.query_one("#highlights-figures"))
        job.status, job.modified = "Completed", job.modified + 1  # announced before the log's copy changes
        workspace.events.publish(JobChanged(job))
        await wait_for(pilot, lambda: f"last {job.number} Completed" in text_of(screen.query_one("#highlights-figures")))
        await pilot.pause(1.5)  # the figures read again meanwhile must not take it back
        assert f"last {job.number} Completed" in text_of(screen.query_one("#highlights-figures"))


async def test_one_job_and_one_failure_are_counted_in_the_singular(app: PayloadsApp, workspace: Workspace) -> None:
    save_job(workspace, "outbound", CUSTOMER_CREATE, minutes_ago=5, status="Failed", source="Console",
             error="402 Payment Required: card declined")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stripe(app, pilot)
        figures = text_of(screen.query_one("#highlights-figures"))
        assert "1 job today · 1 failure today" in figures


async def test_number_keys_and_brackets_switch_tabs(app: PayloadsApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stripe(app, pilot)
        for key, tab in (("2", "jobs"), ("3", "endpoints"), ("4", "credentials"), ("5", "history"), ("1", "payloads")):
            await pilot.press(key)
            await pilot.pause()
            assert screen.tabs.active == tab
        await pilot.press("left_square_bracket")
        assert screen.tabs.active == "history"
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert screen.tabs.active == "jobs"
        await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "inbound-jobs",
                       what="focus on the first jobs table")


async def test_payload_tables_and_their_keys(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stripe(app, pilot)
        inbound = screen.query_one("#inbound-table", KeyedTable)
        assert inbound.keys == [p.name for p in workspace.integration("stripe").inbound]
        values = inbound.row_values("Checkout Session Completed (Webhook)")
        assert values is not None and values["targets"] == "2" and values["content_type"] == "JSON"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, InboundEditorScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "outbound-table"
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, OutboundEditorScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_deleting_a_payload_in_use_keeps_it_and_says_why(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stripe(app, pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "API customers" in text_of(app.screen.query_one("#confirm-detail"))
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is screen)
        await wait_for(pilot, lambda: any(n.severity == "error" for n in app._notifications), what="the refusal")
        assert workspace.integration("stripe").inbound_payload("Customer: Created / Updated (Webhook)")


async def test_deleting_an_unused_payload(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stripe(app, pilot)
        table = screen.query_one("#inbound-table", KeyedTable)
        table.select_key("Customer: Created (Response)")
        # the outbound payload that uses it as a response handler goes first
        await pilot.press("tab")
        screen.query_one("#outbound-table", KeyedTable).select_key("Customer: Create")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: workspace.integration("stripe").outbound_payload("Customer: Create") is None)
        await wait_for(pilot, lambda: "Customer: Create" not in screen.query_one("#outbound-table", KeyedTable).keys)


async def test_apis_and_emails_tab(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_stripe(app, pilot)
        await pilot.press("3")
        await pilot.pause()
        apis = screen.query_one("#apis-table", KeyedTable)
        assert apis.keys == ["POST customers", "POST checkout", "GET accounts"]
        url = str(apis.row_values("POST customers")["url"])  # type: ignore[index]
        assert url.endswith("/api/stripe/customers")
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == workspace.api_url("stripe", "customers")
        await pilot.press("C")
        await pilot.pause()
        assert app.clipboard.startswith(f"curl -sS -X POST {workspace.api_url('stripe', 'customers')}")
        assert "Stripe-Signature" in app.clipboard
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "emails-table"
        await pilot.press("C")
        await pilot.pause()
        assert app.clipboard.startswith("swaks --server")
        assert "billing@payloads.localhost" in app.clipboard
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, EmailForm))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_new_token_api_shows_its_token_once(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_stripe(app, pilot)
        await pilot.press("3", "n")
        await wait_for(pilot, lambda: isinstance(app.screen, ApiForm))
        await type_text(pilot, "orders")
        app.screen.query_one("#f-payload").value = "Checkout Session Completed (Webhook)"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SecretScreen), what="the token, shown once")
        token = app.screen.value
        api = workspace.integration("stripe").api("orders", "POST")
        assert api is not None and api.auth == "token" and token not in api.token_hash
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert "POST orders" in screen.query_one("#apis-table", KeyedTable).keys


async def test_editing_an_api_keeps_its_payload_and_switching_method_offers_the_others(
    app: PayloadsApp, workspace: Workspace
) -> None:
    before = workspace.integration("stripe").apis[0]
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_stripe(app, pilot)
        await pilot.press("3")
        screen.query_one("#apis-table", KeyedTable).select_key(f"{before.method} {before.path}")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ApiForm))
        await pilot.pause(0.2)
        form = app.screen
        assert form.query_one("#f-payload").value == before.payload
        form.query_one("#f-description").value = "edited"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen, what="the form to save and close")
        after = workspace.integration("stripe").api(before.path, before.method)
        assert after is not None and after.payload == before.payload and after.description == "edited"
        # GET offers only API-initiated outbound payloads: the inbound one cannot stay chosen
        screen.query_one("#apis-table", KeyedTable).select_key(f"{before.method} {before.path}")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ApiForm))
        app.screen.query_one("#f-method").value = "GET"
        await pilot.pause(0.2)
        payload = app.screen.query_one("#f-payload")
        outbound_api = {p.name for p in workspace.integration("stripe").outbound if p.initiated == "api"}
        assert {value for _, value in payload._options if value is not payload.NULL} == outbound_api
        assert payload.value != before.payload


async def test_credentials_new_edit_keep_secret_and_reveal(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_stripe(app, pilot)
        await pilot.press("4", "n")
        await wait_for(pilot, lambda: isinstance(app.screen, CredentialForm))
        await type_text(pilot, "Sandbox Basic")
        app.screen.query_one("#f-kind").value = "basic"
        await wait_for(pilot, lambda: bool(app.screen.query("#p-username")), what="the basic fields")
        app.screen.query_one("#p-username").value = "ops"
        app.screen.query_one("#s-password").value = "hunter2-not-logged"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen)
        cred = workspace.integration("stripe").credential("Sandbox Basic")
        assert cred is not None and cred.fields == {"username": "ops"}
        stored = cred.secrets["password"]
        assert stored.startswith("enc:") and "hunter2" not in stored
        # edit with the secret left empty: the old one stays
        screen.query_one("#credentials-table", KeyedTable).select_key("Sandbox Basic")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, CredentialForm))
        await wait_for(pilot, lambda: bool(app.screen.query("#p-username")))
        app.screen.query_one("#p-username").value = "ops2"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen)
        cred = workspace.integration("stripe").credential("Sandbox Basic")
        assert cred is not None and cred.fields["username"] == "ops2" and cred.secrets["password"] == stored
        # reveal: asks first, shows the plaintext, writes history
        masked = str(screen.query_one("#credentials-table", KeyedTable).row_values("Sandbox Basic")["secrets"])  # type: ignore[index]
        assert "hunter2" not in masked and "••••" in masked
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, RevealForm))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, SecretScreen))
        assert app.screen.value == "hunter2-not-logged"
        await pilot.press("escape")
        assert any(e.action == "reveal" for e in workspace.history("stripe"))


async def test_history_tab_lists_changes_and_filters(app: PayloadsApp, workspace: Workspace) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_stripe(app, pilot)
        await pilot.press("5")
        table = screen.query_one("#history-table", KeyedTable)
        await wait_for(pilot, lambda: table.row_count == len(workspace.history("stripe")), what="history rows")
        everything = table.row_count
        await pilot.press("slash")
        await type_text(pilot, "checkout")
        await wait_for(pilot, lambda: table.row_count == 2, what="filtered history")
        assert all("checkout" in str(table.row_values(k)).lower() for k in table.keys)
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == everything)


async def test_E_edits_the_integration(app: PayloadsApp, workspace: Workspace) -> None:
    from payloads_tui.tui.screens.integration_form import IntegrationForm

    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stripe(app, pilot)
        await pilot.press("E")
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationForm))
        app.screen.query_one("#f-description").value = "Renamed in a test"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen)
        assert workspace.integration("stripe").description == "Renamed in a test"
        await wait_for(pilot, lambda: "Renamed in a test" in text_of(screen.query_one("#highlights-description")))


async def test_export_from_the_integration_page(app: PayloadsApp, tmp_path: object) -> None:
    from pathlib import Path

    bundle = Path(str(tmp_path)) / "page-export.json"
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_stripe(app, pilot)
        await pilot.press("x")
        await wait_for(pilot, lambda: app.screen is not screen, what="the export form")
        app.screen.query_one("#f-path").value = str(bundle)
        app.screen.query_one("#f-passphrase").value = "correct horse"
        await pilot.press("ctrl+s")
        await wait_for(pilot, bundle.exists, what="the bundle file")
        await wait_for(pilot, lambda: any(n.message == f"Exported stripe to {bundle} with secrets (under the "
                                          "passphrase)." for n in app._notifications), what="the notification")
        assert "correct horse" not in bundle.read_text()


def test_the_history_detail_gives_a_changes_values_whole() -> None:
    """The table cuts `Old → New` at 40 characters (less at 80 columns); the line under it does not."""
    from payloads_tui.domain.models import FieldChange, HistoryEntry
    from payloads_tui.tui.widgets.history_pane import history_details, history_rows

    long_url = "http://127.0.0.1:12111/" + "segment/" * 10
    entry = HistoryEntry(id="h1", at=0.0, user="ops", action="update", integration="stripe", kind="variable",
                         name="base_url", changes=[FieldChange(field="value", old="http://127.0.0.1:12111", new=long_url)])
    [(key, cells)] = history_rows([entry], now=0.0)
    assert key == "h1:0" and long_url not in str(cells["change"])
    assert history_details([entry])["h1:0"].endswith(f"ops · update variable: base_url · value: "
                                                     f"http://127.0.0.1:12111 → {long_url}")
