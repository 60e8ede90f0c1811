"""What an email's job says about the message beyond its raw text: envelope and attachments.

The SMTP receiver keeps the envelope in the job's context (`mail_from`, `rcpt`), and
processing adds each attachment it stored (`attachments`: filename, content type,
size, sha256 of its blob). `jobs show` and the console's job detail list them; `jobs
show --attachment` prints one.
"""

from __future__ import annotations

from typing import Any

from payloads_tui.domain.errors import NotFoundError
from payloads_tui.domain.models import Job
from payloads_tui.domain.terminaltext import printable


def envelope_text(job: Job) -> str | None:
    """`MAIL FROM:<ada@example.com> RCPT TO:<billing@payloads.localhost>`, for a job of an email."""
    if "rcpt" not in job.context:  # an email's job, or its retry or replay
        return None
    sender = str(job.context.get("mail_from") or "").removeprefix("<").removesuffix(">")  # "<>": the null sender
    return printable(f"MAIL FROM:<{sender}> RCPT TO:<{job.context['rcpt']}>")


def attachments_of(job: Job) -> list[dict[str, Any]]:
    """The attachments processing stored for `job`, as it logged them (filename, content_type, size, sha256)."""
    found = job.context.get("attachments")
    if not isinstance(found, list):
        return []
    return [a for a in found if isinstance(a, dict) and isinstance(a.get("sha256"), str)]


def attachment_text(attachment: dict[str, Any]) -> str:
    """`invoice.pdf · application/pdf · 12,345 bytes`."""
    size = attachment.get("size")
    sized = f"{size:,} bytes" if isinstance(size, int) else "size unknown"
    name, kind = attachment.get("filename") or "(no name)", attachment.get("content_type") or "?"
    return printable(f"{name} · {kind} · {sized}")


def find_attachment(job: Job, which: str) -> dict[str, Any]:
    """The attachment `which` names: its number in the list (from 1) or its filename."""
    found = attachments_of(job)
    if not found:
        raise NotFoundError(f"{job.number} has no attachments")
    if which.isdigit() and 1 <= int(which) <= len(found):  # a number first: a file may be named "2"
        return found[int(which) - 1]
    named = [n for n, attachment in enumerate(found, 1) if attachment.get("filename") == which]
    if len(named) == 1:
        return found[named[0] - 1]
    if named:
        raise NotFoundError(f"{len(named)} attachments of {job.number} are named {which!r}: give the number of "
                            f"one ({', '.join(map(str, named))})")
    names = ", ".join(f"{n} {a.get('filename') or '(no name)'}" for n, a in enumerate(found, 1))
    raise NotFoundError(f"{job.number} has no attachment {which!r}; it has {names}")
