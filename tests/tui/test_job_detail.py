"""The job detail screen: summary, request and response, records, links that open related jobs."""

from __future__ import annotations

from payloads_tui.tui.app import PayloadsApp
from payloads_tui.tui.screens.job_detail import JobDetailScreen
from payloads_tui.store.demo import CUSTOMER_WEBHOOK
from tests.tui.conftest import save_job, text_of, wait_for, webhook_request


async def open_job(app: PayloadsApp, pilot: object, number: str) -> JobDetailScreen:
    app.push_screen(JobDetailScreen(number))
    await wait_for(pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.job is not None)
    return app.screen  # type: ignore[return-value]


async def test_a_failed_outbound_job_shows_request_response_and_error(app: PayloadsApp, jobs: dict) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_job(app, pilot, jobs["out_failed"].number)
        summary = text_of(screen.query_one("#job-summary"))
        assert jobs["out_failed"].number in summary and "Failed" in summary
        assert "402 Payment Required: card declined" in summary
        request = text_of(screen.query_one("#job-request"))
        assert "POST http://127.0.0.1:12111/v1/customers" in request and "name=Globex" in request
        await wait_for(pilot, lambda: "card declined" in text_of(screen.query_one("#job-response")),
                       what="the response body")
        response = text_of(screen.query_one("#job-response"))
        assert "402 Payment Required" in response
        assert '"message": "card declined"' in response, "JSON bodies are pretty-printed"


async def test_records_with_errors_are_listed(app: PayloadsApp, jobs: dict) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_job(app, pilot, jobs["in_failed"].number)
        results = text_of(screen.query_one("#job-results"))
        assert "Account" in results and "name: is required" in results
        assert not screen.query_one("#job-response").display, "an inbound job has no response"


async def test_a_job_that_wrote_nothing_shows_its_note(app: PayloadsApp, jobs: dict) -> None:
    note = "nothing was written: target Account's items `data.object` selected nothing from the body"
    job = save_job(app.workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=5, status="Completed", note=note,
                   request=webhook_request(b'{"data": {}}'))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_job(app, pilot, job.number)
        assert note in text_of(screen.query_one("#job-summary")).replace("\n", " ")


async def test_a_large_data_queried_is_read_from_its_blob(app: PayloadsApp, jobs: dict) -> None:
    rows = [{"id": f"acc_{i}", "name": f"Account {i:03d}", "email": f"a{i}@example.com"} for i in range(300)]
    job = app.workspace.jobs.create("outbound", "stripe", "Accounts", "External API", status="Completed")
    app.workspace.jobs.keep_data(job, rows)
    app.workspace.jobs.save(job)
    assert job.data_blob
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_job(app, pilot, job.number)
        await wait_for(pilot, lambda: "Account 299" in text_of(screen.query_one("#job-data")), what="the data queried")
        assert screen.query_one("#job-data-title").display
        assert text_of(screen.query_one("#job-data")).startswith("300 records")


async def test_data_queried_beyond_what_is_shown_says_so(app: PayloadsApp, jobs: dict) -> None:
    many = [{"id": f"acc_{i}", "note": "x" * 400} for i in range(400)]  # ~190 KB of JSON: more than is shown
    big = app.workspace.jobs.create("outbound", "stripe", "Accounts", "External API", status="Completed")
    app.workspace.jobs.keep_data(big, many)
    app.workspace.jobs.save(big)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_job(app, pilot, big.number)
        await wait_for(pilot, lambda: "more characters not shown" in text_of(screen.query_one("#job-data")),
                       what="the notice that the data was cut")
        assert f"payloads jobs show {big.number} --json" in text_of(screen.query_one("#job-data"))


def test_took_is_the_run_itself_and_shown_once_finished() -> None:
    from payloads_tui.domain.models import Job
    from payloads_tui.tui.screens.job_detail import summary

    answered = Job(number="OUT-7", kind="outbound", integration="stripe", payload="Accounts", status="Completed",
                   created=1000.0, modified=1000.0, timings={"total": 0.085})
    assert "took 85 ms" in summary(answered, 1100.0).plain  # an API answer logged once, when done
    answered.modified = 1060.0  # e.g. a retry of it linked a minute later (older logs moved it)
    assert "took 85 ms" in summary(answered, 1100.0).plain
    waiting = Job(number="OUT-8", kind="outbound", integration="stripe", payload="Accounts", status="Retrying",
                  created=1000.0, modified=1003.6)
    assert "took" not in summary(waiting, 1100.0).plain


async def test_enter_on_a_link_follows_it_and_esc_comes_back(app: PayloadsApp, jobs: dict) -> None:
    parent, child = jobs["out_ok"].number, jobs["in_ok2"].number
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_job(app, pilot, parent)
        links = screen.query_one("#job-links")
        assert links.display and links.option_count == 1
        links.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen.number == child)
        assert "started this job" in str(app.screen.query_one("#job-links").get_option_at_index(0).prompt)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_R_without_the_service_says_so(app: PayloadsApp, jobs: dict) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_job(app, pilot, jobs["out_failed"].number)
        await pilot.press("R")
        await wait_for(pilot, lambda: any("not running" in n.message for n in app._notifications))
        assert app.screen is screen


async def test_an_unknown_job_is_a_notification_not_a_crash(app: PayloadsApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(JobDetailScreen("OUT-999"))
        await wait_for(pilot, lambda: any("OUT-999" in n.message for n in app._notifications))
        await wait_for(pilot, lambda: not isinstance(app.screen, JobDetailScreen))


def test_a_response_head_says_its_code_once() -> None:
    from payloads_tui.domain.models import HttpExchange
    from payloads_tui.tui.widgets.exchange_view import render_exchange

    head = render_exchange(HttpExchange(code=200, message="200 OK"), None, request=False).renderables[0]
    assert head.plain == "200 OK"
    head = render_exchange(HttpExchange(code=402, message="Payment Required"), None, request=False).renderables[0]
    assert head.plain == "402 Payment Required"


async def test_j_k_g_G_scroll_a_long_job_and_the_keys_help(app: PayloadsApp, jobs: dict) -> None:
    rows = [{"id": f"acc_{i}", "name": f"Account {i:03d}"} for i in range(200)]
    job = app.workspace.jobs.create("outbound", "stripe", "Accounts", "External API", status="Completed")
    app.workspace.jobs.keep_data(job, rows)
    app.workspace.jobs.save(job)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_job(app, pilot, job.number)
        scroll = screen.query_one("#job-scroll")
        await wait_for(pilot, lambda: "Account 199" in text_of(screen.query_one("#job-data")))
        await pilot.press("G")
        await wait_for(pilot, lambda: scroll.scroll_y == scroll.max_scroll_y > 0, what="the bottom")
        await pilot.press("k")
        await wait_for(pilot, lambda: scroll.scroll_y < scroll.max_scroll_y, what="a line up")
        await pilot.press("g")
        await wait_for(pilot, lambda: scroll.scroll_y == 0, what="the top")
        await pilot.press("j")
        await wait_for(pilot, lambda: scroll.scroll_y > 0, what="a line down")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen.query("#keys-scroll"))
        keys = app.screen.query_one("#keys-scroll")
        await pilot.press("G")
        await wait_for(pilot, lambda: keys.scroll_y == keys.max_scroll_y > 0, what="the end of the keys")


def test_a_body_in_a_blob_reads_as_being_read_until_it_is() -> None:
    from payloads_tui.domain.models import HttpExchange
    from payloads_tui.tui.widgets.exchange_view import render_body

    kept = HttpExchange(code=200, message="200 OK", body_blob="ab" * 32, body_size=45_900)
    assert render_body(None, kept, reading=True).plain == "(reading the body…)"
    assert "missing" in render_body(None, kept).plain  # read, and not found


def test_links_say_which_rerun_is_a_retry_and_which_a_replay() -> None:
    from payloads_tui.domain.models import Job
    from payloads_tui.tui.screens.job_detail import related_jobs

    original = Job(number="OUT-2", kind="outbound", integration="stripe", payload="p", status="Failed")
    original.links.reruns = ["OUT-3", "OUT-4", "OUT-5"]
    sources = {"OUT-3": "Retry", "OUT-4": "Replay"}
    assert related_jobs(original, sources.get) == [
        ("OUT-3", "retry of this job"), ("OUT-4", "replay of this job"), ("OUT-5", "retry/replay of this job")]
    replay = Job(number="OUT-4", kind="outbound", integration="stripe", payload="p", source="Replay")
    replay.links.original = "OUT-2"
    assert related_jobs(replay) == [("OUT-2", "original of this replay")]


def test_an_email_job_says_its_subject_envelope_and_attachments() -> None:
    from payloads_tui.domain.models import Job
    from payloads_tui.tui.screens.job_detail import ATTACHMENTS_SHOWN, summary

    attachments = [{"filename": f"scan-{n}.pdf", "content_type": "application/pdf", "size": 1234, "sha256": "ab"}
                   for n in range(ATTACHMENTS_SHOWN + 2)]
    job = Job(number="IN-9", kind="inbound", integration="stripe", payload="Billing", status="Completed",
              source="Email", summary='"Invoice 42" from ada@example.com',
              context={"mail_from": "ada@example.com", "rcpt": "billing@payloads.localhost",
                       "attachments": attachments})
    lines = summary(job, job.created).plain.splitlines()
    assert lines[1] == '"Invoice 42" from ada@example.com'
    assert "envelope MAIL FROM:<ada@example.com> RCPT TO:<billing@payloads.localhost>" in lines
    assert "attachment scan-0.pdf · application/pdf · 1,234 bytes" in lines
    assert f"attachment scan-{ATTACHMENTS_SHOWN}.pdf · application/pdf · 1,234 bytes" not in lines
    assert "… 2 more attachments (payloads jobs show IN-9 lists them all)" in lines


def test_the_job_detail_shows_a_senders_control_characters_instead_of_sending_them_to_the_terminal() -> None:
    from payloads_tui.domain.models import HttpExchange, Job
    from payloads_tui.tui.screens.job_detail import summary
    from payloads_tui.tui.widgets.exchange_view import headers_table, pretty_body

    job = Job(number="IN-9", kind="inbound", integration="stripe", payload="Billing", status="Failed",
              source="Email", summary='"\x1b]0;pwned\x07" from ann@example.com', error="bad \x1b[2J",
              note="\x9b31m", request=HttpExchange(method="SMTP"))
    plain = summary(job, job.created).plain
    assert "\x1b" not in plain and "\x07" not in plain and "\x9b" not in plain
    assert '"\u241b]0;pwned\u2407" from ann@example.com' in plain and "bad \u241b[2J" in plain
    text, _ = pretty_body(b"Subject: hi\r\n\r\n\x1b]52;c;ZWNobyBwd25lZA==\x07", "message/rfc822")
    assert text == "Subject: hi\r\n\r\n\u241b]52;c;ZWNobyBwd25lZA==\u2407"
    assert "\x1b" not in str(headers_table({"x-note": "a\x1bb"}).columns[1]._cells)


def test_record_values_in_tables_and_lists_show_control_characters_too() -> None:
    """A customer name from a webhook reaches the run dialog's list and every table cell through `clip`."""
    from payloads_tui.tui.formatting import clip
    from payloads_tui.tui.screens.run_outbound import record_label

    assert clip("Acme\x1b]0;pwned\x07 Corp", 40) == "Acme\u241b]0;pwned\u2407 Corp"
    assert record_label({"id": "acc_1", "name": "Acme\x1b[2J"}) == "Acme\u241b[2J  (acc_1)"


async def test_a_failed_jobs_planned_writes_read_as_not_written(app: PayloadsApp, workspace) -> None:
    from payloads_tui.domain.models import RecordResult
    from payloads_tui.tui.widgets.preview import render_results

    results = [RecordResult(target="Order", item=0, operation="update", record_id="c577"),
               RecordResult(target="Line", item=1, error="amount: not a number")]
    failed = save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=1, status="Failed", results=results)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_job(app, pilot, failed.number)
        records = text_of(screen.query_one("#job-results"))
        assert "c577" in records and "not written: the job failed" in records
    preview = render_results(results, failed=True).renderables[0].plain
    assert preview == "– update Order #0 → c577  (not written: the job failed)"
    assert render_results(results).renderables[0].plain == "✓ update Order #0 → c577"
