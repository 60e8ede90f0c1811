"""The Stripe demo against the sandbox: pagination, response handlers, retry and replay, API GETs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from payloads_tui.domain.errors import ConflictError, ServiceError, ValidationError
from payloads_tui.service.sandbox import Sandbox
from payloads_tui.store.demo import (
    BILLING_EMAIL,
    CUSTOMER_CREATE,
    CUSTOMER_GET_ALL,
    CUSTOMER_WEBHOOK,
    DEMO_SLUG,
    DEMO_STRIPE_KEY,
    EXPOSE_ACCOUNTS,
    seed_demo,
)
from tests.outbound.conftest import Store

AUTH = {"Authorization": f"Bearer {DEMO_STRIPE_KEY}"}
FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    running = Sandbox()
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def demo(store: Store, sandbox: Sandbox) -> Store:
    seed_demo(store.config, store.records, store.vault)
    integration = store.config.get(DEMO_SLUG)
    integration.variables["base_url"] = sandbox.url
    store.config.save(integration)
    return store


async def test_sandbox_speaks_stripe(sandbox: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        refused = await client.get("/v1/customers")
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "invalid_request_error"
        first = (await client.get("/v1/customers", params={"limit": 2}, headers=AUTH)).json()
        assert first["object"] == "list" and first["url"] == "/v1/customers" and first["has_more"] is True
        rest = (await client.get("/v1/customers", params={"limit": 2, "starting_after": first["data"][-1]["id"]},
                                 headers=AUTH)).json()
        ids = [c["id"] for c in first["data"] + rest["data"]]
        assert rest["has_more"] is False and {"cus_demo_acme", "cus_demo_globex"} <= set(ids) and len(ids) == 3
        created = (await client.post("/v1/customers", headers=AUTH, content=b"name=Ada&metadata[local_id]=a1",
                                     )).json()
        assert created["id"].startswith("cus_") and created["object"] == "customer"
        assert created["metadata"] == {"local_id": "a1"} and created["balance"] == 0
        assert created["currency"] is None and created["delinquent"] is False and created["email"] is None
        assert (await client.get(f"/v1/customers/{created['id']}", headers=AUTH)).json()["name"] == "Ada"
        missing = await client.get("/v1/customers/cus_nope", headers=AUTH)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "resource_missing"
        injected = await client.post("/_sandbox/fail", json={"status": 429, "count": 2, "retry_after": 1})
        assert injected.status_code == 200
        limited = [await client.get("/v1/customers", headers=AUTH) for _ in range(3)]
        assert [r.status_code for r in limited] == [429, 429, 200]
        assert limited[0].headers["retry-after"] == "1"


async def test_sandbox_refuses_a_port_in_use(sandbox: Sandbox) -> None:
    other = Sandbox()
    port = int(sandbox.url.rsplit(":", 1)[1])
    with pytest.raises(ServiceError, match="could not listen"):
        await other.start(port=port)


async def test_get_all_follows_pages_and_hands_each_to_the_handler(demo: Store, sandbox: Sandbox) -> None:
    integration = demo.config.get(DEMO_SLUG)
    integration.outbound_payload(CUSTOMER_GET_ALL).query["limit"] = "1"
    demo.config.save(integration)
    executor = await demo.started()
    [job] = await executor.run_outbound(DEMO_SLUG, CUSTOMER_GET_ALL, wait=True)
    assert job.status == "Completed", job.error
    assert job.context["pages"] == 3 and len(job.links.children) == 3
    assert job.request.url.endswith("/v1/customers?limit=1")  # the first page: where a replay starts
    assert job.request.headers["authorization"] == "••••"
    children = [demo.jobs.get(n) for n in job.links.children]
    assert {c.status for c in children} == {"Completed"}
    assert all(c.links.parent == job.number and c.source == "Response Handler" for c in children)
    urls = [c.request.url for c in children]  # each handler job: the page it holds, as requested
    assert urls[0].endswith("/v1/customers?limit=1")
    assert all("starting_after=" in url for url in urls[1:]) and len(set(urls)) == 3
    accounts = {a["stripe_id"]: a for a in demo.records.all("Account") if a.get("stripe_id")}
    assert accounts["cus_demo_umbrella"]["name"] == "Umbrella"  # new from the sandbox
    assert accounts["cus_demo_globex"]["status"] == "At Risk" and accounts["cus_demo_globex"]["balance"] == 120.5
    assert sandbox.requests == 3
    replayed = await executor.replay(job.number, wait=True)
    assert replayed.context["pages"] == 3 and len(replayed.links.children) == 3 and sandbox.requests == 6


async def test_create_writes_the_stripe_id_back_through_the_handler(demo: Store, sandbox: Sandbox) -> None:
    executor = await demo.started()
    jobs = await executor.run_outbound(DEMO_SLUG, CUSTOMER_CREATE, wait=True)
    assert len(jobs) == 1 and jobs[0].status == "Completed", jobs[0].error
    job = jobs[0]
    assert job.context["record"]["id"] == "acc_initech" and job.data_queried[0]["name"] == "Initech"
    assert (job.records_processed, job.records_failed) == (1, 0), "the record it sent"
    created = sandbox.state.customers[0]
    assert created["name"] == "Initech" and created["metadata"] == {"local_id": "acc_initech"}
    assert job.request.content_type == "application/x-www-form-urlencoded"
    assert "metadata[local_id]=acc_initech" in job.request.body.replace("%5B", "[").replace("%5D", "]")
    [child_number] = job.links.children
    child = demo.jobs.get(child_number)
    assert child.status == "Completed" and child.context == {"record": job.context["record"], "job": job.number}
    assert demo.records.get("Account", "acc_initech")["stripe_id"] == created["id"]
    # Nothing left to create: the source filter (!stripe_id) now selects no record.
    assert await executor.run_outbound(DEMO_SLUG, CUSTOMER_CREATE, wait=True) == []


async def test_retry_rebuilds_and_replay_resends_with_links(demo: Store, sandbox: Sandbox) -> None:
    integration = demo.config.get(DEMO_SLUG)
    integration.outbound_payload(CUSTOMER_CREATE).max_attempts = 2
    demo.config.save(integration)
    executor = await demo.started()
    sandbox.fail_next(500, count=2)
    [failed] = await executor.run_outbound(DEMO_SLUG, CUSTOMER_CREATE, wait=True)
    assert failed.status == "Failed" and failed.error.endswith("after 2 attempts")
    assert (failed.records_processed, failed.records_failed) == (0, 1)
    assert failed.links.children == []

    # The account changed meanwhile: a retry rebuilds from the current record.
    demo.records.update("Account", "acc_initech", {"email": "new@initech.example"})
    finished_at = demo.jobs.get(failed.number).modified
    retried = await executor.retry(failed.number, wait=True)
    assert demo.jobs.get(failed.number).modified == finished_at, "linking a retry does not touch the original's times"
    linked = [c for c in demo.changes if c.job.number == failed.number and c.linked]
    assert linked and linked[-1].job.status == "Failed" and not linked[-1].created
    assert retried.status == "Completed" and retried.source == "Retry"
    assert retried.links.original == failed.number
    assert demo.jobs.get(failed.number).links.reruns == [retried.number]
    assert sandbox.state.customers[0]["email"] == "new@initech.example"

    # A replay sends exactly what was logged (the old body), with the key applied again.
    replayed = await executor.replay(failed.number, wait=True)
    assert replayed.status == "Completed" and replayed.source == "Replay"
    assert replayed.request.body == failed.request.body and replayed.request.url == failed.request.url
    assert sandbox.state.customers[0]["email"] == "finance@initech.example"
    assert demo.jobs.get(failed.number).links.reruns == [retried.number, replayed.number]
    assert replayed.links.children, "the replayed response went to the handler too"


async def test_replay_of_a_paged_get_and_of_an_inbound_job(demo: Store, sandbox: Sandbox) -> None:
    executor = await demo.started()
    [listing] = await executor.run_outbound(DEMO_SLUG, CUSTOMER_GET_ALL, wait=True)
    replayed = await executor.replay(listing.number, wait=True)
    assert replayed.status == "Completed" and replayed.request.url == listing.request.url
    assert len(replayed.links.children) == 1 and sandbox.requests == 2

    webhook = (FIXTURES / "stripe" / "customer.created.json").read_bytes()
    first = await executor.run_inbound(DEMO_SLUG, CUSTOMER_WEBHOOK, webhook, content_type="application/json",
                                       source="External API", wait=True)
    assert first.status == "Completed" and first.records_processed == 1, first.error
    again = await executor.replay(first.number, wait=True)
    assert again.status == "Completed" and again.source == "Replay" and again.links.original == first.number
    assert again.request.body == first.request.body and again.records_processed == 1
    pending = await executor.run_inbound(DEMO_SLUG, CUSTOMER_WEBHOOK, webhook, content_type="application/json")
    with pytest.raises(ConflictError, match=f"job {pending.number} is still Queued"):
        await executor.replay(pending.number)
    await executor.wait(pending.number)


async def test_email_attachments_go_to_blobs(demo: Store) -> None:
    executor = await demo.started()
    raw = (FIXTURES / "order-confirmation.eml").read_bytes()
    job = await executor.run_inbound(DEMO_SLUG, BILLING_EMAIL, raw, content_type="message/rfc822", source="Email",
                                     wait=True)
    assert job.status == "Completed", job.error
    names = [a["filename"] for a in job.context["attachments"]]
    assert names == ["facture-ORD-2024-0042.pdf", "lignes.csv"]
    for attachment in job.context["attachments"]:
        data = demo.jobs.blobs.get(attachment["sha256"])
        assert len(data) == attachment["size"]
    assert job.context["blobs"] == [a["sha256"] for a in job.context["attachments"]]
    task = demo.records.query("Task", lambda r: r.get("source") == "Email")[0]
    assert task["attachments"] == 2


async def test_api_initiated_payload_answers_a_get(demo: Store) -> None:
    executor = demo.executor()
    body, content_type, job = await executor.serve_api(
        DEMO_SLUG, EXPOSE_ACCOUNTS, query={}, url="/api/stripe/accounts", headers={"Authorization": "Bearer t"})
    assert content_type == "application/json"
    accounts = json.loads(body)["accounts"]
    assert [a["name"] for a in accounts] == ["Acme Corp", "Globex", "Initech"]
    assert accounts[0] == {"id": "acc_acme", "name": "Acme Corp", "status": "Customer", "stripe_id": "cus_demo_acme",
                           "balance": 0.0}
    assert job.status == "Completed" and job.source == "External API" and job.kind == "outbound"
    assert job.request.headers == {"Authorization": "••••"} and job.request.url == "/api/stripe/accounts"
    assert job.response.code == 200 and demo.jobs.body_of(job.response) == body
    assert demo.jobs.get(job.number).status == "Completed"

    body, _, _ = await executor.serve_api(DEMO_SLUG, EXPOSE_ACCOUNTS, query={"ids": "acc_globex,acc_initech",
                                                                              "limit": "1"})
    assert [a["id"] for a in json.loads(body)["accounts"]] == ["acc_globex"]
    with pytest.raises(ValidationError, match="limit"):
        await executor.serve_api(DEMO_SLUG, EXPOSE_ACCOUNTS, query={"limit": "zero"})
    with pytest.raises(ValidationError, match="locally initiated"):
        await executor.serve_api(DEMO_SLUG, CUSTOMER_CREATE, query={})
