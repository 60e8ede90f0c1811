"""The Stripe-like demo sandbox: a tiny customers API served on loopback for the demo and tests.

Endpoints (answers shaped like Stripe's):
- `GET /v1/customers?limit=&starting_after=` - a list, newest first:
  `{"object": "list", "data": [...], "has_more": bool, "url": "/v1/customers"}`;
- `POST /v1/customers` - form-encoded with bracket notation (`metadata[local_id]=...`),
  creates `cus_...` and answers the customer;
- `GET /v1/customers/{id}` - one customer, or a Stripe-style 404 error.

Every `/v1` call needs the demo secret key (`Authorization: Bearer sk_test_demo_...`, or
the key as the Basic user name, as Stripe accepts); otherwise a Stripe-style 401.

Failure injection, for retries: `POST /_sandbox/fail` with
`{"status": 429 | 500 | ..., "count": N, "retry_after": seconds}` makes the next N `/v1`
answers fail that way (429 carries `Retry-After`). `Sandbox.requests` counts `/v1` calls.

`Sandbox.start()` runs uvicorn as a task of the current loop (signal capture disabled,
stopped by `should_exit`), so it lives inside the console or a test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from payloads_tui.domain.errors import ParseError, ServiceError
from payloads_tui.domain.formats import charset_of
from payloads_tui.domain.formats.form import parse_form_body
from payloads_tui.store.demo import DEMO_STRIPE_KEY

CUSTOMER_FIELDS = ("name", "email", "phone", "description")
START_TIMEOUT = 5.0

SEED_CUSTOMERS: tuple[dict[str, Any], ...] = (
    {"id": "cus_demo_acme", "name": "Acme Corp", "email": "billing@acme.example", "phone": "+1 555 0100",
     "description": "Demo customer", "created": 1_700_000_000, "balance": 0, "currency": "usd"},
    {"id": "cus_demo_globex", "name": "Globex", "email": "ap@globex.example", "phone": None,
     "description": None, "created": 1_700_000_100, "balance": 12050, "currency": "usd", "delinquent": True},
    {"id": "cus_demo_umbrella", "name": "Umbrella", "email": "accounts@umbrella.example", "phone": None,
     "description": "Seeded by the sandbox", "created": 1_700_000_200, "balance": 0, "currency": None},
)


def customer_object(values: dict[str, Any]) -> dict[str, Any]:
    """A full customer object from partial values."""
    return {
        "id": values["id"],
        "object": "customer",
        "name": values.get("name"),
        "email": values.get("email"),
        "phone": values.get("phone"),
        "description": values.get("description"),
        "metadata": dict(values.get("metadata") or {}),
        "created": values.get("created", int(time.time())),
        "balance": values.get("balance", 0),
        "currency": values.get("currency"),
        "delinquent": values.get("delinquent", False),
        "livemode": False,
    }


def stripe_error(status: int, message: str, *, kind: str = "invalid_request_error", **extra: Any) -> JSONResponse:
    headers = {"Retry-After": str(extra.pop("retry_after"))} if "retry_after" in extra else None
    return JSONResponse({"error": {"type": kind, "message": message, **extra}}, status_code=status, headers=headers)


@dataclass
class _Failures:
    status: int = 0
    count: int = 0
    retry_after: float | None = None


@dataclass
class SandboxState:
    """The customers (newest first) and the failures still to inject."""

    key: str
    customers: list[dict[str, Any]] = field(default_factory=list)
    failures: _Failures = field(default_factory=_Failures)
    requests: int = 0

    def find(self, customer_id: str) -> dict[str, Any] | None:
        return next((c for c in self.customers if c["id"] == customer_id), None)


def _authorized(request: Request, key: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return secrets.compare_digest(value.strip().encode(), key.encode())
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user.encode(), key.encode())
    return False


def build_app(state: SandboxState) -> Starlette:
    """The sandbox's Starlette app over `state`."""

    def gate(request: Request) -> Response | None:
        state.requests += 1
        failures = state.failures
        if failures.count > 0:
            failures.count -= 1
            extra: dict[str, Any] = {}
            if failures.retry_after is not None:
                extra["retry_after"] = f"{failures.retry_after:g}"
            kind = "rate_limit_error" if failures.status == 429 else "api_error"
            return stripe_error(failures.status, "Injected failure (sandbox)", kind=kind, **extra)
        if not _authorized(request, state.key):
            return stripe_error(401, "Invalid API Key provided; use the demo secret key sk_test_demo_…")
        return None

    async def list_customers(request: Request) -> Response:
        if (refused := gate(request)) is not None:
            return refused
        raw_limit = request.query_params.get("limit", "10")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            return stripe_error(400, "limit must be between 1 and 100", param="limit")
        limit = int(raw_limit)
        customers = state.customers
        start = 0
        if after := request.query_params.get("starting_after"):
            index = next((i for i, c in enumerate(customers) if c["id"] == after), None)
            if index is None:
                return stripe_error(400, f"No such customer: '{after}'", param="starting_after",
                                    code="resource_missing")
            start = index + 1
        page = customers[start : start + limit]
        return JSONResponse({
            "object": "list", "data": page, "has_more": start + limit < len(customers), "url": "/v1/customers",
        })

    async def create_customer(request: Request) -> Response:
        if (refused := gate(request)) is not None:
            return refused
        body = await request.body()
        try:
            form = parse_form_body(body, charset_of(request.headers.get("content-type", "")))
        except ParseError as exc:
            return stripe_error(400, f"Invalid form body: {exc}")
        metadata = form.get("metadata") or {}
        if not isinstance(metadata, dict):
            return stripe_error(400, "metadata must be a hash", param="metadata")
        values: dict[str, Any] = {"id": "cus_" + secrets.token_hex(7), "metadata": metadata}
        for name in CUSTOMER_FIELDS:
            value = form.get(name)
            if value is not None and not isinstance(value, str):
                return stripe_error(400, f"Invalid string: {name}", param=name)
            values[name] = value or None
        customer = customer_object(values)
        state.customers.insert(0, customer)
        return JSONResponse(customer)

    async def get_customer(request: Request) -> Response:
        if (refused := gate(request)) is not None:
            return refused
        customer_id = request.path_params["customer_id"]
        customer = state.find(customer_id)
        if customer is None:
            return stripe_error(404, f"No such customer: '{customer_id}'", param="id", code="resource_missing")
        return JSONResponse(customer)

    async def inject_failures(request: Request) -> Response:
        try:
            asked = json.loads(await request.body() or b"{}")
            status = int(asked.get("status", 500))
            count = int(asked.get("count", 1))
            retry_after = asked.get("retry_after")
            retry_after = None if retry_after is None else float(retry_after)
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"error": "expected JSON {status, count, retry_after}"}, status_code=400)
        if not 400 <= status <= 599 or count < 0:
            return JSONResponse({"error": "status must be 4xx/5xx and count 0 or more"}, status_code=400)
        state.failures = _Failures(status, count, retry_after)
        return JSONResponse({"status": status, "count": count, "retry_after": retry_after})

    return Starlette(routes=[
        Route("/v1/customers", list_customers, methods=["GET"]),
        Route("/v1/customers", create_customer, methods=["POST"]),
        Route("/v1/customers/{customer_id}", get_customer, methods=["GET"]),
        Route("/_sandbox/fail", inject_failures, methods=["POST"]),
    ])


@contextlib.contextmanager
def _no_signal_capture() -> Iterator[None]:
    yield


class Sandbox:
    """The sandbox API served by uvicorn inside the running loop."""

    def __init__(self, *, key: str = DEMO_STRIPE_KEY, seed: bool = True) -> None:
        customers = [customer_object(dict(c)) for c in SEED_CUSTOMERS] if seed else []
        customers.sort(key=lambda c: c["created"], reverse=True)
        self.state = SandboxState(key=key, customers=customers)
        self.app = build_app(self.state)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._url = ""

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>` once started."""
        if not self._url:
            raise ServiceError("the sandbox is not running; start it first")
        return self._url

    @property
    def requests(self) -> int:
        """How many `/v1` calls it has answered."""
        return self.state.requests

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Make the next `count` API answers fail with `status` (in-process twin of `POST /_sandbox/fail`)."""
        self.state.failures = _Failures(status, count, retry_after)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on `host:port` (0: any free port) until `stop()`."""
        # Bind here: uvicorn turns a bind failure into sys.exit(), which would end the loop.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise ServiceError(f"the sandbox could not listen on {host}:{port} ({exc.strerror}); "
                               "choose another port") from None
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", access_log=False,
                                lifespan="off", log_config=None)
        server = uvicorn.Server(config)
        server.capture_signals = _no_signal_capture  # type: ignore[method-assign]
        self._server = server
        self._socket = sock
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name="sandbox")
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if self._task.done() or time.monotonic() > deadline:
                await self.stop()
                raise ServiceError(f"the sandbox could not listen on {host}:{port}; is the port in use?")
            await asyncio.sleep(0.005)
        bound = server.servers[0].sockets[0].getsockname()
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self._url = f"http://{shown}:{bound[1]}"

    async def stop(self) -> None:
        """Stop serving; returns when the server is down."""
        server, task = self._server, self._task
        self._server = self._task = None
        self._url = ""
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=START_TIMEOUT)
        except asyncio.TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        except Exception:  # noqa: BLE001 - a failed start already ended the task
            pass
        if self._socket is not None:
            self._socket.close()
            self._socket = None
