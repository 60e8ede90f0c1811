"""The HTTP receiver: External APIs as a Starlette app, served by uvicorn inside the running loop.

- `POST /api/<integration>/<path>` runs the inbound payload of that External API. The
  answer (`202 {"job": "IN-12"}`) is sent only after the job is durable in the job
  log; processing follows in the executor.
- `GET /api/<integration>/<path>` answers from an API-initiated outbound payload.
- `GET /healthz` says the service is up and how many jobs wait.

Every error answer is JSON `{"error": "..."}` saying what was wrong and what to do, even
uvicorn's own for a request it cannot parse (`JsonErrorsProtocol`).

A malformed body: bodies up to `VALIDATE_IN_REQUEST_BYTES` are parsed before answering
(on the loop up to `PARSE_ON_LOOP_BYTES` — a 1 KB JSON body costs ~30 µs — in a thread
above that); when parsing fails the job is recorded Failed at once with the raw body
and the parse error, and the answer is 400 naming the job. A body that parses is
handed to the executor with its job (`Executor.keep_parsed`), so processing does not
parse it a second time. Larger bodies are answered 202 and a parse error fails the
job during processing, where the body is parsed anyway, so a big body is not parsed
twice nor held up before its answer.

Integrations are looked up in a cache that a `ConfigChanged` event invalidates, so
no request reads the configuration store.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httptools
import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from payloads_tui.domain.errors import (
    NotFoundError,
    ParseError,
    PayloadsError,
    SignatureError,
    ValidationError,
    VaultError,
)
from payloads_tui.domain.formats import OUTBOUND_MEDIA_TYPES, ParsedBody, content_kind, parse_for_payload
from payloads_tui.domain.models import (
    CONTENT_TYPE_LABELS,
    ExternalApi,
    HttpExchange,
    InboundPayload,
    Integration,
    Job,
    now,
)
from payloads_tui.domain.signatures import verify_hmac_signature, verify_stripe_signature, verify_token
from payloads_tui.engine.auth import mask_query, mask_url
from payloads_tui.engine.events import AuthRejected, ConfigChanged, Event, JobChanged
from payloads_tui.settings import Limits
from payloads_tui.store.vault import MASK

if TYPE_CHECKING:
    from payloads_tui.engine.executor import Executor
    from payloads_tui.service.workspace import Workspace

log = logging.getLogger(__name__)

#: Bodies up to this size are parsed before answering, so a malformed one gets a 400.
VALIDATE_IN_REQUEST_BYTES = 256 * 1024
#: Bodies up to this size are parsed on the loop; larger ones in a worker thread.
PARSE_ON_LOOP_BYTES = 16 * 1024
#: The request line and headers of one request, at most (bytes); more gets 431 (Node.js allows
#: 16 KiB, nginx 32 KiB by default; some senders' signature and trace headers are long).
MAX_HEAD_BYTES = 64 * 1024
ALWAYS_MASKED = ("authorization", "proxy-authorization", "x-api-key", "stripe-signature", "cookie")

#: What each inbound kind accepts as Content-Type, for 415 answers.
ACCEPTED_MEDIA: dict[str, str] = {
    "json": "application/json (or any */*+json)",
    "xml": "application/xml, text/xml (or any */*+xml)",
    "form": "application/x-www-form-urlencoded",
    "csv": "text/csv",
    "text": "text/plain",
    "email": "message/rfc822",
}
#: The Content-Type assumed for a request that sends none.
DEFAULT_MEDIA: dict[str, str] = {
    "json": "application/json",
    "xml": "application/xml",
    "form": "application/x-www-form-urlencoded",
    "csv": "text/csv",
    "text": "text/plain",
    "email": "message/rfc822",
}

_json = msgspec.json.Encoder()


def json_response(status: int, content: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(_json.encode(content), status_code=status, headers=headers, media_type="application/json")


def error_response(status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    return json_response(status, {"error": message, **extra}, headers)


@functools.lru_cache(maxsize=64)
def _masked_names(hmac_header: str) -> frozenset[str]:
    """Header names (lower case) whose values are masked in the job log."""
    return frozenset({*ALWAYS_MASKED, hmac_header.lower()})


class IntegrationCache:
    """Integrations by slug, reloaded from the workspace after any `ConfigChanged` event."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._by_slug: dict[str, Integration] | None = None
        self._generation = 0
        self._unsubscribe = workspace.events.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ConfigChanged):
            self._generation += 1
            self._by_slug = None

    def get(self, slug: str) -> Integration | None:
        by_slug = self._by_slug
        if by_slug is None:
            generation = self._generation
            by_slug = {i.slug: i for i in self._workspace.integrations()}
            if generation == self._generation:  # no change arrived while reading
                self._by_slug = by_slug
        return by_slug.get(slug)

    def close(self) -> None:
        self._unsubscribe()


class BodyTooLarge(Exception):
    """The request body is over the limit."""


def peer_of(request: Request) -> str:
    client = request.client
    return f"{client.host}:{client.port}" if client else ""


def request_url(request: Request) -> str:
    """The URL as the client sent it (Starlette's `request.url` costs ~15x as much)."""
    scope = request.scope
    host = request.headers.get("host") or "{}:{}".format(*scope.get("server") or ("127.0.0.1", 0))
    query = scope.get("query_string", b"")
    url = f"{scope.get('scheme', 'http')}://{host}{scope['path']}"
    return f"{url}?{query.decode('latin-1')}" if query else url


def logged_url(request: Request) -> str:
    """`request_url`, with the values of well-known secret query parameters (`api_key`, `token`, …) masked."""
    url = request_url(request)
    return mask_url(url, ()) if request.scope.get("query_string") else url


def query_of(request: Request) -> dict[str, str]:
    """Query parameters (the last value of a repeated one); no parsing when there are none."""
    return dict(request.query_params) if request.scope.get("query_string") else {}


#: Authorization schemes a refusal may name; anything else may be a credential sent without a scheme.
KNOWN_SCHEMES = {s.lower(): s for s in ("Basic", "Digest", "Token", "Negotiate", "NTLM", "HOBA", "Mutual",
                                        "OAuth", "ApiKey", "AWS4-HMAC-SHA256", "DPoP", "GNAP", "SCRAM-SHA-256")}


def _other_authorization(header: str) -> str:
    """The start of a token API's refusal when no token came: what the Authorization header was instead.

    Never echoes the header: a token sent without `Bearer ` would otherwise come back in the
    answer and in the operator's log.
    """
    scheme, sep, _ = header.strip().partition(" ")
    if not scheme or (scheme.lower() == "bearer"):
        return "missing token: "
    if not sep:
        return "an Authorization header without a scheme is not taken (the token alone?); "
    known = KNOWN_SCHEMES.get(scheme.lower())
    if known is None:
        return "an Authorization of an unknown scheme is not taken; "
    return f"an Authorization of scheme {known!r} is not taken; "


def bearer_or_api_key(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key", "").strip()


class HttpReceiver:
    """The request handlers of the External APIs of every integration."""

    def __init__(self, workspace: Workspace, executor: Executor, limits: Limits) -> None:
        self.workspace = workspace
        self.executor = executor
        self.limits = limits
        self.integrations = IntegrationCache(workspace)

    def close(self) -> None:
        self.integrations.close()

    # --- routes ------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        stats = self.executor.stats()
        return json_response(
            200,
            {
                "status": "ok",
                "jobs_queued": stats.get("queued", 0),
                "jobs_running": stats.get("running", 0),
                "jobs_retrying": stats.get("retrying", 0),
            },
        )

    async def api(self, request: Request) -> Response:
        slug: str = request.path_params["integration"]
        path: str = request.path_params["path"]
        method = "GET" if request.method in ("GET", "HEAD") else request.method
        integration = self.integrations.get(slug)
        if integration is None:
            return error_response(404, f"no integration {slug!r} here; check the URL in APIs & Emails")
        api = integration.api(path, method)
        if api is None:
            allowed = [other for other in ("GET", "POST") if integration.api(path, other) is not None]
            if allowed:
                allow = ", ".join(m for other in allowed for m in (("GET", "HEAD") if other == "GET" else (other,)))
                return self.refuse(
                    request, slug, 405, f"/api/{slug}/{path} takes {' or '.join(allowed)} only", {"Allow": allow}
                )
            error = f"integration {slug!r} has no External API {method} {path!r}"
            if path.endswith("/") and integration.api(path.rstrip("/"), method) is not None:
                error += f"; did you mean /api/{slug}/{path.rstrip('/')} (without the trailing slash)?"
            return self.refuse(request, slug, 404, error)
        if not api.active:
            return self.refuse(
                request, slug, 403, f"the External API {method} /api/{slug}/{path} is inactive; activate it in APIs & Emails"
            )
        if method == "POST":
            return await self.receive(request, integration, api)
        return await self.serve(request, integration, api)

    # --- POST: inbound -----------------------------------------------------------------

    async def receive(self, request: Request, integration: Integration, api: ExternalApi) -> Response:
        payload = integration.inbound_payload(api.payload)
        if payload is None:
            return error_response(
                500,
                f"the External API points to inbound payload {api.payload!r}, which does not exist; "
                "fix it in APIs & Emails",
            )
        if api.auth == "token" and (rejected := self.check_token(request, integration, api)) is not None:
            return rejected
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                return error_response(400, "Content-Length is not a number")
            if int(declared) > self.limits.max_body_bytes:
                return self.too_large(request, integration)
        try:
            body = await self.read_body(request)
        except BodyTooLarge:
            return self.too_large(request, integration)
        except ClientDisconnect:
            return Response(status_code=400)
        if api.auth in ("stripe", "hmac"):
            if (rejected := await self.check_signature(request, integration, api, body)) is not None:
                return rejected
        mime = request.headers.get("content-type", "").strip()
        kind = content_kind(mime) if mime else payload.content_type
        if kind != payload.content_type:
            label = CONTENT_TYPE_LABELS.get(payload.content_type, payload.content_type)
            shown = mime.split(";", 1)[0][:80] or "(none)"
            return self.refuse(
                request,
                integration.slug,
                415,
                f"Content-Type {shown} does not fit payload {payload.name!r}, which takes {label}: "
                f"send {ACCEPTED_MEDIA[payload.content_type]}",
                accepts=ACCEPTED_MEDIA[payload.content_type],
            )
        content_type = mime or DEFAULT_MEDIA[payload.content_type]
        started = time.perf_counter()
        if len(body) <= PARSE_ON_LOOP_BYTES:
            parsed, parse_error = self.check_body(payload, body, content_type)
        else:
            parsed, parse_error = await asyncio.to_thread(self.check_body, payload, body, content_type)
        parse_seconds = time.perf_counter() - started
        job = await self.record_job(request, integration, api, body, content_type, parse_error)
        if job is None:
            return error_response(503, "the job could not be recorded (see the service log); try again later")
        if parse_error is not None:
            return error_response(400, parse_error, job=job.number)
        if parsed is not None:  # processing need not parse it again
            self.executor.keep_parsed(job.number, payload, parsed, parse_seconds)
        self.executor.submit(job)
        return json_response(202, {"job": job.number})

    async def read_body(self, request: Request) -> bytes:
        """The body, counted while it arrives (a chunked body declares no length)."""
        limit = self.limits.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:  # ASGI messages directly: Request.stream() costs ~3x as much per request
            message = await request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            if chunk:
                chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)  # one chunk: no copy

    def too_large(self, request: Request, integration: Integration) -> Response:
        return self.refuse(
            request,
            integration.slug,
            413,
            f"the body is larger than the {self.limits.max_body_bytes} bytes allowed; "
            "raise limits.max_body_bytes (PAYLOADS_MAX_BODY_BYTES) to accept it",
            {"Connection": "close"},
        )

    def refuse(
        self, request: Request, slug: str, status: int, error: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> Response:
        """The JSON error answer to a request for integration `slug`, shown to the operator too: a
        sender whose webhooks all bounce is seen, not just lost. The operator's line gives the
        status and the reason."""
        where = f"{request.method} {request.url.path}"
        reason = f"{status}, {error}"
        self.workspace.events.publish(AuthRejected(slug, where, reason, peer_of(request)))
        return error_response(status, error, headers=headers, **extra)

    @staticmethod
    def check_body(payload: InboundPayload, body: bytes, content_type: str) -> tuple[ParsedBody | None, str | None]:
        """A small body parsed as processing parses it, or its parse error; (None, None) for a large one."""
        if len(body) > VALIDATE_IN_REQUEST_BYTES:
            return None, None
        try:
            return parse_for_payload(payload, body, content_type), None
        except ParseError as exc:
            return None, str(exc)

    async def record_job(
        self,
        request: Request,
        integration: Integration,
        api: ExternalApi,
        body: bytes,
        content_type: str,
        parse_error: str | None,
    ) -> Job | None:
        jobs = self.workspace.jobs
        exchange = HttpExchange(
            method=request.method,
            url=logged_url(request),
            headers=self.logged_headers(request, api),
            content_type=content_type,
        )
        try:
            if len(body) > self.limits.blob_threshold or not body.isascii():  # may write and fsync a blob
                await asyncio.to_thread(jobs.externalize, exchange, body, content_type)
            else:
                jobs.externalize(exchange, body, content_type)
            job = jobs.create(
                "inbound",
                integration.slug,
                api.payload,
                "External API",
                request=exchange,
                context={"api": api.path, "query": mask_query(query_of(request))},
            )
            if parse_error is not None:
                job.status = "Failed"
                job.error = parse_error
                job.modified = now()
            await jobs.save_durable(job)
        except PayloadsError:
            log.exception("could not record an inbound job for %s %s", integration.slug, api.path)
            return None
        self.workspace.events.publish(JobChanged(job, created=True))
        return job

    @staticmethod
    def logged_headers(request: Request, api: ExternalApi) -> dict[str, str]:
        """Request headers for the job log: credentials and signatures masked."""
        masked = _masked_names(api.hmac_header)
        logged: dict[str, str] = {}
        for name, value in request.headers.items():
            if name in masked:
                logged[name] = MASK
            elif name in logged:  # a repeated header: every value, as HTTP combines them
                logged[name] = f"{logged[name]}, {value}"
            else:
                logged[name] = value
        return logged

    # --- GET: API-initiated outbound ---------------------------------------------------

    async def serve(self, request: Request, integration: Integration, api: ExternalApi) -> Response:
        if api.auth == "token" and (rejected := self.check_token(request, integration, api)) is not None:
            return rejected
        if api.auth in ("stripe", "hmac"):
            if (rejected := await self.check_signature(request, integration, api, b"")) is not None:
                return rejected
        if request.method == "HEAD":
            return self.head_answer(integration, api)
        try:
            body, content_type, job = await self.executor.serve_api(
                integration.slug, api.payload, query=query_of(request),
                url=logged_url(request), headers=self.logged_headers(request, api),
            )
        except NotFoundError as exc:
            return error_response(404, str(exc))
        except ValidationError as exc:
            return error_response(400, str(exc))
        except PayloadsError as exc:
            return error_response(500, str(exc))
        return Response(body, media_type=content_type, headers={"X-Payloads-Job": job.number})

    @staticmethod
    def head_answer(integration: Integration, api: ExternalApi) -> Response:
        """A HEAD's answer: the Content-Type a GET would get, without querying records or logging a job
        (monitors probe with HEAD). No Content-Length: only building the body would tell it."""
        payload = integration.outbound_payload(api.payload)
        if payload is None:
            return error_response(404, f"the External API points to outbound payload {api.payload!r}, "
                                       "which does not exist; fix it in APIs & Emails")
        response = Response(status_code=200, media_type=OUTBOUND_MEDIA_TYPES.get(payload.content_type))
        response.raw_headers = [(k, v) for k, v in response.raw_headers if k != b"content-length"]
        return response

    # --- authentication ----------------------------------------------------------------

    def reject(self, request: Request, integration: Integration, api: ExternalApi, reason: str) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if api.auth == "token" else None
        return self.refuse(request, integration.slug, 401, reason, headers)

    def check_token(self, request: Request, integration: Integration, api: ExternalApi) -> Response | None:
        token = bearer_or_api_key(request)
        if not api.token_hash:
            return self.reject(request, integration, api, "this API has no token yet; generate one in APIs & Emails")
        if not token:
            sent = _other_authorization(request.headers.get("authorization", ""))
            return self.reject(
                request, integration, api, f"{sent}send 'Authorization: Bearer <token>' or 'X-Api-Key: <token>'"
            )
        if not verify_token(token, api.token_hash):
            return self.reject(request, integration, api, "the token is not valid for this API")
        return None

    async def check_signature(
        self, request: Request, integration: Integration, api: ExternalApi, body: bytes
    ) -> Response | None:
        if not api.secret:
            reason = "this API has no signing secret yet; set one in APIs & Emails"
            return self.reject(request, integration, api, reason)
        try:
            secret = self.workspace.vault.decrypt(api.secret)
        except VaultError as exc:
            log.error("External API %s/%s: %s", integration.slug, api.path, exc)
            return error_response(500, "the signing secret of this API cannot be decrypted; see the service log")
        header = request.headers.get("stripe-signature" if api.auth == "stripe" else api.hmac_header)
        try:
            if len(body) <= PARSE_ON_LOOP_BYTES:
                verify_signature(api.auth, secret, body, header)
            else:  # hashing megabytes would hold up the loop
                await asyncio.to_thread(verify_signature, api.auth, secret, body, header)
        except SignatureError as exc:
            reason = str(exc)
            if header is None and api.auth == "hmac":  # say which header this API reads
                reason = f"missing {api.hmac_header} header (the hex HMAC-SHA256 of the body, keyed with the API's secret)"
            return self.reject(request, integration, api, reason)
        return None


def verify_signature(auth: str, secret: str, body: bytes, header: str | None) -> None:
    """Check a Stripe-style or generic HMAC signature header; `SignatureError` says why it fails."""
    if auth == "stripe":
        verify_stripe_signature(secret, body, header, now=time.time())
    else:
        verify_hmac_signature(secret, body, header)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(404, f"nothing at {request.url.path}; External APIs live under /api/<integration>/<path>")
    if exc.status_code == 405:
        return error_response(405, f"{request.method} is not allowed here", headers=exc.headers)
    return error_response(exc.status_code, exc.detail, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("HTTP receiver failed on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "the receiver failed on this request; see the service log")


#: The methods of the API route (Starlette needs a list): `HttpReceiver.api` answers 405 for any it does not take.
_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
#: What Starlette compiles `/api/{integration}/{path:path}` to.
_API_ROUTE = re.compile(r"/api/(?P<integration>[^/]+)/(?P<path>.*)")


class ReceiverApp:
    """The receiver's ASGI app: External API requests go straight to `HttpReceiver.api`, the rest
    (health, 404s, 405s) through a Starlette app.

    Starlette's middleware, router and endpoint wrapper cost about as much GIL time per request
    as our whole handler (py-spy under `bench/http_ingest.py`); the one route that carries load
    skips them. Answers are the same either way: an exception becomes the JSON 500 of
    `_server_error`.
    """

    def __init__(self, receiver: HttpReceiver, fallback: Starlette) -> None:
        self.receiver = receiver
        self.fallback = fallback
        self.state = fallback.state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            match = _API_ROUTE.fullmatch(scope["path"])
            if match is not None:
                scope["path_params"] = match.groupdict()
                request = Request(scope, receive, send)
                try:
                    response = await self.receiver.api(request)
                except Exception as exc:  # noqa: BLE001 - as Starlette's ServerErrorMiddleware
                    response = await _server_error(request, exc)
                await response(scope, receive, send)
                return
        await self.fallback(scope, receive, send)


def make_http_app(workspace: Workspace, executor: Executor, limits: Limits) -> ReceiverApp:
    """The receiver's ASGI app; `app.state.receiver.close()` drops its event subscription."""
    receiver = HttpReceiver(workspace, executor, limits)
    fallback = Starlette(
        routes=[
            Route("/api/{integration}/{path:path}", receiver.api, methods=_ANY_METHOD),  # `api` says which it takes
            Route("/healthz", receiver.healthz, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    fallback.router.redirect_slashes = False  # `/api/stripe` is a 404 that says where APIs live, not a 307
    fallback.state.receiver = receiver
    return ReceiverApp(receiver, fallback)


# --- serving inside the running loop ---------------------------------------------------


class _HeadTooLarge(Exception):
    """Raised in a parser callback to stop a request whose headers are over `MAX_HEAD_BYTES`."""


class JsonErrorsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering a request it cannot parse in JSON like every other
    error, and refusing a request line and headers over `MAX_HEAD_BYTES` (431).

    uvicorn answers a malformed request (a bad Content-Length, a broken chunk, a control
    character in a header) with a plain-text 400 that does not say what was wrong. And with
    httptools it takes headers of any size: a client could fill memory with one request, and
    the job log with every webhook (headers are logged with the job; bodies have their limit).

    Its refusals go to `on_refused(where, reason, peer)`, which the service announces as
    `AuthRejected` like every other refusal (so `serve` collapses a scanner's burst into one
    counting line); without one they are logged.
    """

    on_refused: Callable[[str, str, str], None] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._in_head = True  # between a message's first byte and the end of its headers
        self._head_bytes = 0
        self._tls = False

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if self._head_bytes == 0:
                self._tls = data[:2] == b"\x16\x03"  # a TLS ClientHello: https:// to this http:// port
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse_large_head()  # still arriving: refused before it fills memory

    def on_headers_complete(self) -> None:
        self._in_head = False
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEAD_BYTES:  # arrived in one read: refused here, before the request runs
            raise _HeadTooLarge  # the parser stops; uvicorn then calls `send_400_response`
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def send_400_response(self, msg: str) -> None:
        # Called from uvicorn's `except httptools.HttpParserError:`, so the parser's reason is at hand.
        error = sys.exc_info()[1]
        if isinstance(error, httptools.HttpParserError) and isinstance(error.__context__, _HeadTooLarge):
            self._refuse_large_head()
            return
        if self._tls:
            self._refuse(b"400 Bad Request", "this looks like TLS (https://) sent to a plain-HTTP port: the receiver "
                                             "speaks http://, behind a TLS proxy if it must be reached over HTTPS")
            return
        reason = str(error).rstrip(".") if isinstance(error, httptools.HttpParserError) and str(error) else msg
        self._refuse(b"400 Bad Request", f"malformed HTTP request: {reason}; check the request line, headers "
                                         "and body framing (Content-Length, Transfer-Encoding)")

    def _refuse_large_head(self) -> None:
        self._refuse(
            b"431 Request Header Fields Too Large",
            f"the request line and headers are larger than the {MAX_HEAD_BYTES} bytes allowed; "
            "send fewer or shorter headers",
        )

    def _refuse(self, status: bytes, error: str) -> None:
        """Answer `status` with a JSON error and close the connection (the request is not run).

        Logged with the sender and the reason, in place of uvicorn's "Invalid HTTP request
        received." (`_WithoutUvicornsNotice`), which says neither.
        """
        peer = "%s:%d" % self.client if self.client else ""
        reason = f"{status.decode('ascii')[:3]}, {error}"
        if self.on_refused is not None:
            self.on_refused("a request that is not valid HTTP" if status.startswith(b"400") else "HTTP request",
                            reason, peer)
        else:
            log.warning("refused a request from %s: %s", peer or "an unknown address", reason)
        body = _json.encode({"error": error})
        head = [b"HTTP/1.1 ", status, b"\r\n"]
        for name, value in self.server_state.default_headers:
            head.extend([name, b": ", value, b"\r\n"])
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()


class _WithoutUvicornsNotice(logging.Filter):
    """Drops uvicorn's "Invalid HTTP request received." (`JsonErrorsProtocol` logs a better line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "Invalid HTTP request received."


_WITHOUT_UVICORNS_NOTICE = _WithoutUvicornsNotice()


class EmbeddedServer(uvicorn.Server):
    """uvicorn's server, without signal handlers: the embedding app owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    """Serves an ASGI app on a socket bound by the caller, as a task of the running loop."""

    def __init__(self, app: Any, sock: socket.socket, *, graceful_seconds: int = 5,
                 on_refused: Callable[[str, str, str], None] | None = None) -> None:
        logging.getLogger("uvicorn.error").addFilter(_WITHOUT_UVICORNS_NOTICE)  # kept once, however many servers start
        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            http=type("JsonErrorsProtocol", (JsonErrorsProtocol,), {"on_refused": staticmethod(on_refused)}),
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=graceful_seconds,
        )
        self.app = app
        self.sock = sock
        self.server = EmbeddedServer(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 10.0) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]), name="payloads-http")
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if self.task.done():
                self.task.result()  # raises what stopped it
                raise RuntimeError("the HTTP server stopped while starting")
            if time.monotonic() > deadline:
                raise TimeoutError("the HTTP server did not start in time")
            await asyncio.sleep(0.01)

    async def stop(self, timeout: float = 10.0) -> None:
        if self.task is None:
            return
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - stopping must finish
            self.server.force_exit = True
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task
        self.task = None
