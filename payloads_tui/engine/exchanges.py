"""Logged requests and responses: what goes into a job (secrets masked), and back out for a replay.

A logged request never holds a secret: header values of Authorization and friends,
the API key header and any query parameter carrying a secret read `••••`. A replay
therefore rebuilds the request from the log and applies the credential again:
`planned_from_log()` drops the masked values and the headers the client sets itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import unquote_plus, urlencode

import httpx

from payloads_tui.domain.errors import PayloadsError
from payloads_tui.domain.mapping import render_template
from payloads_tui.domain.models import HttpExchange, Integration, Job, OutboundPayload
from payloads_tui.engine.auth import mask_headers, mask_url
from payloads_tui.engine.requestbuild import PlannedRequest, as_text
from payloads_tui.store.vault import MASK

#: Headers the HTTP client writes itself; a replay leaves them out.
CLIENT_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class BodyLog(Protocol):
    """What the job log offers for bodies and the data queried."""

    def externalize(self, exchange: HttpExchange, body: bytes, content_type: str) -> Any: ...

    def body_of(self, exchange: HttpExchange) -> bytes | None: ...

    def data_of(self, job: Job) -> list[dict[str, Any]]: ...


def with_body(log: BodyLog, exchange: HttpExchange, body: bytes | None, content_type: str) -> HttpExchange:
    """`exchange` with `body` put inline or into a blob by the job log."""
    if body is None:
        return exchange
    result = log.externalize(exchange, body, content_type)
    return result if isinstance(result, HttpExchange) else exchange


def planned_exchange(
    log: BodyLog, planned: PlannedRequest, url: str, secret_headers: frozenset[str], secret_query: frozenset[str]
) -> HttpExchange:
    """The logged form of a request about to be sent (auth not applied yet)."""
    exchange = HttpExchange(
        method=planned.method,
        url=mask_url(url, secret_query),
        headers=mask_headers(planned.headers, secret_headers),
        content_type=planned.content_type or "",
    )
    return with_body(log, exchange, planned.body, planned.content_type or "")


def sent_headers(request: httpx.Request, secret_headers: frozenset[str]) -> tuple[str, dict[str, str]]:
    """(URL, headers) of a request as sent, masked for the log."""
    headers = dict(request.headers.items())
    return str(request.url), mask_headers(headers, secret_headers)


def response_exchange(log: BodyLog, response: httpx.Response) -> HttpExchange:
    """The logged form of a response."""
    content_type = response.headers.get("content-type", "")
    exchange = HttpExchange(
        code=response.status_code,
        message=f"{response.status_code} {response.reason_phrase}".strip(),
        headers=mask_headers(dict(response.headers.items())),
        content_type=content_type,
    )
    return with_body(log, exchange, response.content, content_type)


def strip_masked_params(url: str) -> str:
    """`url` without the query parameters whose value was masked (the credential adds them again)."""
    base, sep, query = url.partition("?")
    if not sep:
        return url
    query, hash_sep, fragment = query.partition("#")
    kept = [piece for piece in query.split("&") if piece and unquote_plus(piece.partition("=")[2]) != MASK]
    rest = f"{hash_sep}{fragment}"
    return f"{base}?{'&'.join(kept)}{rest}" if kept else f"{base}{rest}"


def masked_params_again(url: str, integration: Integration, payload: OutboundPayload) -> list[tuple[str, str]]:
    """The masked query parameters of a logged `url` that the payload itself sets (a query template, or
    a static query element), rendered again; a credential's are applied again when sent."""
    query = url.partition("?")[2].partition("#")[0]
    masked = [unquote_plus(name) for name, _, value in (p.partition("=") for p in query.split("&") if p)
              if unquote_plus(value) == MASK]
    statics = {e.path: e.value for e in payload.elements
               if e.placement == "query" and e.source == "static" and e.value is not None}
    again: list[tuple[str, str]] = []
    for name in masked:
        if name in payload.query:
            try:
                again.append((name, render_template(payload.query[name], {}, integration.variables, url_encode=False)))
            except PayloadsError:
                continue
        elif name in statics:
            again.append((name, as_text(statics[name])))
    return again


def with_params(url: str, params: list[tuple[str, str]]) -> str:
    """`url` with `params` appended to its query (before any fragment)."""
    if not params:
        return url
    base, hash_sep, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode(params)}{hash_sep}{fragment}"


def planned_from_log(log: BodyLog, job: Job, integration: Integration, payload: OutboundPayload) -> PlannedRequest:
    """The request logged on `job`, ready to send again (masked values dropped or re-rendered)."""
    logged = job.request
    if logged is None or not logged.url:
        raise PayloadsError(f"job {job.number} has no logged request to send; retry it to rebuild one")
    body = log.body_of(logged) if (logged.body is not None or logged.body_blob) else None
    templates: Mapping[str, str] = {k.lower(): v for k, v in payload.headers.items()}
    headers: dict[str, str] = {}
    for name, value in logged.headers.items():
        lower = name.lower()
        if lower in CLIENT_HEADERS:
            continue
        if value == MASK:
            template = templates.get(lower)
            if template is None:
                continue  # a credential header: applied again when sent
            try:
                value = render_template(template, {}, integration.variables, url_encode=False)
            except PayloadsError:
                continue
        headers[name] = value
    record = job.context.get("record") if isinstance(job.context.get("record"), dict) else None
    data = list(log.data_of(job))
    return PlannedRequest(
        method=logged.method or payload.method,
        url=with_params(strip_masked_params(logged.url), masked_params_again(logged.url, integration, payload)),
        headers=headers,
        body=body,
        content_type=logged.content_type or None,
        record_ids=[str(r["id"]) for r in data if isinstance(r, dict) and "id" in r],
        data=data,
        record=record,
    )
