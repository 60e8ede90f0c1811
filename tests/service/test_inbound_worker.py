"""Inbound processing in the worker process (`engine/inboundworker.py`), the service's default.

A real worker process every time; what a test does to it, it does from this side of
the socket (killing the process, or wrapping the parent's end of the connection), so
nothing in the worker is patched.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from payloads_tui.domain.models import (
    Credential,
    ExternalApi,
    FieldMapping,
    FieldSpec,
    InboundPayload,
    Integration,
    Target,
)
from payloads_tui.engine.inboundworker import InboundWorker
from payloads_tui.service.service import Service
from payloads_tui.service.workspace import Workspace

from .conftest import children_of, exited, wait_for_job
from .test_http import customer_event, signed


def worker_of(service: Service) -> InboundWorker:
    worker = service.executor._worker
    assert worker is not None, "the service should process inbound jobs in a worker process by default"
    return worker


async def post_customer(client: httpx.AsyncClient, stripe_id: str, name: str = "Wile E. Coyote") -> str:
    body = customer_event(stripe_id, name)
    answer = await client.post("/api/stripe/customers", content=body, headers=signed(body))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["job"])


async def test_jobs_are_processed_in_a_process_of_their_own(
    workspace: Workspace, service: Service, client: httpx.AsyncClient
) -> None:
    worker = worker_of(service)
    assert worker.pid is None, "the worker starts with the first batch, not with the service"
    job = await wait_for_job(workspace, await post_customer(client, "cus_worker_1"))
    assert job.status == "Completed", job.error
    assert worker.pid is not None and worker.pid in children_of(os.getpid())
    # The service's own store sees what the worker wrote, index included
    [account] = workspace.records.find("Account", {"stripe_id": "cus_worker_1"})
    assert account["name"] == "Wile E. Coyote"
    assert any(r["stripe_id"] == "cus_worker_1" for r in workspace.list_records("Account"))
    # ... and the worker sees what the service writes (an upsert on the same match key updates it)
    workspace.records.update("Account", account["id"], {"status": "Customer", "note": "set by the service"})
    job = await wait_for_job(workspace, await post_customer(client, "cus_worker_1", "Road Runner"))
    assert job.status == "Completed", job.error
    [account] = workspace.records.find("Account", {"stripe_id": "cus_worker_1"})
    assert (account["name"], account["note"]) == ("Road Runner", "set by the service")
    assert worker.starts == 1


async def test_a_killed_worker_is_started_again(
    workspace: Workspace, service: Service, client: httpx.AsyncClient
) -> None:
    worker = worker_of(service)
    await wait_for_job(workspace, await post_customer(client, "cus_before_kill"))
    first = worker.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    assert exited(first)
    job = await wait_for_job(workspace, await post_customer(client, "cus_after_kill"))
    assert job.status == "Completed", job.error
    assert worker.starts == 2 and worker.pid not in (None, first)
    assert workspace.records.find("Account", {"stripe_id": "cus_after_kill"})


class KillingConnection:
    """The parent's end of the socket: after a batch is sent, the worker is killed (`kills` times)."""

    def __init__(self, worker: InboundWorker, conn: Any, kills: list[int]) -> None:
        self._worker, self._conn, self._kills = worker, conn, kills

    def send(self, message: Any) -> None:
        self._conn.send(message)
        if message is not None and message[0] == "batch" and self._kills[0] > 0:
            self._kills[0] -= 1
            os.kill(self._worker.pid or 0, signal.SIGKILL)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def kill_after_sending(monkeypatch: pytest.MonkeyPatch, worker: InboundWorker, kills: int) -> None:
    left = [kills]
    started = worker._started

    def wrapped() -> Any:
        return KillingConnection(worker, started(), left)

    monkeypatch.setattr(worker, "_started", wrapped)


async def test_a_batch_cut_short_by_a_crash_is_sent_again(
    workspace: Workspace, service: Service, client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    worker = worker_of(service)
    kill_after_sending(monkeypatch, worker, kills=1)
    job = await wait_for_job(workspace, await post_customer(client, "cus_cut_short"))
    assert job.status == "Completed", job.error
    assert worker.starts == 2
    assert len(workspace.records.find("Account", {"stripe_id": "cus_cut_short"})) == 1
    assert "the inbound worker process stopped (killed by signal 9) during a batch" in caplog.text


async def test_a_worker_that_dies_twice_fails_the_batch_with_a_reason(
    workspace: Workspace, service: Service, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = worker_of(service)
    kill_after_sending(monkeypatch, worker, kills=2)
    job = await wait_for_job(workspace, await post_customer(client, "cus_dies_twice"))
    assert job.status == "Failed"
    assert job.error == (
        "the inbound worker process stopped (killed by signal 9) twice while processing this batch; "
        "its bodies are in the log: retry the jobs"
    )
    assert job.request is not None and b"cus_dies_twice" in (workspace.job_body(job, "request") or b"")
    # A third worker was started at once: opening the records rolls forward what a death left half done
    assert worker.starts == 3 and worker.pid is not None
    job = await wait_for_job(workspace, await post_customer(client, "cus_after_two"))
    assert job.status == "Completed", job.error


async def test_the_worker_checks_records_against_the_current_schema(
    workspace: Workspace, service: Service, client: httpx.AsyncClient
) -> None:
    await wait_for_job(workspace, await post_customer(client, "cus_schema_before"))
    schema = workspace.config.schema("Account")
    assert schema is not None
    schema.fields = [f for f in schema.fields if f.name != "name"] + [FieldSpec(name="name", max_length=5)]
    workspace.config.save_schema(schema)
    job = await wait_for_job(workspace, await post_customer(client, "cus_schema_after", "A name far too long"))
    assert job.status == "Failed"
    assert "name" in (job.error or "") + str(job.results)
    assert not workspace.records.find("Account", {"stripe_id": "cus_schema_after"})


async def test_stopping_the_service_stops_the_worker(workspace: Workspace, client: httpx.AsyncClient,
                                                     service: Service) -> None:
    worker = worker_of(service)
    await wait_for_job(workspace, await post_customer(client, "cus_stop"))
    pid = worker.pid
    assert pid is not None
    await service.stop()
    assert exited(pid, timeout=5)
    assert worker.pid is None


def test_the_worker_setting_turns_it_off(tmp_path: Path) -> None:
    from payloads_tui.settings import Limits, Settings

    with Workspace(Settings(home=tmp_path / "home", limits=Limits(inbound_worker=False))) as ws:
        assert Service(ws, http=False, smtp=False).executor._worker is None
    with Workspace(Settings(home=tmp_path / "home")) as ws:
        assert Service(ws, http=False, smtp=False).executor._worker is not None
        assert Service(ws, http=False, smtp=False, inbound_worker=False).executor._worker is None


async def test_the_worker_decrypts_credential_secrets_for_mappings(
    workspace: Workspace, service: Service, client: httpx.AsyncClient
) -> None:
    integration = Integration(
        slug="vaulted",
        name="Vaulted",
        credentials=[Credential(name="Key", kind="bearer", secrets={"token": workspace.encrypt("s3cret-token")})],
        inbound=[InboundPayload(name="Stamp", content_type="json", targets=[Target(
            name="Stamp", object="Stamp", operation="upsert", match_key=["key"], mappings=[
                FieldMapping(field="key", expression="key"),
                FieldMapping(field="token", source="credential", credential="Key", expression="token"),
            ])])],
        apis=[ExternalApi(path="stamp", payload="Stamp", auth="none")],
    )
    workspace.create_integration(integration)
    answer = await client.post("/api/vaulted/stamp", json={"key": "one"})
    assert answer.status_code == 202, answer.text
    job = await wait_for_job(workspace, answer.json()["job"])
    assert job.status == "Completed", job.error
    assert workspace.records.find("Stamp", {"key": "one"})[0]["token"] == "s3cret-token"
