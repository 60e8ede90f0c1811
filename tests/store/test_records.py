"""The system of record: CRUD, indexed find, all-or-nothing batches, the journal, reopening."""

from __future__ import annotations

import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tinydb import TinyDB

import payloads_tui.store.records as records_module
from payloads_tui.domain.errors import ConflictError, NotFoundError, StoreError, ValidationError
from payloads_tui.store.records import RecordStore, RecordWrite
from payloads_tui.store.storage import AtomicJSONStorage

TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def store(tmp_path: Path):
    records = RecordStore(tmp_path, durable=False)
    yield records
    records.close()


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _values(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("created_at", "updated_at")}


# --- CRUD ------------------------------------------------------------------------------


def test_insert_get_update_delete(store: RecordStore) -> None:
    account = store.insert("Account", {"name": "Acme", "address": {"city": "Oslo", "zip": "0150"}})
    assert re.fullmatch(r"[0-9a-f]{16}", account["id"])
    assert TIMESTAMP_RE.match(account["created_at"]) and account["updated_at"] == account["created_at"]
    assert store.get("Account", account["id"]) == account

    updated = store.update("Account", account["id"], {"address": {"city": "Bergen"}, "tier": 2})
    assert updated["address"] == {"city": "Bergen"}  # a shallow merge replaces nested values whole
    assert updated["name"] == "Acme" and updated["tier"] == 2
    assert updated["created_at"] == account["created_at"]
    assert updated["updated_at"] >= account["updated_at"]
    assert store.get("Account", account["id"]) == updated

    store.delete("Account", account["id"])
    assert store.get("Account", account["id"]) is None
    assert store.count("Account") == 0
    assert store.objects() == ["Account"]  # the file stays, empty


def test_store_fields_are_owned_by_the_store(store: RecordStore) -> None:
    record = store.insert("Account", {"id": "acc_1", "created_at": "1999", "updated_at": "1999"})
    assert record["id"] == "acc_1" and record["created_at"] != "1999" and record["updated_at"] != "1999"
    with pytest.raises(ValidationError, match="cannot change"):
        store.update("Account", "acc_1", {"id": "acc_2"})
    assert store.update("Account", "acc_1", {"id": "acc_1", "x": 1})["x"] == 1


def test_unknown_id_names_object_and_id(store: RecordStore) -> None:
    store.insert("Order", {"n": 1})
    with pytest.raises(NotFoundError, match=r"Order.*'ord_missing'"):
        store.update("Order", "ord_missing", {"n": 2})
    with pytest.raises(NotFoundError, match=r"Order.*'ord_missing'"):
        store.delete("Order", "ord_missing")
    assert store.get("Order", "ord_missing") is None


@pytest.mark.parametrize("name", ["account", "Bad-Name", "Order\n", "", "../Etc", "A" * 65])
def test_bad_object_names_are_refused(store: RecordStore, name: str) -> None:
    with pytest.raises(ValidationError, match="object name"):
        store.insert(name, {"n": 1})
    with pytest.raises(ValidationError):
        store.all(name)


def test_bad_values_and_ids_are_refused(store: RecordStore) -> None:
    with pytest.raises(ValidationError, match="JSON"):
        store.insert("Account", {"when": object()})
    with pytest.raises(ValidationError, match="id"):
        store.insert("Account", {"id": 12})
    with pytest.raises(ValidationError, match="record id"):
        store.apply([RecordWrite("update", "Account", {"n": 1})])
    assert store.count("Account") == 0


def test_duplicate_id_is_a_conflict(store: RecordStore) -> None:
    store.insert("Account", {"id": "cus_1", "name": "first"})
    with pytest.raises(ConflictError, match="cus_1"):
        store.insert("Account", {"id": "cus_1", "name": "second"})
    assert store.all("Account")[0]["name"] == "first"
    assert store.count("Account") == 1


def test_returned_records_are_copies(store: RecordStore) -> None:
    values = {"name": "Acme", "tags": ["a"]}
    record = store.insert("Account", values)
    values["tags"].append("changed by caller after insert")
    record["tags"].append("changed in the returned insert")
    store.get("Account", record["id"])["tags"].append("changed in get")
    store.find("Account", {"name": "Acme"})[0]["tags"].append("changed in find")
    store.all("Account")[0]["tags"].append("changed in all")
    store.query("Account")[0]["tags"].append("changed in query")
    assert store.get("Account", record["id"])["tags"] == ["a"]


def test_tuples_are_stored_as_lists(store: RecordStore) -> None:
    record = store.insert("Account", {"pair": (1, 2)})
    assert record["pair"] == [1, 2]
    assert store.find("Account", {"pair": [1, 2]}) == [record]


# --- find and its indexes ----------------------------------------------------------------


def test_find_compares_values_as_json(store: RecordStore) -> None:
    one_int = store.insert("Item", {"code": 1})
    one_str = store.insert("Item", {"code": "1"})
    true = store.insert("Item", {"code": True})
    nested = store.insert("Item", {"code": {"a": 1, "b": [1, 2]}})
    none = store.insert("Item", {"code": None})
    store.insert("Item", {"other": 1})  # lacks the field: matches nothing
    assert store.find("Item", {"code": 1}) == [one_int]
    assert store.find("Item", {"code": "1"}) == [one_str]
    assert store.find("Item", {"code": True}) == [true]
    assert store.find("Item", {"code": {"b": [1, 2], "a": 1}}) == [nested]  # key order does not matter
    assert store.find("Item", {"code": None}) == [none]
    assert store.find("Item", {"code": 2}) == []


def test_find_on_several_keys_follows_updates_and_deletes(store: RecordStore) -> None:
    a = store.insert("Customer", {"email": "a@x.test", "region": "eu"})
    b = store.insert("Customer", {"email": "b@x.test", "region": "eu"})
    assert store.find("Customer", {"region": "eu"}) == [a, b]
    assert store.find("Customer", {"region": "eu", "email": "b@x.test"}) == [b]
    a = store.update("Customer", a["id"], {"region": "us"})
    assert store.find("Customer", {"region": "eu"}) == [b]
    assert store.find("Customer", {"region": "us"}) == [a]
    b2 = store.update("Customer", b["id"], {"region": "us"})
    assert store.find("Customer", {"region": "us"}) == [a, b2]  # insertion order, not update order
    store.delete("Customer", a["id"])
    assert store.find("Customer", {"region": "us"}) == [b2]
    assert store.find("Customer", {"region": "us", "email": "a@x.test"}) == []


class _CountingDocs(dict):
    """The table's doc map, counting every walk over it."""

    walks = 0

    def __iter__(self):
        type(self).walks += 1
        return super().__iter__()

    def items(self):
        type(self).walks += 1
        return super().items()

    def values(self):
        type(self).walks += 1
        return super().values()

    def keys(self):
        type(self).walks += 1
        return super().keys()


def test_find_never_scans_after_its_first_use(store: RecordStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.apply([RecordWrite("insert", "Item", {"sku": f"sku-{i}", "n": i % 7}) for i in range(20_000)])
    reads = 0
    original_read = AtomicJSONStorage.read

    def counting_read(self: AtomicJSONStorage) -> Any:
        nonlocal reads
        reads += 1
        return original_read(self)

    monkeypatch.setattr(AtomicJSONStorage, "read", counting_read)
    table = store._tables["Item"]
    table.data["records"] = _CountingDocs(table.data["records"])
    _CountingDocs.walks = 0

    assert store.find("Item", {"sku": "sku-0"})[0]["n"] == 0
    assert _CountingDocs.walks == 1  # the one scan that builds the index
    for i in range(10_000):
        assert len(store.find("Item", {"sku": f"sku-{i}"})) == 1
    assert _CountingDocs.walks == 1
    assert reads == 0

    added = store.insert("Item", {"sku": "sku-new"})  # a write keeps the index, no rebuild
    table.data["records"] = _CountingDocs(table.data["records"])
    _CountingDocs.walks = 0
    assert store.find("Item", {"sku": "sku-new"}) == [added]
    assert _CountingDocs.walks == 0
    assert reads == 0


# --- query -------------------------------------------------------------------------------


def test_query_filters_sorts_and_slices(store: RecordStore) -> None:
    for n, name in [(3, "c"), (1, "a"), (None, "none"), (2, "b")]:
        store.insert("Order", {"total": n, "name": name, "meta": {"rank": n}})
    store.insert("Order", {"name": "no total"})
    names = lambda rows: [r["name"] for r in rows]  # noqa: E731
    assert names(store.query("Order")) == ["c", "a", "none", "b", "no total"]
    assert names(store.query("Order", sort="total")) == ["none", "no total", "a", "b", "c"]
    assert names(store.query("Order", sort="meta.rank", descending=True))[:3] == ["c", "b", "a"]
    assert names(store.query("Order", lambda r: (r.get("total") or 0) >= 2, sort="total")) == ["b", "c"]
    assert names(store.query("Order", sort="total", limit=2, offset=2)) == ["a", "b"]
    assert names(store.query("Order", descending=True, limit=1)) == ["no total"]
    with pytest.raises(ValidationError):
        store.query("Order", limit=-1)


# --- batches -----------------------------------------------------------------------------


def test_batch_can_insert_then_update_and_delete_its_own_records(store: RecordStore) -> None:
    written = store.apply(
        [
            RecordWrite("insert", "Account", {"id": "acc", "name": "Acme"}),
            RecordWrite("insert", "Order", {"id": "o1", "account": "acc"}),
            RecordWrite("update", "Order", {"total": 10}, "o1"),
            RecordWrite("insert", "Order", {"id": "o2"}),
            RecordWrite("delete", "Order", {}, "o2"),
            RecordWrite("insert", "Order", {"id": "o2", "again": True}),
        ]
    )
    assert [r["id"] for r in written] == ["acc", "o1", "o1", "o2", "o2", "o2"]
    assert written[2]["total"] == 10 and "again" not in written[4]
    assert [_values(r) for r in store.all("Order")] == [
        {"id": "o1", "account": "acc", "total": 10},
        {"id": "o2", "again": True},
    ]
    assert store.find("Order", {"again": True})[0]["id"] == "o2"


def test_one_file_write_per_object_per_batch(store: RecordStore, monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[str] = []
    original = RecordStore._write_temp

    def counting(self: RecordStore, final: str, data: bytes) -> str:
        written.append(final)
        return original(self, final, data)

    monkeypatch.setattr(RecordStore, "_write_temp", counting)
    store.apply([RecordWrite("insert", "Order" if i % 2 else "Account", {"n": i}) for i in range(100)])
    assert sorted(written) == ["Account.json", "Order.json"]


def _seed(store: RecordStore) -> None:
    store.apply(
        [
            RecordWrite("insert", "Account", {"id": "acc", "name": "Acme"}),
            RecordWrite("insert", "Order", {"id": "o1", "status": "open"}),
        ]
    )
    store.find("Order", {"status": "open"})  # build an index, so a failure must keep it right


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (RecordWrite("update", "Order", {"status": "x"}, "missing"), NotFoundError),
        (RecordWrite("insert", "Account", {"id": "acc"}), ConflictError),
        (RecordWrite("insert", "Order", {"id": "new"}), ConflictError),  # the batch inserted it already
        (RecordWrite("insert", "lowercase", {}), ValidationError),
        (RecordWrite("delete", "Order", {}, "o1"), None),  # deleted twice, see below
    ],
)
def test_batch_with_one_bad_write_changes_nothing(tmp_path: Path, bad: RecordWrite, error: type | None) -> None:
    store = RecordStore(tmp_path, durable=False)
    _seed(store)
    before_files = _files(tmp_path / "records")
    before = (store.all("Account"), store.all("Order"))
    batch = [
        RecordWrite("insert", "Order", {"id": "new", "status": "open"}),
        RecordWrite("update", "Account", {"name": "Changed"}, "acc"),
        RecordWrite("delete", "Order", {}, "o1"),
        bad,
    ]
    with pytest.raises(error or NotFoundError):
        store.apply(batch)
    assert _files(tmp_path / "records") == before_files  # no temp file, no journal either
    assert (store.all("Account"), store.all("Order")) == before
    assert [r["id"] for r in store.find("Order", {"status": "open"})] == ["o1"]
    store.close()


def test_batch_validation_error_names_the_write(store: RecordStore) -> None:
    with pytest.raises(ValidationError) as caught:
        store.apply([RecordWrite("insert", "Account", {}), RecordWrite("insert", "Account", {"id": ""})])
    assert caught.value.field == "writes[1].id"


def test_failure_while_staging_keeps_disk_memory_and_indexes(tmp_path: Path, monkeypatch) -> None:
    store = RecordStore(tmp_path, durable=False)
    _seed(store)
    before_files = _files(tmp_path / "records")
    calls = 0
    original = RecordStore._write_temp

    def failing_second(self: RecordStore, final: str, data: bytes) -> str:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(28, "No space left on device")
        return original(self, final, data)

    monkeypatch.setattr(RecordStore, "_write_temp", failing_second)
    with pytest.raises(StoreError, match="No space left"):
        store.apply(
            [
                RecordWrite("update", "Account", {"name": "Changed"}, "acc"),
                RecordWrite("update", "Order", {"status": "closed"}, "o1"),
            ]
        )
    assert _files(tmp_path / "records") == before_files
    assert store.get("Account", "acc")["name"] == "Acme"
    assert [r["id"] for r in store.find("Order", {"status": "open"})] == ["o1"]
    assert store.find("Order", {"status": "closed"}) == []
    store.close()


def test_failure_during_renames_is_rolled_forward_and_memory_follows_disk(tmp_path: Path, monkeypatch) -> None:
    store = RecordStore(tmp_path, durable=False)
    _seed(store)
    calls = 0
    original_replace = records_module.os.replace

    def failing_second_rename(src: Any, dst: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(5, "Input/output error")
        original_replace(src, dst)

    monkeypatch.setattr(records_module.os, "replace", failing_second_rename)
    with pytest.raises(StoreError):
        store.apply(
            [
                RecordWrite("update", "Account", {"name": "Changed"}, "acc"),
                RecordWrite("update", "Order", {"status": "closed"}, "o1"),
            ]
        )
    # The journal was complete, so recovery finished the batch: disk and memory agree.
    assert not (tmp_path / "records" / ".journal").exists()
    assert store.get("Account", "acc")["name"] == "Changed"
    assert store.find("Order", {"status": "open"}) == []
    assert [r["id"] for r in store.find("Order", {"status": "closed"})] == ["o1"]
    fresh = RecordStore(tmp_path, durable=False)
    assert (fresh.all("Account"), fresh.all("Order")) == (store.all("Account"), store.all("Order"))
    store.close()


# --- the journal and reopening ---------------------------------------------------------------


def _stage_without_renaming(store: RecordStore, writes: list[RecordWrite]) -> list[tuple[str, str]]:
    """What `apply` does up to a crash right after the journal is written."""
    plan = store._plan(writes)
    return store._stage_files({obj: staged.new_data() for obj, staged in plan.staged.items()})


@pytest.mark.parametrize("renamed_before_crash", [0, 1])
def test_crash_after_journal_is_rolled_forward_on_open(tmp_path: Path, renamed_before_crash: int) -> None:
    store = RecordStore(tmp_path)
    _seed(store)
    renames = _stage_without_renaming(
        store,
        [
            RecordWrite("update", "Account", {"name": "Changed"}, "acc"),
            RecordWrite("insert", "Order", {"id": "o2", "status": "open"}),
            RecordWrite("insert", "Invoice", {"id": "inv"}),
        ],
    )
    records_dir = tmp_path / "records"
    assert (records_dir / ".journal").exists() and len(renames) == 3
    for temp, final in renames[:renamed_before_crash]:  # the crash may come in the middle of the renames
        (records_dir / temp).replace(records_dir / final)
    store.close()

    reopened = RecordStore(tmp_path)
    assert reopened.get("Account", "acc")["name"] == "Changed"
    assert [r["id"] for r in reopened.find("Order", {"status": "open"})] == ["o1", "o2"]
    assert reopened.get("Invoice", "inv") is not None
    assert sorted(p.name for p in records_dir.iterdir()) == ["Account.json", "Invoice.json", "Order.json"]
    reopened.close()


def test_temp_files_without_journal_are_deleted_on_open(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    _seed(store)
    _stage_without_renaming(store, [RecordWrite("update", "Account", {"name": "Lost"}, "acc")])  # one file: no journal
    store.close()
    records_dir = tmp_path / "records"
    (records_dir / ".Order.json.abc123.tmp").write_bytes(b'{"records": {"1": {"id": "half')
    assert len(list(records_dir.glob(".*.tmp"))) == 2

    reopened = RecordStore(tmp_path)
    assert list(records_dir.glob(".*.tmp")) == []
    assert reopened.objects() == ["Account", "Order"]
    assert reopened.get("Account", "acc")["name"] == "Acme"
    reopened.close()


def test_reopen_keeps_records_ids_and_doc_ids(tmp_path: Path) -> None:
    store = RecordStore(tmp_path)
    first = store.insert("Account", {"name": "a"})
    second = store.insert("Account", {"name": "b"})
    store.delete("Account", second["id"])
    store.close()

    store = RecordStore(tmp_path)
    assert store.all("Account") == [first]
    third = store.insert("Account", {"name": "c"})
    with pytest.raises(ConflictError):
        store.insert("Account", {"id": first["id"]})
    store.close()

    db = TinyDB(tmp_path / "records" / "Account.json", storage=AtomicJSONStorage)  # still a TinyDB file
    docs = db.table("records").all()
    assert [d["id"] for d in docs] == [first["id"], third["id"]]
    assert len({d.doc_id for d in docs}) == 2
    db.close()


def test_files_are_private(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "home")
    store.apply([RecordWrite("insert", "Account", {}), RecordWrite("insert", "Order", {})])
    assert (tmp_path / "home" / "records").stat().st_mode & 0o777 == 0o700
    for path in (tmp_path / "home" / "records").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
    store.close()


def test_unreadable_record_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "Account.json").write_text('{"records": {"1": {"id": "a"}, "2": {"id": "a"}}}')
    store = RecordStore(tmp_path)
    with pytest.raises(StoreError, match="used by two records"):
        store.all("Account")


def test_hand_edited_file_out_of_doc_order_is_read_in_insertion_order(tmp_path: Path) -> None:
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "Account.json").write_text(
        '{"records": {"3": {"id": "c"}, "1": {"id": "a", "k": 1}}, "_default": {}}'
    )
    store = RecordStore(tmp_path, durable=False)
    assert [r["id"] for r in store.all("Account")] == ["a", "c"]
    store.insert("Account", {"id": "d"})
    assert store.find("Account", {"k": 1})[0]["id"] == "a"
    store.close()
    data = AtomicJSONStorage(tmp_path / "records" / "Account.json").read()
    assert list(data["records"]) == ["1", "3", "4"]
    assert data["_default"] == {}  # other tables of the file are kept


def test_threads_share_a_store(store: RecordStore) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(50):
                record = store.insert("Event", {"worker": worker, "i": i})
                store.update("Event", record["id"], {"seen": True})
                store.find("Event", {"worker": worker, "i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert store.count("Event") == 200
    assert all(len(store.find("Event", {"worker": w, "seen": True})) == 50 for w in range(4))


# --- property: the store behaves like a dict -------------------------------------------------

OBJECTS = ["Account", "Order"]
IDS = ["a", "b", "c"]
scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "1", "x", "é"]))
field_values = st.one_of(scalar, st.lists(scalar, max_size=2), st.dictionaries(st.sampled_from(["p", "q"]), scalar))
values_st = st.dictionaries(st.sampled_from(["k", "n", "m"]), field_values, max_size=3)
write_st = st.one_of(
    st.builds(lambda o, v, i: RecordWrite("insert", o, {**v, **({"id": i} if i else {})}),
              st.sampled_from(OBJECTS), values_st, st.sampled_from([None, *IDS])),
    st.builds(lambda o, v, i: RecordWrite("update", o, v, i), st.sampled_from(OBJECTS), values_st, st.sampled_from(IDS)),
    st.builds(lambda o, i: RecordWrite("delete", o, {}, i), st.sampled_from(OBJECTS), st.sampled_from(IDS)),
)
Model = dict[str, dict[str, dict[str, Any]]]
PROBES: list[Any] = [None, True, False, -1, 0, 1, "", "1", "x", [], {}]


def _apply_to_model(model: Model, writes: list[RecordWrite], results: list[dict] | None) -> Model | None:
    """The batch applied to a copy of the model, or None if the store must refuse it."""
    new = {obj: {rid: dict(v) for rid, v in recs.items()} for obj, recs in model.items()}
    for position, write in enumerate(writes):
        table = new.setdefault(write.object, {})
        if write.op == "insert":
            rid = write.values.get("id") or (results[position]["id"] if results else None)
            if write.values.get("id") and rid in table:
                return None
            table[rid] = {**write.values, "id": rid}
        elif write.record_id not in table:
            return None
        elif write.op == "update":
            table[write.record_id] = {**table[write.record_id], **write.values}
        else:
            del table[write.record_id]
    return new


def _json(value: Any) -> bytes:
    return msgspec.json.encode(value, order="sorted")


def _assert_same(store: RecordStore, model: Model) -> None:
    for obj in OBJECTS:
        expected = list(model.get(obj, {}).values())
        assert [_values(r) for r in store.all(obj)] == expected
        for key in ("k", "n"):
            # values held now, and values that records may have held before an update or delete
            candidates = [r[key] for r in expected if key in r] + PROBES
            for value in {_json(v): v for v in candidates}.values():
                found = [_values(r) for r in store.find(obj, {key: value})]
                assert found == [r for r in expected if key in r and _json(r[key]) == _json(value)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.lists(write_st, min_size=1, max_size=4), min_size=1, max_size=12))
def test_random_batches_behave_like_a_dict(batches: list[list[RecordWrite]]) -> None:
    model: Model = {}
    with tempfile.TemporaryDirectory() as directory:
        store = RecordStore(Path(directory), durable=False)
        for writes in batches:
            if _apply_to_model(model, writes, None) is None:
                with pytest.raises((ConflictError, NotFoundError)):
                    store.apply(writes)
            else:
                results = store.apply(writes)
                model = _apply_to_model(model, writes, results)  # type: ignore[assignment]
            _assert_same(store, model)
        store.close()
        _assert_same(RecordStore(Path(directory), durable=False), model)
