"""Sending a test email through an SMTP receiver (ours, usually) with smtplib.

`send_email` blocks; `send_email_async` runs it in a thread so the UI loop keeps
drawing. Both return the server's reply to DATA, e.g. `250 OK: queued as IN-12`.
"""

from __future__ import annotations

import asyncio
import functools
import mimetypes
import smtplib
import socket
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import SMTPUTF8 as SMTPUTF8_POLICY
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from payloads_tui.domain.errors import ServiceError
from payloads_tui.domain.validation import mailbox_address

DEFAULT_TIMEOUT = 30.0


def needs_smtputf8(*addresses: str) -> bool:
    """Whether an address has non-ASCII characters, which only an SMTPUTF8 server takes (RFC 6531)."""
    return not all(a.isascii() for a in addresses)


def build_message(
    *,
    to: Sequence[str],
    sender: str,
    subject: str,
    body: str,
    attachments: Sequence[Path | str] = (),
    html: str | None = None,
) -> EmailMessage:
    """A MIME message: text (and HTML alternative) plus attachments read from files."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "payloads.localhost")
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for path in attachments:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ServiceError(f"cannot attach {path}: {exc.strerror}; check the path") from None
        mime, _ = mimetypes.guess_type(path.name)
        maintype, _, subtype = (mime or "application/octet-stream").partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
    return message


def send_email(
    host: str,
    port: int,
    *,
    to: list[str],
    sender: str,
    subject: str,
    body: str,
    attachments: Sequence[Path | str] = (),
    html: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """Send one message to every address of `to`; return the server's reply to DATA.

    Nothing is sent if the server refuses any recipient: `ServiceError` names them.
    """
    if not to:
        raise ServiceError("no recipient: give at least one address to send to")
    envelope_to = [mailbox_address(address, "to") for address in to]  # smtplib would send <not> for "not me"
    envelope_from = mailbox_address(sender, "from")
    utf8 = needs_smtputf8(envelope_from, *envelope_to)
    message = build_message(to=to, sender=sender, subject=subject, body=body, attachments=attachments, html=html)
    where = f"{host}:{port}"
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            client.ehlo()
            if utf8 and not client.has_extn("smtputf8"):
                raise ServiceError(f"{where} does not take addresses with non-ASCII characters (it offers no "
                                   "SMTPUTF8); nothing was sent")
            code, reply = client.mail(envelope_from, ["SMTPUTF8"] if utf8 else [])
            if code != 250:
                raise ServiceError(f"{where} refused the sender {sender}: {code} {reply.decode(errors='replace')}")
            refused = []
            for address in envelope_to:
                code, reply = client.rcpt(address)
                if code not in (250, 251):
                    refused.append(f"{address} ({code} {reply.decode(errors='replace')})")
            if refused:
                client.rset()
                raise ServiceError(
                    f"{where} refused {', '.join(refused)}; nothing was sent — use addresses of Email Services"
                )
            data = message.as_bytes(policy=SMTPUTF8_POLICY if utf8 else SMTP_POLICY)
            limit = client.esmtp_features.get("size", "")
            if limit.isdigit() and 0 < int(limit) < len(data):
                client.rset()
                raise ServiceError(
                    f"the message is {len(data):,} bytes and {where} takes up to {int(limit):,} "
                    "(its limits.max_message_bytes); nothing was sent — attach less"
                )
            code, reply = client.data(data)
            text = f"{code} {reply.decode(errors='replace')}"
            if code != 250:
                raise ServiceError(f"{where} did not accept the message: {text}")
            return text
    except smtplib.SMTPDataError as exc:
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise ServiceError(f"{where} did not accept the message: {exc.smtp_code} {reply}") from None
    except (smtplib.SMTPException, OSError, socket.timeout) as exc:
        raise ServiceError(f"could not send through {where}: {exc}; is the service running?") from None


async def send_email_async(host: str, port: int, **options: Any) -> str:
    """`send_email` in a worker thread (same keyword options)."""
    return await asyncio.to_thread(functools.partial(send_email, host, port, **options))
