"""The Jobs tab: live arrival over real HTTP, paging window, pause marker, filters, retry and replay."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest

from payloads_tui.domain.signatures import stripe_signature_header
from payloads_tui.service.service import Service
from payloads_tui.service.workspace import Workspace
from payloads_tui.tui.app import PayloadsApp, make_app
from payloads_tui.tui.screens.integration import IntegrationScreen
from payloads_tui.tui.screens.job_detail import JobDetailScreen
from payloads_tui.tui.widgets.jobs_pane import JobsPane
from payloads_tui.tui.widgets.jobs_table import JobsTable
from tests.tui.conftest import CUSTOMER_CREATE, CUSTOMER_WEBHOOK, FIXED_NOW, Notices, save_job, text_of, type_text, wait_for


async def open_jobs_tab(app: PayloadsApp, pilot: object) -> IntegrationScreen:
    await pilot.press("enter")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: isinstance(app.screen, IntegrationScreen))
    await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "inbound-table", what="its tables")
    await pilot.press("2")  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "inbound-jobs", what="the jobs table")
    return app.screen  # type: ignore[return-value]


def signed_webhook(customer_id: str, name: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"type": "customer.created", "data": {"object": {"id": customer_id, "name": name,
                                                                        "email": f"{customer_id}@example.com"}}}).encode()
    return body, {"Content-Type": "application/json",
                  "Stripe-Signature": stripe_signature_header("whsec_demo", body, int(time.time()))}


@pytest.fixture
def live_app(workspace: Workspace) -> PayloadsApp:
    service = Service(workspace, http=("127.0.0.1", 0), smtp=("127.0.0.1", 0))
    return make_app(workspace, service=service)


async def test_a_webhook_posted_over_http_appears_live_and_opens(live_app: PayloadsApp, workspace: Workspace) -> None:
    app = live_app
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: workspace.service_status().get("running"), what="the service")
        screen = await open_jobs_tab(app, pilot)
        table = screen.query_one("#inbound-jobs", JobsTable)
        assert table.numbers == []
        async with httpx.AsyncClient() as client:
            body, headers = signed_webhook("cus_live_1", "Live One")
            answer = await client.post(workspace.api_url("stripe", "customers"), content=body, headers=headers)
        assert answer.status_code == 202, answer.text
        number = answer.json()["job"]
        await wait_for(pilot, lambda: table.numbers == [number], what=f"{number} in the table")
        await wait_for(pilot, lambda: "Completed" in str(table.job_cells(number)["status"]),  # type: ignore[index]
                       what="its status to change live")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JobDetailScreen))
        assert app.screen.number == number
        request = text_of(app.screen.query_one("#job-request"))
        assert "cus_live_1" in request and "POST" in request


async def test_new_jobs_keep_the_cursor_on_its_job(app: PayloadsApp, workspace: Workspace, jobs: dict) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_jobs_tab(app, pilot)
        table = screen.query_one("#inbound-jobs", JobsTable)
        await pilot.press("down")
        pinned = table.item_key()
        assert pinned == jobs["in_ok2"].number
        newer = save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=1, status="Completed")
        screen.query_one(JobsPane).apply([newer])
        await pilot.pause()
        assert table.numbers[0] == newer.number
        assert table.item_key() == pinned, "the cursor stays on the job it was on"
        # on the first row, the cursor follows the newest job
        await pilot.press("g")
        await pilot.pause()
        newest = save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=0.5, status="Queued")
        screen.query_one(JobsPane).apply([newest])
        await pilot.pause()
        assert table.item_key() == newest.number


async def test_scrolled_away_the_table_pauses_and_counts_new_jobs(app: PayloadsApp, workspace: Workspace) -> None:
    made = [save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=300 - i, status="Completed")
            for i in range(40)]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_jobs_tab(app, pilot)
        table = screen.query_one("#inbound-jobs", JobsTable)
        assert table.numbers[0] == made[-1].number
        await pilot.press("G")
        await wait_for(pilot, lambda: table.scroll_y > 0, what="scrolling down")
        scrolled = table.scroll_y
        more = [save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=1 - i / 10, status="Completed")
                for i in range(3)]
        screen.query_one(JobsPane).apply(more)
        await pilot.pause()
        assert table.paused and table.pending == 3
        assert more[-1].number not in table.numbers, "a paused table does not move under the reader"
        assert table.scroll_y == scrolled
        title = text_of(screen.query_one("#inbound-jobs-title"))
        assert "paused — 3 new" in title
        await pilot.press("g")
        await wait_for(pilot, lambda: not table.paused and table.numbers[0] == more[-1].number, what="catching up")
        assert "live" in text_of(screen.query_one("#inbound-jobs-title"))


async def test_k_back_to_the_first_row_resumes_live_updates(app: PayloadsApp, workspace: Workspace) -> None:
    for i in range(40):
        save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=300 - i, status="Completed")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_jobs_tab(app, pilot)
        table = screen.query_one("#inbound-jobs", JobsTable)
        await pilot.press(*["j"] * 25)
        await wait_for(pilot, lambda: table.scroll_y > 0, what="scrolling down")
        more = [save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=1 - i / 10, status="Completed")
                for i in range(2)]
        screen.query_one(JobsPane).apply(more)
        await pilot.pause()
        assert table.paused
        await pilot.press(*["k"] * 25)
        await wait_for(pilot, lambda: table.cursor_row == 0 and table.scroll_y == 0, what="back at the top")
        await wait_for(pilot, lambda: not table.paused and table.numbers[0] == more[-1].number, what="catching up")


async def test_the_table_holds_a_window_and_pages_in_more(app: PayloadsApp, workspace: Workspace) -> None:
    for i in range(230):
        save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=1000 - i, status="Completed")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_jobs_tab(app, pilot)
        table = screen.query_one("#inbound-jobs", JobsTable)
        assert len(table.numbers) == 200 and table.has_more
        await pilot.press("G")
        await wait_for(pilot, lambda: len(table.numbers) == 230, what="the next page")
        assert not table.has_more


async def test_failures_only_lists_a_job_that_fails_after_a_newer_one(app: PayloadsApp, workspace: Workspace) -> None:
    """An older job that fails once a newer failure is listed goes in at its place, not nowhere."""
    older = save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=2, status="Processing")
    newer = save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=1, status="Processing")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_jobs_tab(app, pilot)
        table = screen.query_one("#inbound-jobs", JobsTable)
        await pilot.press("f")
        await wait_for(pilot, lambda: newer.number not in table.numbers, what="failures only")
        listed = list(table.numbers)
        for job in (newer, older):  # the newer fails first
            job.status = "Failed"
            workspace.jobs.save(job)
            screen.query_one(JobsPane).apply([job])
            await pilot.pause()
        assert table.numbers[:2] == [newer.number, older.number]
        assert table.numbers[2:] == listed


async def test_a_paused_table_still_shows_the_status_changes_of_its_rows(app: PayloadsApp, workspace: Workspace) -> None:
    made = [save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=30 - i, status="Processing") for i in range(3)]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_jobs_tab(app, pilot)
        table = screen.query_one("#inbound-jobs", JobsTable)
        await pilot.press("j")  # the cursor on row 2: new jobs are held
        await pilot.pause()
        second = made[1]
        assert table.item_key() == second.number
        second.status = "Completed"
        workspace.jobs.save(second)
        burst = [save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=1 - i / 20, status="Queued")
                 for i in range(12)]
        screen.query_one(JobsPane).apply([*burst, second])  # one batch of events
        await pilot.pause()
        assert table.pending == 12
        assert "Completed" in " ".join(map(str, table.get_row_at(1))), "drawn, not only kept"


async def test_f_shows_failures_only_and_slash_filters_by_text(app: PayloadsApp, jobs: dict) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_jobs_tab(app, pilot)
        inbound = screen.query_one("#inbound-jobs", JobsTable)
        outbound = screen.query_one("#outbound-jobs", JobsTable)
        assert len(inbound.numbers) == 3 and len(outbound.numbers) == 2
        await pilot.press("f")
        await wait_for(pilot, lambda: inbound.numbers == [jobs["in_failed"].number])
        assert outbound.numbers == [jobs["out_failed"].number]
        assert "failures" in text_of(screen.query_one("#inbound-jobs-title"))
        await pilot.press("f")
        await wait_for(pilot, lambda: len(inbound.numbers) == 3)
        await pilot.press("slash")
        await type_text(pilot, "declined")
        await wait_for(pilot, lambda: outbound.numbers == [jobs["out_failed"].number] and inbound.numbers == [],
                       what="the text filter")
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(inbound.numbers) == 3 and len(outbound.numbers) == 2)
        assert isinstance(app.screen, IntegrationScreen), "esc clears the filter first"


async def test_retry_without_the_service_is_a_notification(app: PayloadsApp, jobs: dict) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_jobs_tab(app, pilot)
        await pilot.press("R")
        await wait_for(pilot, lambda: any("service" in n.message for n in app._notifications), what="the notice")
        assert app.screen is screen


async def test_retry_a_failed_outbound_job_links_the_new_job(live_app: PayloadsApp, workspace: Workspace,
                                                            jobs: dict) -> None:
    app = live_app
    failed = jobs["out_failed"].number
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: workspace.service_status().get("running"), what="the service")
        screen = await open_jobs_tab(app, pilot)
        outbound = screen.query_one("#outbound-jobs", JobsTable)
        await pilot.press("tab")
        assert app.focused is outbound and outbound.item_key() == failed
        await pilot.press("R")
        await wait_for(pilot, lambda: len(outbound.numbers) == 3, what="the retry job in the table")
        retry = workspace.job(outbound.numbers[0])
        assert retry.links.original == failed
        assert retry.number in workspace.job(failed).links.reruns
        assert any(retry.number in n.message for n in app._notifications)


async def test_replaying_a_post_that_succeeded_asks_first(live_app: PayloadsApp, workspace: Workspace,
                                                          jobs: dict) -> None:
    from payloads_tui.tui.screens.confirm import ConfirmScreen

    app = live_app
    done = jobs["out_ok"].number
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: workspace.service_status().get("running"), what="the service")
        screen = await open_jobs_tab(app, pilot)
        outbound = screen.query_one("#outbound-jobs", JobsTable)
        await pilot.press("tab", "j")
        assert app.focused is outbound and outbound.item_key() == done
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
        assert "which succeeded (OK)" in text_of(app.screen.query_one("#confirm-question"))
        assert "POST http://127.0.0.1:12111/v1/customers again" in text_of(app.screen.query_one("#confirm-detail"))
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen, what="the question gone")
        await pilot.pause(0.2)
        assert len(outbound.numbers) == 2, "not replayed"
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: len(outbound.numbers) == 3, what="the replay in the table")
        assert workspace.job(outbound.numbers[0]).links.original == done


async def test_failed_jobs_raise_a_notification_with_their_number(live_app: PayloadsApp,
                                                                 workspace: Workspace) -> None:
    app = live_app
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: workspace.service_status().get("running"), what="the service")
        async with httpx.AsyncClient() as client:
            body = b'{"data": {"object": {"id": "cus_nameless"}}}'  # an Account needs a name
            headers = {"Content-Type": "application/json",
                       "Stripe-Signature": stripe_signature_header("whsec_demo", body, int(time.time()))}
            answer = await client.post(workspace.api_url("stripe", "customers"), content=body, headers=headers)
        number = answer.json()["job"]
        await wait_for(pilot, lambda: any(n.title == f"{number} failed" for n in app._notifications),
                       what="the failure notification")


async def test_a_new_link_on_an_old_failed_job_raises_no_failure_notification(workspace: Workspace) -> None:
    from payloads_tui.service.events import JobChanged

    old = save_job(workspace, "outbound", CUSTOMER_CREATE, minutes_ago=60, status="Failed", source="Console",
                   error="500 Internal Server Error after 5 attempts")
    app = make_app(workspace, clock=lambda: FIXED_NOW)
    notices = Notices()
    async with app.run_test(size=(80, 24), message_hook=notices) as pilot:
        old.links.reruns.append("OUT-99")
        workspace.events.publish(JobChanged(old, linked=True))  # what a retry of it announces
        await pilot.pause(0.5)
        assert not any(n.title == f"{old.number} failed" for n in notices.seen)
        workspace.events.publish(JobChanged(old))  # a change of the job itself is still notified
        await wait_for(pilot, lambda: any(n.title == f"{old.number} failed" for n in notices.seen))


@pytest.mark.parametrize(("size", "row"), [
    ((120, 40), ["500", "Internal Server Error"]),  # the code has its column: the message does not repeat it
    ((80, 24), ["500 Internal …"]),  # no room for the code column: the message says it
])
async def test_an_answer_code_shows_once(app: PayloadsApp, workspace: Workspace, size: tuple[int, int],
                                         row: list[str]) -> None:
    from payloads_tui.domain.models import HttpExchange

    job = save_job(workspace, "outbound", CUSTOMER_CREATE, minutes_ago=1, status="Failed", source="Console",
                   response=HttpExchange(code=500, message="500 Internal Server Error"),
                   error="500 Internal Server Error after 5 attempts")
    async with app.run_test(size=size) as pilot:
        screen = await open_jobs_tab(app, pilot)
        table = screen.query_one("#outbound-jobs", JobsTable)
        await wait_for(pilot, lambda: job.number in table.numbers)
        cells = [cell.plain.strip() for cell in table.get_row(str(table.numbers.index(job.number)))]
        assert [c for c in cells if "500" in c or "Internal" in c] == row


async def test_refused_requests_are_counted_and_listed_after_their_notifications_went(
    live_app: PayloadsApp, workspace: Workspace
) -> None:
    from payloads_tui.tui.screens.refusals import RefusalsScreen

    app = live_app
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: workspace.service_status().get("running"), what="the service")
        screen = await open_jobs_tab(app, pilot)
        body, _ = signed_webhook("cus_refused", "Refused")
        async with httpx.AsyncClient() as client:
            answer = await client.post(workspace.api_url("stripe", "customers"), content=body,
                                       headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"})
        assert answer.status_code == 401
        await wait_for(pilot, lambda: "1 refused (!)" in text_of(screen.query_one("#highlights-figures")),
                       what="the count in the highlights")
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, RefusalsScreen))
        row = app.screen.query_one("#refusals-table").row_values("0")
        assert row["where"] == "POST /api/stripe/customers" and str(row["reason"]).startswith("401, ")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


def test_fixed_clock_is_in_the_past() -> None:
    assert FIXED_NOW < time.time()


async def test_refused_requests_are_notified_once_then_counted(workspace: Workspace) -> None:
    notices = Notices()
    app = make_app(workspace, service=Service(workspace, http=("127.0.0.1", 0), smtp=False))
    async with app.run_test(size=(80, 24), message_hook=notices) as pilot:
        await wait_for(pilot, lambda: workspace.service_status().get("running"), what="the service")
        body, _ = signed_webhook("cus_refused", "Refused")
        async with httpx.AsyncClient() as client:
            for _ in range(3):
                answer = await client.post(workspace.api_url("stripe", "customers"), content=body,
                                           headers={"Content-Type": "application/json"})
                assert answer.status_code == 401
        refusals = lambda: [n for n in notices.seen if n.title == "stripe: refused"]  # noqa: E731
        await wait_for(pilot, lambda: len(refusals()) == 1, what="the first refusal notified")
        assert refusals()[0].message.startswith("POST /api/stripe/customers from 127.0.0.1:")
        assert refusals()[0].message.endswith(": 401, missing Stripe-Signature header")
        await wait_for(pilot, lambda: len(refusals()) == 2, timeout=5, what="the rest counted")
        assert refusals()[1].message.startswith("2 more refusals; the last: POST /api/stripe/customers")
        await pilot.pause()
        shown = [n for n in app._notifications if n.title == "stripe: refused"]
        assert [n.message for n in shown] == [refusals()[1].message], "the newest replaces the one before"


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["hangup", "terminate"])
async def test_a_hangup_or_terminate_quits_and_stops_the_service_in_order(
        live_app: PayloadsApp, workspace: Workspace, sig: signal.Signals) -> None:
    """Textual handles neither signal; the console must, or a dropped SSH session kills its service mid-write."""
    app = live_app
    caught: list[int] = []
    previous = signal.signal(sig, lambda number, frame: caught.append(number))  # if the app does not take it
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: workspace.service_status().get("running") and app.control is not None,
                           what="the service and its control socket")
            assert (workspace.home / "control.sock").exists()
            os.kill(os.getpid(), sig)
            await wait_for(pilot, lambda: not app.is_running, what="the console to quit")
        assert not caught
        assert not workspace.service_status().get("running")
        assert not (workspace.home / "control.sock").exists()
    finally:
        signal.signal(sig, previous)


def test_a_retrying_jobs_status_cell_says_when_it_tries_again() -> None:
    from payloads_tui.domain.models import Job
    from payloads_tui.tui.widgets.jobs_table import job_cells

    due = time.mktime((2026, 11, 28, 6, 45, 43, 0, 0, -1))
    job = Job(number="OUT-5", kind="outbound", integration="stripe", payload="Customer: Create", status="Retrying",
              next_attempt_at=due, error="connection refused (attempt 1 of 5)")
    assert str(job_cells(job, due - 10)["status"]) == "Retrying · 06:45:43"
    job.status, job.next_attempt_at = "Failed", None
    assert str(job_cells(job, due)["status"]) == "Failed"
