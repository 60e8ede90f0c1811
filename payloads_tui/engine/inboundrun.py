"""An inbound job's body through its payload, off the event loop: parse, map, write; attachments to blobs.

`process_body()` runs in a worker thread (the executor calls it with
`asyncio.to_thread`). Bodies of every content type go through
`InboundProcessor.run_body`, except emails: those are parsed here so that their
attachments can be stored as blob files, then run as a document.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from payloads_tui.domain.errors import MappingError, ParseError
from payloads_tui.domain.formats import charset_of, parse_body
from payloads_tui.domain.models import CONTENT_TYPE_LABELS, InboundPayload, Integration
from payloads_tui.engine.inbound import InboundOutcome, InboundProcessor
from payloads_tui.store.blobs import BlobStore
from payloads_tui.store.vault import Vault

#: What an email's attachments become in `job.context["attachments"]`.
Attachments = list[dict[str, Any]]


def credential_reader(vault: Vault, integration: Integration) -> Callable[[str, str], str]:
    """`value(credential name, field)` for mappings with source `credential`; secrets decrypted on use."""

    def value(name: str, field_name: str) -> str:
        credential = integration.credential(name)
        if credential is None:
            raise MappingError(f"no credential named {name!r}")
        if field_name in credential.secrets:
            return vault.decrypt(credential.secrets[field_name])
        if field_name in credential.fields:
            return credential.fields[field_name]
        raise MappingError(f"credential {name!r} has no field {field_name!r}")

    return value


def process_body(
    processor: InboundProcessor,
    blobs: BlobStore,
    vault: Vault,
    integration: Integration,
    payload: InboundPayload,
    body: bytes,
    content_type: str | None,
    context: Mapping[str, Any],
) -> tuple[InboundOutcome, Attachments]:
    """Run `body` through `payload`; returns the outcome and the attachments stored (emails only)."""
    credential_value = credential_reader(vault, integration)
    if payload.content_type != "email":
        outcome = processor.run_body(
            integration, payload, body, content_type=content_type, context=context, credential_value=credential_value
        )
        return outcome, []
    started = time.perf_counter()
    try:
        charset = charset_of(content_type) if content_type else None
        parsed = parse_body("email", body, charset=charset, options=payload.options or None)
    except ParseError as exc:
        label = CONTENT_TYPE_LABELS["email"]
        return InboundOutcome(status="Failed", error=f"could not parse the body as {label}: {exc}"), []
    attachments = [
        {"filename": a.filename, "content_type": a.content_type, "size": a.size, "sha256": blobs.put(a.data)}
        for a in parsed.attachments
    ]
    parse_seconds = time.perf_counter() - started
    outcome = processor.run_document(
        integration, payload, parsed.document, context=context, credential_value=credential_value
    )
    outcome.timings = {"parse": parse_seconds, **outcome.timings}
    return outcome, attachments
