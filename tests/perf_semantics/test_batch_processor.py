"""Group commit of inbound jobs (`InboundProcessor.run_batch`) gives the outcomes of running them one by one."""

from __future__ import annotations

import json
from collections.abc import Sequence
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payloads_tui.domain.models import FieldMapping, FieldSpec, InboundPayload, Integration, ObjectSchema, Target
from payloads_tui.domain.validation import validate_integration
from payloads_tui.engine.inbound import DocumentRun, InboundOutcome, InboundProcessor
from payloads_tui.domain.errors import StoreError
from payloads_tui.store.records import RecordStore, RecordWrite

SCHEMAS = {
    "Counter": ObjectSchema(name="Counter", fields=[
        FieldSpec(name="key", required=True), FieldSpec(name="n", type="integer"),
    ]),
    "Unique": ObjectSchema(name="Unique", external_id="key", fields=[  # key is unique across records
        FieldSpec(name="key", required=True), FieldSpec(name="n", type="integer"),
    ]),
}
MAPPINGS = [FieldMapping(field="key", expression="key"), FieldMapping(field="n", expression="n")]


def counter_payload(
    name: str, operation: str = "upsert", *, partial: bool = False, obj: str = "Counter", with_id: bool = False
) -> InboundPayload:
    mappings = [*MAPPINGS, FieldMapping(field="id", expression="id")] if with_id else MAPPINGS
    target = Target(name=obj, object=obj, items="items", operation=operation,  # type: ignore[arg-type]
                    match_key=[] if operation == "insert" else ["key"], mappings=mappings)
    return InboundPayload(name=name, allow_partial_success=partial, targets=[target])


UPSERT = counter_payload("Upsert")
UPSERT_PARTIAL = counter_payload("Upsert partial", partial=True)
INSERT = counter_payload("Insert", "insert")
UPDATE_PARTIAL = counter_payload("Update partial", "update", partial=True)
LOOSE_WITH_ID = counter_payload("Loose with id", obj="Loose", with_id=True)  # no schema
UNIQUE_INSERT = counter_payload("Unique insert", "insert", partial=True, obj="Unique")
UNIQUE_UPSERT = counter_payload("Unique upsert", obj="Unique")
INTEGRATION = Integration(slug="load", name="Load", inbound=[
    UPSERT, UPSERT_PARTIAL, INSERT, UPDATE_PARTIAL, LOOSE_WITH_ID, UNIQUE_INSERT, UNIQUE_UPSERT])
validate_integration(INTEGRATION)  # payloads a user could save


def job(payload: InboundPayload, *items: dict[str, Any]) -> DocumentRun:
    return DocumentRun(INTEGRATION, payload, {"items": list(items)})


def processor_on(home: Path) -> tuple[InboundProcessor, RecordStore]:
    store = RecordStore(home, durable=False)
    return InboundProcessor(store, SCHEMAS.get), store


def counters(store: RecordStore, obj: str = "Counter") -> list[tuple[Any, Any]]:
    return [(r["key"], r.get("n")) for r in store.all(obj)]


def one_by_one(processor: InboundProcessor, runs: list[DocumentRun]) -> list[InboundOutcome]:
    return [processor.run_document(r.integration, r.payload, r.document) for r in runs]


def test_two_jobs_upserting_the_same_key_in_one_batch_behave_as_in_sequence(tmp_path: Path) -> None:
    processor, store = processor_on(tmp_path / "batched")
    first, second = processor.run_batch([job(UPSERT, {"key": "k", "n": 1}), job(UPSERT, {"key": "k", "n": 2})])
    assert [(o.status, o.records_processed) for o in (first, second)] == [("Completed", 1), ("Completed", 1)]
    assert [first.results[0].operation, second.results[0].operation] == ["insert", "update"]
    assert first.results[0].record_id == second.results[0].record_id
    assert counters(store) == [("k", 2)]
    assert "write" in first.timings and "map" in second.timings

    sequential, alone = processor_on(tmp_path / "sequential")
    outcomes = one_by_one(sequential, [job(UPSERT, {"key": "k", "n": 1}), job(UPSERT, {"key": "k", "n": 2})])
    assert [o.results[0].operation for o in outcomes] == ["insert", "update"]
    assert counters(alone) == counters(store)


def test_a_failing_job_with_partial_success_off_writes_nothing_while_its_neighbours_land(tmp_path: Path) -> None:
    processor, store = processor_on(tmp_path)
    good, bad, after = processor.run_batch([
        job(UPSERT, {"key": "a", "n": 1}),
        job(UPSERT, {"key": "b", "n": 2}, {"key": "c", "n": "not a number"}),
        job(UPSERT, {"key": "b", "n": 3}),
    ])
    assert good.status == "Completed" and after.status == "Completed"
    assert bad.status == "Failed" and bad.records_processed == 0 and bad.records_failed == 1
    assert bad.error is not None and bad.error.startswith("item 2 of target Counter: n:")
    assert bad.error.endswith("partial success is off, so nothing was written")
    # The bad job's good item ("b", 2) never reached the batch: the next job inserts "b" itself.
    assert after.results[0].operation == "insert"
    assert counters(store) == [("a", 1), ("b", 3)]


def test_partial_success_on_keeps_the_good_items_of_a_job_in_the_batch(tmp_path: Path) -> None:
    processor, store = processor_on(tmp_path)
    partial, update = processor.run_batch([
        job(UPSERT_PARTIAL, {"key": "a", "n": 1}, {"n": 5}),
        job(UPDATE_PARTIAL, {"key": "a", "n": 2}, {"key": "nobody", "n": 0}),
    ])
    assert (partial.status, partial.records_processed, partial.records_failed) == ("Partially Completed", 1, 1)
    assert (update.status, update.records_processed) == ("Partially Completed", 1)
    assert update.results[0].operation == "update" and update.results[1].error == "no Counter with key=nobody"
    assert counters(store) == [("a", 2)]


class DiskFullForLoose(RecordStore):
    """A store whose `Loose` file cannot be written (as on a full disk): a failure planning cannot foresee."""

    def apply(self, writes: Sequence[RecordWrite]) -> list[dict]:
        if any(write.object == "Loose" for write in writes):
            raise StoreError("could not write records/Loose.json (No space left on device)")
        return super().apply(writes)


def test_a_store_error_on_the_combined_apply_falls_back_job_by_job(tmp_path: Path) -> None:
    """The combined write fails; one by one, only the job that writes the failing object fails."""
    store = DiskFullForLoose(tmp_path, durable=False)
    processor = InboundProcessor(store, SCHEMAS.get)
    first, bad, last = processor.run_batch([
        job(UPSERT, {"key": "a", "n": 1}),
        job(LOOSE_WITH_ID, {"key": "b", "n": 2, "id": 5}),
        job(UPSERT, {"key": "a", "n": 3}),
    ])
    assert bad.status == "Failed" and bad.records_processed == 0
    assert bad.error is not None and bad.error.startswith("the records could not be written, so none was:")
    assert "No space left on device" in bad.error
    assert (first.status, first.results[0].operation) == ("Completed", "insert")
    assert (last.status, last.results[0].operation) == ("Completed", "update")
    assert last.results[0].record_id == first.results[0].record_id
    assert counters(store) == [("a", 3)]  # written once each: nothing of the failed combined write remains
    assert store.count("Loose") == 0


def test_a_numeric_id_of_an_object_without_a_schema_is_stored_as_text(tmp_path: Path) -> None:
    processor, store = processor_on(tmp_path)
    [stored, refused] = processor.run_batch([
        job(LOOSE_WITH_ID, {"key": "b", "n": 2, "id": 5}),
        job(LOOSE_WITH_ID, {"key": "c", "n": 3, "id": 1.5}),
    ])
    assert stored.status == "Completed" and stored.results[0].record_id == "5"
    assert refused.status == "Failed" and refused.error is not None
    assert "id: a record id must be non-empty text, got number 1.5" in refused.error
    assert [r["id"] for r in store.all("Loose")] == ["5"]


def test_an_empty_batch_and_a_batch_without_writes_touch_nothing(tmp_path: Path) -> None:
    processor, store = processor_on(tmp_path)
    assert processor.run_batch([]) == []
    [failed] = processor.run_batch([job(UPSERT, {"n": 1})])
    assert failed.status == "Failed" and failed.error is not None and "key: is required but has no value" in failed.error
    assert store.objects() == []


# --- any batch gives the outcomes of running its jobs one by one ----------------------------

PAYLOADS = [UPSERT, UPSERT_PARTIAL, INSERT, UPDATE_PARTIAL, UNIQUE_INSERT, UNIQUE_UPSERT]
items = st.fixed_dictionaries(
    {"key": st.sampled_from(["k0", "k1", "k2"]), "n": st.one_of(st.integers(0, 9), st.just("bad"))},
    optional={"missing": st.none()},
).map(lambda item: {k: v for k, v in item.items() if k != "missing"} if "missing" not in item
      else {"n": item["n"]})
jobs = st.lists(st.tuples(st.sampled_from(PAYLOADS), st.lists(items, min_size=1, max_size=3)), min_size=1, max_size=8)


def comparable(outcome: InboundOutcome, ids: dict[str, str]) -> tuple[Any, ...]:
    """An outcome without timings, its record ids renamed by first appearance (new ids are random)."""
    def renamed(record_id: str | None) -> str | None:
        return ids.setdefault(record_id, f"r{len(ids)}") if record_id else None

    results = [
        (r.target, r.item, r.operation, renamed(r.record_id), r.error,
         json.dumps({**r.values, "id": renamed(r.values.get("id"))} if r.values else r.values, sort_keys=True))
        for r in outcome.results
    ]
    return outcome.status, outcome.records_processed, outcome.records_failed, outcome.error, results


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs, st.sampled_from([[], [("k0", 0)], [("k1", 1), ("k1", 2)]]))
def test_any_batch_has_the_outcomes_and_records_of_running_its_jobs_one_by_one(
    spec: list[tuple[InboundPayload, list[dict[str, Any]]]], existing: list[tuple[str, int]]
) -> None:
    runs = [job(payload, *job_items) for payload, job_items in spec]
    with tempfile.TemporaryDirectory() as tmp:
        batched, batched_store = processor_on(Path(tmp) / "batched")
        sequential, sequential_store = processor_on(Path(tmp) / "sequential")
        for store in (batched_store, sequential_store):
            for key, n in existing:
                store.insert("Counter", {"key": key, "n": n})
        together = batched.run_batch(runs)
        alone = one_by_one(sequential, runs)
        ids_together: dict[str, str] = {}
        ids_alone: dict[str, str] = {}
        assert [comparable(o, ids_together) for o in together] == [comparable(o, ids_alone) for o in alone]
        assert counters(batched_store) == counters(sequential_store)
        assert counters(batched_store, "Unique") == counters(sequential_store, "Unique")


@pytest.mark.parametrize("size", [1, 64])
def test_a_batch_writes_the_records_file_once(tmp_path: Path, size: int) -> None:
    """However many jobs, one file rewrite: the point of the batch (the file's inode changes per rewrite)."""
    processor, store = processor_on(tmp_path)
    store.insert("Counter", {"key": "seed", "n": 0})
    path = tmp_path / "records" / "Counter.json"
    before = path.stat().st_ino
    outcomes = processor.run_batch([job(UPSERT, {"key": f"k{i % 10}", "n": i}) for i in range(size)])
    assert all(o.status == "Completed" for o in outcomes)
    assert path.stat().st_ino != before
    assert len({o.timings["write"] for o in outcomes}) == 1  # one apply, timed once for all
    assert store.count("Counter") == 1 + min(size, 10)
