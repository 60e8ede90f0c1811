"""Credentials applied to real requests, OAuth tokens fetched, cached, refreshed; logs masked."""

from __future__ import annotations

import asyncio
import base64
import time
from urllib.parse import parse_qsl

import msgspec
import pytest

from payloads_tui.store.history import HistoryLog
from payloads_tui.domain.errors import CredentialError
from payloads_tui.domain.models import Credential, Integration, OutboundPayload
from payloads_tui.engine.auth import check_credential, mask_headers, mask_url

from tests.outbound.conftest import Reply, Seen, Store

SECRET = "s3cr3t-value-never-logged"


def setup(store: Store, server_url: str, credential: Credential, **payload: object) -> None:
    store.config.create(Integration(
        slug="api", name="API", variables={"base": server_url},
        credentials=[credential],
        outbound=[OutboundPayload(name="Ping", method="GET", endpoint="{base}/ping", credential=credential.name,
                                  max_attempts=1, **payload)],  # type: ignore[arg-type]
    ))


def assert_no_secret(store: Store, *values: str) -> None:
    for job in store.jobs.newest(limit=100):
        encoded = msgspec.json.encode(job).decode()
        for value in values:
            assert value not in encoded, f"{value!r} leaked into {job.number}"


@pytest.mark.parametrize(
    ("credential", "expect_header", "expect_query"),
    [
        (dict(kind="basic", fields={"username": "ada"}, secrets={"password": SECRET}),
         ("authorization", "Basic " + base64.b64encode(f"ada:{SECRET}".encode()).decode()), None),
        (dict(kind="basic", fields={"username": "ada"}, secrets={}),  # no password: a key as the user name
         ("authorization", "Basic " + base64.b64encode(b"ada:").decode()), None),
        (dict(kind="bearer", secrets={"token": SECRET}), ("authorization", f"Bearer {SECRET}"), None),
        (dict(kind="api_key", fields={"placement": "header", "name": "X-Token"}, secrets={"value": SECRET}),
         ("x-token", SECRET), None),
        (dict(kind="api_key", fields={"placement": "query", "name": "key"}, secrets={"value": SECRET}),
         None, ("key", SECRET)),
    ],
)
async def test_each_kind_is_applied_and_masked_in_the_log(store: Store, serve, credential, expect_header,
                                                          expect_query) -> None:
    server = await serve(lambda seen: Reply(200, {"ok": True}))
    secrets = {k: store.vault.encrypt(v) for k, v in credential.pop("secrets").items()}
    setup(store, server.url, Credential(name="Cred", secrets=secrets, **credential), query={"page": "1"})
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Ping", wait=True)
    assert job.status == "Completed", job.error
    seen = server.seen[0]
    if expect_header:
        assert seen.headers[expect_header[0]] == expect_header[1]
        assert job.request.headers[next(k for k in job.request.headers if k.lower() == expect_header[0])] == "••••"
    if expect_query:
        assert seen.query == {"page": "1", expect_query[0]: expect_query[1]}
        assert "key=••••" in job.request.url and "page=1" in job.request.url
    # A replay sends the logged (masked) request with the secret applied again.
    replayed = await executor.replay(job.number, wait=True)
    assert replayed.status == "Completed" and replayed.request.url == job.request.url
    assert (server.seen[1].headers.get(expect_header[0]) if expect_header else server.seen[1].query) == (
        expect_header[1] if expect_header else seen.query)
    assert_no_secret(store, SECRET, base64.b64encode(f"ada:{SECRET}".encode()).decode())


async def test_a_secret_typed_into_the_query_is_masked_in_the_log_and_sent_again_on_replay(store: Store, serve) -> None:
    from payloads_tui.domain.models import Element

    server = await serve(lambda seen: Reply(200, {"ok": True}))
    store.config.create(Integration(
        slug="api", name="API", variables={"base": server.url, "key": "var-secret"},
        outbound=[OutboundPayload(name="Ping", method="GET", endpoint="{base}/ping", max_attempts=1,
                                  query={"api_key": "{key}", "page": "1"},
                                  elements=[Element(path="access_token", placement="query", source="static",
                                                    value="static-secret")])],
    ))
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Ping", wait=True)
    assert job.status == "Completed", job.error
    assert server.seen[0].query == {"api_key": "var-secret", "page": "1", "access_token": "static-secret"}
    assert "api_key=••••" in job.request.url and "access_token=••••" in job.request.url
    assert_no_secret(store, "var-secret", "static-secret")
    replayed = await executor.replay(job.number, wait=True)
    assert replayed.status == "Completed"
    assert server.seen[1].query == server.seen[0].query, "the masked values are sent again, not dropped"
    assert_no_secret(store, "var-secret", "static-secret")


def oauth_credential(store: Store, url: str, **fields: str) -> Credential:
    grant = fields.pop("grant", "client_credentials")
    secrets = {"client_secret": store.vault.encrypt("client-secret")}
    if grant == "refresh_token":
        secrets["refresh_token"] = store.vault.encrypt("refresh-1")
    return Credential(name="OAuth", kind="oauth2", secrets=secrets, fields={
        "grant": grant, "client_id": "client-1", "token_url": f"{url}/token", "scope": "read write", **fields})


def oauth_server(tokens: list[str], accepted: set[str]):
    token_requests: list[Seen] = []

    def handle(seen: Seen) -> Reply:
        if seen.path == "/token":
            token_requests.append(seen)
            n = len(token_requests)
            return Reply(200, {"access_token": tokens[n - 1], "expires_in": 3600, "token_type": "Bearer",
                               "refresh_token": f"refresh-{n + 1}"})
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        return Reply(200, {"ok": True}) if token in accepted else Reply(401, {"error": "expired"})

    return handle, token_requests


async def test_oauth_client_credentials_fetch_cache_and_persist(store: Store, serve) -> None:
    handle, token_requests = oauth_server(["tok-1"], {"tok-1"})
    server = await serve(handle)
    setup(store, server.url, oauth_credential(store, server.url))
    executor = await store.started()
    for _ in range(3):
        [job] = await executor.run_outbound("api", "Ping", wait=True)
        assert job.status == "Completed", job.error
    assert len(token_requests) == 1  # cached
    sent = token_requests[0]
    assert dict(parse_qsl(sent.body.decode())) == {"grant_type": "client_credentials", "scope": "read write"}
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"client-1:client-secret").decode()
    assert [s.headers["authorization"] for s in server.seen if s.path == "/ping"] == ["Bearer tok-1"] * 3
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        stored = store.config.get("api").credential("OAuth")
        if stored.secrets.get("access_token"):
            break
        await asyncio.sleep(0.02)
    assert store.vault.decrypt(stored.secrets["access_token"]) == "tok-1"
    assert float(stored.fields["expires_at"]) == pytest.approx(time.time() + 3600, abs=30)
    assert_no_secret(store, "tok-1", "client-secret")
    # A token the service fetched is bookkeeping, not a user's change: no history entry.
    assert [e for e in HistoryLog(store.home).entries(integration="api") if e.action == "update"] == []

    # A new executor (a restart) uses the stored token instead of fetching one.
    await executor.stop()
    again = await store.started()
    [job] = await again.run_outbound("api", "Ping", wait=True)
    assert job.status == "Completed" and len(token_requests) == 1


async def test_oauth_refreshes_once_on_401(store: Store, serve) -> None:
    handle, token_requests = oauth_server(["tok-1", "tok-2"], {"tok-2"})
    server = await serve(handle)
    setup(store, server.url, oauth_credential(store, server.url))
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Ping", wait=True)
    assert job.status == "Completed", job.error
    assert len(token_requests) == 2
    assert [s.headers["authorization"] for s in server.seen if s.path == "/ping"] == ["Bearer tok-1", "Bearer tok-2"]


async def test_oauth_401_after_refresh_fails_without_looping(store: Store, serve) -> None:
    handle, token_requests = oauth_server(["tok-1", "tok-2", "tok-3"], set())
    server = await serve(handle)
    setup(store, server.url, oauth_credential(store, server.url, grant="refresh_token"))
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Ping", wait=True)
    assert job.status == "Failed" and job.error.startswith("401 Unauthorized")
    assert len(token_requests) == 2 and len([s for s in server.seen if s.path == "/ping"]) == 2
    sent = [dict(parse_qsl(t.body.decode())) for t in token_requests]
    assert [t["refresh_token"] for t in sent] == ["refresh-1", "refresh-2"]  # the rotated one is used
    assert {t["grant_type"] for t in sent} == {"refresh_token"}


async def test_refused_token_request_fails_the_job_clearly(store: Store, serve) -> None:
    server = await serve(lambda seen: Reply(400, {"error": "invalid_client", "error_description": "bad secret"}))
    setup(store, server.url, oauth_credential(store, server.url))
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Ping", wait=True)
    assert job.status == "Failed"
    assert "credential 'OAuth'" in job.error and "400 Bad Request (invalid_client: bad secret)" in job.error
    assert "client-secret" not in job.error


async def test_missing_fields_name_the_credential_and_field(store: Store, serve) -> None:
    with pytest.raises(CredentialError, match=r"credential 'B' \(basic\) has no username"):
        check_credential(Credential(name="B", kind="basic", fields={}))
    with pytest.raises(CredentialError, match="has no client_secret"):
        check_credential(Credential(name="O", kind="oauth2", fields={
            "grant": "client_credentials", "token_url": "http://127.0.0.1:9/t", "client_id": "c"}))
    server = await serve(lambda seen: Reply(200))
    setup(store, server.url, Credential(name="K", kind="api_key", fields={"placement": "header"},
                                        secrets={"value": store.vault.encrypt(SECRET)}))
    executor = await store.started()
    [job] = await executor.run_outbound("api", "Ping", wait=True)
    assert job.status == "Failed" and "credential 'K' (api_key) has no name" in job.error
    assert server.seen == []


def test_masking_helpers() -> None:
    headers = {"Authorization": "Bearer x", "Cookie": "a=b", "X-Api-Key": "k", "Stripe-Signature": "t=1",
               "X-Custom-Key": "c", "Accept": "application/json"}
    assert mask_headers(headers, {"x-custom-key"}) == {
        "Authorization": "••••", "Cookie": "••••", "X-Api-Key": "••••", "Stripe-Signature": "••••",
        "X-Custom-Key": "••••", "Accept": "application/json"}
    assert mask_url("http://h/p?a=1&api_key=xyz&b=2#f", {"api_key"}) == "http://h/p?a=1&api_key=••••&b=2#f"
    assert mask_url("http://h/p", {"api_key"}) == "http://h/p"
    # well-known secret names are masked whatever set them (a static query element, the endpoint itself)
    assert mask_url("http://h/p?API_KEY=s1&access_token=s2&page=2", set()) == (
        "http://h/p?API_KEY=••••&access_token=••••&page=2")
