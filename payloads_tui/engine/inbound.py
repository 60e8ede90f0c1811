"""Inbound processing: a parsed body through an inbound payload's targets into the records.

`InboundProcessor` plans a whole job first: for every target in order, for every item
it selects, map the fields, check them against the object's schema, and decide the
operation (insert, update, or upsert on the match key). Planned writes go into a
per-job overlay, so later items and targets of the same job see them: the second of
two items with the same key updates the record the first one inserts, and a child
links to a parent that is not in the store yet (ids are given up front).

Then, unless it is a dry run, every planned write goes to the store in ONE
`RecordStore.apply()` batch, which lands entirely or not at all.

- Partial success on: good items are written, bad ones are reported per item.
- Partial success off: the first bad item fails the job and nothing is written.

Group commit (`run_batch`): several jobs are planned in order, each in its own
overlay layered over a batch overlay that holds the writes of the jobs before it, so
two jobs upserting the same key behave exactly as if run one after another. A job
whose plan fails (partial success off) is dropped with its overlay and contributes
nothing; the writes of all the others go to the store in ONE `apply()` (one file
rewrite and fsync per object for the whole batch; a rewrite of a 1,000-record table
costs ~2 ms, so one per job caps a webhook stream near 500 jobs/s). Each job keeps
its own outcome. If that combined `apply()` raises, the batch is run again job by
job, each planned against the store as the jobs before it actually left it: the same
outcomes as one `run_document` per job, so one bad job cannot fail its neighbours.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from payloads_tui.domain.errors import ParseError, PayloadsError, SchemaError
from payloads_tui.domain.formats import parse_for_payload
from payloads_tui.domain.mapping import CredentialValue, ItemMapping, map_target
from payloads_tui.domain.models import (
    InboundPayload,
    Integration,
    ObjectSchema,
    RecordResult,
    Target,
    new_id,
)
from payloads_tui.domain.recordcheck import RecordChecker, is_blank
from payloads_tui.store.records import RecordStore, RecordWrite, utc_timestamp

log = logging.getLogger(__name__)
_key_encoder = msgspec.json.Encoder(order="sorted")
MatchKey = tuple[bytes, ...]


@dataclass
class InboundOutcome:
    """What a run did (or, for a dry run, would do).

    `records_processed` counts items written (or that a dry run would write): it is 0
    when the job failed and nothing was written, even if some items were good.
    """

    status: str  # "Completed" | "Partially Completed" | "Failed"
    results: list[RecordResult] = field(default_factory=list)
    records_processed: int = 0
    records_failed: int = 0
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    dry_run: bool = False
    note: str | None = None  # see `Job.note`
    summary: str | None = None  # see `Job.summary`
    #: A dry run's parsed body, what the targets' expressions read (an XML or CSV body as JSON)
    document: Any = None


class ItemFailed(PayloadsError):
    """One item of one target cannot be written; the message says why."""


def internal_error(exc: BaseException) -> str:
    """The error of a job that failed on a bug (the executor words it the same way)."""
    return f"internal error: {type(exc).__name__}: {exc}"


def _writes_kept(outcome: InboundOutcome) -> bool:
    """Whether the writes planned for `outcome` go to the store (not when the whole job failed)."""
    return outcome.records_processed > 0


def _match_key(values: Mapping[str, Any], keys: tuple[str, ...]) -> MatchKey | None:
    try:
        return tuple(_key_encoder.encode(values[k]) for k in keys)
    except KeyError:
        return None


def nothing_selected(payload: InboundPayload) -> str:
    """The note of a job whose body gave no target any item: which selections found nothing."""
    if not payload.targets:
        return f"nothing was written: inbound payload {payload.name!r} has no targets"
    if len(payload.targets) == 1:
        target = payload.targets[0]
        return f"nothing was written: target {target.name}'s items `{target.items}` selected nothing from the body"
    selections = "; ".join(f"{t.name}: `{t.items}`" for t in payload.targets)
    return f"nothing was written: no target's items selected anything from the body ({selections})"


def _describe_match(match: Mapping[str, Any]) -> str:
    return " and ".join(f"{k}={v}" for k, v in match.items())


class RecordLookup(Protocol):
    """What planning reads records through: the store, or an overlay over it."""

    def find(self, obj: str, match: dict[str, Any]) -> list[dict[str, Any]]: ...

    def get(self, obj: str, record_id: str) -> dict[str, Any] | None: ...


@dataclass
class DocumentRun:
    """One job of a batch given to `InboundProcessor.run_batch`: a parsed document through a payload."""

    integration: Integration
    payload: InboundPayload
    document: Any
    context: Mapping[str, Any] | None = None
    credential_value: CredentialValue | None = None


class JobOverlay:
    """The records a job has planned so far, layered over the store (or a batch's overlay) for lookups.

    A record the job changed is seen in its planned state only; lookups use the
    store's indexes plus an index of the planned records, so no table is scanned.
    """

    def __init__(self, records: RecordLookup) -> None:
        self.records = records
        self.planned: dict[str, dict[str, dict[str, Any]]] = {}
        self._indexes: dict[str, dict[tuple[str, ...], dict[MatchKey, dict[str, None]]]] = {}
        self.writes: list[RecordWrite] = []

    def find(self, obj: str, match: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Records of `obj` equal to `match` on every key, as they stand after the planned writes."""
        planned = self.planned.get(obj)
        if not planned:
            return self.records.find(obj, dict(match))
        found = {r["id"]: r for r in self.records.find(obj, dict(match)) if r["id"] not in planned}
        keys = tuple(sorted(match))
        key = _match_key(match, keys)
        for record_id in self._index(obj, keys).get(key, {}) if key is not None else ():
            found[record_id] = planned[record_id]
        return list(found.values())

    def get(self, obj: str, record_id: str) -> dict[str, Any] | None:
        """Record `record_id` of `obj` as it stands after the planned writes, or None."""
        planned = self.planned.get(obj)
        if planned is not None and record_id in planned:
            return planned[record_id]
        return self.records.get(obj, record_id)

    def exists(self, obj: str, record_id: str) -> bool:
        return self.get(obj, record_id) is not None

    def _index(self, obj: str, keys: tuple[str, ...]) -> dict[MatchKey, dict[str, None]]:
        indexes = self._indexes.setdefault(obj, {})
        index = indexes.get(keys)
        if index is None:
            index = {}
            for record_id, record in self.planned.get(obj, {}).items():
                key = _match_key(record, keys)
                if key is not None:
                    index.setdefault(key, {})[record_id] = None
            indexes[keys] = index
        return index

    def plan(self, write: RecordWrite, record: dict[str, Any]) -> None:
        """Add a write and the state its record will have afterwards."""
        self._place(write.object, record)
        self.writes.append(write)

    def merge_into(self, base: JobOverlay) -> None:
        """Hand every planned write and record state on to `base` (the overlay this one is layered over)."""
        for obj, records in self.planned.items():
            for record in records.values():
                base._place(obj, record)
        base.writes.extend(self.writes)

    def _place(self, obj: str, record: dict[str, Any]) -> None:
        record_id = record["id"]
        planned = self.planned.setdefault(obj, {})
        before = planned.get(record_id)
        for keys, index in self._indexes.get(obj, {}).items():
            if before is not None and (old := _match_key(before, keys)) is not None:
                bucket = index.get(old, {})
                bucket.pop(record_id, None)
            if (new := _match_key(record, keys)) is not None:
                index.setdefault(new, {})[record_id] = None
        planned[record_id] = record


class InboundProcessor:
    """Runs inbound payloads against the record store: plan, dry run, apply."""

    def __init__(self, records: RecordStore, schema_of: Callable[[str], ObjectSchema | None]) -> None:
        self.records = records
        self.schema_of = schema_of
        # Plan + apply of one job is atomic against other jobs of this processor, so two
        # jobs cannot both insert the same external id (each checked the store alone).
        self._writing = threading.Lock()

    def run_body(
        self,
        integration: Integration,
        payload: InboundPayload,
        body: bytes,
        *,
        content_type: str | None = None,
        context: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        credential_value: CredentialValue | None = None,
    ) -> InboundOutcome:
        """Parse `body` by the payload's content type (charset from `content_type`), then run it."""
        started = time.perf_counter()
        try:
            parsed = parse_for_payload(payload, body, content_type)
        except ParseError as exc:
            return InboundOutcome(
                status="Failed",
                error=str(exc),
                timings={"parse": time.perf_counter() - started},
                dry_run=dry_run,
            )
        parse_seconds = time.perf_counter() - started
        outcome = self.run_document(
            integration,
            payload,
            parsed.document,
            context=context,
            dry_run=dry_run,
            credential_value=credential_value,
        )
        outcome.timings = {"parse": parse_seconds, **outcome.timings}
        if dry_run:
            outcome.document = parsed.document
        return outcome

    def run_document(
        self,
        integration: Integration,
        payload: InboundPayload,
        document: Any,
        *,
        context: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        credential_value: CredentialValue | None = None,
    ) -> InboundOutcome:
        """Map `document` through every target; write the good records unless `dry_run`."""
        run = DocumentRun(integration, payload, document, context, credential_value)
        if dry_run:
            return self._plan_job(run, JobOverlay(self.records), dry_run=True)
        with self._writing:
            return self._run(run)

    def run_batch(self, runs: Sequence[DocumentRun]) -> list[InboundOutcome]:
        """Run jobs in order, as if one after another, writing all their records in ONE `apply()`.

        Returns one outcome per run, in order; see "Group commit" in the module docstring.
        """
        with self._writing:
            batch = JobOverlay(self.records)
            checkers: dict[str, RecordChecker] = {}  # one schema read per object per batch
            outcomes: list[InboundOutcome] = []
            writing: list[InboundOutcome] = []  # outcomes whose writes are in the batch
            for run in runs:
                overlay = JobOverlay(batch)
                try:
                    outcome = self._plan_job(run, overlay, checkers=checkers)
                except Exception as exc:  # noqa: BLE001 - a bug in one job must not fail its neighbours
                    log.exception("planning an inbound job of %r failed unexpectedly", run.payload.name)
                    outcome = InboundOutcome(status="Failed", error=internal_error(exc))
                outcomes.append(outcome)
                if overlay.writes and _writes_kept(outcome):
                    overlay.merge_into(batch)
                    writing.append(outcome)
            if not batch.writes:
                return outcomes
            started = time.perf_counter()
            try:
                self.records.apply(batch.writes)
            except PayloadsError as exc:
                log.warning("a batch of %d inbound jobs could not be written together (%s); "
                            "running them one by one", len(runs), exc)
                return [self._run_alone(run) for run in runs]
            seconds = time.perf_counter() - started
            for outcome in writing:
                outcome.timings["write"] = seconds
            return outcomes

    def _run_alone(self, run: DocumentRun) -> InboundOutcome:
        try:
            return self._run(run)
        except Exception as exc:  # noqa: BLE001 - as in run_batch
            log.exception("an inbound job of %r failed unexpectedly", run.payload.name)
            return InboundOutcome(status="Failed", error=internal_error(exc))

    def _run(self, run: DocumentRun) -> InboundOutcome:
        """Plan one job against the store, then write it (caller holds `_writing`)."""
        overlay = JobOverlay(self.records)
        outcome = self._plan_job(run, overlay)
        if not overlay.writes or not _writes_kept(outcome):
            return outcome
        started = time.perf_counter()
        try:
            self.records.apply(overlay.writes)
        except PayloadsError as exc:
            outcome.timings["write"] = time.perf_counter() - started
            return InboundOutcome(
                status="Failed",
                results=outcome.results,
                records_processed=0,
                records_failed=len(outcome.results),
                error=f"the records could not be written, so none was: {exc}",
                timings=outcome.timings,
            )
        outcome.timings["write"] = time.perf_counter() - started
        return outcome

    def _plan_job(
        self, run: DocumentRun, overlay: JobOverlay, *, dry_run: bool = False,
        checkers: dict[str, RecordChecker] | None = None,
    ) -> InboundOutcome:
        """Plan one job into `overlay`: its outcome if the writes planned there land.

        A job that fails as a whole (records unreadable, or a bad item with partial
        success off) has `records_processed == 0`; its planned writes must be dropped.
        """
        payload = run.payload
        started = time.perf_counter()
        results: list[RecordResult] = []
        try:
            first_error = self._plan(
                run.integration, payload, run.document, run.context or {}, run.credential_value, overlay, results,
                {} if checkers is None else checkers,
            )
        except PayloadsError as exc:  # the store could not be read (a damaged file, a bad object name)
            return InboundOutcome(
                status="Failed",
                results=results,
                records_failed=len(results),
                error=f"the records could not be read: {exc}",
                timings={"map": time.perf_counter() - started},
                dry_run=dry_run,
            )
        timings = {"map": time.perf_counter() - started, "write": 0.0}
        failed = sum(1 for r in results if r.error is not None)
        good = len(results) - failed

        if failed and not payload.allow_partial_success:
            return InboundOutcome(
                status="Failed",
                results=results,
                records_processed=0,
                records_failed=failed,
                error=f"{first_error}; partial success is off, so nothing was written",
                timings=timings,
                dry_run=dry_run,
            )
        if not results:
            return InboundOutcome(status="Completed", note=nothing_selected(payload), timings=timings, dry_run=dry_run)
        if not failed:
            status, error = "Completed", None
        elif not good:
            status = "Failed"
            error = (f"the only record failed: {first_error}" if failed == 1
                     else f"all {failed} records failed; the first: {first_error}")
        else:
            status = "Partially Completed"
            error = (f"1 of {len(results)} records failed: {first_error}" if failed == 1
                     else f"{failed} of {len(results)} records failed; the first: {first_error}")
        return InboundOutcome(
            status=status,
            results=results,
            records_processed=good,
            records_failed=failed,
            error=error,
            timings=timings,
            dry_run=dry_run,
        )

    # --- planning --------------------------------------------------------------------

    def _plan(
        self,
        integration: Integration,
        payload: InboundPayload,
        document: Any,
        context: Mapping[str, Any],
        credential_value: CredentialValue | None,
        overlay: JobOverlay,
        results: list[RecordResult],
        checkers: dict[str, RecordChecker],
    ) -> str | None:
        """Plan every item into `overlay` and `results`; the first error, as a job message.

        `checkers` holds the schema checker of each object already read (shared by a batch).
        """
        now_iso = utc_timestamp()
        earlier: dict[str, list[dict[str, Any] | None]] = {}
        earlier_items: dict[str, list[Any]] = {}
        first_error: str | None = None
        for target in payload.targets:
            checker = checkers.get(target.object)
            if checker is None:
                checker = checkers[target.object] = RecordChecker(self.schema_of(target.object))
            items = map_target(
                target,
                document,
                context=context,
                now_iso=now_iso,
                variables=integration.variables,
                earlier=earlier,
                credential_value=credential_value,
                earlier_items=earlier_items,
            )
            written: list[dict[str, Any] | None] = []
            earlier[target.name] = written
            earlier_items[target.name] = [item.item for item in items]
            for item in items:
                result = self._plan_item(target, checker, item, overlay)
                results.append(result)
                if result.error is None:
                    written.append(overlay.planned[target.object][result.record_id or ""])
                    continue
                written.append(None)
                if first_error is None:
                    first_error = f"item {item.index + 1} of target {target.name}: {result.error}"
                if not payload.allow_partial_success:
                    return first_error
        return first_error

    def _plan_item(
        self, target: Target, checker: RecordChecker, item: ItemMapping, overlay: JobOverlay
    ) -> RecordResult:
        if item.error is not None or item.values is None:
            return RecordResult(target=target.name, item=item.index, error=item.error or "no values")
        values = item.values
        try:
            values = checker.check(item.values, partial=True)
            operation, record_id, record, write = self._decide(target, checker, values, overlay)
        except (ItemFailed, SchemaError) as exc:
            return RecordResult(target=target.name, item=item.index, error=str(exc), values=values)
        overlay.plan(write, record)
        return RecordResult(
            target=target.name, item=item.index, operation=operation, record_id=record_id, values=write.values
        )

    def _decide(
        self, target: Target, checker: RecordChecker, values: dict[str, Any], overlay: JobOverlay
    ) -> tuple[str, str, dict[str, Any], RecordWrite]:
        """(operation, record id, record after the write, the write) for one item's values."""
        obj, schema = target.object, checker.schema
        existing: dict[str, Any] | None = None
        # A lookup on the external id alone already showed whether another record holds it.
        matched_on_external_id = (
            schema is not None and target.operation != "insert" and target.match_key == [schema.external_id]
        )
        if target.operation in ("update", "upsert"):
            match = {key: values.get(key) for key in target.match_key}
            missing = [key for key, value in match.items() if value is None]
            if missing:
                raise ItemFailed(f"match key {', '.join(missing)} has no value, so no {obj} record can be matched")
            found = overlay.find(obj, match)
            if len(found) > 1:
                raise ItemFailed(
                    f"{len(found)} {obj} records have {_describe_match(match)}; the match key must pick one record"
                )
            if found:
                existing = found[0]
            elif target.operation == "update":
                raise ItemFailed(f"no {obj} with {_describe_match(match)}")

        if existing is None:
            checker.check_required(values)  # values were coerced by the partial check
            record_id = values.get("id") or new_id()
            if "id" in values and overlay.exists(obj, record_id):
                raise ItemFailed(f"a {obj} record with id {record_id} already exists")
            values = {**values, "id": record_id}
            if not matched_on_external_id:
                self._check_external_id(schema, obj, values, record_id, overlay)
            return "insert", record_id, dict(values), RecordWrite("insert", obj, values)

        record_id = existing["id"]
        if values.get("id", record_id) != record_id:
            raise ItemFailed(f"id: the id of a {obj} record cannot change ({record_id} → {values['id']})")
        values = {k: v for k, v in values.items() if k != "id"}
        if not matched_on_external_id:
            self._check_external_id(schema, obj, values, record_id, overlay)
        return "update", record_id, {**existing, **values}, RecordWrite("update", obj, values, record_id)

    @staticmethod
    def _check_external_id(
        schema: ObjectSchema | None, obj: str, values: dict[str, Any], record_id: str, overlay: JobOverlay
    ) -> None:
        external = schema.external_id if schema else None
        if not external or values.get(external) is None:
            return
        if is_blank(values[external]):
            raise ItemFailed(f"{external}: the external id is an empty string; each {obj} record needs its own")
        others = [r for r in overlay.find(obj, {external: values[external]}) if r["id"] != record_id]
        if others:
            raise ItemFailed(
                f"{external}: duplicate external id: another {obj} record has {external}={values[external]}; "
                "upsert on it to update that record instead"
            )
