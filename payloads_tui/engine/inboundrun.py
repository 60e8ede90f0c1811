"""Inbound jobs' bodies through their payloads, off the event loop: parse, map, write; attachments to blobs.

`process_batch()` is called once per batch of queued jobs, in the inbound worker
process (`inboundworker.py`) or, with that off, in a thread (`asyncio.to_thread`).
Each body is parsed by its payload's content type (unless the receiver already
parsed it with the same settings: `BodyRun.parsed`); an email's attachments are
stored as blob files. The parsed documents then go through
`InboundProcessor.run_batch` together: planned in order, written in one
`RecordStore.apply()` (see `inbound.py`).

A `TurnGate` makes batches enter the write section (or the worker) in the order they
were taken from the queue, so jobs are processed in the order they arrived; in
threads, parsing runs outside it, so several batches may parse at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from payloads_tui.domain.errors import MappingError, ParseError, PayloadsError
from payloads_tui.domain.formats import ParsedBody, parse_for_payload
from payloads_tui.domain.formats.emailfmt import summary_of
from payloads_tui.domain.models import InboundPayload, Integration
from payloads_tui.engine.inbound import DocumentRun, InboundOutcome, InboundProcessor, internal_error
from payloads_tui.engine.resultlog import results_for_log
from payloads_tui.store.blobs import BlobStore
from payloads_tui.store.vault import Vault

log = logging.getLogger(__name__)

#: What an email's attachments become in `job.context["attachments"]`.
Attachments = list[dict[str, Any]]


@dataclass
class BodyRun:
    """One inbound job of a batch: its body (in memory, or the blob holding it) through `payload`."""

    integration: Integration
    payload: InboundPayload
    body: bytes | None
    content_type: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    body_blob: str | None = None  # read in the worker thread when `body` is None
    parsed: ParsedBody | None = None  # the body as the receiver parsed it with this payload's settings
    parse_seconds: float = 0.0  # what that parse took


class TurnGate:
    """Tickets taken in queue order (on the loop); holders enter their section in ticket order (in threads).

    A ticket whose holder never runs (its task was cancelled before its thread
    started) is given up with `release()`, so later ones are not held up for ever.
    The gate orders; mutual exclusion is the processor's own lock.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next_ticket = 0
        self._turn = 0
        self._released: set[int] = set()

    def take(self) -> int:
        with self._changed:
            ticket = self._next_ticket
            self._next_ticket += 1
            return ticket

    @contextlib.contextmanager
    def turn(self, ticket: int) -> Iterator[None]:
        """Wait until every earlier ticket is released, then hold `ticket` until the block ends."""
        with self._changed:
            while self._turn < ticket:
                self._changed.wait()
        try:
            yield
        finally:
            self.release(ticket)

    def release(self, ticket: int) -> None:
        """Done with `ticket` (or giving it up); idempotent."""
        with self._changed:
            if ticket < self._turn or ticket in self._released:
                return
            self._released.add(ticket)
            while self._turn in self._released:
                self._released.discard(self._turn)
                self._turn += 1
            self._changed.notify_all()


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


def process_batch(
    processor: InboundProcessor,
    blobs: BlobStore,
    vault: Vault,
    runs: Sequence[BodyRun],
    turn: contextlib.AbstractContextManager[Any] | None = None,
) -> list[tuple[InboundOutcome, Attachments]]:
    """Run each body through its payload, all records in one write; one (outcome, attachments) per run.

    `turn` is entered around the write section (a `TurnGate.turn(ticket)`).
    """
    done: list[tuple[InboundOutcome, Attachments] | None] = []
    parsed: list[tuple[int, DocumentRun, float, Attachments]] = []
    for position, run in enumerate(runs):
        started = time.perf_counter() - run.parse_seconds
        try:
            document, attachments = _parse(blobs, run)
        except _Unparsed as exc:
            done.append((InboundOutcome(status="Failed", error=str(exc), timings=exc.timings), []))
            continue
        except PayloadsError as exc:  # the body's blob is missing, or an attachment could not be stored
            done.append((InboundOutcome(status="Failed", error=str(exc)), []))
            continue
        except Exception as exc:  # noqa: BLE001 - a bug in one job must not fail its neighbours
            log.exception("parsing an inbound body for %r failed unexpectedly", run.payload.name)
            done.append((InboundOutcome(status="Failed", error=internal_error(exc)), []))
            continue
        done.append(None)
        document_run = DocumentRun(
            run.integration, run.payload, document, run.context, credential_reader(vault, run.integration)
        )
        parsed.append((position, document_run, time.perf_counter() - started, attachments))
    with turn if turn is not None else contextlib.nullcontext():
        outcomes = processor.run_batch([document_run for _, document_run, _, _ in parsed]) if parsed else []
    for (position, document_run, parse_seconds, attachments), outcome in zip(parsed, outcomes, strict=True):
        outcome.timings = {"parse": parse_seconds, **outcome.timings}
        outcome.results = results_for_log(outcome.results)
        if document_run.payload.content_type == "email":
            outcome.summary = summary_of(document_run.document)
        done[position] = (outcome, attachments)
    return [result for result in done if result is not None]


class _Unparsed(Exception):
    """A body that does not parse by its payload's content type; the message is the job's error."""

    def __init__(self, message: str, timings: dict[str, float]) -> None:
        super().__init__(message)
        self.timings = timings


def _parse(blobs: BlobStore, run: BodyRun) -> tuple[Any, Attachments]:
    """The document of `run`'s body and, for an email, its attachments stored as blobs."""
    payload = run.payload
    parsed = run.parsed
    if parsed is None:
        started = time.perf_counter()
        body = run.body if run.body is not None else blobs.get(run.body_blob or "")
        try:
            parsed = parse_for_payload(payload, body, run.content_type)
        except ParseError as exc:
            timings = {} if payload.content_type == "email" else {"parse": time.perf_counter() - started}
            raise _Unparsed(str(exc), timings) from None
    if payload.content_type != "email":
        return parsed.document, []
    attachments = [
        {"filename": a.filename, "content_type": a.content_type, "size": a.size, "sha256": blobs.put(a.data)}
        for a in parsed.attachments
    ]
    return parsed.document, attachments
