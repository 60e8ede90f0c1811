"""The executor's inbound batches: queue order kept, one group commit per batch, each job its own outcome."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import msgspec
import pytest

from payloads_tui.domain.formats import ParsedBody
from payloads_tui.domain.models import FieldMapping, HttpExchange, InboundPayload, Integration, Job, Target
from payloads_tui.engine.exchanges import with_body
from payloads_tui.engine.executor import INBOUND_BATCH, Executor
from tests.outbound.conftest import Store, open_store

JSON = "application/json"
LOG_IN = InboundPayload(name="Log In", targets=[Target(
    name="Entry", object="Entry", items="entries", operation="insert",
    mappings=[FieldMapping(field="n", expression="n")])])
COUNT_IN = InboundPayload(name="Count In", targets=[Target(
    name="Counter", object="Counter", operation="upsert", match_key=["key"],
    mappings=[FieldMapping(field="key", expression="key"), FieldMapping(field="n", expression="n")])])
MAIL_IN = InboundPayload(name="Mail In", content_type="email", targets=[Target(
    name="Message", object="Message", operation="insert",
    mappings=[FieldMapping(field="subject", expression="subject"),
              FieldMapping(field="files", expression="length(attachments)")])])


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(tmp_path / "home")
    opened.config.create(Integration(slug="t", name="T", inbound=[LOG_IN, COUNT_IN, MAIL_IN]))
    yield opened
    for executor in opened.executors:
        await executor.stop()
    opened.jobs.close()


async def logged(store: Store, payload: str, bodies: list[bytes], content_type: str = JSON) -> list[Job]:
    """New Queued jobs of `payload`, durable, as a receiver leaves them (not submitted yet)."""
    jobs = []
    for body in bodies:
        job = store.jobs.create("inbound", "t", payload, "External API")
        job.request = with_body(store.jobs, HttpExchange(method="POST", content_type=content_type), body, content_type)
        jobs.append(job)
    await asyncio.gather(*(store.jobs.save_durable(job) for job in jobs))
    return jobs


def entries(*numbers: int, pad: int = 0) -> bytes:
    return json.dumps({"entries": [{"n": n} for n in numbers], "pad": "x" * pad}).encode()


async def test_jobs_are_processed_in_queue_order_across_concurrent_batches(store: Store) -> None:
    executor = await store.started(inbound_concurrency=4)
    submitted: list[Job] = []
    for burst in range(12):  # bursts of various sizes, so several workers hold batches at once
        pad = 200_000 if burst % 2 else 0  # slow to parse: a later batch is ready to write first
        bodies = [entries(len(submitted) + i, pad=pad) for i in range(burst * 7 % 23 + 1)]
        jobs = await logged(store, "Log In", bodies)
        for job in jobs:
            executor.submit(job)
        submitted += jobs
        await asyncio.sleep(0.001 * (burst % 3))
    finished = [await executor.wait(job.number) for job in submitted]
    assert all(job.status == "Completed" and job.records_processed == 1 for job in finished)
    # Records are stored in insertion order: the order the jobs were processed in.
    assert [r["n"] for r in store.records.all("Entry")] == list(range(len(submitted)))


async def test_a_burst_is_processed_in_one_batch_and_the_same_key_behaves_as_in_sequence(store: Store) -> None:
    executor = await store.started(inbound_concurrency=4)
    jobs = await logged(store, "Count In", [json.dumps({"key": "k", "n": n}).encode() for n in range(40)])
    for job in jobs:
        executor.submit(job)
    finished = [await executor.wait(job.number) for job in jobs]
    assert [j.results[0].operation for j in finished] == ["insert"] + ["update"] * 39
    assert len({j.results[0].record_id for j in finished}) == 1
    assert [(r["key"], r["n"]) for r in store.records.all("Counter")] == [("k", 39)]
    # One combined write, timed once for all the jobs that shared it.
    assert len({j.timings["write"] for j in finished}) <= 2
    assert 40 <= INBOUND_BATCH
    logged_jobs = [store.jobs.get(j.number) for j in jobs]
    assert all(j is not None and j.status == "Completed" and j.records_processed == 1 for j in logged_jobs)


def email(subject: str, attachment: bytes) -> bytes:
    message = EmailMessage()
    message["From"] = "ada@example.com"
    message["To"] = "in@payloads.localhost"
    message["Subject"] = subject
    message.set_content("see attached")
    message.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="data.bin")
    return message.as_bytes()


async def test_each_job_of_a_mixed_batch_keeps_its_own_outcome(store: Store) -> None:
    executor: Executor = await store.started(inbound_concurrency=1)
    [mail] = await logged(store, "Mail In", [email("Invoice 7", b"\x00\x01" * 100)], "message/rfc822")
    [good, unparsable] = await logged(store, "Log In", [entries(1, 2), b"{not json"])
    [orphan] = await logged(store, "Gone In", [entries(3)])  # its payload was deleted after it was received
    [partial_off] = await logged(store, "Count In", [json.dumps({"n": 1}).encode()])
    for job in (mail, good, unparsable, orphan, partial_off):
        executor.submit(job)
    mail, good, unparsable, orphan, partial_off = [
        await executor.wait(j.number) for j in (mail, good, unparsable, orphan, partial_off)]

    assert mail.status == "Completed" and mail.records_processed == 1
    [attachment] = mail.context["attachments"]
    assert attachment["filename"] == "data.bin" and attachment["size"] == 200
    assert mail.context["blobs"] == [attachment["sha256"]] and store.jobs.blobs.exists(attachment["sha256"])
    assert store.records.all("Message")[0]["subject"] == "Invoice 7" and store.records.all("Message")[0]["files"] == 1
    assert (good.status, good.records_processed) == ("Completed", 2)
    assert unparsable.status == "Failed" and unparsable.error.startswith("could not parse the body as JSON")
    assert orphan.status == "Failed" and "no longer exists" in orphan.error
    assert partial_off.status == "Failed" and partial_off.records_processed == 0
    assert [r["n"] for r in store.records.all("Entry")] == [1, 2]
    assert store.records.count("Counter") == 0
    assert all("total" in j.timings for j in (mail, good, unparsable, orphan, partial_off))


async def test_a_body_parsed_by_the_receiver_is_used_only_while_the_payload_parses_the_same_way(store: Store) -> None:
    """The receiver's parse stands in for processing's (here it differs from the body, to show which was used)."""
    executor = await store.started()
    [kept, stale] = await logged(store, "Log In", [entries(1), entries(2)])
    executor.keep_parsed(kept.number, LOG_IN, ParsedBody({"entries": [{"n": 99}]}), 0.001)
    changed = msgspec.structs.replace(LOG_IN, options={"xml_lists": "entry"})  # parsed before a payload edit
    executor.keep_parsed(stale.number, changed, ParsedBody({"entries": [{"n": 98}]}))
    executor.submit(kept)
    executor.submit(stale)
    kept, stale = await executor.wait(kept.number), await executor.wait(stale.number)
    assert kept.status == stale.status == "Completed"
    assert [r["n"] for r in store.records.all("Entry")] == [99, 2]
    assert kept.timings["parse"] >= 0.001  # the receiver's parse time is reported


async def test_stop_during_a_batch_leaves_its_jobs_queued_and_the_next_start_finishes_them(store: Store) -> None:
    executor = store.executor()
    executor._stop_grace = 0.05
    await executor.start()
    jobs = await logged(store, "Count In", [json.dumps({"key": "k", "n": n}).encode() for n in range(5)])
    store.inbound._writing.acquire()  # the batch's thread waits at the write section, as a slow write would
    try:
        for job in jobs:
            executor.submit(job)
        for _ in range(500):
            if executor.stats()["running"] == len(jobs):
                break
            await asyncio.sleep(0.01)
        assert executor.stats() == {"queued": 0, "running": 5, "retrying": 0}
        await executor.stop()
        assert [store.jobs.get(j.number).status for j in jobs] == ["Queued"] * 5
    finally:
        store.inbound._writing.release()
    again = await store.started()
    finished = [await again.wait(j.number) for j in jobs]
    assert [j.status for j in finished] == ["Completed"] * 5
    assert [(r["key"], r["n"]) for r in store.records.all("Counter")] == [("k", 4)]
