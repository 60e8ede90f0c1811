"""Other processes attach to a running `payloads serve` through its control socket.

A real `payloads serve` subprocess owns the data directory; the CLI and a
`RemoteWorkspace` in the test change things only through it, and read its jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from payloads_tui.domain.signatures import stripe_signature_header
from payloads_tui.service.events import JobChanged
from payloads_tui.service.remote import RemoteWorkspace, attach
from payloads_tui.settings import load_settings
from payloads_tui.store.demo import CUSTOMER_GET_ALL, CUSTOMER_WEBHOOK, DEMO_API_TOKEN, DEMO_EMAIL, DEMO_WEBHOOK_SECRET


@dataclass
class Served:
    home: Path
    process: subprocess.Popen[str]
    http_url: str
    smtp: str
    sandbox_url: str


def cli(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLOADS_")}
    env["PAYLOADS_CONFIG"] = os.devnull
    return subprocess.run([sys.executable, "-m", "payloads_tui", "--data-dir", str(home), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


def serve(tmp_path: Path, *, ignore_hangup: bool = False) -> Iterator[Served]:
    """A demo data directory served by `payloads serve` on ephemeral ports, stopped at the end."""
    home = tmp_path / "home"
    assert cli(home, "demo", "--seed-only").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLOADS_")}
    env["PAYLOADS_CONFIG"] = os.devnull
    process = subprocess.Popen(
        [sys.executable, "-m", "payloads_tui", "--data-dir", str(home), "serve",
         "--http", "127.0.0.1:0", "--smtp", "127.0.0.1:0", "--sandbox"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        preexec_fn=(lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)) if ignore_hangup else None,  # as nohup
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.endswith(" stops.\n"):  # "Ctrl+C stops." in a terminal, "Running; SIGTERM stops." here
                break
        text = "".join(lines)
        http_url = re.search(r"HTTP receiver\s+(\S+)", text)
        smtp = re.search(r"SMTP receiver\s+(\S+)", text)
        sandbox = re.search(r"Sandbox\s+(\S+)", text)
        assert http_url and smtp and sandbox, text
        yield Served(home, process, http_url.group(1), smtp.group(1), sandbox.group(1))
    finally:  # also when a test closes the generator early, or start-up failed
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def point_demo_at_sandbox(served: Served) -> RemoteWorkspace:
    remote = attach(load_settings(home=served.home))
    assert remote is not None
    integration = remote.integration("stripe")
    integration.variables["base_url"] = served.sandbox_url
    integration.description = "Edited through the control socket."
    remote.save_integration(integration)
    return remote


def test_cli_changes_go_through_the_running_service(served: Served) -> None:
    remote = point_demo_at_sandbox(served)
    assert remote.pid == served.process.pid
    edits = [e for e in remote.history("stripe") if e.action == "update" and e.kind == "integration"]
    assert edits and any(c.field == "description" for c in edits[0].changes)

    ran = cli(served.home, "run", "stripe", CUSTOMER_GET_ALL)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert re.search(r"OUT-1\s.*Completed", ran.stdout)

    listed = [json.loads(line) for line in cli(served.home, "jobs", "--json").stdout.splitlines()]
    by_number = {j["number"]: j for j in listed}
    assert by_number["OUT-1"]["response_message"] == "200 OK"
    assert by_number["IN-1"]["source"] == "Response Handler" and by_number["IN-1"]["status"] == "Completed"

    retried = cli(served.home, "jobs", "retry", "OUT-1")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    number = retried.stdout.split()[0]
    shown = json.loads(cli(served.home, "jobs", "show", number, "--json").stdout)
    assert shown["source"] == "Retry" and shown["links"]["original"] == "OUT-1"

    refused = cli(served.home, "key", "rotate")
    assert refused.returncode == 1
    assert refused.stderr == (f"error: a service runs the data directory {served.home} (process {served.process.pid}),"
                              " and `payloads key rotate` needs the directory to itself: stop that service first\n")

    sent = cli(served.home, "send-email", "--smtp", served.smtp, "--to", DEMO_EMAIL, "--subject", "Invoice overdue")
    assert sent.returncode == 0 and "queued as IN-" in sent.stdout
    # Without --smtp: the service's own address (an ephemeral port here), not the configured 2525
    found = cli(served.home, "send-email", "--to", DEMO_EMAIL, "--subject", "Invoice overdue")
    assert found.returncode == 0 and f"via {served.smtp}:" in found.stdout and "queued as IN-" in found.stdout
    page = served.home.parent / "invoice.html"
    page.write_text("<p>Invoice <b>42</b> is overdue.</p>")
    html = cli(served.home, "send-email", "--to", DEMO_EMAIL, "--subject", "As HTML", "--html", str(page))
    assert html.returncode == 0, html.stderr
    number = html.stdout.rsplit("queued as ", 1)[1].strip()
    raw = cli(served.home, "jobs", "show", number, "--body", "request").stdout
    assert "Content-Type: text/html" in raw and "<b>42</b>" in raw
    assert "Content-Type: text/plain" in raw and "Invoice 42 is overdue." in raw  # no --body: the HTML as text

    socket_file = served.home / "control.sock"
    assert stat.S_IMODE(socket_file.stat().st_mode) == 0o600
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(20) == 0
    assert not socket_file.exists()
    assert cli(served.home, "key", "rotate").returncode == 0  # the lock was released


def test_bundles_travel_as_data_while_a_service_runs(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "stripe.json"
    assert cli(served.home, "export", "stripe", "-o", str(bundle)).returncode == 0
    imported = cli(served.home, "import", str(bundle), "--on-conflict", "rename")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert imported.stdout.startswith("Imported Stripe (2) as stripe-2 (created)")
    remote = attach(load_settings(home=served.home))
    assert remote is not None
    assert len(remote.integrations()) == 2

    # The console attached: files are read and written by it, relative to its own directory.
    monkeypatch.chdir(tmp_path)
    assert remote.export("stripe", Path("again.json")) == Path("again.json")
    assert json.loads((tmp_path / "again.json").read_text())["integration"]["slug"] == "stripe"
    assert remote.import_(Path("again.json")).action == "skipped"


def test_attached_workspace_sees_jobs_live(served: Served) -> None:
    remote = point_demo_at_sandbox(served)
    body = json.dumps({"id": "evt_live", "type": "customer.created",
                       "data": {"object": {"id": "cus_live", "object": "customer", "name": "Live Co",
                                           "email": "live@example.com", "created": 1764201600}}}).encode()

    async def scenario() -> list[JobChanged]:
        seen: list[JobChanged] = []
        remote.events.subscribe(lambda e: seen.append(e) if isinstance(e, JobChanged) else None)
        await remote.start_events()
        await asyncio.sleep(0.2)
        header = stripe_signature_header(DEMO_WEBHOOK_SECRET, body, int(time.time()))
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{served.http_url}/api/stripe/customers", content=body,
                                       headers={"Stripe-Signature": header, "Content-Type": "application/json"})
        assert answer.status_code == 202, answer.text
        number = answer.json()["job"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(e.job.number == number and e.job.status == "Completed" for e in seen):
                break
            await asyncio.sleep(0.05)
        await remote.aclose()
        return seen

    seen = asyncio.run(scenario())
    completed = [e.job for e in seen if e.job.status == "Completed"]
    assert completed and completed[-1].payload == CUSTOMER_WEBHOOK
    number = completed[-1].number
    assert remote.job(number).records_processed == 1
    assert [j.number for j in remote.newest_jobs("inbound", limit=1)] == [number]
    outcome = remote.try_inbound("stripe", CUSTOMER_WEBHOOK, body, content_type="application/json")
    assert outcome.status == "Completed" and outcome.results[0].operation == "update"
    refused = httpx.get(f"{served.http_url}/api/stripe/accounts", headers={"X-Api-Key": "wrong"})
    assert refused.status_code == 401
    [kept] = remote.recent_refusals(integration="stripe")
    assert kept.reason == f"401, {refused.json()['error']}" and kept.where == "GET /api/stripe/accounts"
    accounts = httpx.get(f"{served.http_url}/api/stripe/accounts", headers={"X-Api-Key": DEMO_API_TOKEN})
    assert accounts.status_code == 200, accounts.text
    data = remote.job_data(remote.job(accounts.headers["x-payloads-job"]))
    assert "Live Co" in {row.get("name") for row in data}


def test_serve_logs_jobs_and_refusals(served: Served) -> None:
    """`payloads serve` prints a line per finished job and per refused request; a burst of refusals is
    one line at once, then one line counting the rest."""
    lines: queue.Queue[str] = queue.Queue()
    assert served.process.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in served.process.stdout], daemon=True).start()

    def next_matching(pattern: str, seconds: float = 10) -> str:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                break
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} within {seconds} s")

    body = json.dumps({"id": "evt_log", "type": "customer.created",
                       "data": {"object": {"id": "cus_log", "object": "customer", "name": "Log Co"}}}).encode()
    url = f"{served.http_url}/api/stripe/customers"
    with httpx.Client() as client:
        header = stripe_signature_header(DEMO_WEBHOOK_SECRET, body, int(time.time()))
        accepted = client.post(url, content=body, headers={"Stripe-Signature": header,
                                                           "Content-Type": "application/json"})
        assert accepted.status_code == 202
        assert next_matching(rf"^{accepted.json()['job']}\s.*Completed\s+stripe/{re.escape(CUSTOMER_WEBHOOK)}")
        for _ in range(4):
            assert client.post(url, content=body, headers={"Content-Type": "application/json"}).status_code == 401
    first = next_matching(r"^refused ")
    assert "stripe: POST /api/stripe/customers from 127.0.0.1:" in first
    assert first.rstrip().endswith(": 401, missing Stripe-Signature header")
    rest = next_matching(r"^refused .*more refusal", seconds=5)
    assert "stripe: 3 more refusals; the last: POST /api/stripe/customers from 127.0.0.1:" in rest
    assert DEMO_WEBHOOK_SECRET not in first + rest


def test_a_hangup_stops_serve_in_order_unless_ignored(served: Served, tmp_path: Path) -> None:
    """A dropped SSH session (SIGHUP) stops `payloads serve` as Ctrl+C does; under `nohup` it keeps running."""
    served.process.send_signal(signal.SIGHUP)
    assert served.process.wait(20) == 0
    assert not (served.home / "control.sock").exists()
    assert cli(served.home, "key", "rotate").returncode == 0  # the lock was released

    other = tmp_path / "nohup"
    other.mkdir()
    running = serve(other, ignore_hangup=True)
    kept = next(running)
    try:
        kept.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert kept.process.poll() is None
        assert httpx.get(f"{kept.http_url}/healthz").json()["status"] == "ok"
    finally:
        running.close()  # stops it
    assert kept.process.poll() is not None


def test_jobs_follow_prints_each_status_of_a_new_job_once(served: Served) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLOADS_")}
    env["PAYLOADS_CONFIG"] = os.devnull
    follow = subprocess.Popen(
        [sys.executable, "-m", "payloads_tui", "--data-dir", str(served.home), "jobs", "--follow", "--json",
         "--kind", "inbound"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    rows: queue.Queue[dict[str, object]] = queue.Queue()
    assert follow.stdout is not None
    threading.Thread(target=lambda: [rows.put(json.loads(line)) for line in follow.stdout], daemon=True).start()
    try:
        time.sleep(1.5)  # subscribed (an event before that is simply not printed)
        body = json.dumps({"id": "evt_follow", "type": "customer.created",
                           "data": {"object": {"id": "cus_follow", "object": "customer", "name": "Follow"}}}).encode()
        header = stripe_signature_header(DEMO_WEBHOOK_SECRET, body, int(time.time()))
        answer = httpx.post(f"{served.http_url}/api/stripe/customers", content=body,
                            headers={"Stripe-Signature": header, "Content-Type": "application/json"})
        assert answer.status_code == 202
        number = answer.json()["job"]
        statuses: list[object] = []
        deadline = time.monotonic() + 15
        while "Completed" not in statuses and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                row = rows.get(timeout=0.5)
                if row["number"] == number:
                    statuses.append(row["status"])
        assert statuses and statuses[-1] == "Completed", statuses
        assert len(statuses) == len(set(statuses)), f"a status printed twice: {statuses}"
    finally:
        follow.send_signal(signal.SIGINT)
        assert follow.wait(10) == 0


def test_jobs_follow_says_when_the_service_stops(served: Served) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLOADS_")}
    env["PAYLOADS_CONFIG"] = os.devnull
    follow = subprocess.Popen(
        [sys.executable, "-m", "payloads_tui", "--data-dir", str(served.home), "jobs", "--follow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        time.sleep(1.5)  # listed, then subscribed
        served.process.send_signal(signal.SIGTERM)
        assert served.process.wait(20) == 0
        _, stderr = follow.communicate(timeout=20)
    finally:
        if follow.poll() is None:
            follow.kill()
    assert follow.returncode == 1
    assert "The service stopped; no more jobs to follow." in stderr
    assert served.process.stdout is not None
    said = served.process.stdout.read()  # stopping with a subscriber attached is as quiet as without
    assert "Traceback" not in said and "ERROR" not in said, said
    assert said.endswith("Stopping…\nStopped.\n"), said
