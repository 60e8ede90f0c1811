"""Fixtures for outbound tests: a real data directory, an executor, and tiny scriptable HTTP servers.

`ScriptedServer` is a small HTTP/1.1 server on 127.0.0.1 (asyncio streams, keep-alive)
whose answers come from a handler: it can answer slowly, with any status and
headers, or drop the connection without answering (the handler returns None). It
records every request and the highest number of requests it had in flight at once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
import pytest

from payloads_tui.engine.events import EventBus, JobChanged
from payloads_tui.engine.backoff import Backoff
from payloads_tui.engine.executor import Executor
from payloads_tui.engine.inbound import InboundProcessor
from payloads_tui.settings import Limits
from payloads_tui.store.config import ConfigStore
from payloads_tui.store.history import HistoryLog
from payloads_tui.store.jobs import JobLog
from payloads_tui.store.records import RecordStore
from payloads_tui.store.vault import Vault

TEST_KEY = "1wT6bU3DqnLkXj2-Jv6mN4TqG8s3v0mXrKk9c2iY7aE="


@dataclass
class Seen:
    """One request a scripted server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)  # dict/list → JSON; bytes/str as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}

Handler = Callable[[Seen], Awaitable[Reply | None] | Reply | None]


class ScriptedServer:
    """See the module docstring."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            for _ in range(10_000):
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode().partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                parts = urlsplit(target)
                seen = Seen(method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)), headers, body)
                self.seen.append(seen)
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    reply = self.handler(seen)
                    if asyncio.iscoroutine(reply):
                        reply = await reply
                    if reply is not None and reply.delay:
                        await asyncio.sleep(reply.delay)
                finally:
                    self.in_flight -= 1
                if reply is None:
                    return  # drop the connection without an answer
                data = reply.body
                content_type = "application/json"
                if isinstance(data, (dict, list)):
                    data = json.dumps(data).encode()
                elif isinstance(data, str):
                    data, content_type = data.encode(), "text/plain"
                head = [f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}", f"Content-Type: {content_type}"]
                if reply.headers.get("Transfer-Encoding") == "chunked":  # in pieces of 1,000 bytes, no length
                    data = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 1000]), data[i:i + 1000])
                                    for i in range(0, len(data), 1000)) + b"0\r\n\r\n"
                else:
                    head.append(f"Content-Length: {len(data)}")
                head += [f"{k}: {v}" for k, v in reply.headers.items()]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[ScriptedServer]]]:
    """`server = await serve(handler)`: a started scripted server, stopped after the test."""
    servers: list[ScriptedServer] = []

    async def start(handler: Handler) -> ScriptedServer:
        server = ScriptedServer(handler)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@dataclass
class Store:
    """An opened data directory (what a Workspace holds), with an executor factory."""

    home: Path
    vault: Vault
    config: ConfigStore
    records: RecordStore
    jobs: JobLog
    events: EventBus
    inbound: InboundProcessor
    changes: list[JobChanged]
    executors: list[Executor] = field(default_factory=list)

    def executor(self, **limits: Any) -> Executor:
        executor = Executor(
            jobs=self.jobs, records=self.records, config=self.config, vault=self.vault, events=self.events,
            inbound=self.inbound, limits=Limits(**limits), backoff=Backoff(base=0.01, cap=2.0),
        )
        self.executors.append(executor)
        return executor

    async def started(self, **limits: Any) -> Executor:
        executor = self.executor(**limits)
        await executor.start()
        return executor


def open_store(home: Path) -> Store:
    vault = Vault(home, env_key=TEST_KEY)
    config = ConfigStore(home, HistoryLog(home, durable=False), user="test", durable=False)
    records = RecordStore(home, durable=False)
    jobs = JobLog(home, durable=False)
    events = EventBus()
    changes: list[JobChanged] = []

    def record(event: object) -> None:
        if isinstance(event, JobChanged):  # a snapshot: the executor keeps changing the job object
            changes.append(JobChanged(msgspec.structs.replace(event.job), created=event.created, linked=event.linked))

    events.subscribe(record)
    return Store(home, vault, config, records, jobs, events, InboundProcessor(records, config.schema), changes)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(tmp_path / "home")
    yield opened
    for executor in opened.executors:
        await executor.stop()
    opened.jobs.close()
