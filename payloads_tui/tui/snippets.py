"""Shell commands an operator can paste: `curl` for an External API, `swaks` for an email address.

Secrets never appear in them unless the caller hands one over: a token API gets
`$PAYLOADS_TOKEN` (the token was shown once, when the API was created); a signed API
gets a signature computed from its signing secret when one is given, else a note.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from payloads_tui.domain.models import ExternalApi

MIME_TYPES = {
    "json": "application/json",
    "xml": "application/xml",
    "form": "application/x-www-form-urlencoded",
    "csv": "text/csv",
    "text": "text/plain",
}
SAMPLE_BODIES = {"json": "{}", "xml": "<root/>", "form": "", "csv": "", "text": ""}


@dataclass(frozen=True)
class Snippet:
    """A command line, and a note on what it still needs (empty when it runs as is)."""

    command: str
    note: str = ""


def sample_body(content_type: str) -> bytes:
    """The body a `curl` sends when no recent job gives one."""
    return SAMPLE_BODIES.get(content_type, "").encode()


def curl_for_api(
    api: ExternalApi,
    url: str,
    *,
    content_type: str = "json",
    body: bytes | None = None,
    signature: str | None = None,
) -> Snippet:
    """`curl` that calls `api` at `url`; `signature`: the header value that signs the body of a stripe/hmac API."""
    parts = ["curl", "-sS"]
    notes: list[str] = []
    payload = body if body is not None else sample_body(content_type)
    if api.method == "POST":
        parts += ["-X", "POST", shlex.quote(url), "-H", shlex.quote(f"Content-Type: {MIME_TYPES.get(content_type, 'application/octet-stream')}")]
    else:
        parts.append(shlex.quote(url))
    if api.auth == "token":
        parts += ["-H", '"Authorization: Bearer $PAYLOADS_TOKEN"']
        notes.append("set PAYLOADS_TOKEN to the API's token (shown once when it was created)")
    elif api.auth in ("stripe", "hmac"):
        header = "Stripe-Signature" if api.auth == "stripe" else api.hmac_header
        if signature is not None:
            parts += ["-H", shlex.quote(f"{header}: {signature}")]
            if api.auth == "stripe":
                notes.append("the signature is valid for 5 minutes and for this exact body")
        else:
            parts += ["-H", shlex.quote(f"{header}: <signature>")]
            notes.append(f"needs a {header} header computed with the API's signing secret over the exact body")
    if api.method == "POST":
        parts += ["--data-binary", shlex.quote(payload.decode("utf-8", "replace"))]
    return Snippet(" ".join(parts), "; ".join(notes))


def swaks_for_address(address: str, smtp: str, *, sender: str = "you@example.com",
                      subject: str = "Test from swaks") -> Snippet:
    """`swaks` that sends a short email to `address` through the SMTP receiver at `smtp` (host:port)."""
    parts = ["swaks", "--server", shlex.quote(smtp), "--to", shlex.quote(address), "--from", shlex.quote(sender),
             "--header", shlex.quote(f"Subject: {subject}"), "--body", shlex.quote("Hello from swaks")]
    return Snippet(" ".join(parts))
