"""The SMTP receiver against real sockets: smtplib sessions in a thread, swaks when installed."""

from __future__ import annotations

import asyncio
import logging
import shutil
import smtplib
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import pytest

from payloads_tui.domain.errors import PayloadsError, ServiceError
from payloads_tui.domain.models import EmailService, new_id
from payloads_tui.engine.events import AuthRejected
from payloads_tui.engine.resultlog import VALUE_CHARS
from payloads_tui.service.mail import send_email_async
from payloads_tui.service.service import Service
from payloads_tui.service.workspace import Workspace
from payloads_tui.store.demo import BILLING_EMAIL, DEMO_EMAIL

from .conftest import SLOW_FSYNC, TEST_LIMITS, wait_for_job

SECOND_ADDRESS = "support@payloads.localhost"


def message(subject: str, to: str = DEMO_EMAIL, body: str = "Invoice 42 is overdue.") -> bytes:
    msg = EmailMessage()
    msg["From"] = "ops@example.com"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@example.com>"
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP_POLICY)


def smtp_session(service: Service) -> smtplib.SMTP:
    address = service.smtp_host_port
    assert address is not None
    return smtplib.SMTP(address[0], address[1], timeout=10)


def numbers_of(reply: str) -> list[str]:
    assert reply.startswith("OK: queued as "), reply
    return reply.removeprefix("OK: queued as ").split(", ")


async def test_accepted_address_becomes_a_job_and_a_task(workspace: Workspace, service: Service) -> None:
    def send() -> tuple[int, bytes]:
        with smtp_session(service) as client:
            client.ehlo()
            client.mail("ops@example.com")
            client.rcpt(DEMO_EMAIL.upper())
            return client.data(message("Card declined"))

    code, reply = await asyncio.to_thread(send)
    assert code == 250
    [number] = numbers_of(reply.decode())
    job = await wait_for_job(workspace, number)
    assert job.status == "Completed", job.error
    assert job.source == "Email" and job.payload == BILLING_EMAIL
    assert job.context == {"mail_from": "ops@example.com", "rcpt": DEMO_EMAIL.upper()}
    assert job.request is not None and job.request.content_type == "message/rfc822"
    tasks = workspace.records.find("Task", {"message_id": "<Card-declined@example.com>"})
    assert [(t["subject"], t["status"], t["sender"]) for t in tasks] == [("Card declined", "Open", "ops@example.com")]


async def test_the_reply_waits_for_the_fsync(service: Service, slow_fsync: list[float]) -> None:
    def send() -> tuple[int, float, float]:
        with smtp_session(service) as client:
            client.ehlo()
            client.mail("ops@example.com")
            client.rcpt(DEMO_EMAIL)
            started = time.monotonic()
            code, _ = client.data(message("Slow disk"))
            return code, started, time.monotonic()

    code, started, answered = await asyncio.to_thread(send)
    assert code == 250
    assert answered - started >= SLOW_FSYNC
    assert slow_fsync and slow_fsync[0] <= answered


async def test_unknown_recipient_is_refused(workspace: Workspace, service: Service, events: list) -> None:
    def send() -> tuple[int, bytes]:
        with smtp_session(service) as client:
            client.ehlo()
            client.mail("ops@example.com")
            return client.rcpt("nobody@payloads.localhost")

    code, reply = await asyncio.to_thread(send)
    assert code == 550
    assert reply.decode() == (
        "5.1.1 <nobody@payloads.localhost>: no such mailbox here (configure an Email Service for it)"
    )
    [rejected] = [e for e in events if isinstance(e, AuthRejected)]
    assert rejected.where == "RCPT TO:<nobody@payloads.localhost>" and rejected.peer.startswith("127.0.0.1:")


async def test_inactive_email_service_is_refused(workspace: Workspace, service: Service, events: list) -> None:
    integration = workspace.integration("stripe")
    integration.emails[0].active = False
    workspace.save_integration(integration)

    def send() -> tuple[int, bytes]:
        with smtp_session(service) as client:
            client.ehlo()
            client.mail("ops@example.com")
            return client.rcpt(DEMO_EMAIL)

    code, _ = await asyncio.to_thread(send)
    assert code == 550
    [rejected] = [e for e in events if isinstance(e, AuthRejected)]
    assert rejected.integration == "stripe" and "inactive" in rejected.reason


async def test_two_configured_addresses_make_two_jobs(workspace: Workspace, service: Service) -> None:
    integration = workspace.integration("stripe")
    integration.emails.append(EmailService(address=SECOND_ADDRESS, payload=BILLING_EMAIL))
    workspace.save_integration(integration)

    def send() -> dict[str, tuple[int, bytes]]:
        with smtp_session(service) as client:
            return client.sendmail(
                "ops@example.com", [DEMO_EMAIL, SECOND_ADDRESS, "stranger@example.com"], message("Two boxes")
            )

    # sendmail does not return DATA's reply: the jobs are read from the log instead
    refused = await asyncio.to_thread(send)
    assert list(refused) == ["stranger@example.com"] and refused["stranger@example.com"][0] == 550
    jobs = [j for j in workspace.jobs.newest("inbound", limit=10) if j.source == "Email"]
    assert sorted(j.context["rcpt"] for j in jobs) == sorted([DEMO_EMAIL, SECOND_ADDRESS])
    for job in jobs:
        finished = await wait_for_job(workspace, job.number)
        assert finished.status == "Completed", finished.error


async def test_a_message_without_message_id_gets_one_shared_by_its_jobs(
    workspace: Workspace, service: Service
) -> None:
    integration = workspace.integration("stripe")
    integration.emails.append(EmailService(address=SECOND_ADDRESS, payload=BILLING_EMAIL))
    workspace.save_integration(integration)
    bare = b"From: ops@example.com\r\nSubject: No id\r\n\r\nmessage-id: in the body is not a header\r\n"

    def send(data: bytes) -> tuple[int, bytes]:
        with smtp_session(service) as client:
            client.ehlo()
            client.mail("ops@example.com")
            client.rcpt(DEMO_EMAIL)
            client.rcpt(SECOND_ADDRESS)
            return client.data(data)

    code, reply = await asyncio.to_thread(send, bare)
    assert code == 250
    jobs = [await wait_for_job(workspace, number) for number in numbers_of(reply.decode())]
    assert [job.status for job in jobs] == ["Completed", "Completed"], [job.error for job in jobs]
    raws = [workspace.jobs.body_of(job.request) for job in jobs]  # type: ignore[arg-type]
    assert raws[0] == raws[1] and raws[0] is not None and raws[0].endswith(bare)
    added = raws[0].removesuffix(bare)
    assert added.startswith(b"Message-ID: <") and added.endswith(b"@payloads.localhost>\r\n")
    message_id = added.removeprefix(b"Message-ID: ").strip().decode()
    [task] = workspace.records.find("Task", {"message_id": message_id})
    assert task["subject"] == "No id"

    code, reply = await asyncio.to_thread(send, message("Has an id"))
    [first, _] = numbers_of(reply.decode())
    job = await wait_for_job(workspace, first)
    assert workspace.jobs.body_of(job.request) == message("Has an id")  # type: ignore[arg-type]


async def test_reply_names_every_job(workspace: Workspace, service: Service) -> None:
    integration = workspace.integration("stripe")
    integration.emails.append(EmailService(address=SECOND_ADDRESS, payload=BILLING_EMAIL))
    workspace.save_integration(integration)
    reply = await send_email_async(
        *service.smtp_host_port, to=[DEMO_EMAIL, SECOND_ADDRESS], sender="ops@example.com",
        subject="Both", body="hello",
    )
    numbers = numbers_of(reply.removeprefix("250 "))
    assert len(numbers) == 2 and len(set(numbers)) == 2


async def test_a_long_body_is_whole_in_its_record_and_cut_in_the_job_log(workspace: Workspace,
                                                                          service: Service) -> None:
    """The job's results keep the values written for reading; a 25 MB body made 25 MB job lines."""
    text = " ".join(f"line-{i:05d}" for i in range(2_000))  # ~20,000 characters, under the test's SIZE

    def send() -> str:
        with smtp_session(service) as client:
            client.ehlo()
            client.mail("ops@example.com")
            client.rcpt(DEMO_EMAIL)
            return client.data(message("Long one", body=text))[1].decode()

    [number] = numbers_of(await asyncio.to_thread(send))
    job = await wait_for_job(workspace, number)
    assert job.status == "Completed", job.error
    [task] = [t for t in workspace.records.all("Task") if t["subject"] == "Long one"]
    assert task["description"].strip() == text
    logged = job.results[0].values["description"]
    assert logged.startswith(text[:VALUE_CHARS]) and len(logged) < VALUE_CHARS + 100
    assert logged.endswith(f"… ({len(task['description']):,} characters in all; the record holds them)")


async def test_the_greeting_names_no_library_and_unknown_commands_are_not_logged(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    host, port = service.smtp_host_port
    reader, writer = await asyncio.open_connection(host, port)
    greeting = await asyncio.wait_for(reader.readline(), timeout=5)
    writer.write(b"FOO bar\r\n")
    answer = await asyncio.wait_for(reader.readline(), timeout=5)
    writer.close()
    assert greeting == b"220 payloads.localhost ESMTP Payloads\r\n"
    assert answer.startswith(b"500 ")
    assert not [r for r in caplog.records if r.name == "mail.log" and r.levelno >= logging.WARNING]


async def test_size_is_announced_and_enforced(workspace: Workspace, service: Service, events: list) -> None:
    """Over the limit, declared or not: a 552 naming the limit, and a refusal the operator sees."""
    limit = TEST_LIMITS.max_message_bytes
    big = message("Too big", body="x" * 70 * (limit // 70 + 10))

    def send() -> tuple[str, tuple[int, bytes], int]:
        with smtp_session(service) as client:
            client.ehlo()
            size = client.esmtp_features.get("size", "")
            client.mail("ops@example.com")  # no SIZE= declared: the limit bites during DATA
            client.rcpt(DEMO_EMAIL)
            data_reply = client.data(big)
            try:
                client.sendmail("ops@example.com", [DEMO_EMAIL], big)  # declares SIZE=
            except smtplib.SMTPSenderRefused as exc:
                declared = exc.smtp_code, exc.smtp_error
            else:
                declared = 250, b""
            return size, data_reply, declared

    size, data_reply, declared = await asyncio.to_thread(send)
    assert size == str(limit)
    said = f"5.3.4 message too big: this receiver takes up to {limit:,} bytes".encode()
    assert data_reply == (552, said)
    assert declared == (552, said)
    assert [j for j in workspace.jobs.newest("inbound", limit=10) if j.source == "Email"] == []
    in_data, at_mail = [e for e in events if isinstance(e, AuthRejected)]
    assert (in_data.integration, in_data.where) == ("stripe", f"DATA for <{DEMO_EMAIL}>")
    assert in_data.reason == f"the message is over {limit:,} bytes (limits.max_message_bytes)"
    assert (at_mail.integration, at_mail.where) == ("", f"MAIL FROM:<ops@example.com> size={len(big)}")
    assert at_mail.reason == f"its declared size is over {limit:,} bytes (limits.max_message_bytes)"
    assert in_data.peer.startswith("127.0.0.1:")


async def test_send_email_with_html_and_attachment(workspace: Workspace, service: Service, tmp_path: Path) -> None:
    attachment = tmp_path / "invoice.csv"
    attachment.write_text("number,amount\nINV-1,12.50\n")
    reply = await send_email_async(
        *service.smtp_host_port, to=[DEMO_EMAIL], sender="ops@example.com", subject="With attachment",
        body="See attached.", html="<p>See <b>attached</b>.</p>", attachments=[attachment],
    )
    [number] = numbers_of(reply.removeprefix("250 "))
    job = await wait_for_job(workspace, number)
    assert job.status == "Completed", job.error
    assert job.summary == '"With attachment" from ops@example.com'  # what tells it from the other emails
    assert [j.number for j in workspace.newest_jobs("inbound", text="with ATTACHMENT")] == [number]
    [attached] = job.context["attachments"]
    assert (attached["filename"], attached["size"]) == ("invoice.csv", len(attachment.read_bytes()))
    [task] = [t for t in workspace.records.all("Task") if t["subject"] == "With attachment"]
    assert task["attachments"] == 1 and "See attached." in task["description"]


async def test_send_email_from_a_non_ascii_address_uses_smtputf8(workspace: Workspace, service: Service) -> None:
    """smtplib writes commands in ASCII unless SMTPUTF8 is asked for: the console crashed on such a sender."""
    reply = await send_email_async(
        *service.smtp_host_port, to=[DEMO_EMAIL], sender="J\u00f6rg M\u00fcller <j\u00f6rg@ex\u00e4mple.com>",
        subject="Gr\u00fc\u00dfe", body="hello",
    )
    [number] = numbers_of(reply.removeprefix("250 "))
    job = await wait_for_job(workspace, number)
    assert job.status == "Completed", job.error
    assert job.context["mail_from"] == "j\u00f6rg@ex\u00e4mple.com"
    raw = workspace.jobs.body_of(job.request)
    assert raw is not None and "From: J\u00f6rg M\u00fcller <j\u00f6rg@ex\u00e4mple.com>".encode() in raw


@pytest.mark.parametrize("to, sender, wrong", [
    (["not an address"], "ops@example.com", "'not an address' is not an email address"),
    ([DEMO_EMAIL], "ops", "'ops' is not an email address"),
    ([f"{DEMO_EMAIL}, {SECOND_ADDRESS}"], "ops@example.com", "is not an email address"),
])
async def test_send_email_refuses_what_is_not_one_address(workspace: Workspace, service: Service, to: list[str],
                                                          sender: str, wrong: str) -> None:
    """smtplib sent `RCPT TO:<not>` for "not an address"; a header naming two would send to the first."""
    with pytest.raises(PayloadsError, match=wrong):
        await send_email_async(*service.smtp_host_port, to=to, sender=sender, subject="x", body="x")
    assert [j for j in workspace.jobs.newest("inbound", limit=10) if j.source == "Email"] == []


async def test_send_email_refused_sends_nothing(workspace: Workspace, service: Service) -> None:
    with pytest.raises(ServiceError, match="nobody@payloads.localhost"):
        await send_email_async(
            *service.smtp_host_port, to=[DEMO_EMAIL, "nobody@payloads.localhost"], sender="ops@example.com",
            subject="Half", body="x",
        )
    assert [j for j in workspace.jobs.newest("inbound", limit=10) if j.source == "Email"] == []


async def test_send_email_too_large_for_the_receiver_says_its_limit(
    workspace: Workspace, service: Service, tmp_path: Path
) -> None:
    big = tmp_path / "scan.pdf"
    big.write_bytes(b"%PDF" + b"x" * TEST_LIMITS.max_message_bytes)
    with pytest.raises(ServiceError) as raised:
        await send_email_async(*service.smtp_host_port, to=[DEMO_EMAIL], sender="ops@example.com",
                               subject="Scan", body="attached", attachments=[big])
    assert f"takes up to {TEST_LIMITS.max_message_bytes:,} (its limits.max_message_bytes)" in str(raised.value)
    assert "nothing was sent" in str(raised.value)
    assert [j for j in workspace.jobs.newest("inbound", limit=10) if j.source == "Email"] == []


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed")
async def test_swaks(workspace: Workspace, service: Service) -> None:
    host, port = service.smtp_host_port
    process = await asyncio.create_subprocess_exec(
        "swaks", "--server", f"{host}:{port}", "--to", DEMO_EMAIL, "--from", "ops@example.com",
        "--header", "Subject: From swaks", "--body", "Sent by swaks.",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    [line] = [ln for ln in text.splitlines() if "queued as" in ln]
    number = line.rsplit("queued as ", 1)[1].strip()
    job = await wait_for_job(workspace, number)
    assert job.status == "Completed", job.error
    assert [t["subject"] for t in workspace.records.all("Task") if t.get("sender") == "ops@example.com"] == ["From swaks"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_curl_as_a_mail_client(workspace: Workspace, service: Service, tmp_path: Path) -> None:
    """curl's SMTP client, as a mail program sends: a whole RFC 5322 message, CRLF lines, 8-bit text."""
    host, port = service.smtp_host_port
    message = tmp_path / "message.eml"
    message.write_bytes(
        b"From: Ann <ann@example.com>\r\nTo: " + DEMO_EMAIL.encode() + b"\r\n"
        b"Subject: From curl\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nInvoice INV-7 is overdue \xe2\x80\x94 3 days.\r\n"
    )

    async def curl(recipient: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            "curl", "-sS", "--url", f"smtp://{host}:{port}", "--mail-from", "ann@example.com",
            "--mail-rcpt", recipient, "--upload-file", str(message),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
        return process.returncode or 0, output.decode(errors="replace")

    code, text = await curl(DEMO_EMAIL)
    assert code == 0, text
    [job] = [j for j in workspace.jobs.newest("inbound", limit=10) if j.source == "Email"]
    job = await wait_for_job(workspace, job.number)
    assert job.status == "Completed", job.error
    [task] = [t for t in workspace.records.all("Task") if t.get("sender") == "ann@example.com"]
    assert task["subject"] == "From curl" and "overdue \u2014 3 days" in task["description"]
    code, text = await curl("nobody@payloads.localhost")
    assert code == 55 and "550" in text  # curl: RCPT failed
    assert len([j for j in workspace.jobs.newest("inbound", limit=10) if j.source == "Email"]) == 1


async def test_mail_goes_to_the_integration_whose_service_of_the_address_is_active(
        workspace: Workspace, service: Service) -> None:
    """An inactive twin of an address (an imported copy) never takes its mail, whatever the order."""
    twin = workspace.integration("stripe")
    twin.id, twin.slug, twin.name = new_id(), "stripe-copy", "Stripe copy"
    for email in twin.emails:
        email.active = False
    workspace.create_integration(twin)
    assert [i.slug for i in workspace.integrations()][-1] == "stripe-copy"  # read after the active one

    def send() -> tuple[int, bytes]:
        with smtp_session(service) as client:
            client.ehlo()
            client.mail("ops@example.com")
            client.rcpt(DEMO_EMAIL)
            return client.data(message("Which one"))

    code, reply = await asyncio.to_thread(send)
    assert code == 250
    [number] = numbers_of(reply.decode())
    assert (await wait_for_job(workspace, number)).integration == "stripe"
