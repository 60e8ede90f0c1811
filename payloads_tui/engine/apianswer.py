"""The answer of an API-initiated outbound payload to an External API GET.

Query parameters that restrict what is returned: `ids` (comma-separated record ids
of the first source; its filter still applies) and `limit` (lowers the first
source's limit, never raises it). Every parameter is in the context as `query`,
for elements with source `context`. Runs in a worker thread (it reads records).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from payloads_tui.domain.errors import ValidationError
from payloads_tui.domain.models import Integration, OutboundPayload
from payloads_tui.engine.requestbuild import RecordReader, build_document, query_sources
from payloads_tui.store.records import utc_timestamp


@dataclass
class ApiAnswer:
    """The encoded body, its Content-Type, and the records it was built from."""

    body: bytes
    content_type: str
    records: list[dict[str, Any]]


def restricted(payload: OutboundPayload, query: Mapping[str, str]) -> tuple[OutboundPayload, list[str] | None]:
    """The payload with its first source's limit lowered by `limit`, and the `ids` asked for."""
    ids = [i.strip() for i in query.get("ids", "").split(",") if i.strip()] or None
    raw_limit = query.get("limit", "").strip()
    if not raw_limit or not payload.sources:
        return payload, ids
    if not raw_limit.isdigit() or int(raw_limit) < 1:
        raise ValidationError("limit must be a whole number, 1 or more", "limit")
    first = payload.sources[0]
    limit = int(raw_limit) if first.limit is None else min(int(raw_limit), first.limit)
    sources = [msgspec.structs.replace(first, limit=limit), *payload.sources[1:]]
    return msgspec.structs.replace(payload, sources=sources), ids


def answer_api(
    integration: Integration, payload: OutboundPayload, records: RecordReader, query: Mapping[str, str]
) -> ApiAnswer:
    """Query the sources (as the query parameters restrict them) and build the body."""
    narrowed, ids = restricted(payload, query)
    rows = query_sources(narrowed, records, record_ids=ids)
    body, content_type = build_document(
        integration, narrowed, rows, now_iso=utc_timestamp(), context={"query": dict(query)}
    )
    return ApiAnswer(body, content_type, [r for rows_of in rows for r in rows_of.records])
