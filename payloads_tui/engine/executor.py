"""The job executor: queues, workers, retries with backoff, response handlers, recovery at start.

Every job is durably logged (`JobLog.save_durable`) before it is queued, and every
change after that is saved with the next group commit (`save_soon`) and announced
on the event bus. Two queues:

- outbound: `limits.outbound_concurrency` workers, each with its own
  `httpx.AsyncClient` (a shared client slows down as concurrency grows: BASELINES.md;
  `bench/outbound.py` measured 370 jobs/s with a client per worker against 135 with
  one shared client at concurrency 16, same run), and at most
  `limits.outbound_per_host` requests to one host at once;
- inbound: batches. One dispatcher takes every inbound job queued (up to
  `INBOUND_BATCH`) as one batch and hands it to the inbound worker process
  (`inboundworker.py`, the default) or, with `limits.inbound_worker` off, to a thread
  (`asyncio.to_thread`; either way the UI loop never blocks), with at most
  `limits.inbound_concurrency` batches in flight. There, bodies are parsed, then the
  jobs are planned in order and all their records written in one group commit
  (`InboundProcessor.run_batch`), each job with its own outcome. Batches enter the
  write section in the order they were taken (`TurnGate`), so inbound jobs are
  processed in the order they were queued. A lone job on an idle service is taken at
  once; under a stream of jobs, batches are taken at most every `INBOUND_PACE`
  seconds unless a full batch waits, so processing runs in a few large batches rather
  than many small ones: a record-file rewrite and a hand-over (to the worker, or a
  thread hop) per batch, not per job.

Pagination (Stripe style): `job.request` is the first page's request as sent (a
replay starts there), `job.response` the last page's answer, `context["pages"]` the
count; each page's answer goes to the response handler as its own inbound job.

Retries: connection errors, timeouts, 429 and 5xx get another attempt after an
exponential backoff with jitter (`Backoff`), or after Retry-After (capped), up to
`payload.max_attempts` consecutive failures. Between attempts a job is `Retrying`
with `next_attempt_at`; no worker waits for it. Every attempt is in `job.attempts`.

At `start()`, jobs a crash left Queued, Processing or Retrying are queued again
(an attempt cut short is recorded as interrupted and counts). At `stop()`, running
jobs get a short grace; the rest stay Queued / Retrying in the log for the next
start. Sending is therefore at-least-once: a request cut short may be sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.cookiejar
import logging
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec

from payloads_tui import __version__
from payloads_tui.domain.errors import (
    ConflictError,
    CredentialError,
    NotFoundError,
    PayloadsError,
    ServiceError,
    ValidationError,
)
from payloads_tui.domain.formats import ParsedBody
from payloads_tui.domain.models import (
    FINISHED_STATUSES,
    Attempt,
    Credential,
    HttpExchange,
    InboundPayload,
    Integration,
    Job,
    JobSource,
    ObjectSchema,
    OutboundPayload,
    now,
)
from payloads_tui.domain.words import counted
from payloads_tui.engine.apianswer import ApiAnswer, answer_api
from payloads_tui.engine.auth import Authenticator, mask_headers, mask_url, secret_names
from payloads_tui.engine.backoff import Backoff, trailing_failures
from payloads_tui.engine.credentialsync import CredentialSync
from payloads_tui.engine.events import EventBus, JobChanged
from payloads_tui.engine.exchanges import (
    planned_exchange,
    planned_from_log,
    response_exchange,
    sent_headers,
    with_body,
)
from payloads_tui.engine.inbound import InboundProcessor, internal_error
from payloads_tui.engine.inboundrun import BodyRun, TurnGate, process_batch
from payloads_tui.engine.inboundworker import InboundWorker
from payloads_tui.engine.outbound import (
    MAX_PAGES,
    PlannedRequest,
    ResponseTooLarge,
    build_requests,
    describe_error,
    host_of,
    is_retryable,
    is_retryable_error,
    left_out_by_filter,
    next_page,
    query_sources,
    request_target,
    retry_after,
    send,
    success_rule,
)
from payloads_tui.settings import Limits
from payloads_tui.store.config import ConfigStore
from payloads_tui.store.jobs import JobLog
from payloads_tui.store.records import RecordStore, utc_timestamp
from payloads_tui.store.vault import Vault

log = logging.getLogger(__name__)

#: How long `stop()` lets running jobs finish before cutting them short (seconds).
STOP_GRACE = 2.0
INTERRUPTED = "interrupted: the service stopped during this attempt"
#: A job that starts is logged as Processing only if it is still running after this (seconds).
LAZY_SAVE_DELAY = 0.25
#: Most inbound jobs processed together (one thread hop, one write of the records). Under a
#: backlog, 256 rather than 64 cut CPU per job by 4-14% at 64 connections (bench/http_ingest.py,
#: interleaved runs): each batch rewrites the record files it touches whole.
INBOUND_BATCH = 256
#: Bodies a receiver parsed, kept for processing (by job number); beyond this the oldest are
#: dropped (and parsed again when processed): holding thousands slowed the receiver (GC) by ~8%
#: before the service tuned the GC (`service/gctune.py`). Twice `INBOUND_BATCH`.
PARSED_KEPT = 512
#: Under a stream of inbound jobs, the least time between two batches taken (seconds),
#: unless `INBOUND_BATCH` jobs wait; a job arriving after a quiet spell is taken at once.
#: Measured with bench/http_ingest.py: 0.05 s gave ~10-30% more 202s/s than none (many small batches).
INBOUND_PACE = 0.05


@dataclass
class _Work:
    """A queued job and what is known of it in memory (so nothing is read back from the log)."""

    job: Job
    integration: Integration | None = None
    planned: PlannedRequest | None = None  # outbound: the next request (page); None = from the log
    body: bytes | None = None  # inbound: the body, if in memory
    failures: int = 0  # consecutive failed attempts
    pages: int = 0
    logged: bool = False  # `job.request` shows the first request as it was sent
    waiter: asyncio.Future[Job] | None = field(default=None, repr=False)


def _copy(model: Any) -> Any:
    return msgspec.convert(msgspec.to_builtins(model), type(model))


def _api_detail(response: httpx.Response) -> str:
    """`: <message>` from a JSON error answer (`error.message` as Stripe, or `message`)."""
    try:
        answer = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return ""
    if not isinstance(answer, dict):
        return ""
    error = answer.get("error")
    message = error.get("message") if isinstance(error, dict) else answer.get("message")
    return f": {message[:200]}" if isinstance(message, str) and message else ""


class Executor:
    """Runs jobs: see the module docstring."""

    def __init__(
        self,
        *,
        jobs: JobLog,
        records: RecordStore,
        config: ConfigStore,
        vault: Vault,
        events: EventBus,
        inbound: InboundProcessor,
        limits: Limits,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: Backoff | None = None,
        client_per_worker: bool = True,
        stop_grace: float = STOP_GRACE,
        worker: InboundWorker | None = None,
    ) -> None:
        self._jobs = jobs
        self._records = records
        self._config = config
        self._vault = vault
        self._events = events
        self._inbound = inbound
        self._limits = limits
        self._transport = transport
        self.backoff = backoff or Backoff()
        self._client_per_worker = client_per_worker
        self._stop_grace = stop_grace
        self._worker = worker
        self._credentials = CredentialSync(config)
        self._auth = Authenticator(vault, on_token=self._credentials.token_obtained)
        self._out_queue: asyncio.Queue[str] = asyncio.Queue()
        self._in_queue: asyncio.Queue[str] = asyncio.Queue()
        self._work: dict[str, _Work] = {}
        self._running: set[str] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._clients: list[httpx.AsyncClient] = []
        self._lazy_saves: dict[str, asyncio.TimerHandle] = {}
        self._batch_saves: set[asyncio.TimerHandle] = set()  # lazy Processing saves of inbound batches
        self._batches: set[asyncio.Task[None]] = set()  # inbound batches in flight
        self._pacing = 0  # inbound jobs taken from the queue, waiting for their batch to be formed
        # job number -> (content type, options) of the payload it was parsed with, the parse, its seconds
        self._parsed: OrderedDict[str, tuple[str, dict[str, str], ParsedBody, float]] = OrderedDict()
        self._turns = TurnGate()
        self._started = False

    # --- life cycle --------------------------------------------------------------------

    def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self._transport,
            verify=_ssl_context(),
            cookies=_cookie_jar(),
            follow_redirects=False,
            headers={"User-Agent": f"payloads-console/{__version__}"},
        )

    async def start(self, *, recover: bool = True) -> None:
        """Start the workers and (`recover`) queue again every job a crash or a stop left unfinished."""
        if self._started:
            return
        self._started = True
        outbound = max(1, self._limits.outbound_concurrency)
        self._clients = [self._new_client() for _ in range(outbound if self._client_per_worker else 1)]
        for index in range(outbound):
            client = self._clients[index % len(self._clients)]
            self._workers.append(asyncio.create_task(self._outbound_worker(client), name=f"outbound-{index}"))
        self._turns = TurnGate()  # tickets of a previous run that never ran cannot hold this one up
        self._workers.append(asyncio.create_task(self._inbound_dispatcher(), name="inbound"))
        if recover:
            await self._recover()

    async def _recover(self) -> None:
        unfinished = await asyncio.to_thread(self._jobs.unfinished)
        for job in unfinished:
            if job.number in self._work:
                continue
            if job.attempts and job.attempts[-1].finished is None:
                job.attempts[-1].finished = now()
                job.attempts[-1].error = INTERRUPTED
            if job.status == "Retrying" and job.next_attempt_at is not None:
                work = self._remember(_Work(job, failures=trailing_failures(job)))
                self._schedule(work, max(0.0, job.next_attempt_at - now()))
                continue
            if job.status == "Processing":
                job.status = "Queued"
                self._changed(job)
            self._enqueue(_Work(job, failures=trailing_failures(job)))

    async def stop(self) -> None:
        """Stop taking work; give running jobs a short grace; leave the rest in the log."""
        if not self._started:
            return
        self._started = False
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for handle in [*self._lazy_saves.values(), *self._batch_saves]:
            handle.cancel()
        self._lazy_saves.clear()
        self._batch_saves.clear()
        deadline = time.monotonic() + self._stop_grace
        while self._running and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        tasks = [*self._workers, *self._batches]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        self._batches.clear()
        self._pacing = 0
        self._parsed.clear()
        await self._credentials.drain(self._stop_grace)
        await asyncio.gather(*(client.aclose() for client in self._clients), return_exceptions=True)
        self._clients.clear()
        if self._worker is not None:
            await asyncio.to_thread(self._worker.close)
        # Jobs still queued finish in a later run; whoever waits for them is let go.
        for work in self._work.values():
            if work.waiter is not None and not work.waiter.done():
                work.waiter.cancel()
        self._work.clear()
        self._running.clear()
        # What was queued is in the log as Queued: the next start() recovers it.
        self._out_queue, self._in_queue = asyncio.Queue(), asyncio.Queue()
        self._hosts.clear()

    def stats(self) -> dict[str, int]:
        """How many jobs are queued, running and waiting to retry."""
        return {
            "queued": self._out_queue.qsize() + self._in_queue.qsize() + self._pacing,
            "running": len(self._running),
            "retrying": len(self._timers),
        }

    # --- queueing ----------------------------------------------------------------------

    def submit(self, job: Job) -> None:
        """Queue a job already saved as Queued (by a receiver): inbound jobs are processed, outbound sent."""
        self._enqueue(_Work(job, failures=trailing_failures(job)))

    def keep_parsed(self, number: str, payload: InboundPayload, parsed: ParsedBody, seconds: float = 0.0) -> None:
        """The body of inbound job `number` as a receiver parsed it with `payload`: processing uses it
        instead of parsing again, if the payload still parses the same way (content type, options)."""
        if self._worker is not None:
            return  # the worker parses again: sending a parse costs about what parsing does
        kept = self._parsed
        kept[number] = (payload.content_type, payload.options, parsed, seconds)  # compared by value when used
        while len(kept) > PARSED_KEPT:
            kept.popitem(last=False)

    def _remember(self, work: _Work) -> _Work:
        previous = self._work.get(work.job.number)
        if previous is not None and previous.waiter is not None and work.waiter is None:
            work.waiter = previous.waiter  # made by `_wait`, only for jobs someone waits for
        self._work[work.job.number] = work
        return work

    def _enqueue(self, work: _Work) -> None:
        self._remember(work)
        queue = self._out_queue if work.job.kind == "outbound" else self._in_queue
        queue.put_nowait(work.job.number)

    def _schedule(self, work: _Work, delay: float) -> None:
        number = work.job.number

        def due() -> None:
            self._timers.pop(number, None)
            if self._started and number in self._work:
                self._out_queue.put_nowait(number)

        self._timers[number] = asyncio.get_running_loop().call_later(delay, due)

    def _changed(self, job: Job, *, lazy: bool = False) -> None:
        """Save (next group commit) and announce a change.

        `lazy` (a job starting): announced now, logged only if the job is still in
        that state after `LAZY_SAVE_DELAY`; most jobs finish sooner, which saves a
        log write per job (the writes, not the network, bound a fast endpoint).
        """
        job.modified = now()
        pending = self._lazy_saves.pop(job.number, None)
        if pending is not None:
            pending.cancel()
        if lazy:
            self._lazy_saves[job.number] = asyncio.get_running_loop().call_later(
                LAZY_SAVE_DELAY, self._save_lazily, job)
        else:
            self._jobs.save_soon(job)
        self._events.publish(JobChanged(job))

    def _save_lazily(self, job: Job) -> None:
        self._lazy_saves.pop(job.number, None)
        with contextlib.suppress(PayloadsError):  # the log was closed meanwhile: the final save tells
            self._jobs.save_soon(job)

    async def _created(self, jobs: Sequence[Job]) -> None:
        """Log new jobs durably (one group commit for all), then announce them."""
        await asyncio.gather(*(self._jobs.save_durable(job) for job in jobs))
        for job in jobs:
            self._events.publish(JobChanged(job, created=True))

    def _finish(self, work: _Work, status: str, error: str | None = None) -> None:
        job = work.job
        if job.kind == "outbound" and status in ("Completed", "Failed"):
            sent = self._records_sent(work)
            job.records_processed, job.records_failed = (sent, 0) if status == "Completed" else (0, sent)
        job.status = status  # type: ignore[assignment]
        job.error = error
        job.next_attempt_at = None
        job.timings["total"] = round(now() - job.created, 6)
        self._changed(job)
        self._work.pop(job.number, None)
        if work.waiter is not None and not work.waiter.done():
            work.waiter.set_result(job)

    def _records_sent(self, work: _Work) -> int:
        """How many records an outbound job's request was built from."""
        if work.planned is not None:
            return len(work.planned.data)
        try:
            return len(self._jobs.data_of(work.job))
        except PayloadsError:  # its data's blob is gone: say nothing rather than fail the finish
            return work.job.records_processed + work.job.records_failed

    async def wait(self, number: str) -> Job:
        """Job `number` once finished, with every job it started (response handlers) finished too."""
        return await self._wait(self._job(number))

    async def _wait(self, job: Job) -> Job:
        """`job` once finished, after every job it started (response handlers) finished too."""
        work = self._work.get(job.number)
        if work is not None:
            if work.waiter is None:
                work.waiter = asyncio.get_running_loop().create_future()
            waiter = work.waiter
            try:
                job = await asyncio.shield(waiter)
            except asyncio.CancelledError:
                if waiter.cancelled():
                    raise ServiceError(
                        f"the service stopped before job {job.number} finished; it runs at the next start"
                    ) from None
                raise
        elif job.status not in FINISHED_STATUSES:
            job = self._job(job.number)
        for child in list(job.links.children):
            child_work = self._work.get(child)
            await self._wait(child_work.job if child_work else self._job(child))
        return job

    def _job(self, number: str) -> Job:
        work = self._work.get(number)
        if work is not None:
            return work.job
        job = self._jobs.get(number)
        if job is None:
            raise NotFoundError(f"no job {number}; it may have been pruned")
        return job

    # --- workers -----------------------------------------------------------------------

    async def _outbound_worker(self, client: httpx.AsyncClient) -> None:
        while True:
            number = await self._out_queue.get()
            work = self._work.get(number)
            if work is None:
                continue
            self._running.add(number)
            try:
                await self._run_outbound(work, client)
            except asyncio.CancelledError:
                self._interrupted(work)
                raise
            except Exception as exc:  # noqa: BLE001 - a bug must fail the job, not the worker
                log.exception("outbound job %s failed unexpectedly", number)
                self._finish(work, "Failed", f"internal error: {type(exc).__name__}: {exc}")
            finally:
                self._running.discard(number)

    async def _inbound_dispatcher(self) -> None:
        """Form batches of queued inbound jobs, in queue order; run at most `inbound_concurrency` at once."""
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(max(1, self._limits.inbound_concurrency))
        last_taken = -INBOUND_PACE
        while True:
            await slots.acquire()
            first = await self._in_queue.get()
            wait = last_taken + INBOUND_PACE - loop.time()
            if wait > 0 and self._in_queue.qsize() + 1 < INBOUND_BATCH:
                self._pacing = 1
                try:
                    await asyncio.sleep(wait)
                finally:
                    self._pacing = 0
            last_taken = loop.time()
            batch = self._take_inbound(first)
            if not batch:
                slots.release()
                continue
            self._running.update(work.job.number for work in batch)
            turns = self._turns
            task = asyncio.create_task(self._inbound_batch(batch, turns, turns.take(), slots))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _inbound_batch(
        self, batch: list[_Work], turns: TurnGate, ticket: int, slots: asyncio.Semaphore
    ) -> None:
        try:
            await self._run_inbound_batch(batch, turns.turn(ticket))
        except asyncio.CancelledError:
            self._interrupted(*batch)
            raise
        except Exception as exc:  # noqa: BLE001 - a bug must fail the jobs, not the service
            log.exception("inbound jobs %s failed unexpectedly", ", ".join(w.job.number for w in batch))
            for work in batch:
                if work.job.status not in FINISHED_STATUSES:
                    self._finish(work, "Failed", internal_error(exc))
        finally:
            turns.release(ticket)  # a no-op unless its thread never ran
            self._running.difference_update(work.job.number for work in batch)
            slots.release()

    def _take_inbound(self, first: str) -> list[_Work]:
        """`first` and the inbound jobs queued behind it, up to `INBOUND_BATCH`, in queue order."""
        numbers = [first]
        queue = self._in_queue
        while len(numbers) < INBOUND_BATCH and not queue.empty():
            numbers.append(queue.get_nowait())
        return [work for number in numbers if (work := self._work.get(number)) is not None]

    def _interrupted(self, *works: _Work) -> None:
        """Jobs cut short by `stop()`: back to Queued in the log (one commit), for the next start."""
        saved = False
        for work in works:
            job = work.job
            if job.status in FINISHED_STATUSES:
                continue
            if job.attempts and job.attempts[-1].finished is None:
                job.attempts[-1].finished = now()
                job.attempts[-1].error = INTERRUPTED
            job.status = "Queued"
            job.modified = now()
            with contextlib.suppress(Exception):
                self._jobs.save_soon(job)
                saved = True
        if saved:
            with contextlib.suppress(Exception):
                self._jobs.flush_sync()

    def _host_slot(self, key: str) -> asyncio.Semaphore:
        slot = self._hosts.get(key)
        if slot is None:
            slot = self._hosts[key] = asyncio.Semaphore(max(1, self._limits.outbound_per_host))
        return slot

    # --- outbound ----------------------------------------------------------------------

    def _integration(self, work: _Work) -> Integration:
        if work.integration is None:
            work.integration = self._config.get(work.job.integration)
        return work.integration

    async def _run_outbound(self, work: _Work, client: httpx.AsyncClient) -> None:
        job = work.job
        job.status = "Processing"
        job.next_attempt_at = None
        self._changed(job, lazy=True)
        try:
            integration = self._integration(work)
            payload = _outbound_payload(integration, job.payload)
            credential = _credential_of(integration, payload)
            if work.planned is None:
                work.planned = planned_from_log(self._jobs, job, integration, payload)
        except PayloadsError as exc:
            self._finish(work, "Failed", str(exc))
            return
        accept = success_rule(payload.success_codes)
        headers_secret, _ = secret_names(credential)
        while True:
            planned = work.planned
            assert planned is not None
            if work.failures >= payload.max_attempts:
                last = job.attempts[-1].error if job.attempts else None
                self._finish(work, "Failed", f"gave up after {counted(work.failures, 'attempt')}; the last: {last}")
                return
            attempt = Attempt(number=len(job.attempts) + 1, started=now())
            job.attempts.append(attempt)
            response: httpx.Response | None = None
            failure: str | None = None
            hint: float | None = None
            retryable = False
            try:
                async with self._host_slot(host_of(planned)):
                    response = await send(
                        client, planned, credential, authenticator=self._auth,
                        integration=job.integration, timeout=payload.timeout,
                        max_bytes=self._limits.max_response_bytes,
                    )
            except CredentialError as exc:
                attempt.finished, attempt.error = now(), str(exc)
                self._finish(work, "Failed", str(exc))
                return
            except ResponseTooLarge as exc:  # the same answer would come again: no retry
                attempt.finished, attempt.error, attempt.response_code = now(), str(exc), exc.status_code
                self._finish(work, "Failed", str(exc))
                return
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                failure = describe_error(exc, payload.timeout)
                retryable = is_retryable_error(exc)
            attempt.finished = now()
            job.timings["request"] = round(attempt.finished - attempt.started, 6)
            if credential is not None:
                self._credentials.used(job.integration, credential)
            if response is not None:
                attempt.response_code = response.status_code
                if not work.logged:  # the first request as sent (a replay starts from it, not from a later page)
                    work.logged = True
                    url, headers = sent_headers(response.request, headers_secret)
                    job.request.url, job.request.headers = _masked(url, credential), headers  # type: ignore[union-attr]
                job.response = await self._log_body(len(response.content), response_exchange, self._jobs, response)
                if accept(response.status_code):
                    work.failures = 0
                    work.pages += 1
                    job.error = None
                    if payload.response_handler:  # its request: this page's URL as sent (masked)
                        page_url = _masked(str(response.request.url), credential)
                        await self._handle_response(work, integration, payload, response, planned, page_url)
                    following = next_page(planned, response.content) if payload.pagination == "stripe" else None
                    if following is not None and work.pages < MAX_PAGES:
                        work.planned = following
                        job.context["pages"] = work.pages
                        continue
                    if work.pages > 1:
                        job.context["pages"] = work.pages
                    self._finish(work, "Completed", job.error)
                    return
                failure = f"{response.status_code} {response.reason_phrase}{_api_detail(response)}".strip()
                retryable = is_retryable(response.status_code)
                hint = retry_after(response) if response.status_code in (429, 503) else None
            attempt.error = failure
            work.failures += 1
            if retryable and work.failures < payload.max_attempts:
                delay = self.backoff.delay(work.failures, hint)
                job.status = "Retrying"
                job.next_attempt_at = now() + delay
                job.error = f"{failure} (attempt {work.failures} of {payload.max_attempts})"
                self._changed(job)
                self._schedule(work, delay)
                return
            if retryable:
                self._finish(work, "Failed", f"{failure} after {counted(work.failures, 'attempt')}")
            else:
                self._finish(work, "Failed", failure)
            return

    async def _handle_response(
        self, work: _Work, integration: Integration, payload: OutboundPayload,
        response: httpx.Response, planned: PlannedRequest, url: str,
    ) -> None:
        """Hand a successful response to the payload's response handler as a linked inbound job."""
        job = work.job
        handler = integration.inbound_payload(payload.response_handler or "")
        if handler is None:
            job.error = f"response handler {payload.response_handler!r} does not exist; the response was not processed"
            return
        context = {"record": job.context.get("record"), "job": job.number}
        child = self._jobs.create("inbound", job.integration, handler.name, "Response Handler", context=context)
        child.links.parent = job.number
        content_type = response.headers.get("content-type", "")
        exchange = HttpExchange(
            method=planned.method,
            url=url,
            code=response.status_code,
            message=f"{response.status_code} {response.reason_phrase}",
            headers=mask_headers(dict(response.headers.items())),
            content_type=content_type,
        )
        child.request = await self._log_body(
            len(response.content), with_body, self._jobs, exchange, response.content, content_type)
        job.links.children.append(child.number)
        await self._created([child])
        self._enqueue(_Work(child, integration=integration, body=response.content))

    async def _log_body(self, size: int, log_body: Callable[..., HttpExchange], *args: Any) -> HttpExchange:
        """`log_body(*args)`; in a thread when the body is large enough for a blob file (disk I/O)."""
        if size > self._jobs.blob_threshold:
            return await asyncio.to_thread(log_body, *args)
        return log_body(*args)

    # --- inbound -----------------------------------------------------------------------

    async def _run_inbound_batch(self, batch: list[_Work], turn: contextlib.AbstractContextManager[Any]) -> None:
        """Process inbound jobs together (see the module docstring); each finishes with its own outcome."""
        ready: list[tuple[_Work, BodyRun]] = []
        integrations: dict[str, Integration | PayloadsError] = {}  # one configuration read per batch
        for work in batch:
            job = work.job
            job.status = "Processing"
            job.modified = now()
            self._events.publish(JobChanged(job))
            try:
                ready.append((work, self._body_run(work, integrations)))
            except PayloadsError as exc:
                self._finish(work, "Failed", str(exc))
        if not ready:
            return
        lazy = asyncio.get_running_loop().call_later(
            LAZY_SAVE_DELAY, self._save_batch_lazily, [work.job for work, _ in ready])
        self._batch_saves.add(lazy)
        runs = [run for _, run in ready]
        try:
            if self._worker is not None:
                results = await asyncio.to_thread(self._worker.process, runs, self._schemas_of(runs), turn)
            else:
                results = await asyncio.to_thread(process_batch, self._inbound, self._jobs.blobs, self._vault, runs, turn)
        except ServiceError as exc:  # the worker process failed the batch
            for work, _ in ready:
                self._finish(work, "Failed", str(exc))
            return
        finally:
            lazy.cancel()
            self._batch_saves.discard(lazy)
        for (work, _), (outcome, attachments) in zip(ready, results, strict=True):
            job = work.job
            if attachments:
                job.context["attachments"] = attachments
                job.context["blobs"] = [a["sha256"] for a in attachments]
            job.results = outcome.results
            job.records_processed = outcome.records_processed
            job.records_failed = outcome.records_failed
            job.note = outcome.note
            job.summary = outcome.summary or job.summary
            job.timings.update({k: round(v, 6) for k, v in outcome.timings.items()})
            self._finish(work, outcome.status, outcome.error)

    def _body_run(self, work: _Work, integrations: dict[str, Integration | PayloadsError]) -> BodyRun:
        """What processing needs of an inbound job; `PayloadsError` if it cannot run."""
        job = work.job
        kept = self._parsed.pop(job.number, None)
        integration = work.integration
        if integration is None:
            known = integrations.get(job.integration)
            if known is None:
                try:
                    known = self._config.get(job.integration)
                except PayloadsError as exc:
                    known = exc
                integrations[job.integration] = known
            if isinstance(known, PayloadsError):
                raise known
            integration = work.integration = known
        payload = integration.inbound_payload(job.payload)
        if payload is None:
            raise NotFoundError(
                f"inbound payload {job.payload!r} no longer exists in {integration.slug!r}; nothing was processed"
            )
        request = job.request
        body = work.body
        if body is None and request is not None and request.body is not None:
            body = request.body.encode("utf-8")
        blob = request.body_blob if body is None and request is not None else None
        if body is None and not blob:
            raise NotFoundError(f"job {job.number} has no logged body to process")
        context = job.mapping_context()
        content_type = (request.content_type if request is not None else None) or None
        run = BodyRun(integration, payload, body, content_type, context, body_blob=blob)
        if kept is not None and kept[0] == payload.content_type and kept[1] == payload.options:
            run.parsed, run.parse_seconds = kept[2], kept[3]
        return run

    def _schemas_of(self, runs: Sequence[BodyRun]) -> dict[str, ObjectSchema | None]:
        """The schema of every object the runs' payloads write, for the worker process."""
        objects = {target.object for payload in {id(r.payload): r.payload for r in runs}.values()
                   for target in payload.targets}
        return {name: self._config.schema(name) for name in objects}

    def _save_batch_lazily(self, jobs: list[Job]) -> None:
        """Log as Processing the jobs of a batch still running after `LAZY_SAVE_DELAY`."""
        with contextlib.suppress(PayloadsError):  # the log was closed meanwhile: the final save tells
            for job in jobs:
                if job.status == "Processing":
                    self._jobs.save_soon(job)

    # --- running payloads --------------------------------------------------------------

    def _plan(
        self, integration: Integration, payload: OutboundPayload, record_ids: list[str] | None, source: JobSource
    ) -> list[tuple[Job, PlannedRequest]]:
        """The requests of a run and a new (unsaved) job for each; runs in a worker thread."""
        rows = query_sources(payload, self._records, record_ids=record_ids)
        planned = build_requests(integration, payload, rows, now_iso=utc_timestamp(), keep_failures=True)
        return [(self._new_outbound_job(integration, payload, p, source), p) for p in planned]

    def _check_records(self, payload: OutboundPayload, record_ids: list[str]) -> None:
        """NotFoundError naming the records asked for that the payload's first source does not hold,
        ValidationError naming those its filter leaves out: a run sends all it was asked, or nothing."""
        if not payload.sources:
            raise ValidationError(f"{payload.name!r} has no sources, so it cannot be run for a record")
        source = payload.sources[0]
        obj = source.object
        found = {record_id: self._records.get(obj, record_id) for record_id in record_ids}
        missing = [record_id for record_id, record in found.items() if record is None]
        if missing:
            names = ", ".join(repr(record_id) for record_id in missing)
            raise NotFoundError(
                f"no {obj} record {names}; {payload.name!r} is run for records of {obj} (its first source)"
            )
        left_out = left_out_by_filter(source, [record for record in found.values() if record is not None])
        if left_out:
            names = ", ".join(repr(record_id) for record_id in left_out)
            raise ValidationError(
                f"the filter of source {source.name!r} ({source.filter}) leaves out {obj} record {names}; "
                "nothing was sent"
            )

    def _new_outbound_job(
        self, integration: Integration, payload: OutboundPayload, planned: PlannedRequest, source: JobSource,
        **fields: Any,
    ) -> Job:
        context = {"record": planned.record} if payload.request_per_record and planned.record is not None else {}
        job = self._jobs.create("outbound", integration.slug, payload.name, source, context=context, **fields)
        self._jobs.keep_data(job, planned.data)
        credential = integration.credential(payload.credential or "")
        headers_secret, query_secret = secret_names(credential)
        job.note = planned.note
        if planned.error is None:
            url = str(request_target(planned))
            job.request = planned_exchange(self._jobs, planned, url, headers_secret, query_secret)
        else:
            job.status = "Failed"
            job.error = f"the request could not be built: {planned.error}"
            job.records_failed = len(planned.data)
        return job

    async def run_outbound(
        self, slug: str, payload: str, *, record_ids: list[str] | None = None,
        source: JobSource = "Console", wait: bool = False,
    ) -> list[Job]:
        """Query the sources, build the requests, queue one OUT job per request; `wait` returns them finished."""
        integration = self._config.get(slug)
        outbound = _outbound_payload(integration, payload)
        if outbound.initiated == "api":
            raise ValidationError(
                f"{outbound.name!r} is API initiated: other systems GET it through its External API; "
                "it is not sent",
            )
        if record_ids is not None:
            await asyncio.to_thread(self._check_records, outbound, record_ids)
        planned = await asyncio.to_thread(self._plan, integration, outbound, record_ids, source)
        jobs = [job for job, _ in planned]
        await self._created(jobs)
        for job, request in planned:
            if job.status == "Queued":
                self._enqueue(_Work(job, integration=integration, planned=request))
        if not wait:
            return jobs
        return [await self._wait(job) for job in jobs]

    async def run_inbound(
        self, slug: str, payload: str, body: bytes, *, content_type: str | None = None,
        source: JobSource = "Console", wait: bool = False,
    ) -> Job:
        """Log `body` as a new IN job of `payload` and process it; `wait` returns it finished."""
        integration = self._config.get(slug)
        inbound = integration.inbound_payload(payload)
        if inbound is None:
            raise NotFoundError(f"no inbound payload named {payload!r} in {slug!r}")
        job = self._jobs.create("inbound", slug, inbound.name, source)
        ctype = content_type or ""
        job.request = with_body(self._jobs, HttpExchange(method="POST", content_type=ctype), body, ctype)
        await self._created([job])
        self._enqueue(_Work(job, integration=integration, body=body))
        return await self._wait(job) if wait else job

    async def retry(self, number: str, *, wait: bool = False) -> Job:
        """A new job rebuilt from the payload and current records (outbound) or the logged body (inbound)."""
        original = self._finished_job(number)
        integration = self._config.get(original.integration)
        if original.kind == "outbound":
            payload = _outbound_payload(integration, original.payload)
            if payload.initiated == "api":
                raise ValidationError(f"{original.number} answered an External API GET; it cannot be sent again")
            record = original.context.get("record")
            record_ids = [str(record["id"])] if isinstance(record, dict) and "id" in record else None
            planned = await asyncio.to_thread(self._plan, integration, payload, record_ids, "Retry")
            if not planned:
                raise NotFoundError(
                    f"record {record_ids[0] if record_ids else ''} is no longer selected by the sources of "
                    f"{payload.name!r} (deleted, or filtered out); nothing to retry"
                )
            job, request = planned[0]
            work = _Work(job, integration=integration, planned=request)
        else:
            job = self._rerun_inbound(original, "Retry")
            work = _Work(job, integration=integration)
        return await self._link_and_run(original, work, wait)

    async def replay(self, number: str, *, wait: bool = False) -> Job:
        """A new job that sends exactly the logged request again (outbound) or re-runs the logged body (inbound)."""
        original = self._finished_job(number)
        integration = self._config.get(original.integration)
        if original.kind == "outbound":
            payload = _outbound_payload(integration, original.payload)
            if payload.initiated == "api":
                raise ValidationError(f"{original.number} answered an External API GET; it cannot be replayed")
            job = self._jobs.create(
                "outbound", original.integration, original.payload, "Replay",
                data_queried=list(original.data_queried), data_blob=original.data_blob,
                context=dict(original.context),
            )
            job.context.pop("pages", None)
            job.request = _copy(original.request) if original.request is not None else None
            planned = planned_from_log(self._jobs, job, integration, payload)
            work = _Work(job, integration=integration, planned=planned)
        else:
            job = self._rerun_inbound(original, "Replay")
            work = _Work(job, integration=integration)
        return await self._link_and_run(original, work, wait)

    def _finished_job(self, number: str) -> Job:
        job = self._job(number)
        if job.status not in FINISHED_STATUSES:
            raise ConflictError(f"job {number} is still {job.status}; wait for it to finish")
        return job

    def _rerun_inbound(self, original: Job, source: JobSource) -> Job:
        context = {k: v for k, v in original.context.items() if k not in ("blobs", "attachments")}
        job = self._jobs.create("inbound", original.integration, original.payload, source, context=context)
        job.request = _copy(original.request) if original.request is not None else None
        job.links.parent = original.links.parent
        return job

    async def _link_and_run(self, original: Job, work: _Work, wait: bool) -> Job:
        job = work.job
        job.links.original = original.number
        original.links.reruns.append(job.number)
        await self._created([job])
        # its last modification stays the time it finished: a link is not a change of the job itself
        self._jobs.save_soon(original)
        self._events.publish(JobChanged(original, linked=True))
        if job.status == "Queued":
            self._enqueue(work)
        return await self._wait(job) if wait else job

    # --- API-initiated payloads --------------------------------------------------------

    async def serve_api(
        self, slug: str, payload: str, *, query: dict[str, str],
        url: str | None = None, headers: dict[str, str] | None = None,
    ) -> tuple[bytes, str, Job]:
        """Answer an External API GET from an API-initiated payload; logs a Completed OUT job.

        `ids` and `limit` in the query restrict what is returned (see `apianswer`);
        `url` and `headers` of the incoming request are logged (secrets masked).
        """
        started = now()
        integration = self._config.get(slug)
        outbound = _outbound_payload(integration, payload)
        if outbound.initiated != "api":
            raise ValidationError(f"{outbound.name!r} is locally initiated; it cannot answer a GET")
        job = self._jobs.create("outbound", slug, outbound.name, "External API")
        job.request = HttpExchange(
            method="GET",
            url=mask_url(url or f"/api/{slug}" + (f"?{urlencode(query)}" if query else ""), ()),
            headers=mask_headers(headers or {}),
        )

        def answered() -> ApiAnswer:
            answer = answer_api(integration, outbound, self._records, query)
            self._jobs.keep_data(job, answer.records)
            return answer

        try:
            answer = await asyncio.to_thread(answered)
        except PayloadsError as exc:
            job.status, job.error = "Failed", f"the answer could not be built: {exc}"
            job.timings["total"] = round(now() - started, 6)
            await self._created([job])
            raise
        body, content_type = answer.body, answer.content_type
        response = HttpExchange(code=200, message="200 OK", headers={"content-type": content_type},
                                content_type=content_type)
        job.response = with_body(self._jobs, response, body, content_type)
        job.status = "Completed"
        job.records_processed = len(answer.records)
        job.timings["total"] = round(now() - started, 6)
        await self._created([job])
        return body, content_type, job

# --- helpers ---------------------------------------------------------------------------


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every client (loading the CA bundle costs ~60 ms per client otherwise)."""
    return httpx.create_ssl_context()


class _NoCookies(http.cookiejar.CookiePolicy):
    """Keeps no cookie and sends none: jobs share clients (one per worker, across integrations and
    credentials), so a cookie one answer set must not ride on another job's request. A payload
    that needs a cookie sends it as a header."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        return False

    def path_return_ok(self, path: str, request: Any) -> bool:
        return False


def _cookie_jar() -> http.cookiejar.CookieJar:
    return http.cookiejar.CookieJar(policy=_NoCookies())


def _outbound_payload(integration: Integration, name: str) -> OutboundPayload:
    payload = integration.outbound_payload(name)
    if payload is None:
        names = ", ".join(p.name for p in integration.outbound) or "none yet"
        raise NotFoundError(f"no outbound payload named {name!r} in {integration.slug!r}; its outbound payloads: {names}")
    return payload


def _credential_of(integration: Integration, payload: OutboundPayload) -> Credential | None:
    if not payload.credential:
        return None
    credential = integration.credential(payload.credential)
    if credential is None:
        raise CredentialError(
            f"payload {payload.name!r} uses credential {payload.credential!r}, which does not exist; "
            "choose another on the payload"
        )
    return credential


def _masked(url: str, credential: Credential | None) -> str:
    return mask_url(url, secret_names(credential)[1])
