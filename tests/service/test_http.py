"""The HTTP receiver against real sockets: durability before 202, auth, limits, errors."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from payloads_tui.domain.models import ExternalApi
from payloads_tui.engine.events import AuthRejected, JobChanged
from payloads_tui.service.service import Service
from payloads_tui.service.workspace import Workspace
from payloads_tui.store.demo import CUSTOMER_WEBHOOK, DEMO_API_TOKEN, DEMO_WEBHOOK_SECRET
from payloads_tui.store.jobs import JobLog

from .conftest import SLOW_FSYNC, TEST_LIMITS, wait_for_job


def customer_event(stripe_id: str, name: str = "Wile E. Coyote") -> bytes:
    event = {
        "id": f"evt_{stripe_id}",
        "type": "customer.created",
        "data": {
            "object": {
                "id": stripe_id,
                "object": "customer",
                "name": name,
                "email": "wile@acme.example",
                "balance": 1250,
                "currency": "usd",
                "created": 1_700_000_000,
                "delinquent": False,
            }
        },
    }
    return json.dumps(event).encode()


def stripe_header(body: bytes, timestamp: int, secret: str = DEMO_WEBHOOK_SECRET) -> str:
    """Stripe's documented scheme: t=<ts>,v1=hex(HMAC-SHA256(secret, f"{ts}." + body))."""
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def signed(body: bytes, *, age: int = 0) -> dict[str, str]:
    return {"Content-Type": "application/json", "Stripe-Signature": stripe_header(body, int(time.time()) - age)}


def job_count(workspace: Workspace) -> int:
    return len(workspace.jobs.newest("inbound", limit=1000))


async def test_202_only_after_the_job_is_durable_then_records_appear(
    workspace: Workspace, client: httpx.AsyncClient, events: list, tmp_path: Path
) -> None:
    body = customer_event("cus_test_durable")
    answer = await client.post("/api/stripe/customers", content=body, headers=signed(body))
    assert answer.status_code == 202, answer.text
    number = answer.json()["job"]
    assert number.startswith("IN-")

    # What is on disk right now, opened by a fresh JobLog (a copy, so the live log is not touched)
    snapshot = tmp_path / "snapshot"
    shutil.copytree(workspace.home / "jobs", snapshot / "jobs")
    with JobLog(snapshot) as fresh:
        logged = fresh.get(number)
    assert logged is not None, "202 was sent before the job was durable"
    assert logged.source == "External API" and logged.payload == CUSTOMER_WEBHOOK
    assert logged.request is not None and logged.request.method == "POST"
    assert logged.request.headers["stripe-signature"] == "••••"

    twice = await client.post(
        "/api/stripe/customers", content=body,
        headers=[*signed(body).items(), ("X-Trace", "a"), ("X-Trace", "b"), ("Stripe-Signature", "t=1,v1=00")],
    )
    assert twice.status_code == 202, twice.text  # the first Stripe-Signature is the one checked
    headers = workspace.jobs.get(twice.json()["job"]).request.headers  # type: ignore[union-attr]
    assert headers["x-trace"] == "a, b" and headers["stripe-signature"] == "••••"

    job = await wait_for_job(workspace, number)
    assert job.status == "Completed", job.error
    accounts = workspace.records.find("Account", {"stripe_id": "cus_test_durable"})
    assert [a["name"] for a in accounts] == ["Wile E. Coyote"]
    assert accounts[0]["balance"] == 12.5
    assert any(isinstance(e, JobChanged) and e.created and e.job.number == number for e in events)


async def test_the_answer_waits_for_the_fsync(client: httpx.AsyncClient, slow_fsync: list[float]) -> None:
    """With every fsync slowed down (the file is still really written), 202 comes only after one."""
    body = customer_event("cus_test_fsync")
    started = time.monotonic()
    answer = await client.post("/api/stripe/customers", content=body, headers=signed(body))
    answered = time.monotonic()
    assert answer.status_code == 202
    assert answered - started >= SLOW_FSYNC
    assert slow_fsync and slow_fsync[0] <= answered


async def test_stale_and_future_stripe_timestamps_are_refused(
    workspace: Workspace, client: httpx.AsyncClient, events: list
) -> None:
    body = customer_event("cus_test_stale")
    before = job_count(workspace)
    stale = await client.post("/api/stripe/customers", content=body, headers=signed(body, age=400))
    future = await client.post("/api/stripe/customers", content=body, headers=signed(body, age=-400))
    assert stale.status_code == 401 and "old" in stale.json()["error"]
    assert future.status_code == 401 and "future" in future.json()["error"]
    wrong = await client.post(
        "/api/stripe/customers",
        content=body,
        headers={"Stripe-Signature": stripe_header(body, int(time.time()), secret="whsec_other")},
    )
    assert wrong.status_code == 401 and "signature" in wrong.json()["error"]
    missing = await client.post("/api/stripe/customers", content=body)
    assert missing.status_code == 401 and "missing" in missing.json()["error"]
    assert job_count(workspace) == before
    rejected = [e for e in events if isinstance(e, AuthRejected)]
    assert len(rejected) == 4
    assert rejected[0].integration == "stripe" and rejected[0].where == "POST /api/stripe/customers"
    assert rejected[0].peer.startswith("127.0.0.1:")
    assert DEMO_WEBHOOK_SECRET not in repr(rejected)


async def test_token_auth_on_the_get_api(client: httpx.AsyncClient, events: list, service: Service) -> None:
    bearer = await client.get("/api/stripe/accounts", headers={"Authorization": f"Bearer {DEMO_API_TOKEN}"})
    assert bearer.status_code == 200, bearer.text
    assert bearer.headers["content-type"].startswith("application/json")
    assert bearer.headers["x-payloads-job"].startswith("OUT-")
    names = {a["name"] for a in bearer.json()["accounts"]}
    assert {"Acme Corp", "Globex", "Initech"} <= names
    api_key = await client.get("/api/stripe/accounts", headers={"X-Api-Key": DEMO_API_TOKEN})
    assert api_key.status_code == 200
    wrong = await client.get("/api/stripe/accounts", headers={"Authorization": "Bearer demo-tokeN"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "the token is not valid for this API"}
    missing = await client.get("/api/stripe/accounts")
    assert missing.status_code == 401 and "Bearer" in missing.json()["error"]
    assert missing.json()["error"].startswith("missing token: ")
    basic = await client.get("/api/stripe/accounts", headers={"Authorization": "Basic ZGVtbzpkZW1v"})
    assert basic.status_code == 401
    assert basic.json()["error"].startswith("an Authorization of scheme 'Basic' is not taken; send ")
    bare = await client.get("/api/stripe/accounts", headers={"Authorization": DEMO_API_TOKEN})  # no "Bearer "
    assert bare.status_code == 401 and DEMO_API_TOKEN not in bare.text
    assert bare.json()["error"].startswith("an Authorization header without a scheme is not taken (the token alone?)")
    odd = await client.get("/api/stripe/accounts", headers={"Authorization": f"{DEMO_API_TOKEN} x"})
    assert odd.status_code == 401 and DEMO_API_TOKEN not in odd.text and "unknown scheme" in odd.text
    assert [e.reason for e in events if isinstance(e, AuthRejected)] == [
        f"401, {answer.json()['error']}" for answer in (wrong, missing, basic, bare, odd)
    ]
    assert not any(DEMO_API_TOKEN in str(e.reason) for e in events if isinstance(e, AuthRejected))
    kept = service.workspace.recent_refusals(integration="stripe")
    assert [r.reason for r in kept] == [f"401, {answer.json()['error']}" for answer in (odd, bare, basic, missing, wrong)]
    assert kept[0].where == "GET /api/stripe/accounts" and kept[0].peer.startswith("127.0.0.1:")


async def test_secret_query_parameters_are_masked_in_the_jobs_of_both_apis(
    workspace: Workspace, client: httpx.AsyncClient
) -> None:
    """The README: a logged request masks `api_key`, `token`, … whatever set them; the receiver logged them."""
    body = customer_event("cus_masked")
    posted = await client.post("/api/stripe/customers?api_key=TOPSECRET&Token=Tk-hidden2&keep=1", content=body,
                               headers=signed(body))
    assert posted.status_code == 202, posted.text
    fetched = await client.get("/api/stripe/accounts?access_token=zzz&password=pw1&sig=sv&limit=2",
                               headers={"Authorization": f"Bearer {DEMO_API_TOKEN}"})
    assert fetched.status_code == 200, fetched.text
    inbound = await wait_for_job(workspace, posted.json()["job"])
    outbound = workspace.job(fetched.headers["x-payloads-job"])
    assert inbound.request.url.endswith("/api/stripe/customers?api_key=••••&Token=••••&keep=1")
    assert inbound.context["query"] == {"api_key": "••••", "Token": "••••", "keep": "1"}
    assert outbound.request.url.endswith("/api/stripe/accounts?access_token=••••&password=••••&sig=••••&limit=2")
    assert len(fetched.json()["accounts"]) == 2  # the answer itself read the real query
    logged = b"".join(path.read_bytes() for path in (workspace.home / "jobs").glob("active-*"))
    assert not any(secret in logged for secret in (b"TOPSECRET", b"Tk-hidden2", b"zzz", b"pw1"))


async def test_head_on_a_get_api_answers_its_content_type_without_a_job(
    workspace: Workspace, client: httpx.AsyncClient
) -> None:
    before = len(workspace.jobs.newest("outbound", limit=100))
    head = await client.head("/api/stripe/accounts", headers={"X-Api-Key": DEMO_API_TOKEN})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("application/json")
    assert "x-payloads-job" not in head.headers and "content-length" not in head.headers
    assert len(workspace.jobs.newest("outbound", limit=100)) == before, "a HEAD runs nothing"
    refused = await client.head("/api/stripe/accounts", headers={"X-Api-Key": "wrong"})
    assert refused.status_code == 401
    assert (await client.get("/api/stripe/accounts", headers={"X-Api-Key": DEMO_API_TOKEN})).status_code == 200


async def test_a_large_api_answer_keeps_its_data_queried_in_a_blob(
    workspace: Workspace, client: httpx.AsyncClient
) -> None:
    for i in range(200):
        workspace.records.insert("Account", {"name": f"Bulk {i:03d}", "email": f"bulk{i}@example.com"})
    answer = await client.get("/api/stripe/accounts", headers={"X-Api-Key": DEMO_API_TOKEN})
    assert answer.status_code == 200, answer.text
    job = workspace.jobs.get(answer.headers["x-payloads-job"])
    assert job is not None and job.data_queried == [] and job.data_blob
    data = workspace.job_data(job)
    assert {"Bulk 000", "Bulk 199", "Acme Corp"} <= {row["name"] for row in data}
    assert len(data) == len(answer.json()["accounts"]) == job.records_processed


async def test_hmac_api_added_while_running(workspace: Workspace, client: httpx.AsyncClient) -> None:
    integration = workspace.integration("stripe")
    integration.apis.append(
        ExternalApi(
            path="customers-hmac",
            payload=CUSTOMER_WEBHOOK,
            auth="hmac",
            secret=workspace.encrypt("hmac-key"),
            hmac_header="X-Hub-Signature-256",
        )
    )
    workspace.save_integration(integration)  # ConfigChanged refreshes the receiver's cache
    body = customer_event("cus_test_hmac")
    digest = hmac.new(b"hmac-key", body, hashlib.sha256).hexdigest()
    good = await client.post(
        "/api/stripe/customers-hmac", content=body,
        headers={"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"},
    )
    assert good.status_code == 202, good.text
    job = await wait_for_job(workspace, good.json()["job"])
    assert job.request is not None and job.request.headers["x-hub-signature-256"] == "••••"
    bad = await client.post("/api/stripe/customers-hmac", content=body, headers={"X-Hub-Signature-256": "0" * 64})
    assert bad.status_code == 401
    elsewhere = await client.post("/api/stripe/customers-hmac", content=body, headers={"X-Signature": digest})
    assert elsewhere.status_code == 401
    assert elsewhere.json()["error"].startswith("missing X-Hub-Signature-256 header")


async def test_not_found_inactive_and_wrong_method(
    workspace: Workspace, client: httpx.AsyncClient, events: list
) -> None:
    body = customer_event("cus_test_codes")
    unknown_integration = await client.post("/api/nope/customers", content=body)
    assert unknown_integration.status_code == 404 and "nope" in unknown_integration.json()["error"]
    unknown_path = await client.post("/api/stripe/nothing-here", content=body)
    assert unknown_path.status_code == 404 and "nothing-here" in unknown_path.json()["error"]
    assert "did you mean" not in unknown_path.json()["error"]
    slash = await client.post("/api/stripe/customers/", content=body)
    assert slash.status_code == 404
    assert slash.json()["error"].endswith("did you mean /api/stripe/customers (without the trailing slash)?")
    elsewhere = await client.get("/elsewhere")
    assert elsewhere.status_code == 404 and "error" in elsewhere.json()
    put = await client.put("/api/stripe/customers", content=body)
    assert put.status_code == 405 and put.headers["allow"] == "POST"
    assert put.json() == {"error": "/api/stripe/customers takes POST only"}
    no_path = await client.post("/api/stripe", content=body)
    assert no_path.status_code == 404 and "/api/<integration>/<path>" in no_path.json()["error"]
    get_on_post = await client.get("/api/stripe/customers")
    assert get_on_post.status_code == 405 and get_on_post.headers["allow"] == "POST"
    post_health = await client.post("/healthz")
    assert post_health.status_code == 405 and "error" in post_health.json()

    integration = workspace.integration("stripe")
    next(a for a in integration.apis if a.path == "customers").active = False
    workspace.save_integration(integration)
    inactive = await client.post("/api/stripe/customers", content=body, headers=signed(body))
    assert inactive.status_code == 403 and "inactive" in inactive.json()["error"]
    accounts = await client.put("/api/stripe/accounts")
    assert accounts.status_code == 405 and accounts.headers["allow"] == "GET, HEAD"

    # The operator sees each refusal of a request for a configured integration; a URL of
    # no integration (a scanner, a typo in the host part) is only answered.
    refused = [(e.integration, e.where, e.reason.split(",")[0]) for e in events if isinstance(e, AuthRejected)]
    assert refused == [
        ("stripe", "POST /api/stripe/nothing-here", "404"),
        ("stripe", "POST /api/stripe/customers/", "404"),
        ("stripe", "PUT /api/stripe/customers", "405"),
        ("stripe", "GET /api/stripe/customers", "405"),
        ("stripe", "POST /api/stripe/customers", "403"),
        ("stripe", "PUT /api/stripe/accounts", "405"),
    ]


async def test_body_limits(workspace: Workspace, client: httpx.AsyncClient, events: list) -> None:
    before = job_count(workspace)
    big = b'{"pad": "' + b"x" * TEST_LIMITS.max_body_bytes + b'"}'
    declared = await client.post("/api/stripe/customers", content=big, headers=signed(big))
    assert declared.status_code == 413 and "max_body_bytes" in declared.json()["error"]

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    chunked = await client.post("/api/stripe/customers", content=chunks(), headers=signed(big))
    assert chunked.status_code == 413
    assert job_count(workspace) == before
    reasons = [e.reason for e in events if isinstance(e, AuthRejected)]
    assert len(reasons) == 2 and all(r.startswith("413, the body is larger than") for r in reasons)


async def test_a_request_that_cannot_be_parsed_gets_a_json_400(
    workspace: Workspace, service: Service, client: httpx.AsyncClient, events: list
) -> None:
    before = job_count(workspace)
    host, port = service.http_url.removeprefix("http://").rsplit(":", 1)  # type: ignore[union-attr]
    head = b"POST /api/stripe/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    broken = {
        b"Content-Length: abc\r\n\r\n{}": "Invalid character in Content-Length",
        b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}": "Duplicate Content-Length",
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n": "Invalid character in chunk size",
        b"X-Note: a\x01b\r\nContent-Length: 2\r\n\r\n{}": "Invalid header value char",
    }
    for tail, reason in broken.items():
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(head + tail)
        answer = await asyncio.wait_for(reader.read(), timeout=10)  # the server closes the connection
        writer.close()
        status, _, rest = answer.partition(b"\r\n")
        headers, _, body = rest.partition(b"\r\n\r\n")
        assert status == b"HTTP/1.1 400 Bad Request"
        assert b"content-type: application/json" in headers.lower()
        error = json.loads(body)["error"]
        assert error.startswith(f"malformed HTTP request: {reason};") and "Content-Length" in error
    reader, writer = await asyncio.open_connection(host, int(port))  # curl https:// to this http:// port
    writer.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32))
    answer = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"].startswith(
        "this looks like TLS (https://) sent to a plain-HTTP port")
    events[:] = [e for e in events if not (isinstance(e, AuthRejected) and "TLS" in e.reason)]
    assert job_count(workspace) == before
    assert (await client.get("/healthz")).status_code == 200  # the receiver is still serving
    refused = [e for e in events if isinstance(e, AuthRejected)]
    assert [e.reason.split(";")[0] for e in refused] == [f"400, malformed HTTP request: {r}" for r in broken.values()]
    assert {(e.integration, e.where) for e in refused} == {("", "a request that is not valid HTTP")}


async def test_content_types(workspace: Workspace, client: httpx.AsyncClient, events: list) -> None:
    body = customer_event("cus_test_types")
    xml = await client.post(
        "/api/stripe/customers", content=body, headers={**signed(body), "Content-Type": "application/xml"}
    )
    assert xml.status_code == 415
    assert "application/json" in xml.json()["error"] and "JSON" in xml.json()["error"]
    unknown = await client.post(
        "/api/stripe/customers", content=body, headers={**signed(body), "Content-Type": "image/png"}
    )
    assert unknown.status_code == 415
    assert [e.reason[:4] for e in events if isinstance(e, AuthRejected)] == ["415,", "415,"]
    vendor = await client.post(
        "/api/stripe/customers", content=body,
        headers={**signed(body), "Content-Type": "application/vnd.stripe+json; charset=utf-8"},
    )
    assert vendor.status_code == 202
    headers = signed(body)
    del headers["Content-Type"]
    untyped = await client.post("/api/stripe/customers", content=body, headers=headers)
    assert untyped.status_code == 202
    job = await wait_for_job(workspace, untyped.json()["job"])
    assert job.status == "Completed" and job.request is not None
    assert job.request.content_type == "application/json"


async def test_malformed_json_is_a_failed_job_with_the_raw_body(
    workspace: Workspace, client: httpx.AsyncClient, events: list
) -> None:
    body = b'{"id": "evt_broken", "data": {"object": '
    answer = await client.post("/api/stripe/customers", content=body, headers=signed(body))
    assert answer.status_code == 400
    reply = answer.json()
    assert reply["error"].startswith("could not parse the body as JSON")
    job = workspace.jobs.get(reply["job"])
    assert job is not None and job.status == "Failed"
    assert job.error == reply["error"]
    assert job.request is not None and job.request.body == body.decode()
    assert any(isinstance(e, JobChanged) and e.job.number == job.number for e in events)


async def test_a_webhook_that_selects_nothing_is_completed_with_a_note(
    workspace: Workspace, client: httpx.AsyncClient
) -> None:
    body = json.dumps({"id": "evt_empty", "type": "customer.created", "data": {}}).encode()
    answer = await client.post("/api/stripe/customers", content=body, headers=signed(body))
    assert answer.status_code == 202, answer.text
    job = await wait_for_job(workspace, answer.json()["job"])
    assert (job.status, job.records_processed, job.error) == ("Completed", 0, None)
    assert job.note is not None and job.note.startswith("nothing was written: target ")
    assert "`data.object`" in job.note and workspace.jobs.get(job.number).note == job.note  # type: ignore[union-attr]


async def test_healthz(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["jobs_queued"] >= 0


async def test_service_url_helpers(service: Service) -> None:
    assert service.http_url is not None and service.http_url.startswith("http://127.0.0.1:")
    assert service.api_url("stripe", "customers") == f"{service.http_url}/api/stripe/customers"


async def test_a_larger_malformed_body_goes_to_a_blob(workspace: Workspace, client: httpx.AsyncClient) -> None:
    body = b'{"pad": "' + b"y" * 20_000 + b'", oops}'  # over the blob threshold and the on-loop parse size
    answer = await client.post("/api/stripe/customers", content=body, headers=signed(body))
    assert answer.status_code == 400 and "JSON" in answer.json()["error"]
    job = workspace.jobs.get(answer.json()["job"])
    assert job is not None and job.status == "Failed" and job.request is not None
    assert job.request.body is None and job.request.body_blob
    assert workspace.jobs.body_of(job.request) == body


async def test_headers_over_the_limit_get_a_json_431_and_no_job(
    workspace: Workspace, service: Service, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture,
    events: list
) -> None:
    from payloads_tui.service.http import MAX_HEAD_BYTES

    before = job_count(workspace)
    host, port = service.http_url.removeprefix("http://").rsplit(":", 1)  # type: ignore[union-attr]
    body = customer_event("cus_test_big_head")
    head = "".join(f"{k}: {v}\r\n" for k, v in signed(body).items())
    requests = {
        "one long header": f"X-Big: {'a' * MAX_HEAD_BYTES}\r\n",
        "many headers": "".join(f"X-N{i}: {'b' * 60}\r\n" for i in range(MAX_HEAD_BYTES // 60)),
    }
    for name, extra in requests.items():
        reader, writer = await asyncio.open_connection(host, int(port))
        request = f"POST /api/stripe/customers HTTP/1.1\r\nHost: x\r\n{head}{extra}Content-Length: {len(body)}\r\n\r\n"
        writer.write(request.encode() + body)
        answer = await asyncio.wait_for(reader.read(), timeout=10)  # the server closes the connection
        writer.close()
        status, _, rest = answer.partition(b"\r\n")
        headers, _, error = rest.partition(b"\r\n\r\n")
        assert status == b"HTTP/1.1 431 Request Header Fields Too Large", name
        assert b"content-type: application/json" in headers.lower()
        assert f"larger than the {MAX_HEAD_BYTES} bytes allowed" in json.loads(error)["error"]
    # Headers that never end: refused once more than the limit has arrived, not buffered on.
    reader, writer = await asyncio.open_connection(host, int(port))
    answer = b""
    try:
        writer.write(b"POST /api/stripe/customers HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        for _ in range(4 * MAX_HEAD_BYTES // 4096):
            writer.write(b"e" * 4096)
            await writer.drain()
            await asyncio.sleep(0.002)
        answer = await asyncio.wait_for(reader.read(), timeout=5)
    except ConnectionError:  # closed while we were still sending: also a refusal
        answer = b"HTTP/1.1 431 (connection closed)"
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert job_count(workspace) == before
    refused = [e for e in events if isinstance(e, AuthRejected)]  # as other refusals: serve collapses a burst
    assert len(refused) == 3 and {e.where for e in refused} == {"HTTP request"}
    assert all(e.reason.startswith("431, the request line") and e.peer.startswith("127.0.0.1:") for e in refused)
    said = [r.getMessage() for r in caplog.records]
    assert "Invalid HTTP request received." not in said  # uvicorn's line, which names neither sender nor reason

    # Just under the limit, with a body arriving in the same reads: accepted.
    big = json.dumps({**json.loads(body), "pad": "x" * (TEST_LIMITS.max_body_bytes - 2048)}).encode()
    near = {**signed(big), "X-Trace": "t" * (MAX_HEAD_BYTES - 2048)}
    answer = await client.post("/api/stripe/customers", content=big, headers=near)
    assert answer.status_code == 202, answer.text
    # A keep-alive connection counts each request's headers on their own.
    for _ in range(3):
        again = await client.post("/api/stripe/customers", content=body, headers={**signed(body), "X-Trace": "t" * (MAX_HEAD_BYTES // 2)})
        assert again.status_code == 202, again.text
