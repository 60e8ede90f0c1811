"""Outbound requests: planned from records (see `requestbuild`), sent, judged, paged.

- `send()` makes one attempt of a `PlannedRequest` with the credential applied; an
  OAuth 2.0 credential that gets a 401 fetches a new token and sends once more.
- `success_rule()` reads a payload's success codes: `2xx`, `2xx,304`, `200-299,409`.
- `is_retryable()` / `retry_after()` / `describe_error()`: what the executor needs to
  decide about another attempt, and to say why a job failed.
- `next_page()`: Stripe-style pagination. While the answer (JSON) has
  `has_more: true`, the next request is the same with `starting_after=<last data[].id>`.
  Each page is its own response: the executor hands each one to the response handler
  as its own inbound job, so a long listing lands page by page and a bad page does not
  hide the good ones.
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
import msgspec

from payloads_tui.domain.errors import PayloadsError, ValidationError
from payloads_tui.domain.models import Credential
from payloads_tui.engine.auth import NO_AUTH, Authenticator, AuthParts
from payloads_tui.engine.requestbuild import (
    PlannedRequest,
    SourceRows,
    as_text,
    build_document,
    build_requests,
    left_out_by_filter,
    query_sources,
)

__all__ = [
    "PlannedRequest",
    "ResponseTooLarge",
    "SourceRows",
    "as_text",
    "build_document",
    "build_requests",
    "describe_error",
    "final_url",
    "host_of",
    "request_target",
    "is_retryable",
    "left_out_by_filter",
    "next_page",
    "query_sources",
    "retry_after",
    "send",
    "success_rule",
]

#: Most pages one job follows (a guard against an API that always says `has_more`).
MAX_PAGES = 1000
#: `Limits.max_response_bytes`'s default, for callers without settings.
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_page_decoder = msgspec.json.Decoder()


# --- success -----------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def success_rule(text: str) -> Callable[[int], bool]:
    """A test of status codes from `2xx`, `2xx,304`, `200-299,409`; `ValidationError` if unreadable."""
    ranges: list[tuple[int, int]] = []
    for raw in (text or "2xx").split(","):
        part = raw.strip().lower()
        try:
            if len(part) == 3 and part.endswith("xx") and part[0] in "12345":
                low = int(part[0]) * 100
                ranges.append((low, low + 99))
            elif "-" in part:
                first, last = (int(p) for p in part.split("-", 1))
                if not 100 <= first <= last <= 599:
                    raise ValueError
                ranges.append((first, last))
            else:
                code = int(part)
                if not 100 <= code <= 599:
                    raise ValueError
                ranges.append((code, code))
        except ValueError:
            raise ValidationError(
                f"{raw.strip()!r} is not a status code, range or class; write e.g. 2xx,304 or 200-299,409",
                "success_codes",
            ) from None
    frozen = tuple(ranges)
    return lambda code: any(low <= code <= high for low, high in frozen)


# --- retrying ----------------------------------------------------------------------


def is_retryable(code: int) -> bool:
    """429 and 5xx answers are worth another attempt."""
    return code == 429 or 500 <= code <= 599


def retry_after(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def describe_error(exc: Exception, timeout: float) -> str:
    """A short, secret-free description of a failed attempt."""
    if isinstance(exc, httpx.TimeoutException):
        what = {
            httpx.ConnectTimeout: "connecting timed out",
            httpx.ReadTimeout: "no answer",
            httpx.WriteTimeout: "sending timed out",
            httpx.PoolTimeout: "no free connection",
        }.get(type(exc), "timed out")
        return f"{what} within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        causes = list(_causes(exc))
        if any(isinstance(c, ConnectionRefusedError) for c in causes):
            return "connection refused"
        if any(isinstance(c, socket.gaierror) for c in causes):
            return "host name not found"
        text = str(causes[-1] if causes else exc)
        return f"could not connect ({text[:120] or type(exc).__name__})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without an answer"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError)):
        return "the connection broke"
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return f"the URL cannot be requested ({str(exc)[:120]})"
    return f"{type(exc).__name__}: {str(exc)[:120]}"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions behind `exc` (httpx wraps httpcore, which wraps anyio's and the OS's)."""
    seen: set[int] = set()
    current = exc.__cause__ or exc.__context__
    while current is not None and id(current) not in seen and len(seen) < 10:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_retryable_error(exc: Exception) -> bool:
    """Transport failures other than a bad URL are worth another attempt."""
    return isinstance(exc, httpx.TransportError) and not isinstance(
        exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError)
    )


# --- sending -----------------------------------------------------------------------


def final_url(planned: PlannedRequest, auth: AuthParts = NO_AUTH) -> httpx.URL:
    """The URL with the planned and auth query parameters (these replace same-named ones in the URL)."""
    url = httpx.URL(planned.url)
    added = list(planned.query) + list(auth.query.items())
    if not added:
        return url
    replaced = {name for name, _ in added}
    kept = [(k, v) for k, v in url.params.multi_items() if k not in replaced]
    return url.copy_with(params=httpx.QueryParams(kept + added))


def request_target(planned: PlannedRequest, auth: AuthParts = NO_AUTH) -> str | httpx.URL:
    """`final_url()`, or the planned URL text itself when no parameter is added (parsing a URL is slow)."""
    if not planned.query and not auth.query:
        return planned.url
    return final_url(planned, auth)


def host_of(planned: PlannedRequest) -> str:
    """`host:port` of a request, for the per-host limit."""
    parts = urlsplit(planned.url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


class ResponseTooLarge(PayloadsError):
    """An answer was larger than `limits.max_response_bytes`; `status_code` is the answer's."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class _CappedStream(httpx.AsyncByteStream):
    """An answer's bytes as received, stopped at `limit`."""

    def __init__(self, stream: httpx.AsyncByteStream, limit: int, status_code: int) -> None:
        self._stream = stream
        self._limit = limit
        self._status_code = status_code

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._stream:
            size += len(chunk)
            if size > self._limit:
                raise self.too_large(self._limit, self._status_code)
            yield chunk

    @staticmethod
    def too_large(limit: int, status_code: int) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"the answer ({status_code}) is larger than the {limit} bytes allowed; raise "
            "limits.max_response_bytes (PAYLOADS_MAX_RESPONSE_BYTES) to take it",
            status_code,
        )

    async def aclose(self) -> None:
        await self._stream.aclose()


async def _send_once(
    client: httpx.AsyncClient, planned: PlannedRequest, auth: AuthParts, timeout: float, max_bytes: int
) -> httpx.Response:
    headers = {**planned.headers, **auth.headers}
    request = client.build_request(
        planned.method,
        request_target(planned, auth),
        headers=headers,
        content=planned.body,
        timeout=timeout,
    )
    response = await client.send(request, stream=True)
    try:
        declared = response.headers.get("content-length", "")
        if not declared.isdigit():  # chunked, or until the connection closes: counted as it comes
            response.stream = _CappedStream(response.stream, max_bytes, response.status_code)  # type: ignore[arg-type]
        elif int(declared) > max_bytes:  # (h11 never reads past a Content-Length)
            raise _CappedStream.too_large(max_bytes, response.status_code)
        await response.aread()
    finally:
        await response.aclose()
    return response


async def send(
    client: httpx.AsyncClient,
    planned: PlannedRequest,
    credential: Credential | None,
    *,
    authenticator: Authenticator,
    integration: str,
    timeout: float,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> httpx.Response:
    """One attempt (body read, at most `max_bytes` of it); an OAuth 401 refreshes the token and resends once.

    Raises `httpx.TransportError` for connection problems, `CredentialError` when the
    credential is incomplete or its token cannot be had, and `ResponseTooLarge`.
    """
    auth = await authenticator.parts(client, integration, credential)
    response = await _send_once(client, planned, auth, timeout, max_bytes)
    if response.status_code == 401 and credential is not None and credential.kind == "oauth2":
        auth = await authenticator.parts(client, integration, credential, refresh=True)
        response = await _send_once(client, planned, auth, timeout, max_bytes)
    return response


# --- pages -------------------------------------------------------------------------


def next_page(planned: PlannedRequest, body: bytes) -> PlannedRequest | None:
    """The request for the page after `body` (Stripe's `has_more` / `starting_after`), or None."""
    try:
        answer = _page_decoder.decode(body)
    except msgspec.DecodeError:
        return None
    if not isinstance(answer, dict) or answer.get("has_more") is not True:
        return None
    data = answer.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[-1], dict):
        return None
    last = data[-1].get("id")
    if not isinstance(last, str) or not last:
        return None
    query = [(k, v) for k, v in planned.query if k != "starting_after"]
    return replace(planned, query=[*query, ("starting_after", last)])
