"""The SMTP receiver: aiosmtpd's protocol on the running loop, one inbound job per recipient.

Only addresses of active Email Services are accepted (case-insensitive); any other
recipient is refused at RCPT with a 550 that says how to fix it, and announced as
`AuthRejected`. After DATA, every accepted recipient gets its own inbound job holding
the raw message; the reply (`250 OK: queued as IN-12, IN-13`) is sent only once all
of them are durable. The size limit is announced in EHLO (`SIZE`) and enforced (552)
by aiosmtpd itself; its 552 is rewritten to name the limit, and announced as
`AuthRejected` too. A message without a `Message-ID` gets one, as an MTA's cleanup
adds it (Postfix does): payloads match emails on it, and clients such as a bare
`smtplib.sendmail` send none. The raw message kept is the one with it.

aiosmtpd's `Controller` runs a second loop in a thread; here the server is created
with `loop.create_server` on the caller's loop instead.

Cost (bench/smtp_ingest.py, py-spy): aiosmtpd reads the path of every MAIL and RCPT
with `email._header_value_parser` and defines a `typing.Protocol` class on each call
(~30% of the loop's time under load); `SmtpProtocol` reads plain `<local@domain>`
paths with one regular expression instead, with the same result, and leaves every
other form to aiosmtpd.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import weakref
from typing import TYPE_CHECKING

from aiosmtpd.smtp import SMTP, Envelope, Session

from payloads_tui.domain.errors import PayloadsError
from payloads_tui.domain.formats.emailfmt import with_message_id
from payloads_tui.domain.models import EmailService, HttpExchange, Job, address_key
from payloads_tui.engine.events import AuthRejected, ConfigChanged, Event, JobChanged
from payloads_tui.settings import Limits

if TYPE_CHECKING:
    from payloads_tui.engine.executor import Executor
    from payloads_tui.service.workspace import Workspace

log = logging.getLogger(__name__)

MESSAGE_TYPE = "message/rfc822"

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATEXT}(?:\.{_ATEXT})*"
#: `<local@domain>` with dot-atom parts only: what nearly every client sends.
_PLAIN_PATH = re.compile(rf"<({_DOT_ATOM}@{_DOT_ATOM})>")


#: aiosmtpd's replies for a message over `data_size_limit`: declared at MAIL (`SIZE=`), or found in DATA.
_DECLARED_TOO_BIG = "552 Error: message size exceeds fixed maximum message size"
_TOO_MUCH_DATA = "552 Error: Too much mail data"


class SmtpProtocol(SMTP):
    """aiosmtpd's `SMTP`, reading plain `<local@domain>` paths of MAIL and RCPT without its header parser,
    and saying what its size limit is when a message is over it (the operator sees such a refusal)."""

    mail_arg = ""  # the last MAIL command's argument, to name a message refused for its declared size

    async def smtp_MAIL(self, arg: str) -> None:  # noqa: N802 - aiosmtpd's command handler name
        self.mail_arg = arg or ""
        await super().smtp_MAIL(arg)

    async def push(self, status: str | bytes) -> None:
        if status in (_DECLARED_TOO_BIG, _TOO_MUCH_DATA) and isinstance(self.event_handler, MailHandler):
            status = self.event_handler.refuse_too_big(self, declared=status == _DECLARED_TOO_BIG)
        await super().push(status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """(address, the parameters after it), exactly as `SMTP._getaddr` gives them."""
        match = _PLAIN_PATH.match(arg) if arg and "=?" not in arg else None  # "=?" starts an encoded word
        if match is None:
            return super()._getaddr(arg)
        rest = arg[match.end():]
        if rest[:1] in (" ", "\t"):
            rest = rest.lstrip()  # as the header parser's folding white space does
        if rest.startswith("("):  # a comment: the header parser's business
            return super()._getaddr(arg)
        address = match[1]
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest


class MailboxDirectory:
    """Email Services by lower-cased address, reloaded after any `ConfigChanged` event."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._by_address: dict[str, tuple[str, EmailService]] | None = None
        self._generation = 0
        self._unsubscribe = workspace.events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ConfigChanged):
            self._generation += 1
            self._by_address = None

    def find(self, address: str) -> tuple[str, EmailService] | None:
        """(integration slug, Email Service) of `address`, active or not; None if unknown."""
        by_address = self._by_address
        if by_address is None:
            generation = self._generation
            by_address: dict[str, tuple[str, EmailService]] = {}
            for integration in self._workspace.integrations():
                for service in integration.emails:
                    known = by_address.get(service.key)
                    if known is None or service.active and not known[1].active:  # the active one receives
                        by_address[service.key] = (integration.slug, service)
            if generation == self._generation:  # no change arrived while reading
                self._by_address = by_address
        return by_address.get(address_key(address))

    def close(self) -> None:
        self._unsubscribe()


def peer_text(session: Session) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer or "")


class MailHandler:
    """aiosmtpd handler: RCPT checks mailboxes, DATA records one job per recipient."""

    def __init__(self, workspace: Workspace, executor: Executor, hostname: str) -> None:
        self.workspace = workspace
        self.executor = executor
        self.hostname = hostname
        self.mailboxes = MailboxDirectory(workspace)

    def close(self) -> None:
        self.mailboxes.close()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        found = self.mailboxes.find(address)
        if found is not None and found[1].active:
            if address_key(address) not in (address_key(a) for a in envelope.rcpt_tos):
                envelope.rcpt_tos.append(address)
                envelope.rcpt_options.extend(rcpt_options)
            return "250 OK"
        if found is None:
            reason = "no Email Service has this address"
            integration = ""
        else:
            reason = "the Email Service of this address is inactive"
            integration = found[0]
        self.workspace.events.publish(
            AuthRejected(integration, f"RCPT TO:<{address}>", reason, peer_text(session))
        )
        return f"550 5.1.1 <{address}>: no such mailbox here (configure an Email Service for it)"

    def refuse_too_big(self, server: SMTP, *, declared: bool) -> str:
        """The 552 for a message over the size limit, announced like any other refusal."""
        limit = server.data_size_limit or 0
        envelope = server.envelope
        recipients = list(envelope.rcpt_tos) if envelope is not None and not declared else []
        found = next((f for f in map(self.mailboxes.find, recipients) if f is not None), None)
        where = f"MAIL {getattr(server, 'mail_arg', '')[:200]}" if declared else f"DATA for <{'>, <'.join(recipients)}>"
        what = "its declared size is" if declared else "the message is"
        self.workspace.events.publish(AuthRejected(
            found[0] if found else "", where, f"{what} over {limit:,} bytes (limits.max_message_bytes)",
            peer_text(server.session)))
        return f"552 5.3.4 message too big: this receiver takes up to {limit:,} bytes"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = with_message_id(envelope.original_content or b"", self.hostname)
        mail_from = envelope.mail_from or ""
        jobs = self.workspace.jobs
        created: list[Job] = []
        try:
            for rcpt in envelope.rcpt_tos:
                found = self.mailboxes.find(rcpt)
                if found is None or not found[1].active:  # removed since RCPT
                    continue
                slug, service = found
                exchange = HttpExchange(method="SMTP", url=f"mailto:{rcpt}", content_type=MESSAGE_TYPE)
                if len(raw) > self.workspace.settings.limits.blob_threshold or not raw.isascii():  # may write a blob
                    await asyncio.to_thread(jobs.externalize, exchange, raw, MESSAGE_TYPE)
                else:
                    jobs.externalize(exchange, raw, MESSAGE_TYPE)
                created.append(
                    jobs.create(
                        "inbound",
                        slug,
                        service.payload,
                        "Email",
                        request=exchange,
                        context={"mail_from": mail_from, "rcpt": rcpt},
                    )
                )
            if not created:
                return "554 5.1.1 none of the recipients has an active Email Service any more"
            if len(created) == 1:  # the usual case: no task to gather
                await jobs.save_durable(created[0])
            else:
                await asyncio.gather(*(jobs.save_durable(job) for job in created))
        except PayloadsError:
            log.exception("could not record an email from %s", peer_text(session))
            return "451 4.3.0 the message could not be recorded; try again later"
        for job in created:
            self.workspace.events.publish(JobChanged(job, created=True))
            self.executor.submit(job)
        return f"250 OK: queued as {', '.join(job.number for job in created)}"


class SmtpServer:
    """aiosmtpd on a socket bound by the caller, served by the running loop."""

    def __init__(self, handler: MailHandler, sock: socket.socket, limits: Limits, *, timeout: float = 300) -> None:
        # aiosmtpd warns of every unknown command and bad PROXY line: a scanner's noise, answered 500
        # already. Its errors (a session that failed) stay logged.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        self.handler = handler
        self.sock = sock
        self.limits = limits
        self.timeout = timeout
        self.server: asyncio.AbstractServer | None = None
        self.sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def _protocol(self) -> SMTP:
        protocol = SmtpProtocol(
            self.handler,
            hostname=self.handler.hostname,
            data_size_limit=self.limits.max_message_bytes,
            enable_SMTPUTF8=True,
            ident="ESMTP Payloads",  # not aiosmtpd's "Python SMTP 1.4.6": no library version to a scanner
            timeout=self.timeout,
            loop=asyncio.get_running_loop(),
        )
        self.sessions.add(protocol)
        return protocol

    async def start(self) -> None:
        self.server = await asyncio.get_running_loop().create_server(self._protocol, sock=self.sock)

    async def stop(self) -> None:
        if self.server is None:
            return
        self.server.close()
        for protocol in list(self.sessions):  # open sessions; wait_closed() would wait on them (3.12+)
            transport = protocol.transport
            if transport is not None:
                transport.close()
        await self.server.wait_closed()
        self.server = None
