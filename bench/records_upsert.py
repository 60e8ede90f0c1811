"""Benchmark: upserts into the record store against a bare TinyDB upsert, measured in the same run.

An upsert is "find the record by its match key; update it if found, else insert".
Bare baseline: TinyDB with a msgspec JSON storage (no fsync), `search()` then
`update()` / `insert()` - what a plain TinyDB program does. Ours: `RecordStore.find()`
then `update()` / `insert()`, non-durable too, so both pay one whole-file write per
upsert and the difference is the search (a scan vs an index) and TinyDB's overhead.

    .venv/bin/python bench/records_upsert.py [--sizes 1000,10000] [--ops 200] [--durable]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
from tinydb import Query, TinyDB
from tinydb.storages import Storage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from payloads_tui.store.records import RecordStore, RecordWrite  # noqa: E402

PAD = "x" * 400  # ~500 B documents, as in BASELINES.md


class BareStorage(Storage):
    """TinyDB storage with msgspec JSON, a read cache and plain (non-atomic, no fsync) writes."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.cache: dict[str, Any] | None = None

    def read(self) -> dict[str, Any] | None:
        if self.cache is None and self.path.exists():
            self.cache = msgspec.json.decode(self.path.read_bytes())
        return self.cache

    def write(self, data: dict[str, Any]) -> None:
        self.path.write_bytes(msgspec.json.encode(data))
        self.cache = data


def _doc(i: int) -> dict[str, Any]:
    return {"stripe_id": f"cus_{i}", "name": f"Customer {i}", "pad": PAD}


def _keys(size: int, ops: int) -> list[int]:
    # half updates of existing records, half inserts of new ones
    return [(i * 7919) % size if i % 2 else size + i for i in range(ops)]


def bench_bare(directory: Path, size: int, ops: int) -> list[float]:
    db = TinyDB(directory / "bare.json", storage=BareStorage)
    table = db.table("records")
    table.insert_multiple(_doc(i) for i in range(size))
    db.close()
    db = TinyDB(directory / "bare.json", storage=BareStorage)  # reopened, as after a start
    table = db.table("records")
    customer = Query()
    times = []
    for key in _keys(size, ops):
        started = time.perf_counter()
        found = table.search(customer.stripe_id == f"cus_{key}")
        if found:
            table.update({"name": f"Updated {key}"}, doc_ids=[found[0].doc_id])
        else:
            table.insert(_doc(key))
        times.append(time.perf_counter() - started)
    db.close()
    return times


def bench_store(directory: Path, size: int, ops: int, durable: bool) -> list[float]:
    store = RecordStore(directory / "ours", durable=durable)
    store.apply([RecordWrite("insert", "Customer", _doc(i)) for i in range(size)])
    store.close()
    store = RecordStore(directory / "ours", durable=durable)  # reopened, as after a start
    times = []
    for key in _keys(size, ops):
        started = time.perf_counter()
        found = store.find("Customer", {"stripe_id": f"cus_{key}"})
        if found:
            store.update("Customer", found[0]["id"], {"name": f"Updated {key}"})
        else:
            store.insert("Customer", _doc(key))
        times.append(time.perf_counter() - started)
    store.close()
    return times


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "ops_per_s": round(len(times) / sum(times), 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "first_ms": round(times[0] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--ops", type=int, default=200)
    parser.add_argument("--durable", action="store_true", help="fsync our writes (the bare baseline never does)")
    args = parser.parse_args()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as directory:
            bare = _summary(bench_bare(Path(directory), size, args.ops))
            ours = _summary(bench_store(Path(directory), size, args.ops, args.durable))
        row = {"size": size, "bare": bare, "ours": ours, "ratio": round(ours["ops_per_s"] / bare["ops_per_s"], 2)}
        results.append(row)
        print(
            f"{size:>7} records  bare {bare['ops_per_s']:>8} upserts/s (p50 {bare['p50_ms']} ms, first {bare['first_ms']} ms)"
            f"  ours {ours['ops_per_s']:>8} upserts/s (p50 {ours['p50_ms']} ms, first {ours['first_ms']} ms)"
            f"  ratio {row['ratio']}x"
        )
    print(json.dumps({"bench": "records_upsert", "durable": args.durable, "results": results}))


if __name__ == "__main__":
    main()
