"""The executor against real local servers: retries, backoff, success rule, concurrency, recovery."""

from __future__ import annotations

import asyncio
import socket
import time
from email.utils import formatdate

import httpx
import pytest

from payloads_tui.domain.models import (
    Attempt,
    Element,
    FieldMapping,
    InboundPayload,
    Integration,
    OutboundPayload,
    Source,
    Target,
)
from payloads_tui.engine.backoff import Backoff
from payloads_tui.engine.outbound import retry_after
from payloads_tui.store.records import RecordWrite
from tests.outbound.conftest import Reply, Seen, Store, open_store


def setup(store: Store, url: str, **payload: object) -> None:
    fields = {"name": "Send", "method": "POST", "endpoint": "{base}/things", "max_attempts": 3, **payload}
    store.config.create(Integration(
        slug="api", name="API", variables={"base": url},
        outbound=[OutboundPayload(**fields)],  # type: ignore[arg-type]
        inbound=[InboundPayload(name="Things In", targets=[Target(
            name="Thing", object="Thing", items="things", operation="upsert", match_key=["code"],
            mappings=[FieldMapping(field="code", expression="code"), FieldMapping(field="n", expression="n")])])],
    ))


def sequence(*replies: Reply | None):
    """A handler answering with `replies` in turn, then 200."""
    queue = list(replies)

    def handle(seen: Seen) -> Reply | None:
        return queue.pop(0) if queue else Reply(200, {"ok": True})

    return handle


async def test_500_then_200_retries_with_backoff_and_records_attempts(store: Store, serve) -> None:
    server = await serve(sequence(Reply(500, {"error": {"message": "boom"}}), Reply(503)))
    setup(store, server.url)
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Send", wait=True)
    assert job.status == "Completed" and job.error is None
    assert [a.response_code for a in job.attempts] == [500, 503, 200]
    assert [a.number for a in job.attempts] == [1, 2, 3]
    assert job.response.code == 200 and job.response.message == "200 OK"
    retrying = [c.job for c in store.changes if c.job.number == job.number and c.job.status == "Retrying"]
    assert retrying, "the job was never announced as Retrying"
    statuses = [s.status for s in [store.jobs.get(job.number)]]
    assert statuses == ["Completed"]
    assert len(server.seen) == 3


async def test_retrying_status_is_saved_with_next_attempt_at(store: Store, serve) -> None:
    server = await serve(sequence(Reply(429, headers={"Retry-After": "1"})))
    setup(store, server.url)
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Send")
    deadline = time.monotonic() + 3
    while store.jobs.get(job.number).status != "Retrying" and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    logged = store.jobs.get(job.number)
    assert logged.status == "Retrying" and "429 Too Many Requests (attempt 1 of 3)" in logged.error
    wait = logged.next_attempt_at - logged.attempts[0].finished
    assert 0.95 <= wait <= 1.1  # Retry-After honoured, not the tiny test backoff
    assert executor.stats()["retrying"] == 1
    done = await executor.wait(job.number)
    assert done.status == "Completed" and len(done.attempts) == 2
    assert done.attempts[1].started >= logged.next_attempt_at - 0.01


def test_retry_after_reads_seconds_and_http_dates() -> None:
    def answer(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after(answer("7")) == 7.0
    assert retry_after(answer(formatdate(time.time() + 30, usegmt=True))) == pytest.approx(30, abs=2)
    assert retry_after(answer("soon")) is None
    assert Backoff(base=1, cap=5).delay(1, hint=3600) == 5  # capped
    delays = [Backoff(base=0.5, jitter=0.25).delay(n) for n in (1, 2, 3, 10)]
    assert 0.375 <= delays[0] <= 0.5 and 0.75 <= delays[1] <= 1.0 and 1.5 <= delays[2] <= 2.0
    assert 45 <= delays[3] <= 60


async def test_gives_up_after_max_attempts_saying_why(store: Store, serve) -> None:
    server = await serve(lambda seen: Reply(500, {"error": {"message": "down"}}))
    setup(store, server.url)
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Send", wait=True)
    assert job.status == "Failed"
    assert job.error == "500 Internal Server Error: down after 3 attempts"
    assert len(server.seen) == 3 and job.next_attempt_at is None


async def test_dropped_connection_is_retried(store: Store, serve) -> None:
    server = await serve(sequence(None, None))
    setup(store, server.url)
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Send", wait=True)
    assert job.status == "Completed"
    assert [a.error for a in job.attempts[:2]] == ["the server closed the connection without an answer"] * 2


async def test_connection_refused_and_timeout_fail_after_attempts(store: Store, serve) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    setup(store, f"http://127.0.0.1:{closed_port}", max_attempts=2)
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Send", wait=True)
    assert job.status == "Failed" and job.error == "connection refused after 2 attempts"

    slow = await serve(lambda seen: Reply(200, delay=1.0))
    integration = store.config.get("api")
    integration.variables["base"] = slow.url
    integration.outbound[0].timeout = 0.2
    store.config.save(integration)
    started = time.monotonic()
    [job] = await executor.run_outbound("api", "Send", wait=True)
    assert job.status == "Failed" and job.error == "no answer within 0.2 s after 2 attempts"
    assert time.monotonic() - started < 1.5


async def test_client_errors_are_not_retried_and_the_success_rule_decides(store: Store, serve) -> None:
    server = await serve(lambda seen: Reply(404 if seen.path == "/things" else 409,
                                            {"error": {"message": "No such thing"}}))
    setup(store, server.url)
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Send", wait=True)
    assert job.status == "Failed" and job.error == "404 Not Found: No such thing" and len(job.attempts) == 1

    integration = store.config.get("api")
    integration.outbound[0].endpoint = "{base}/conflict"
    integration.outbound[0].success_codes = "2xx,409"
    store.config.save(integration)
    [job] = await executor.run_outbound("api", "Send", wait=True)
    assert job.status == "Completed" and job.response.code == 409


def many_records(store: Store, count: int) -> None:
    store.records.apply([RecordWrite("insert", "Item", {"id": f"i{n:03}", "n": n}) for n in range(count)])


@pytest.mark.parametrize(("limits", "ceiling"), [
    ({"outbound_concurrency": 4, "outbound_per_host": 8}, 4),
    ({"outbound_concurrency": 8, "outbound_per_host": 3}, 3),
])
async def test_concurrency_is_bounded(store: Store, serve, limits: dict[str, int], ceiling: int) -> None:
    server = await serve(lambda seen: Reply(200, delay=0.03))
    many_records(store, 30)
    setup(store, server.url, request_per_record=True, sources=[Source(name="items", object="Item")],
          elements=[Element(path="n", expression="n")])
    executor = await store.started(**limits)
    jobs = await executor.run_outbound("api", "Send", wait=True)
    assert len(jobs) == 30 and all(j.status == "Completed" for j in jobs)
    assert server.max_in_flight == ceiling  # reached, never passed
    assert sorted(s.json["n"] for s in server.seen) == list(range(30))


async def test_a_large_data_queried_goes_to_a_blob_and_a_replay_sends_the_same(store: Store, serve) -> None:
    server = await serve(lambda seen: Reply(200, {"ok": True}))
    many_records(store, 1000)  # ~20 KB of records: over the 16 KiB blob threshold
    setup(store, server.url, sources=[Source(name="items", object="Item")])
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Send", wait=True)
    assert job.status == "Completed", job.error
    assert job.data_queried == [] and job.data_blob
    assert [row["n"] for row in store.jobs.data_of(job)] == list(range(1000))
    replayed = await executor.replay(job.number, wait=True)
    assert replayed.status == "Completed" and replayed.data_blob == job.data_blob
    assert server.seen[0].body == server.seen[1].body


async def test_a_one_request_job_notes_the_elements_that_read_nothing(store: Store, serve) -> None:
    server = await serve(lambda seen: Reply(200, {"ok": True}))
    many_records(store, 3)
    setup(store, server.url, sources=[Source(name="items", object="Item")],
          elements=[Element(path="n", expression="n"), Element(path="all", expression="items[].n")])
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Send", wait=True)
    assert job.status == "Completed" and server.seen[0].json == {"all": [0, 1, 2]}
    assert job.note is not None and job.note.startswith("element 'n' gave no value and was left out")
    assert store.jobs.get(job.number).note == job.note


async def test_jobs_left_unfinished_by_a_crash_are_finished_at_the_next_start(store: Store, serve) -> None:
    server = await serve(lambda seen: Reply(200, {"ok": True}))
    setup(store, server.url)
    crashed = store.executor()  # never started: its jobs stay in the log as a crash would leave them
    queued, processing = (await crashed.run_outbound("api", "Send"))[0], (await crashed.run_outbound("api", "Send"))[0]
    processing.status = "Processing"
    processing.attempts.append(Attempt(number=1, started=time.time()))
    store.jobs.save(processing)
    inbound = await crashed.run_inbound("api", "Things In", b'{"things": [{"code": "a", "n": 1}]}',
                                        content_type="application/json")
    inbound.status = "Processing"
    store.jobs.save(inbound)
    store.jobs.close()

    reopened = open_store(store.home)  # a new process on the same data directory
    store.jobs, store.executors = reopened.jobs, reopened.executors  # the fixture closes these
    executor = await reopened.started()
    numbers = (queued.number, processing.number, inbound.number)
    finished = [await executor.wait(n) for n in numbers]
    assert [j.status for j in finished] == ["Completed"] * 3
    assert [a.error for a in finished[1].attempts] == ["interrupted: the service stopped during this attempt", None]
    assert [a.number for a in finished[1].attempts] == [1, 2]
    assert finished[2].records_processed == 1
    assert reopened.records.find("Thing", {"code": "a"})[0]["n"] == 1
    assert len(server.seen) == 2


async def test_stop_leaves_unfinished_jobs_queued_for_the_next_start(store: Store, serve) -> None:
    release = asyncio.Event()

    async def slow(seen: Seen) -> Reply:
        await asyncio.wait_for(release.wait(), 5)
        return Reply(200)

    server = await serve(slow)
    many_records(store, 3)
    setup(store, server.url, request_per_record=True, sources=[Source(name="items", object="Item")])
    executor = store.executor(outbound_concurrency=1)
    executor._stop_grace = 0.05
    await executor.start()
    jobs = await executor.run_outbound("api", "Send")
    deadline = time.monotonic() + 3
    while not server.seen and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert executor.stats() == {"queued": 2, "running": 1, "retrying": 0}
    await executor.stop()
    assert [store.jobs.get(j.number).status for j in jobs] == ["Queued"] * 3
    release.set()
    again = await store.started()
    finished = [await again.wait(j.number) for j in jobs]
    assert [j.status for j in finished] == ["Completed"] * 3
    assert finished[0].attempts[0].error == "interrupted: the service stopped during this attempt"


async def test_inbound_jobs_process_the_logged_body_and_announce_changes(store: Store, serve) -> None:
    setup(store, "http://127.0.0.1:9")
    executor = await store.started()
    job = await executor.run_inbound("api", "Things In", b'{"things": [{"code": "x", "n": 2}, {"code": "y"}]}',
                                     content_type="application/json", wait=True)
    assert job.status == "Completed" and job.records_processed == 2 and job.source == "Console"
    assert {r["code"] for r in store.records.all("Thing")} == {"x", "y"}
    assert "parse" in job.timings and "total" in job.timings
    mine = [c for c in store.changes if c.job.number == job.number]
    assert mine[0].created and [c.job.status for c in mine[1:]][-1] == "Completed"
    bad = await executor.run_inbound("api", "Things In", b"{nope", content_type="application/json", wait=True)
    assert bad.status == "Failed" and bad.error.startswith("could not parse the body as JSON")


async def test_a_cookie_one_answer_sets_never_rides_on_another_job(store: Store, serve) -> None:
    # Workers keep their client from job to job, across integrations and credentials: httpx's
    # default cookie jar would send job 1's session cookie with every later job of that worker.
    server = await serve(lambda seen: Reply(200, {"ok": True}, headers={"Set-Cookie": "session=s3cr3t; Path=/"}))
    setup(store, server.url)
    executor = await store.started(outbound_concurrency=2)
    jobs = [job for _ in range(6) for job in await executor.run_outbound("api", "Send", wait=True)]
    assert [job.status for job in jobs] == ["Completed"] * 6
    assert len(server.seen) == 6
    assert [seen.headers.get("cookie") for seen in server.seen] == [None] * 6
    assert all("cookie" not in job.request.headers for job in jobs)


@pytest.mark.parametrize("framing", [{}, {"Transfer-Encoding": "chunked"}], ids=["content-length", "chunked"])
async def test_an_answer_over_the_response_limit_fails_the_job_without_retries(
    store: Store, serve, framing: dict[str, str]
) -> None:
    sizes = iter([900, 5_000])
    server = await serve(lambda seen: Reply(200, "x" * next(sizes), headers=framing))
    setup(store, server.url)
    executor = await store.started(max_response_bytes=1_000)
    [fits] = await executor.run_outbound("api", "Send", wait=True)
    assert fits.status == "Completed"
    assert store.jobs.body_of(fits.response) == b"x" * 900  # type: ignore[arg-type]
    [too_big] = await executor.run_outbound("api", "Send", wait=True)
    assert too_big.status == "Failed"
    assert too_big.error == (
        "the answer (200) is larger than the 1000 bytes allowed; "
        "raise limits.max_response_bytes (PAYLOADS_MAX_RESPONSE_BYTES) to take it"
    )
    assert [a.response_code for a in too_big.attempts] == [200]  # the same answer would come again
    assert len(server.seen) == 2
