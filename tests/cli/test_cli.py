"""The `payloads` command as a user runs it: demo, integrations, export/import, key rotate, try."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from payloads_tui.cli import format_job, job_line, main, with_code
from payloads_tui.service.sandbox import Sandbox
from payloads_tui.settings import load_settings
from payloads_tui.service.workspace import Workspace
from payloads_tui.store.jobs import JobLog
from payloads_tui.store.demo import (
    CHECKOUT_WEBHOOK,
    CUSTOMER_WEBHOOK,
    BILLING_EMAIL,
    CUSTOMER_CREATE,
    CUSTOMER_GET_ALL,
    DEMO_API_TOKEN,
    DEMO_STRIPE_KEY,
    DEMO_SLUG,
    DEMO_WEBHOOK_SECRET,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
PLAINTEXT_SECRETS = [DEMO_STRIPE_KEY, DEMO_WEBHOOK_SECRET]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for name in list(os.environ):
        if name.startswith("PAYLOADS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PAYLOADS_CONFIG", os.devnull)
    return CliRunner()


def invoke(runner: CliRunner, *args: str, env: dict[str, str] | None = None, input: str | None = None):
    return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)


@pytest.fixture
def demo_dir(runner: CliRunner, tmp_path: Path) -> Path:
    home = tmp_path / "demo"
    result = invoke(runner, "--data-dir", str(home), "demo", "--seed-only")
    assert result.exit_code == 0, result.output
    return home


def all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_socket())


def test_demo_seeds_once_and_lists(runner: CliRunner, demo_dir: Path) -> None:
    again = invoke(runner, "demo", "--seed-only", "--data-dir", str(demo_dir))
    assert "already holds integrations" in again.output
    listed = invoke(runner, "integrations", "--data-dir", str(demo_dir))
    assert listed.exit_code == 0
    row = next(line for line in listed.output.splitlines() if line.startswith("stripe"))
    assert row.split()[1:] == ["Stripe", "5", "3", "3", "1"]


def test_demo_uses_payloads_home(runner: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "from-env"
    result = invoke(runner, "demo", "--seed-only", env={"PAYLOADS_HOME": str(home)})
    assert result.exit_code == 0 and str(home) in result.output
    assert (home / "config.json").is_file()


def test_data_directory_is_private_and_holds_no_plaintext_secret(demo_dir: Path) -> None:
    assert stat.S_IMODE(demo_dir.stat().st_mode) == 0o700
    for path in demo_dir.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    data = all_bytes(demo_dir)
    for secret in PLAINTEXT_SECRETS + [DEMO_API_TOKEN]:
        assert secret.encode() not in data


def test_version(runner: CliRunner) -> None:
    from payloads_tui import __version__

    assert __version__ in invoke(runner, "--version").output


def test_export_import_round_trip_without_secrets(runner: CliRunner, demo_dir: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "stripe.json"
    result = invoke(runner, "export", "stripe", "-o", str(bundle), "--data-dir", str(demo_dir))
    assert result.exit_code == 0, result.output
    text = bundle.read_text()
    for secret in PLAINTEXT_SECRETS:
        assert secret not in text
    data = json.loads(text)
    assert data["format"] == "payloads-bundle" and data["version"] == 1

    other = tmp_path / "prod"
    imported = invoke(runner, "import", str(bundle), "--data-dir", str(other))
    assert imported.exit_code == 0, imported.output
    assert "Imported Stripe" in imported.output
    again = invoke(runner, "import", str(bundle), "--data-dir", str(other))
    assert "skipped" in again.output
    renamed = invoke(runner, "import", str(bundle), "--on-conflict", "rename", "--data-dir", str(other))
    assert "stripe-2" in renamed.output
    assert "Object schemas kept" not in renamed.output  # the same schemas: nothing to say
    data["integration"]["variables"]["base_url"] = "http://127.0.0.1:9/elsewhere"
    schema = data["schemas"][0]
    schema["fields"].append({"name": "loyalty_tier", "required": True})
    bundle.write_text(json.dumps(data))
    replaced = invoke(runner, "import", str(bundle), "--on-conflict", "replace", "--data-dir", str(other))
    assert "Kept this data directory's values of variables (the bundle's differ): base_url\n" in replaced.output
    assert ("Object schemas kept as they are here (the bundle's differ; every integration here shares them): "
            f"{schema['name']}\n") in replaced.output
    listed = invoke(runner, "integrations", "--data-dir", str(other)).output
    assert "stripe-2" in listed


def test_export_to_and_import_from_a_pipe(runner: CliRunner, demo_dir: Path, tmp_path: Path) -> None:
    exported = invoke(runner, "export", "stripe", "-o", "-", "--data-dir", str(demo_dir))
    assert exported.exit_code == 0, exported.stderr
    assert json.loads(exported.stdout)["integration"]["slug"] == "stripe"  # stdout is the bundle, nothing else
    assert exported.stderr == "Exported stripe to standard output without secrets.\n"
    assert not (Path.cwd() / "-").exists()
    imported = invoke(runner, "import", "-", "--data-dir", str(tmp_path / "prod"), input=exported.stdout)
    assert imported.exit_code == 0 and imported.stdout.startswith("Imported Stripe (created)"), imported.output
    broken = invoke(runner, "import", "-", "--data-dir", str(tmp_path / "prod"), input="{oops")
    assert broken.exit_code == 1
    assert broken.stderr.startswith("error: standard input is not valid JSON: Expecting property name")
    latin1 = invoke(runner, "import", "-", "--data-dir", str(tmp_path / "prod"),
                    input=b'{"format": "payloads-bundle", "integration": {"name": "Caf\xe9"}}')  # type: ignore[arg-type]
    assert latin1.exit_code == 1
    assert latin1.stderr == "error: standard input is not UTF-8 text; a bundle is a JSON file\n"


def test_export_with_secrets_needs_and_uses_the_passphrase(runner: CliRunner, demo_dir: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "secret.json"
    env = {"PAYLOADS_BUNDLE_PASSPHRASE": "correct horse battery staple"}
    result = invoke(runner, "export", "stripe", "-o", str(bundle), "--with-secrets", "--data-dir", str(demo_dir), env=env)
    assert result.exit_code == 0, result.output
    assert DEMO_STRIPE_KEY not in bundle.read_text()
    without = runner.invoke(main, ["export", "stripe", "-o", str(tmp_path / "no.json"), "--with-secrets",
                                   "--data-dir", str(demo_dir)], env={"PAYLOADS_BUNDLE_PASSPHRASE": ""})
    assert without.exit_code == 1, "not a usage error: the options were right"
    assert without.output.startswith("error: exporting secrets needs a passphrase: set PAYLOADS_BUNDLE_PASSPHRASE")

    other = tmp_path / "other"
    wrong = runner.invoke(main, ["import", str(bundle), "--data-dir", str(other)],
                          env={"PAYLOADS_BUNDLE_PASSPHRASE": "wrong"})
    assert wrong.exit_code == 1 and "passphrase" in wrong.output
    assert not (other / "config.json").exists() or "stripe" not in (other / "config.json").read_text()

    ok = invoke(runner, "import", str(bundle), "--data-dir", str(other), env=env)
    assert ok.exit_code == 0, ok.output
    with Workspace(load_settings(home=other)) as ws:
        assert ws.reveal_secret("stripe", "Stripe Secret Key", "token") == DEMO_STRIPE_KEY


def test_import_refuses_a_bad_bundle_with_the_place(runner: CliRunner, demo_dir: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bad.json"
    bundle.write_text(json.dumps({"format": "payloads-bundle", "version": 99, "integration": {}}))
    before = all_bytes(demo_dir)
    result = runner.invoke(main, ["import", str(bundle), "--data-dir", str(demo_dir)])
    assert result.exit_code == 1
    assert result.output.startswith("error:") and "version" in result.output
    assert "Traceback" not in result.output
    assert all_bytes(demo_dir) == before


def test_key_rotate_keeps_every_secret(runner: CliRunner, demo_dir: Path) -> None:
    old_key = (demo_dir / "secret.key").read_bytes()
    result = invoke(runner, "key", "rotate", "--data-dir", str(demo_dir))
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 3 secrets" in result.output
    assert (demo_dir / "secret.key").read_bytes() != old_key
    with Workspace(load_settings(home=demo_dir)) as ws:
        assert ws.reveal_secret("stripe", "Stripe Secret Key", "token") == DEMO_STRIPE_KEY


def test_a_second_writer_is_refused_with_the_holders_pid(runner: CliRunner, demo_dir: Path) -> None:
    with Workspace(load_settings(home=demo_dir)):
        result = runner.invoke(main, ["key", "rotate", "--data-dir", str(demo_dir)])
    assert result.exit_code == 1
    assert f"process {os.getpid()}" in result.output
    assert result.output.rstrip().endswith("such as `payloads run`; wait for it to finish or stop it")


@pytest.mark.parametrize(
    ("payload", "fixture", "expected"),
    [
        (CUSTOMER_WEBHOOK, "stripe/customer.created.json", ["insert Account #0"]),
        (CUSTOMER_WEBHOOK, "stripe/customer.updated.json", ["Account #0"]),
        (CHECKOUT_WEBHOOK, "stripe/checkout.session.completed.json",
         ["update Order #0 → ord_2024_0042", "insert Lines #0", "insert Lines #2"]),
        (BILLING_EMAIL, "order-confirmation.eml", ["Task #0", "attachments = 2"]),
    ],
)
def test_try_prints_the_planned_writes(runner: CliRunner, demo_dir: Path, payload: str, fixture: str,
                                       expected: list[str]) -> None:
    result = invoke(runner, "try", "stripe", payload, str(FIXTURES / fixture), "--data-dir", str(demo_dir))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Completed")
    for text in expected:
        assert text in result.output
    assert not (demo_dir / "records" / "OrderLine.json").exists()  # a dry run writes nothing


def test_try_a_jobs_body_with_its_content_type_and_context(runner: CliRunner, demo_dir: Path) -> None:
    """A response handler maps `record` from its context; a Latin-1 webhook declares its charset."""
    from payloads_tui.domain.models import HttpExchange
    from payloads_tui.store.demo import CUSTOMER_CREATED_RESPONSE

    answer = b'{"id": "cus_back", "created": 1764201600}'
    latin = '{"data": {"object": {"id": "cus_j", "name": "J\u00fcrgen", "email": "j@x.example"}}}'.encode("latin-1")
    with Workspace(load_settings(home=demo_dir)) as ws:
        handled = ws.jobs.create("inbound", "stripe", CUSTOMER_CREATED_RESPONSE, "Response Handler", status="Completed",
                                 context={"record": {"id": "acc_acme"}, "job": "OUT-1"},
                                 request=HttpExchange(method="POST", url="http://127.0.0.1:12111/v1/customers",
                                                      content_type="application/json", body=answer.decode()))
        webhook = ws.jobs.create("inbound", "stripe", CUSTOMER_WEBHOOK, "External API", status="Completed",
                                 request=HttpExchange(method="POST", url="http://127.0.0.1:8787/api/stripe/customers"))
        ws.jobs.externalize(webhook.request, latin, "application/json; charset=iso-8859-1")
        for job in (handled, webhook):
            ws.jobs.save(job)
    tried = invoke(runner, "try", "stripe", CUSTOMER_CREATED_RESPONSE, "--job", handled.number, "--data-dir", str(demo_dir))
    assert tried.exit_code == 0, tried.output
    assert "update Account #0 → acc_acme" in tried.output and "stripe_id = 'cus_back'" in tried.output
    accented = invoke(runner, "try", "stripe", CUSTOMER_WEBHOOK, "--job", webhook.number, "--data-dir", str(demo_dir))
    assert "name = 'J\u00fcrgen'" in accented.output
    both = invoke(runner, "try", "stripe", CUSTOMER_WEBHOOK, "-", "--job", webhook.number, "--data-dir", str(demo_dir))
    assert both.exit_code == 2 and "give a sample FILE ('-' for standard input) or --job IN-N, one of them" in both.output


def test_try_document_prints_the_body_as_parsed(runner: CliRunner, demo_dir: Path) -> None:
    shown = invoke(runner, "try", "stripe", CUSTOMER_WEBHOOK, str(FIXTURES / "stripe/customer.created.json"),
                   "--document", "--data-dir", str(demo_dir))
    assert shown.exit_code == 0
    assert json.loads(shown.output) == json.loads((FIXTURES / "stripe/customer.created.json").read_text())
    broken = runner.invoke(main, ["try", "stripe", CUSTOMER_WEBHOOK, "-", "--document", "--data-dir", str(demo_dir)],
                           input="{bad")
    assert broken.exit_code == 1 and "error: could not parse the body as JSON" in broken.output


def test_try_reports_where_a_body_is_broken(runner: CliRunner, demo_dir: Path) -> None:
    result = runner.invoke(main, ["try", "stripe", CUSTOMER_WEBHOOK, str(FIXTURES / "bad.json"),
                                  "--data-dir", str(demo_dir)])
    assert result.exit_code == 1
    assert "Failed" in result.output and "line" in result.output and "column" in result.output


def test_try_says_when_a_body_selects_nothing(runner: CliRunner, demo_dir: Path, tmp_path: Path) -> None:
    sample = tmp_path / "empty.json"
    sample.write_text('{"type": "customer.created", "data": {}}')
    result = invoke(runner, "try", "stripe", CUSTOMER_WEBHOOK, str(sample), "--data-dir", str(demo_dir))
    assert result.exit_code == 0, result.output
    assert "note: nothing was written: target " in result.output and "`data.object`" in result.output
    as_json = json.loads(invoke(runner, "try", "stripe", CUSTOMER_WEBHOOK, str(sample), "--json",
                                "--data-dir", str(demo_dir)).output)
    assert as_json["note"].startswith("nothing was written") and as_json["records_processed"] == 0


def test_try_gives_an_email_without_message_id_one_as_delivery_does(runner: CliRunner, demo_dir: Path,
                                                                     tmp_path: Path) -> None:
    """The demo's email payload matches Tasks on message_id; the SMTP receiver adds a missing one."""
    sample = tmp_path / "no-id.eml"
    sample.write_text("From: ada@example.com\nTo: billing@payloads.localhost\nSubject: Late invoice\n"
                      "Date: Sat, 28 Nov 2026 04:00:00 +0000\n\nPlease pay.\n")
    result = invoke(runner, "try", "stripe", BILLING_EMAIL, str(sample), "--data-dir", str(demo_dir))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Completed") and "insert Task #0" in result.output


def test_try_names_an_unknown_payload(runner: CliRunner, demo_dir: Path) -> None:
    result = runner.invoke(main, ["try", "stripe", "Nope", str(FIXTURES / "ping.txt"), "--data-dir", str(demo_dir)])
    assert result.exit_code == 1
    assert "no inbound payload 'Nope'" in result.output and CUSTOMER_WEBHOOK in result.output


def test_console_script_runs_as_a_process(demo_dir: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "payloads_tui", "--data-dir", str(demo_dir), "integrations"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "stripe" in result.stdout


def test_run_without_a_service_takes_no_port(runner: CliRunner, demo_dir: Path, tmp_path: Path) -> None:
    """`payloads run` on a directory no service holds sends the requests itself and listens on nothing:
    the receiver addresses it is configured with being taken (by another directory's service) is no matter."""
    loop = asyncio.new_event_loop()
    sandbox = Sandbox()
    loop.run_until_complete(sandbox.start())
    with Workspace(load_settings(home=demo_dir)) as ws:
        integration = ws.integration(DEMO_SLUG)
        integration.variables["base_url"] = sandbox.url
        ws.save_integration(integration)
    taken = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    env = {f"PAYLOADS_{name}": "127.0.0.1:%d" % sock.getsockname()[1] for name, sock in zip(("HTTP", "SMTP"), taken)}
    try:
        running = loop.run_in_executor(None, lambda: invoke(runner, "--data-dir", str(demo_dir), "run", DEMO_SLUG,
                                                              CUSTOMER_GET_ALL, env=env))
        result = loop.run_until_complete(asyncio.wait_for(running, 60))
    finally:
        for sock in taken:
            sock.close()
        loop.run_until_complete(sandbox.stop())
        loop.close()
    assert result.exit_code == 0, result.output
    assert "in use" not in result.output and "OUT-1" in result.output and "Completed" in result.output
    assert sandbox.requests >= 1

    shown = invoke(runner, "--data-dir", str(demo_dir), "jobs", "show", "OUT-1")
    assert shown.exit_code == 0 and "\n--- response: 200 OK\n" in shown.stdout and "200 200" not in shown.stdout

    listed = invoke(runner, "--data-dir", str(demo_dir), "jobs", "--status", "completed")
    assert listed.exit_code == 0 and "OUT-1" in listed.stdout
    none = invoke(runner, "--data-dir", str(demo_dir), "jobs", "--status", "partially  completed")
    assert none.exit_code == 0 and none.stdout == "" and "No jobs match these filters." in none.stderr
    wrong = invoke(runner, "--data-dir", str(demo_dir), "jobs", "--status", "Done")
    assert wrong.exit_code == 2
    assert "'Done' is not a job status; use one of Queued, Processing, Completed" in wrong.stderr


def test_wrong_job_numbers_and_payload_names_say_what_is_expected(runner: CliRunner, demo_dir: Path) -> None:
    for args in (["jobs", "show", "garbage"], ["jobs", "retry", "OUT-x"], ["jobs", "replay", "28"]):
        wrong = invoke(runner, "--data-dir", str(demo_dir), *args)
        assert wrong.exit_code == 1
        assert f"error: '{args[-1]}' is not a job number; job numbers look like IN-12 or OUT-28" in wrong.stderr
    missing = invoke(runner, "--data-dir", str(demo_dir), "jobs", "show", "in-999")
    assert missing.exit_code == 1 and "error: no job IN-999" in missing.stderr
    unknown = invoke(runner, "--data-dir", str(demo_dir), "run", DEMO_SLUG, "Create customer")
    assert unknown.exit_code == 1
    assert f"no outbound payload named 'Create customer' in '{DEMO_SLUG}'; its outbound payloads: " in unknown.stderr
    assert CUSTOMER_GET_ALL in unknown.stderr


def test_run_for_records_that_are_missing_or_filtered_out_fails(runner: CliRunner, demo_dir: Path) -> None:
    missing = invoke(runner, "--data-dir", str(demo_dir), "run", DEMO_SLUG, CUSTOMER_CREATE, "--record", "nope")
    assert missing.exit_code == 1
    assert f"error: no Account record 'nope'; '{CUSTOMER_CREATE}' is run for records of Account" in missing.stderr
    # acc_acme has a stripe_id already, so the source's filter (!stripe_id) leaves it out
    # (also beside a record it keeps: nothing is sent, rather than part of what was asked)
    for kept in ([], ["--record", "acc_initech"]):
        filtered = invoke(
            runner, "--data-dir", str(demo_dir), "run", DEMO_SLUG, CUSTOMER_CREATE, *kept, "--record", "acc_acme"
        )
        assert filtered.exit_code == 1
        assert "error: the filter of source 'accounts' (!stripe_id) leaves out Account record 'acc_acme'; " \
            "nothing was sent" in filtered.stderr
    no_sources = invoke(runner, "--data-dir", str(demo_dir), "run", DEMO_SLUG, CUSTOMER_GET_ALL, "--record", "x")
    assert no_sources.exit_code == 1 and "has no sources, so it cannot be run for a record" in no_sources.stderr
    with JobLog(demo_dir, read_only=True) as jobs:
        assert jobs.total("outbound") == 0


def test_jobs_says_when_there_are_none(runner: CliRunner, demo_dir: Path) -> None:
    empty = invoke(runner, "--data-dir", str(demo_dir), "jobs")
    assert empty.exit_code == 0 and empty.stdout == "" and empty.stderr == "No jobs yet.\n"
    as_json = invoke(runner, "--data-dir", str(demo_dir), "jobs", "--json")
    assert as_json.exit_code == 0 and as_json.output == ""
    follow = invoke(runner, "--data-dir", str(demo_dir), "jobs", "--follow")
    assert follow.exit_code == 1 and follow.stdout == ""  # refused before anything is listed
    assert "--follow needs a running service on this data directory" in follow.stderr
    known = invoke(runner, "--data-dir", str(demo_dir), "jobs", "--integration", DEMO_SLUG)
    assert known.exit_code == 0 and known.stderr == "No jobs match these filters.\n"
    typo = invoke(runner, "--data-dir", str(demo_dir), "jobs", "--integration", "strpie")
    assert typo.exit_code == 1 and typo.stdout == ""
    assert typo.stderr == f"error: no integration 'strpie' here, and no jobs of one by that name (integrations: {DEMO_SLUG})\n"
    follow = invoke(runner, "--data-dir", str(demo_dir), "jobs", "--follow")
    assert follow.exit_code == 1
    assert follow.stderr == "error: --follow needs a running service on this data directory ('payloads serve')\n"


def test_jobs_prune_drops_old_segments_and_refuses_bad_limits(runner: CliRunner, demo_dir: Path) -> None:
    with JobLog(demo_dir, durable=False, segment_jobs=5) as log:
        for created in [time.time() - 40 * 86400] * 10 + [time.time()] * 3:
            job = log.create("inbound", DEMO_SLUG, CUSTOMER_WEBHOOK, "External API", created=created)
            job.status = "Completed"
            log.save(job)
            if log.total() == 10:
                log.settle()
    home = ["--data-dir", str(demo_dir)]
    negative = invoke(runner, *home, "jobs", "prune", "--days", "-1")
    assert negative.exit_code == 2 and "-1" in negative.stderr
    unset = invoke(runner, *home, "jobs", "prune", env={"PAYLOADS_RETENTION_DAYS": "0", "PAYLOADS_RETENTION_JOBS": "0"})
    assert unset.exit_code == 2 and "no retention is set: give --days or --keep" in unset.stderr
    pruned = invoke(runner, *home, "jobs", "prune", "--days", "30", "--keep", "2")
    assert pruned.exit_code == 0
    assert pruned.stdout.startswith("Dropped 10 jobs; kept 3, more than --keep 2: the log drops whole segments")
    again = invoke(runner, *home, "jobs", "prune", "--keep", "0")
    assert again.exit_code == 0 and again.stdout.startswith("Dropped no jobs: the log drops whole segments")
    left = invoke(runner, *home, "jobs", "--json")
    assert [json.loads(line)["number"] for line in left.stdout.splitlines()] == ["IN-13", "IN-12", "IN-11"]


@pytest.mark.parametrize(("code", "text", "shown"), [
    (429, "429 Too Many Requests: slow down", "429 Too Many Requests: slow down"),
    (200, "OK", "200 OK"),
    (500, None, "500"),
    (None, "connection refused", "connection refused"),
])
def test_a_code_is_shown_once(code: int | None, text: str | None, shown: str) -> None:
    assert with_code(code, text) == shown


def test_job_lines_and_details_say_the_next_attempt_and_the_data_queried() -> None:
    from payloads_tui.domain.models import Attempt, HttpExchange, Job

    due = time.time() + 30
    job = Job(number="OUT-7", kind="outbound", integration="stripe", payload="Customer: Create", source="CLI",
              status="Retrying", error="429 Too Many Requests (attempt 1 of 5)", next_attempt_at=due,
              response=HttpExchange(code=429, message="Too Many Requests"),
              attempts=[Attempt(number=1, started=due - 31, finished=due - 30.5, error="429 Too Many Requests")])
    clock = time.strftime("%H:%M:%S", time.localtime(due))
    assert job_line(job).endswith(f"[CLI] 429 Too Many Requests (attempt 1 of 5); next attempt {clock}")
    refused = Job(number="OUT-8", kind="outbound", integration="stripe", payload="Customer: Create", source="CLI",
                  status="Retrying", error="connection refused (attempt 2 of 5)", next_attempt_at=due)
    assert job_line(refused).endswith(f"[CLI] connection refused (attempt 2 of 5); next attempt {clock}")

    class NoBodies:
        def job_body(self, job: Job, which: str) -> None:
            return None

    shown = format_job(NoBodies(), job).splitlines()
    assert shown[2] == "error: 429 Too Many Requests (attempt 1 of 5)"
    assert shown[3].startswith("next attempt " + time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due)))
    assert shown[3].endswith("Z")
    job.status, job.next_attempt_at = "Completed", None
    assert "next attempt" not in job_line(job) and "next attempt" not in format_job(NoBodies(), job)
    assert "data queried" not in format_job(NoBodies(), job)
    assert "pages:" not in format_job(NoBodies(), job)
    job.context["pages"] = 3
    assert "\npages: 3 (the request below is the first page's, the response the last page's;" in format_job(
        NoBodies(), job)

    job.data_queried = [{"id": "acc_1", "name": "Acme \u00e9"}]
    shown = format_job(NoBodies(), job)
    assert '--- data queried: 1 record\n[\n  {\n    "id": "acc_1",\n    "name": "Acme \u00e9"\n  }\n]' in shown
    job.data_queried = [{"id": f"acc_{i}", "note": "x" * 100} for i in range(100)]
    assert "--- data queried: 100 records" in format_job(NoBodies(), job)
    assert "characters in all; --json shows all)" in format_job(NoBodies(), job)


def test_jobs_show_reads_a_large_data_queried_from_its_blob(runner: CliRunner, demo_dir: Path) -> None:
    rows = [{"id": f"acc_{i}", "name": f"Account {i}", "email": f"a{i}@example.com"} for i in range(300)]
    with Workspace(load_settings(home=demo_dir)) as ws:
        job = ws.jobs.create("outbound", "stripe", "Accounts", "External API", status="Completed")
        ws.jobs.keep_data(job, rows)
        ws.jobs.save(job)
    assert job.data_blob
    shown = invoke(runner, "jobs", "show", job.number, "--data-dir", str(demo_dir))
    assert shown.exit_code == 0, shown.output
    assert "--- data queried: 300 records" in shown.output and '"name": "Account 0"' in shown.output
    as_json = json.loads(invoke(runner, "jobs", "show", job.number, "--json", "--data-dir", str(demo_dir)).output)
    assert as_json["data_queried"] == rows


def test_a_second_demo_joins_the_running_one(runner: CliRunner, demo_dir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run` in a second terminal opens a console attached to the first one's service (the console
    itself needs a terminal, so here only its opening is recorded); seeding alone cannot, and says why."""
    opened: list[dict[str, bool]] = []
    monkeypatch.setattr("payloads_tui.cli.open_console", lambda ctx, **how: opened.append(how))
    with Workspace(load_settings(home=demo_dir)):
        joined = invoke(runner, "--data-dir", str(demo_dir), "demo")
        seeding = invoke(runner, "--data-dir", str(demo_dir), "demo", "--seed-only")
    assert joined.exit_code == 0 and opened == [{"demo": True, "service": True}]
    assert joined.stdout == f"The demo already runs (process {os.getpid()}); this console attaches to its service.\n"
    assert seeding.exit_code == 1 and "wait for it to finish or stop it" in seeding.stderr


def test_an_interrupted_run_says_so_and_the_next_run_sends_only_its_own_jobs(demo_dir: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on: every attempt is refused, then retried
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with Workspace(load_settings(home=demo_dir)) as ws:
        integration = ws.integration(DEMO_SLUG)
        integration.variables["base_url"] = f"http://127.0.0.1:{closed}"
        for payload in integration.outbound:
            payload.max_attempts = 2
        ws.save_integration(integration)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYLOADS_")}
    env["PAYLOADS_CONFIG"] = os.devnull
    command = [sys.executable, "-m", "payloads_tui", "--data-dir", str(demo_dir), "run"]
    process = subprocess.Popen([*command, DEMO_SLUG, CUSTOMER_GET_ALL], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until its first attempt was refused and logged
            with JobLog(demo_dir, read_only=True) as jobs:
                job = jobs.get("OUT-1")
            if job is not None and job.status == "Retrying":
                break
            time.sleep(0.1)
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + 15
    assert "Interrupted; a job it did not finish stays Queued or Retrying in the job log" in stderr
    with JobLog(demo_dir, read_only=True) as jobs:
        left = jobs.get("OUT-1")
    assert left is not None and left.status in ("Queued", "Retrying")
    attempts = len(left.attempts)

    # Another run sends its own job only: OUT-1 waits for the service, its attempts untouched.
    other = subprocess.run([*command, DEMO_SLUG, CUSTOMER_CREATE, "--record", "acc_initech"], env=env,
                           text=True, capture_output=True, timeout=120)
    assert other.returncode == 1 and "OUT-2" in other.stdout
    with JobLog(demo_dir, read_only=True) as jobs:
        again = jobs.get("OUT-1")
    assert again is not None and len(again.attempts) == attempts and again.status == left.status


def test_a_response_handler_job_shows_the_answer_it_processed_as_such() -> None:
    from payloads_tui.domain.models import HttpExchange, Job

    job = Job(number="IN-9", kind="inbound", integration="stripe", payload="Customer: Upsert",
              source="Response Handler", status="Completed",
              request=HttpExchange(method="GET", url="http://127.0.0.1:1/v1/customers?starting_after=cus_1",
                                   code=200, message="200 OK"))
    job.links.parent = "OUT-4"

    class NoBodies:
        def job_body(self, job: Job, which: str) -> None:
            return None

    shown = format_job(NoBodies(), job)
    assert "--- answer to OUT-4: 200 OK to GET http://127.0.0.1:1/v1/customers?starting_after=cus_1" in shown
    assert "--- request" not in shown


def test_a_failed_job_line_says_its_answer_once() -> None:
    from payloads_tui.domain.models import HttpExchange, Job

    job = Job(number="OUT-3", kind="outbound", integration="stripe", payload="Customer: Create", source="CLI",
              status="Failed", error="500 Internal Server Error: down after 5 attempts",
              response=HttpExchange(code=500, message="500 Internal Server Error"))
    assert job_line(job).endswith("[CLI] 500 Internal Server Error: down after 5 attempts")
    job.response, job.error = None, "connection refused after 2 attempts"
    assert job_line(job).endswith("[CLI] connection refused after 2 attempts")


def test_an_inbound_job_not_processed_yet_shows_no_record_counts() -> None:
    from payloads_tui.domain.models import Job

    job = Job(number="IN-5", kind="inbound", integration="stripe", payload="Customer: Created / Updated (Webhook)",
              source="External API", status="Queued")
    assert job_line(job).endswith("[External API]")
    job.status, job.records_processed = "Completed", 1
    assert job_line(job).endswith("[External API] 1 ok")


def test_a_job_that_wrote_nothing_says_why_in_its_line_and_details() -> None:
    from payloads_tui.domain.models import Job

    note = "nothing was written: target Account's items `data.object` selected nothing from the body"
    job = Job(number="IN-6", kind="inbound", integration="stripe", payload="Customer", source="External API",
              status="Completed", note=note)
    assert job_line(job).endswith(f"[External API] {note}"), "the note, not '0 ok'"

    class NoBodies:
        def job_body(self, job: Job, which: str) -> None:
            return None

    assert f"\nnote: {note}" in format_job(NoBodies(), job)


def test_jobs_show_body_prints_a_whole_body_byte_for_byte(runner: CliRunner, demo_dir: Path) -> None:
    """The text view cuts a body at 4,000 characters; `--body` prints it whole, from its blob or inline,
    and says why when there is none."""
    from payloads_tui.domain.models import HttpExchange

    large = b'{"data": "' + "\u00e9t\u00e9 ".encode() * 20_000 + b'"}'
    latin = "caf\u00e9".encode("latin-1")  # not UTF-8: kept as a blob, however small
    with Workspace(load_settings(home=demo_dir)) as ws:
        job = ws.jobs.create("outbound", "stripe", "Accounts", "CLI", status="Completed")
        job.request = HttpExchange(method="POST", url="http://127.0.0.1:1/x")
        ws.jobs.externalize(job.request, latin, "text/plain; charset=latin-1")
        job.response = HttpExchange(code=200, message="OK")
        ws.jobs.externalize(job.response, large, "application/json")
        ws.jobs.save(job)
        bare = ws.jobs.create("inbound", "stripe", "Customers", "External API", status="Completed")
        bare.request = HttpExchange(method="POST", url="http://127.0.0.1:1/y")
        ws.jobs.save(bare)
    assert job.response.body_blob and job.request.body_blob
    shown = invoke(runner, "jobs", "show", job.number, "--data-dir", str(demo_dir))
    assert f"({len(large)} bytes in all; --body response prints it whole)" in shown.output

    whole = runner.invoke(main, ["jobs", "show", job.number, "--body", "response", "--data-dir", str(demo_dir)])
    assert whole.exit_code == 0 and whole.stdout_bytes == large
    sent = runner.invoke(main, ["jobs", "show", job.number, "--body", "request", "--data-dir", str(demo_dir)])
    assert sent.exit_code == 0 and sent.stdout_bytes == latin

    none = invoke(runner, "jobs", "show", bare.number, "--body", "response", "--data-dir", str(demo_dir))
    assert none.exit_code == 1 and none.stderr == f"error: {bare.number} has no response logged\n"
    empty = invoke(runner, "jobs", "show", bare.number, "--body", "request", "--data-dir", str(demo_dir))
    assert empty.exit_code == 1 and empty.stderr == f"error: the request of {bare.number} has no body\n"
    both = invoke(runner, "jobs", "show", job.number, "--body", "request", "--json", "--data-dir", str(demo_dir))
    assert both.exit_code == 2 and "choose one" in both.stderr

    for blob in (demo_dir / "blobs").rglob(job.response.body_blob):
        blob.unlink()
    gone = invoke(runner, "jobs", "show", job.number, "--body", "response", "--data-dir", str(demo_dir))
    assert gone.exit_code == 1 and "is missing from" in gone.stderr
    rest = invoke(runner, "jobs", "show", job.number, "--data-dir", str(demo_dir))
    assert rest.exit_code == 0 and f"(body of {len(large)} bytes not shown: blob" in rest.output
    assert "--- response: 200 OK" in rest.output


def test_jobs_show_says_what_an_email_was_and_prints_an_attachment(runner: CliRunner, demo_dir: Path) -> None:
    csv = "number,amount\nINV-1,12.50\n".encode()
    with Workspace(load_settings(home=demo_dir)) as ws:
        job = ws.jobs.create("inbound", "stripe", BILLING_EMAIL, "Email", status="Completed",
                             summary='"Invoice 42" from ada@example.com')
        job.context = {"mail_from": "ada@example.com", "rcpt": "billing@payloads.localhost", "attachments": [
            {"filename": "invoice.csv", "content_type": "text/csv", "size": len(csv), "sha256": ws.jobs.blobs.put(csv)},
            {"filename": "scan.pdf", "content_type": "application/pdf", "size": 3, "sha256": ws.jobs.blobs.put(b"%PD")},
        ]}
        ws.jobs.save(job)
    listed = invoke(runner, "jobs", "--data-dir", str(demo_dir))
    header, first = listed.output.splitlines()[:2]
    assert header.startswith(f"JOB       MODIFIED ({time.strftime('%Z')})")  # lines give local times
    assert header.endswith("STATUS              INTEGRATION/PAYLOAD  [SOURCE] DETAIL")
    assert first.endswith('[Email] 0 ok  · "Invoice 42" from ada@example.com')
    assert first.index("Completed") == header.index("STATUS")  # the columns line up
    assert json.loads(invoke(runner, "jobs", "--json", "--data-dir", str(demo_dir)).output.splitlines()[0])[
        "summary"] == '"Invoice 42" from ada@example.com'
    shown = invoke(runner, "jobs", "show", job.number, "--data-dir", str(demo_dir)).output
    assert 'summary: "Invoice 42" from ada@example.com\n' in shown
    assert "envelope: MAIL FROM:<ada@example.com> RCPT TO:<billing@payloads.localhost>\n" in shown
    assert (f"--- attachments: 2 (--attachment N prints one)\n  1. invoice.csv · text/csv · {len(csv)} bytes\n"
            "  2. scan.pdf · application/pdf · 3 bytes\n") in shown

    by_name = runner.invoke(main, ["jobs", "show", job.number, "--attachment", "invoice.csv", "--data-dir",
                                   str(demo_dir)])
    by_number = runner.invoke(main, ["jobs", "show", job.number, "--attachment", "2", "--data-dir", str(demo_dir)])
    assert (by_name.exit_code, by_name.stdout_bytes, by_number.stdout_bytes) == (0, csv, b"%PD")
    unknown = invoke(runner, "jobs", "show", job.number, "--attachment", "3", "--data-dir", str(demo_dir))
    assert unknown.exit_code == 1
    assert unknown.stderr == f"error: {job.number} has no attachment '3'; it has 1 invoice.csv, 2 scan.pdf\n"
    both = invoke(runner, "jobs", "show", job.number, "--attachment", "1", "--json", "--data-dir", str(demo_dir))
    assert both.exit_code == 2


def test_what_a_sender_wrote_reaches_the_terminal_with_its_control_characters_shown(runner: CliRunner,
                                                                                 demo_dir: Path) -> None:
    """An email's subject or body may carry ESC sequences: they set the title, clear the screen, write the
    clipboard (OSC 52) of whoever runs `jobs show` or reads the serve log."""
    from payloads_tui.domain.models import HttpExchange

    raw = b"Subject: \x1b]0;pwned\x07hi\r\n\r\nbody \x1b[2J\x1b]52;c;ZWNobyBwd25lZA==\x07\r\n"
    with Workspace(load_settings(home=demo_dir)) as ws:
        job = ws.jobs.create("inbound", "stripe", BILLING_EMAIL, "Retry", status="Failed",
                             summary='"\u241b]0;pwned\u2407hi" from ann@example.com',
                             error="could not parse \x1b[31mred", context={"mail_from": "<>", "rcpt": "b@x.example"})
        job.request = HttpExchange(method="SMTP", url="mailto:b@x.example")
        ws.jobs.externalize(job.request, raw, "message/rfc822")
        ws.jobs.save(job)
    shown = invoke(runner, "jobs", "show", job.number, "--data-dir", str(demo_dir)).output
    listed = invoke(runner, "jobs", "--data-dir", str(demo_dir)).output
    assert "\x1b" not in shown and "\x07" not in shown and "\x1b" not in listed
    assert "body \u241b[2J\u241b]52;c;ZWNobyBwd25lZA==\u2407" in shown
    assert "error: could not parse \u241b[31mred" in shown
    assert "envelope: MAIL FROM:<> RCPT TO:<b@x.example>\n" in shown  # the null sender; a retry keeps its envelope
    whole = runner.invoke(main, ["jobs", "show", job.number, "--body", "request", "--data-dir", str(demo_dir)])
    assert whole.stdout_bytes == raw  # asked for byte for byte: as it came


def test_json_for_scripts_keeps_every_character_but_writes_c1_controls_escaped(runner: CliRunner,
                                                                              demo_dir: Path) -> None:
    """JSON escapes C0 controls only: a raw CSI (U+009B) in a sender's subject would act on the terminal."""
    with Workspace(load_settings(home=demo_dir)) as ws:
        job = ws.jobs.create("inbound", "stripe", BILLING_EMAIL, "Email", status="Failed",
                             summary='"\x9b2J\x1b]0;t\x07 Café" from ann@example.com', error="bad \x9d byte")
        ws.jobs.save(job)
    listed = invoke(runner, "jobs", "--json", "--data-dir", str(demo_dir)).output
    shown = invoke(runner, "jobs", "show", job.number, "--json", "--data-dir", str(demo_dir)).output
    for output in (listed, shown):
        assert not re.search("[\x00-\x09\x0b-\x1f\x80-\x9f]", output)
        assert "\\u009b2J\\u001b]0;t\\u0007 Café" in output  # escaped, the rest as it is
    row = next(json.loads(line) for line in listed.splitlines() if json.loads(line)["number"] == job.number)
    assert json.loads(shown)["summary"] == row["summary"] == '"\x9b2J\x1b]0;t\x07 Café" from ann@example.com'
    assert json.loads(shown)["error"] == "bad \x9d byte"


def test_a_failed_jobs_planned_writes_are_not_shown_as_done(runner: CliRunner, demo_dir: Path) -> None:
    """Partial success off: one bad line fails the job and nothing is written, so no ✓ for the good ones."""
    from payloads_tui.domain.models import RecordResult

    with Workspace(load_settings(home=demo_dir)) as ws:
        failed = ws.jobs.create("inbound", "stripe", CUSTOMER_WEBHOOK, "External API", status="Failed", results=[
            RecordResult(target="Order", item=0, operation="update", record_id="c577"),
            RecordResult(target="Line", item=1, error="amount: not a number")])
        done = ws.jobs.create("inbound", "stripe", CUSTOMER_WEBHOOK, "External API", status="Completed",
                              results=[RecordResult(target="Order", item=0, operation="insert", record_id="d1")])
        for job in (failed, done):
            ws.jobs.save(job)
    shown = invoke(runner, "jobs", "show", failed.number, "--data-dir", str(demo_dir)).output
    assert "  – Order #0 update c577 (not written: the job failed)\n  ✗ Line #1 amount: not a number\n" in shown
    assert "  ✓ Order #0 insert d1\n" in invoke(runner, "jobs", "show", done.number, "--data-dir", str(demo_dir)).output


def test_an_attachment_name_given_twice_asks_for_its_number(runner: CliRunner, demo_dir: Path) -> None:
    with Workspace(load_settings(home=demo_dir)) as ws:
        job = ws.jobs.create("inbound", "stripe", BILLING_EMAIL, "Email", status="Completed")
        job.context = {"attachments": [{"filename": name, "content_type": "text/plain", "size": 1,
                                        "sha256": ws.jobs.blobs.put(data)}
                                       for name, data in (("same.txt", b"1"), ("same.txt", b"2"), ("1", b"3"))]}
        ws.jobs.save(job)
    twice = invoke(runner, "jobs", "show", job.number, "--attachment", "same.txt", "--data-dir", str(demo_dir))
    assert twice.exit_code == 1
    assert twice.stderr == f"error: 2 attachments of {job.number} are named 'same.txt': give the number of one (1, 2)\n"
    first = runner.invoke(main, ["jobs", "show", job.number, "--attachment", "1", "--data-dir", str(demo_dir)])
    assert first.stdout_bytes == b"1"  # a number first, even beside a file named "1"


def test_the_serve_log_prints_a_status_once_and_every_wait_to_retry() -> None:
    from payloads_tui.cli import StatusChanges
    from payloads_tui.domain.models import Job

    changes = StatusChanges()
    job = Job(number="OUT-3", kind="outbound", integration="stripe", payload="Customer: Create",
              status="Retrying", next_attempt_at=1000.0)
    shown = [changes.is_new(job), changes.is_new(job)]  # two events of one version
    job.next_attempt_at = 1004.0  # the second wait
    shown += [changes.is_new(job), changes.is_new(job)]
    job.status, job.next_attempt_at = "Failed", None
    shown += [changes.is_new(job), changes.is_new(job)]
    assert shown == [True, False, True, False, True, False]


@pytest.mark.parametrize("args, said", [
    (["serve", "--http", "nonsense"], "Invalid value for '--http': 'nonsense' is not host:port (e.g. 127.0.0.1:8787)"),
    (["serve", "--smtp", "127.0.0.1:99999"], "'127.0.0.1:99999': port 99999 is out of range (0 to 65535)"),
    (["send-email", "--to", "a@b.example", "--smtp", "host"], "Invalid value for '--smtp': 'host' is not host:port"),
])
def test_a_wrong_address_option_is_a_usage_error(runner: CliRunner, tmp_path: Path, args: list[str],
                                                 said: str) -> None:
    result = invoke(runner, *args, "--data-dir", str(tmp_path / "home"))
    assert result.exit_code == 2 and said in result.stderr and "Usage: " in result.stderr
    assert not (tmp_path / "home").exists()  # refused before anything was opened


def test_running_an_api_initiated_payload_says_why_not(runner: CliRunner, demo_dir: Path) -> None:
    result = invoke(runner, "run", "stripe", "Expose Account Status", "--data-dir", str(demo_dir))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: 'Expose Account Status' is API initiated: other systems GET it")


@pytest.mark.parametrize("option", ["--html", "--file"])
def test_a_text_file_that_is_not_utf8_is_a_clear_error(runner: CliRunner, tmp_path: Path, option: str) -> None:
    page = tmp_path / "latin.html"
    page.write_bytes("<p>Caf\u00e9</p>".encode("latin-1"))
    result = invoke(runner, "send-email", "--to", "billing@payloads.localhost", option, str(page),
                    "--smtp", "127.0.0.1:9", "--data-dir", str(tmp_path / "home"))
    assert result.exit_code == 1
    assert result.stderr == f"error: {option} {page}: not UTF-8 text (byte 6); save it as UTF-8\n"


def test_a_missing_data_directory_says_what_makes_one_and_where_the_demo_is(runner: CliRunner,
                                                                            tmp_path: Path) -> None:
    """The hint was "run 'payloads demo'", which seeds a directory of its own and so never fixed it."""
    from payloads_tui.settings import default_demo_home

    result = invoke(runner, "integrations", "--data-dir", str(tmp_path / "none"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: no data directory at {tmp_path / 'none'}: `payloads` or `payloads "
                                    "serve` makes it;")
    assert f"(`payloads demo` keeps its own, {default_demo_home()})" in result.stderr
