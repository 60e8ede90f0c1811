"""`Service`: start/stop, addresses from settings, a port in use, the demo sandbox."""

from __future__ import annotations

import socket

import httpx
import pytest

from payloads_tui.domain.errors import ServiceError
from payloads_tui.engine.events import ServiceChanged
from payloads_tui.domain.models import ExternalApi, Integration
from payloads_tui.service.service import Service, exposure_warnings, is_loopback
from payloads_tui.service.workspace import Workspace
from payloads_tui.store import jobs as jobs_module
from payloads_tui.store.demo import DEMO_STRIPE_KEY

from .serve_script import load_integration


async def test_a_headless_service_commits_a_lone_webhook_on_its_loop(workspace: Workspace, monkeypatch) -> None:
    monkeypatch.setattr(jobs_module, "INLINE_COMMIT_SECONDS", 0.1)  # a busy test machine's disk is not "slow"
    workspace.create_integration(load_integration())
    for headless in (True, False):
        service = Service(workspace, http=("127.0.0.1", 0), smtp=False, commit_on_loop=headless)
        await service.start()
        before = workspace.jobs.loop_commits
        try:
            assert workspace.jobs.commit_on_loop is headless
            async with httpx.AsyncClient(base_url=service.http_url, timeout=5) as client:
                for n in range(3):
                    answer = await client.post("/api/load/ping", json={"key": f"k{n}", "n": n})
                    assert answer.status_code == 202, answer.text
        finally:
            await service.stop()
        assert workspace.jobs.commit_on_loop is False  # the console may embed the next service
        made = workspace.jobs.loop_commits - before
        assert made >= 1 if headless else made == 0, (headless, made)


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_start_stop_status_and_events(workspace: Workspace, events: list) -> None:
    service = Service(workspace, smtp=False)  # HTTP from settings (127.0.0.1:0), SMTP off
    assert workspace.service is service
    await service.start()
    try:
        status = service.status()
        assert status["running"] is True and status["smtp"] is None and service.smtp_address is None
        assert status["http"] == service.http_url and service.http_url.startswith("http://127.0.0.1:")
        assert service.http_url != "http://127.0.0.1:0"
        assert set(status["jobs"]) == {"queued", "running", "retrying"}
        async with httpx.AsyncClient(base_url=service.http_url, timeout=5) as client:
            assert (await client.get("/healthz")).json()["status"] == "ok"
    finally:
        await service.stop()
        await service.stop()  # a second stop is harmless
    changes = [e for e in events if isinstance(e, ServiceChanged)]
    assert [(c.running, c.http) for c in changes] == [(True, service.http_url), (False, None)]
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(f"{service.http_url}/healthz")


async def test_a_port_in_use_is_a_clear_error(workspace: Workspace, events: list) -> None:
    taken = listening_socket()
    try:
        port = taken.getsockname()[1]
        service = Service(workspace, http=("127.0.0.1", port), smtp=("127.0.0.1", 0))
        with pytest.raises(ServiceError) as error:
            await service.start()
        assert str(error.value) == f"127.0.0.1:{port} is in use; set PAYLOADS_HTTP or --http to another address"
        assert service.running is False and service.status()["http"] is None
        smtp_taken = Service(workspace, http=("127.0.0.1", 0), smtp=("127.0.0.1", port))
        with pytest.raises(ServiceError, match="PAYLOADS_SMTP or --smtp"):
            await smtp_taken.start()
        assert smtp_taken.status()["http"] is None  # what had started was stopped again
    finally:
        taken.close()
    assert [e.running for e in events if isinstance(e, ServiceChanged)] == [False, False]
    assert all("in use" in (e.error or "") for e in events if isinstance(e, ServiceChanged))


async def test_sandbox_on_the_demo_base_url(workspace: Workspace) -> None:
    port = free_port()
    integration = workspace.integration("stripe")
    integration.variables["base_url"] = f"http://127.0.0.1:{port}"
    workspace.save_integration(integration)
    service = Service(workspace, http=False, smtp=False, sandbox=True)
    await service.start()
    try:
        assert service.sandbox_url == f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.get(
                f"{service.sandbox_url}/v1/customers", headers={"Authorization": f"Bearer {DEMO_STRIPE_KEY}"}
            )
        assert answer.status_code == 200
    finally:
        await service.stop()
    assert service.sandbox_url is None


async def test_sandbox_moves_when_its_port_is_taken(workspace: Workspace) -> None:
    taken = listening_socket()
    try:
        port = taken.getsockname()[1]
        integration = workspace.integration("stripe")
        integration.variables["base_url"] = f"http://127.0.0.1:{port}"
        workspace.save_integration(integration)
        service = Service(workspace, http=False, smtp=False, sandbox=True)
        await service.start()
        try:
            assert service.sandbox_url is not None and service.sandbox_url.startswith("http://127.0.0.1:")
            assert service.sandbox_url != f"http://127.0.0.1:{port}"
            assert service.status()["sandbox"] == service.sandbox_url
        finally:
            await service.stop()
    finally:
        taken.close()


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("example.internal", False),
])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_receiver_beyond_loopback_is_warned_about_naming_open_apis() -> None:
    integration = Integration(slug="shop", name="Shop", apis=[
        ExternalApi(path="orders", payload="Order", auth="none"),
        ExternalApi(path="paused", payload="Order", auth="none", active=False),
        ExternalApi(path="signed", payload="Order", auth="hmac", secret="x"),
    ])
    assert exposure_warnings(("127.0.0.1", 8787), ("::1", 2525), [integration]) == []
    [http, smtp] = exposure_warnings(("0.0.0.0", 8787), ("0.0.0.0", 2525), [integration])
    assert http == ("the HTTP receiver listens on 0.0.0.0:8787, beyond this machine, and these External APIs "
                    "take requests without any credential: /api/shop/orders")
    assert smtp.startswith("the SMTP receiver listens on 0.0.0.0:2525, beyond this machine: anyone who")
    [signed_only] = exposure_warnings(("::", 8787), None, [Integration(slug="shop", name="Shop", apis=[
        ExternalApi(path="signed", payload="Order", auth="hmac", secret="x")])])
    assert signed_only == ("the HTTP receiver listens on [::]:8787, beyond this machine "
                           "(every External API checks its token or signature)")


async def test_a_loopback_service_has_no_exposure_warning(workspace: Workspace) -> None:
    service = Service(workspace, http=("127.0.0.1", 0), smtp=("127.0.0.1", 0))
    assert service.exposure_warnings() == []
    await service.start()
    try:
        assert service.exposure_warnings() == []
    finally:
        await service.stop()
