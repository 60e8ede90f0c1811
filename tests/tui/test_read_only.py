"""A read-only console (`payloads --no-service`, or attached read-only): keys that change things are
hidden from the footer, `?` help and the palette; pressed anyway they change nothing and say why once.

The data directory is seeded by a writable workspace that is then closed; the console
opens it the way `run_console` does (`Workspace(settings, read_only=True)`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette
from textual.screen import Screen
from textual.widgets import Footer

from payloads_tui.domain.models import HttpExchange
from payloads_tui.service.workspace import Workspace
from payloads_tui.settings import Settings, load_settings
from payloads_tui.tui.app import PayloadsApp, make_app
from payloads_tui.tui.commands import commands_for
from payloads_tui.tui.screens.bundle_forms import ExportForm
from payloads_tui.tui.screens.inbound_editor import InboundEditorScreen
from payloads_tui.tui.screens.integration import IntegrationScreen
from payloads_tui.tui.screens.job_detail import JobDetailScreen
from payloads_tui.tui.screens.keys import KeysScreen
from payloads_tui.tui.widgets.jobs_pane import JobsPane
from payloads_tui.tui.widgets.pane import ItemRequested
from tests.tui.conftest import (
    CUSTOMER_CREATE,
    CUSTOMER_WEBHOOK,
    FIXED_NOW,
    Notices,
    save_job,
    text_of,
    type_text,
    wait_for,
)

NO_SERVICE = "opened with --no-service; start `payloads` without it to change things"

#: Keys that change things, by where they are bound; none may show or act in a read-only console.
CHANGING_KEYS = {
    "home": {"n", "e", "d", "i"},
    "payloads": {"n", "d", "r", "E", "D"},
    "jobs": {"R", "P", "E", "D"},
    "endpoints": {"n", "e", "d", "s", "E", "D"},
    "credentials": {"n", "e", "d", "v", "E", "D"},
    "job": {"R", "P"},
}
#: Keys that only look, by where they are bound; a read-only console keeps them.
BROWSING_KEYS = {
    "home": {"enter", "x", "slash", "q"},
    "payloads": {"t", "x", "1", "5"},
    "jobs": {"slash", "f", "x"},
    "endpoints": {"c", "C", "x"},
    "credentials": {"x"},
    "job": {"question_mark"},
}
TAB_KEYS = {"payloads": "1", "jobs": "2", "endpoints": "3", "credentials": "4"}


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def settings(home: Path) -> Settings:
    """A demo data directory with a failed outbound job and a linked pair, written by a workspace now closed."""
    settings = load_settings(config_file=home.parent / "no-settings.toml", environ={}, home=home)
    with Workspace(settings) as ws:
        ws.seed_demo()
        save_job(ws, "inbound", CUSTOMER_WEBHOOK, minutes_ago=30, status="Failed", records_failed=1,
                 error="item 1 of target Account: name: is required but has no value")
        save_job(ws, "outbound", CUSTOMER_CREATE, minutes_ago=10, status="Failed", source="Console",
                 request=HttpExchange(method="POST", url="http://127.0.0.1:12111/v1/customers", body="name=Globex"),
                 response=HttpExchange(code=402, message="Payment Required"), error="402 Payment Required")
    return settings


@pytest.fixture
def read_only(settings: Settings) -> Iterator[Workspace]:
    ws = Workspace(settings, read_only=True)
    yield ws
    ws.close()


@pytest.fixture
def ro_app(read_only: Workspace) -> PayloadsApp:
    """The console of `payloads --no-service`."""
    return make_app(read_only, clock=lambda: FIXED_NOW)


def data_files(home: Path) -> dict[str, str]:
    """Every file of the data directory and a digest of its bytes."""
    return {str(path.relative_to(home)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(home.rglob("*")) if path.is_file()}


async def test_a_writable_console_signs_the_curl_without_the_secret_leaving_the_service(app: PayloadsApp) -> None:
    import shlex

    from payloads_tui.domain.signatures import verify_stripe_signature

    notices = Notices()
    async with app.run_test(size=(80, 24), message_hook=notices) as pilot:
        screen = await open_tab(app, pilot, "endpoints")
        stripe = next(a for a in screen.integration.apis if a.auth == "stripe")  # type: ignore[union-attr]
        screen.query_one("#apis-table").select_key(f"{stripe.method} {stripe.path}")  # type: ignore[attr-defined]
        await pilot.press("C")
        await wait_for(pilot, lambda: any(n.title == "Copied curl command" for n in notices.seen), what="the curl")
        words = shlex.split(next(n.message for n in notices.seen if n.title == "Copied curl command").split("\n")[0])
        header = next(w for w in words if w.startswith("Stripe-Signature: ")).removeprefix("Stripe-Signature: ")
        body = words[words.index("--data-binary") + 1].encode()
        secret = app.workspace.vault.decrypt(stripe.secret)  # type: ignore[arg-type]
        verify_stripe_signature(secret, body, header, now=time.time())  # raises if the curl would be refused
        entry = app.workspace.history(integration="stripe")[0]
        assert (entry.action, entry.kind, entry.name) == ("sign", "external API", f"{stripe.method} {stripe.path}")
        history = screen.query_one("#history-table")
        assert entry.id in [key.split(":")[0] for key in history.keys]  # the History tab shows it at once


# --- helpers -------------------------------------------------------------------------------


def shown_keys(screen: Screen[object]) -> set[str]:
    """Keys the footer shows (read from the footer itself)."""
    return {key.key for key in screen.query_one(Footer).query("FooterKey")}  # type: ignore[attr-defined]


def active_keys(screen: Screen[object]) -> set[str]:
    """Keys that would run something on `screen` now, shown or not (what `?` help lists)."""
    return set(screen.active_bindings)


async def open_tab(app: PayloadsApp, pilot: object, tab: str) -> IntegrationScreen:
    if not isinstance(app.screen, IntegrationScreen):
        await pilot.press("enter")  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen), what="the integration screen")
    screen = app.screen
    assert isinstance(screen, IntegrationScreen)
    await pilot.press(TAB_KEYS[tab])  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: screen.tabs.active == tab and app.focused is not None
                   and screen.tabs.active_pane in app.focused.ancestors, what=f"focus in the {tab} tab")
    await pilot.pause()
    return screen


async def open_job(app: PayloadsApp, pilot: object, number: str) -> JobDetailScreen:
    app.push_screen(JobDetailScreen(number))
    await wait_for(pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.job is not None)
    await pilot.pause()
    return app.screen  # type: ignore[return-value]


async def press_refused(pilot: object, app: PayloadsApp, notices: Notices, key: str, reason: str) -> None:
    """Press `key`: exactly one warning saying `reason` follows, and the screen stays."""
    screen, before = app.screen, len(notices.seen)
    await pilot.press(key)  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: len(notices.seen) > before, what=f"a notification for {key}")
    await pilot.pause(0.1)  # anything else the key set off (an error from the workspace) arrives by now
    new = notices.seen[before:]
    assert len(new) == 1, (key, [n.message for n in new])
    assert new[0].message == reason and new[0].severity == "warning", (key, new[0].message)
    assert app.screen is screen, f"{key} opened {app.screen!r}"


# --- home ----------------------------------------------------------------------------------


async def test_home_hides_and_refuses_the_keys_that_change_things(ro_app: PayloadsApp, settings: Settings) -> None:
    notices = Notices()
    async with ro_app.run_test(size=(80, 24), message_hook=notices) as pilot:
        await pilot.pause()
        screen = ro_app.screen
        assert shown_keys(screen) & CHANGING_KEYS["home"] == set()
        assert active_keys(screen) & CHANGING_KEYS["home"] == set()
        assert {"x", "slash", "q"} <= shown_keys(screen)
        before = data_files(settings.home)
        for key in sorted(CHANGING_KEYS["home"]):
            await press_refused(pilot, ro_app, notices, key, NO_SERVICE)
        assert data_files(settings.home) == before
        assert [i.slug for i in ro_app.workspace.integrations()] == ["stripe"]


async def test_home_browsing_keys_still_work(ro_app: PayloadsApp) -> None:
    async with ro_app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await wait_for(pilot, lambda: ro_app.screen.query_one("#home-filter").display, what="the filter")
        await pilot.press("escape")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(ro_app.screen, ExportForm), what="the export form")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(ro_app.screen, ExportForm))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(ro_app.screen, IntegrationScreen), what="the integration")


async def test_the_writable_console_shows_those_keys(app: PayloadsApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert CHANGING_KEYS["home"] <= shown_keys(app.screen)
        screen = await open_tab(app, pilot, "jobs")
        await wait_for(pilot, lambda: {"R", "P"} <= shown_keys(screen), what="retry and replay in the footer")
        assert {"E", "D"} <= active_keys(screen)


# --- the integration page ------------------------------------------------------------------


@pytest.mark.parametrize("tab", ["payloads", "jobs", "endpoints", "credentials"])
async def test_each_tab_hides_and_refuses_the_keys_that_change_things(
    ro_app: PayloadsApp, settings: Settings, tab: str
) -> None:
    notices = Notices()
    async with ro_app.run_test(size=(80, 24), message_hook=notices) as pilot:
        screen = await open_tab(ro_app, pilot, tab)
        assert active_keys(screen) & CHANGING_KEYS[tab] == set(), tab
        assert shown_keys(screen) & CHANGING_KEYS[tab] == set(), tab
        assert BROWSING_KEYS[tab] <= active_keys(screen), tab
        before = data_files(settings.home)
        for key in sorted(CHANGING_KEYS[tab]):
            await press_refused(pilot, ro_app, notices, key, NO_SERVICE)
        if tab in ("payloads", "endpoints"):  # the second table of the tab too
            await pilot.press("tab")
            await pilot.pause()
            for key in sorted(CHANGING_KEYS[tab] - {"E", "D"}):
                await press_refused(pilot, ro_app, notices, key, NO_SERVICE)
        assert data_files(settings.home) == before


async def test_jobs_tab_browsing_keys_still_work(ro_app: PayloadsApp, settings: Settings) -> None:
    async with ro_app.run_test(size=(80, 24)) as pilot:
        screen = await open_tab(ro_app, pilot, "jobs")
        pane = screen.query_one(JobsPane)
        title = text_of(pane.query_one("#inbound-jobs-title"))
        assert "○ read-only, as read at " in title and "live" not in title  # no service: nothing arrives
        with Workspace(settings) as writer:  # another process writes a job meanwhile: ctrl+r reads it
            fresh = save_job(writer, "inbound", CUSTOMER_WEBHOOK, minutes_ago=1, status="Completed")
        table = pane.query_one("#inbound-jobs")
        assert fresh.number not in table.numbers
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: fresh.number in table.numbers, what="the job read again")
        await pilot.press("f")
        await wait_for(pilot, lambda: pane.filter.status == "failures", what="failures only")
        await pilot.press("tab")
        await wait_for(pilot, lambda: ro_app.focused is not None and ro_app.focused.id == "outbound-jobs")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(ro_app.screen, JobDetailScreen), what="the job detail")


async def test_copying_a_curl_command_reveals_no_secret_and_writes_nothing(
    ro_app: PayloadsApp, settings: Settings
) -> None:
    notices = Notices()
    async with ro_app.run_test(size=(80, 24), message_hook=notices) as pilot:
        screen = await open_tab(ro_app, pilot, "endpoints")
        signed = [a for a in screen.integration.apis if a.auth in ("stripe", "hmac")]  # type: ignore[union-attr]
        assert signed, "the demo has a signed External API"
        screen.query_one("#apis-table").select_key(f"{signed[0].method} {signed[0].path}")  # type: ignore[attr-defined]
        before = data_files(settings.home)
        await pilot.press("c")
        await wait_for(pilot, lambda: any(n.title == "Copied URL" for n in notices.seen), what="the URL")
        await pilot.press("C")
        await wait_for(pilot, lambda: any(n.title == "Copied curl command" for n in notices.seen), what="the curl")
        curl = next(n.message for n in notices.seen if n.title == "Copied curl command")
        assert "<signature>" in curl, "no secret is revealed: the signature is left to fill in"
        assert data_files(settings.home) == before, "no history entry for a reveal"


async def test_enter_still_opens_a_payload_to_look_at(ro_app: PayloadsApp) -> None:
    async with ro_app.run_test(size=(80, 24)) as pilot:
        await open_tab(ro_app, pilot, "payloads")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(ro_app.screen, InboundEditorScreen), what="the editor")


async def test_requests_reached_another_way_are_refused_too(ro_app: PayloadsApp, settings: Settings) -> None:
    notices = Notices()
    async with ro_app.run_test(size=(80, 24), message_hook=notices) as pilot:
        screen = await open_tab(ro_app, pilot, "payloads")
        before = data_files(settings.home)
        screen.post_message(ItemRequested("delete", "inbound", CUSTOMER_WEBHOOK))
        await wait_for(pilot, lambda: len(notices.seen) == 1, what="the refusal of a posted request")
        screen.action_delete_integration()
        await wait_for(pilot, lambda: len(notices.seen) == 2, what="the refusal of a direct call")
        await pilot.pause(0.1)
        assert [n.message for n in notices.seen] == [NO_SERVICE, NO_SERVICE]
        assert ro_app.screen is screen
        assert data_files(settings.home) == before


# --- job detail ----------------------------------------------------------------------------


async def test_job_detail_hides_and_refuses_retry_and_replay(ro_app: PayloadsApp, settings: Settings) -> None:
    notices = Notices()
    failed = ro_app.workspace.newest_jobs("outbound", integration="stripe", statuses=["Failed"], limit=1)[0]
    async with ro_app.run_test(size=(80, 24), message_hook=notices) as pilot:
        screen = await open_job(ro_app, pilot, failed.number)
        assert active_keys(screen) & CHANGING_KEYS["job"] == set()
        assert shown_keys(screen) & CHANGING_KEYS["job"] == set()
        assert "question_mark" in shown_keys(screen)
        before = data_files(settings.home)
        for key in sorted(CHANGING_KEYS["job"]):
            await press_refused(pilot, ro_app, notices, key, NO_SERVICE)
        assert data_files(settings.home) == before
        assert len(ro_app.workspace.newest_jobs(integration="stripe", limit=50)) == 2, "no retry job was made"


# --- help and palette ----------------------------------------------------------------------


async def test_question_mark_help_leaves_them_out_and_says_why(ro_app: PayloadsApp) -> None:
    async with ro_app.run_test(size=(80, 24)) as pilot:
        await open_tab(ro_app, pilot, "jobs")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(ro_app.screen, KeysScreen))
        keys = text_of(ro_app.screen.query_one("#keys-table"))
        for hidden in ("Retry", "Replay", "Edit integration", "Delete integration"):
            assert hidden not in keys, hidden
        for kept in ("Failures", "Filter", "Next tab", "Export", "palette"):
            assert kept in keys, kept
        assert "keys that change things are hidden" in keys and "--no-service" in keys


async def test_palette_lists_no_command_that_changes_things(ro_app: PayloadsApp, app: PayloadsApp) -> None:
    changing = ("New integration", "Import a bundle", "Send a test email", "Edit Stripe", "New inbound payload",
                "New outbound payload", f"Run {CUSTOMER_CREATE}", f"Edit {CUSTOMER_WEBHOOK}")
    async with app.run_test(size=(80, 24)) as pilot:  # the writable console, for comparison
        home_titles = [c.title for c in commands_for(app, app.screen)]
        screen = await open_tab(app, pilot, "payloads")
        titles = home_titles + [c.title for c in commands_for(app, screen)]
        assert set(changing) <= set(titles)
    async with ro_app.run_test(size=(80, 24)) as pilot:
        home_titles = [c.title for c in commands_for(ro_app, ro_app.screen)]
        screen = await open_tab(ro_app, pilot, "payloads")
        titles = home_titles + [c.title for c in commands_for(ro_app, screen)]
        assert set(changing) & set(titles) == set()
        for kept in ("Open Stripe", "Export Stripe", "Toggle the failures filter", f"Try {CUSTOMER_WEBHOOK}",
                     f"View {CUSTOMER_WEBHOOK}"):
            assert kept in titles, kept
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(ro_app.screen, CommandPalette))
        await type_text(pilot, "Customer")
        results = ro_app.screen.query_one(CommandList)
        await wait_for(pilot, lambda: results.option_count > 0, what="palette hits")
        await pilot.pause(0.3)
        hits = [str(results.get_option_at_index(i).prompt) for i in range(results.option_count)]
        assert any(h.startswith(f"Try {CUSTOMER_WEBHOOK}") for h in hits), hits
        assert not any(h.startswith(("Run ", "Edit ", "New ")) for h in hits), hits


# --- attached read-only --------------------------------------------------------------------


async def test_attached_read_only_names_the_service_that_owns_the_directory(read_only: Workspace) -> None:
    app = make_app(read_only, clock=lambda: FIXED_NOW, attached_pid=4242)
    notices = Notices()
    async with app.run_test(size=(80, 24), message_hook=notices) as pilot:
        await pilot.pause()
        assert shown_keys(app.screen) & CHANGING_KEYS["home"] == set()
        before = len(notices.seen)
        await pilot.press("d")
        await wait_for(pilot, lambda: len(notices.seen) > before)
        assert notices.seen[-1].message.startswith("read-only: the service in pid 4242 owns this data directory")


# --- forms, the try screen, the workspace --------------------------------------------------


async def test_forms_opened_read_only_show_without_saving(ro_app: PayloadsApp, settings: Settings) -> None:
    from textual.widgets import Button

    from payloads_tui.tui.screens.endpoint_forms import ApiForm

    notices = Notices()
    async with ro_app.run_test(size=(120, 40), message_hook=notices) as pilot:
        screen = await open_tab(ro_app, pilot, "endpoints")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(ro_app.screen, ApiForm), what="the API form")
        form = ro_app.screen
        await pilot.pause()
        assert [b.id for b in form.query(Button)] == ["form-cancel"]
        assert "ctrl+s" not in shown_keys(form) if form.query(Footer) else "ctrl+s" not in active_keys(form)
        form.query_one("#f-description").value = "changed while read-only"
        before = data_files(settings.home)
        await press_refused(pilot, ro_app, notices, "ctrl+s", NO_SERVICE)
        assert data_files(settings.home) == before
        await pilot.press("escape")
        await wait_for(pilot, lambda: ro_app.screen is screen)


async def test_try_screen_hides_run_for_real(ro_app: PayloadsApp, settings: Settings) -> None:
    from payloads_tui.tui.screens.try_inbound import TryInboundScreen

    notices = Notices()
    async with ro_app.run_test(size=(120, 40), message_hook=notices) as pilot:
        payload = ro_app.workspace.inbound_payload("stripe", CUSTOMER_WEBHOOK)[1]
        ro_app.push_screen(TryInboundScreen("stripe", payload))
        await wait_for(pilot, lambda: isinstance(ro_app.screen, TryInboundScreen))
        await pilot.pause()
        assert "ctrl+r" not in active_keys(ro_app.screen)
        before = data_files(settings.home)
        await press_refused(pilot, ro_app, notices, "ctrl+r", NO_SERVICE)
        assert data_files(settings.home) == before


def test_a_read_only_workspace_refuses_to_reveal_secrets(read_only: Workspace, settings: Settings) -> None:
    from payloads_tui.service.workspace import ReadOnlyError

    integration = read_only.integration("stripe")
    credential = integration.credentials[0]
    signed = next(api for api in integration.apis if api.auth in ("stripe", "hmac"))
    before = data_files(settings.home)
    with pytest.raises(ReadOnlyError):
        read_only.reveal_secret("stripe", credential.name, next(iter(credential.secrets)))
    with pytest.raises(ReadOnlyError):
        read_only.sign_api_request("stripe", signed.method, signed.path, b"{}", 0)
    assert data_files(settings.home) == before
