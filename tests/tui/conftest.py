"""Fixtures of the console tests: a seeded demo workspace on a tmp path, fixed clock and zone, seeded jobs.

Everything runs against the real stores; tests that need the service start it in the
app's own loop on ephemeral loopback ports.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.message import Message
from textual.notifications import Notification, Notify

from payloads_tui.domain.models import HttpExchange, Job, JobLinks, RecordResult
from payloads_tui.service.workspace import Workspace
from payloads_tui.settings import load_settings
from payloads_tui.tui.app import PayloadsApp, make_app

#: "Now" for every console test: 2025-11-24 16:00:00 UTC.
FIXED_NOW = 1_764_000_000.0
CUSTOMER_WEBHOOK = "Customer: Created / Updated (Webhook)"
CUSTOMER_CREATE = "Customer: Create"


@pytest.fixture(autouse=True)
def utc_zone() -> Iterator[None]:
    """Times on screen are local; tests read them in UTC."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The data directory, shown on screen as `~/payloads-demo` whatever tmp path it is in."""
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path / "payloads-demo"


@pytest.fixture
def workspace(home: Path) -> Iterator[Workspace]:
    settings = load_settings(config_file=home.parent / "no-settings.toml", environ={}, home=home)
    ws = Workspace(settings)
    ws.seed_demo()
    yield ws
    ws.close()


def save_job(ws: Workspace, kind: str, payload: str, *, minutes_ago: float, **fields: object) -> Job:
    """A job stored with fixed times, `minutes_ago` before `FIXED_NOW`."""
    at = FIXED_NOW - minutes_ago * 60
    job = ws.jobs.create(kind, "stripe", payload, fields.pop("source", "External API"),  # type: ignore[arg-type]
                         created=at - 0.25, modified=at, **fields)
    ws.jobs.save(job)
    return job


def webhook_request(body: bytes) -> HttpExchange:
    return HttpExchange(method="POST", url="http://127.0.0.1:8787/api/stripe/customers",
                        headers={"content-type": "application/json", "stripe-signature": "••••"},
                        content_type="application/json", body=body.decode(), body_size=len(body))


@pytest.fixture
def jobs(workspace: Workspace) -> dict[str, Job]:
    """Five jobs: three webhook jobs (one failed), two outbound (one failed), with fixed times."""
    body = b'{"data": {"object": {"id": "cus_demo_acme", "name": "Acme Corp", "email": "billing@acme.example"}}}'
    made = {
        "in_ok": save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=50, status="Completed",
                          records_processed=1, request=webhook_request(body),
                          results=[RecordResult(target="Account", item=0, operation="update",
                                                record_id="acc_acme")]),
        "in_ok2": save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=40, status="Completed",
                           records_processed=1, request=webhook_request(body),
                           results=[RecordResult(target="Account", item=0, operation="update",
                                                 record_id="acc_acme")]),
        "in_failed": save_job(workspace, "inbound", CUSTOMER_WEBHOOK, minutes_ago=30, status="Failed",
                              records_failed=1, request=webhook_request(b'{"data": {"object": {"id": 5}}}'),
                              error="item 1 of target Account: name: is required but has no value",
                              results=[RecordResult(target="Account", item=0, error="name: is required")]),
        "out_ok": save_job(workspace, "outbound", CUSTOMER_CREATE, minutes_ago=20, status="Completed",
                           source="Console", records_processed=1,
                           request=HttpExchange(method="POST", url="http://127.0.0.1:12111/v1/customers",
                                                headers={"authorization": "••••"},
                                                content_type="application/x-www-form-urlencoded",
                                                body="name=Initech", body_size=12),
                           response=HttpExchange(code=200, message="OK", content_type="application/json",
                                                 body='{"id": "cus_new"}', body_size=17)),
        "out_failed": save_job(workspace, "outbound", CUSTOMER_CREATE, minutes_ago=10, status="Failed",
                               source="Console", records_failed=1,
                               request=HttpExchange(method="POST", url="http://127.0.0.1:12111/v1/customers",
                                                    content_type="application/x-www-form-urlencoded",
                                                    body="name=Globex", body_size=11),
                               response=HttpExchange(code=402, message="Payment Required",
                                                     content_type="application/json",
                                                     body='{"error": {"message": "card declined"}}', body_size=39),
                               error="402 Payment Required: card declined"),
    }
    linked = ws_link(workspace, made["out_ok"], child=made["in_ok2"])
    made["out_ok"] = linked
    return made


def ws_link(workspace: Workspace, parent: Job, *, child: Job) -> Job:
    """Record that `parent` started `child` (as a response handler does)."""
    import msgspec

    parent = msgspec.structs.replace(parent, links=JobLinks(children=[child.number]))
    workspace.jobs.save(parent)
    workspace.jobs.save(msgspec.structs.replace(child, links=JobLinks(parent=parent.number), source="Response Handler"))
    return parent


@pytest.fixture
def app(workspace: Workspace) -> PayloadsApp:
    return make_app(workspace, clock=lambda: FIXED_NOW)


async def wait_for(pilot: object, condition: Callable[[], object], *, timeout: float = 5.0, what: str = "") -> None:
    """Let the app run until `condition()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


async def type_text(pilot: object, text: str) -> None:
    """Type `text` key by key (the way a person would)."""
    await pilot.press(*[KEY_NAMES.get(ch, ch) for ch in text])  # type: ignore[attr-defined]


KEY_NAMES = {" ": "space", "/": "slash", ".": "full_stop", ",": "comma", ":": "colon", "@": "at",
             "(": "left_parenthesis", ")": "right_parenthesis", "-": "minus", "_": "underscore",
             "{": "left_curly_bracket", "}": "right_curly_bracket", '"': "quotation_mark", "=": "equals_sign",
             "'": "apostrophe", "[": "left_square_bracket", "]": "right_square_bracket", "\n": "enter"}




def text_of(widget: object) -> str:
    """The plain text a `Static` shows (its content rendered by rich, 200 columns wide)."""
    from io import StringIO

    from rich.console import Console

    content = widget.content  # type: ignore[attr-defined]
    if isinstance(content, str):
        return content
    console = Console(file=StringIO(), width=200, color_system=None, legacy_windows=False)
    console.print(content)
    return console.file.getvalue()  # type: ignore[attr-defined]


class Notices:
    """Every notification the app raises (a `message_hook` for `run_test`)."""

    def __init__(self) -> None:
        self.seen: list[Notification] = []

    def __call__(self, message: Message) -> None:
        if isinstance(message, Notify):
            self.seen.append(message.notification)
