"""The receiver's ASGI front (`ReceiverApp`): External API requests skip Starlette yet answer exactly as
the Starlette routes do; the GC tuning a running service applies is undone when it stops."""

from __future__ import annotations

import gc

import httpx

from payloads_tui.service.gctune import YOUNG_THRESHOLD, GcTuning
from payloads_tui.service.http import ReceiverApp
from payloads_tui.service.service import Service
from payloads_tui.service.workspace import Workspace
from payloads_tui.store.demo import DEMO_API_TOKEN

#: Requests that create no job, each sent to the fast path and to the Starlette routes alone.
SAME_ANSWER_REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("POST", "/api/nope/customers", {}),  # unknown integration
    ("POST", "/api/stripe/nothing-here", {}),  # unknown External API
    ("GET", "/api/stripe/customers", {}),  # a POST-only API, with Allow
    ("POST", "/api/stripe/accounts", {}),  # a GET-only API, with Allow
    ("GET", "/api/stripe/accounts", {}),  # token missing: 401 with WWW-Authenticate
    ("HEAD", "/api/stripe/accounts", {"X-Api-Key": "wrong"}),
    ("POST", "/api/stripe/customers", {"Content-Type": "application/json"}),  # no signature: 401
    ("PUT", "/api/stripe/customers", {}),  # not a method of the API: 405 naming the one it takes
    ("DELETE", "/api/nope/customers", {}),  # unknown integration, whatever the method
    ("POST", "/api/stripe", {}),  # no path after the integration: a 404 (not a redirect to a 404)
    ("GET", "/healthz", {}),
]


async def test_fast_path_answers_as_the_starlette_routes(service: Service, workspace: Workspace) -> None:
    assert service.http_url is not None and service._http is not None
    app = service._http.app
    assert isinstance(app, ReceiverApp)
    async with (
        httpx.AsyncClient(base_url=service.http_url, timeout=10) as wire,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app.fallback), base_url="http://x", timeout=10) as routes,
    ):
        for method, path, headers in SAME_ANSWER_REQUESTS:
            fast = await wire.request(method, path, headers=headers, content=b"{}")
            slow = await routes.request(method, path, headers=headers, content=b"{}")
            where = f"{method} {path}"
            assert fast.status_code == slow.status_code, where
            assert fast.content == slow.content or method == "HEAD", where
            for header in ("allow", "www-authenticate", "content-type"):
                assert fast.headers.get(header) == slow.headers.get(header), (where, header)
        # a request that succeeds goes through the fast path too
        answer = await wire.get("/api/stripe/accounts", headers={"X-Api-Key": DEMO_API_TOKEN})
        assert answer.status_code == 200 and answer.headers["x-payloads-job"].startswith("OUT-")


async def test_gc_tuned_while_a_service_runs_and_restored_after(workspace: Workspace) -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    first = Service(workspace, http=("127.0.0.1", 0), smtp=False)
    await first.start()
    try:
        assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)
        assert gc.get_freeze_count() > frozen_before
        other = GcTuning()  # a second service in the same process
        other.apply()
        other.apply()  # idempotent
        other.restore()
        assert gc.get_threshold()[0] == max(before[0], YOUNG_THRESHOLD)  # the first still runs
    finally:
        await first.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before
    await first.stop()  # twice: nothing more to undo
    assert gc.get_threshold() == before
