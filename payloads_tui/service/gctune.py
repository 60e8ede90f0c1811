"""Garbage-collector tuning while the service runs: fewer, cheaper collections per request.

Every webhook allocates a few hundred container objects (request, job, parse, planned
records) that live until its job is processed, tens of milliseconds later. With the
default threshold (700) a young collection runs every few requests and finds most of
them still alive, then promotes them into older generations that are scanned again:
measured under `bench/http_ingest.py` (64 connections, ~1,500 jobs/s), ~0.9 s of GC per
15,000 jobs (~60 us per job, ~10% of the process's CPU). With the objects of the opened
workspace frozen (`gc.freeze()`: configuration, records, indexes are never scanned
again) and a young threshold of `YOUNG_THRESHOLD`, the same run spent ~0.05 s in GC.

Cyclic garbage lives a little longer (until 10,000 allocations, not 700); memory is
otherwise unchanged, since almost everything is freed by reference counting.
`GcTuning.apply()` is undone by `restore()` (the TUI embeds the service).
"""

from __future__ import annotations

import gc

#: Young-generation threshold while the service runs (CPython's default is 700).
YOUNG_THRESHOLD = 10_000


class GcTuning:
    """Raises the young-generation threshold and freezes what exists; `restore()` undoes both."""

    def __init__(self) -> None:
        self._saved: tuple[int, int, int] | None = None

    def apply(self) -> None:
        if self._saved is not None:
            return
        self._saved = gc.get_threshold()
        young, middle, old = self._saved
        gc.freeze()  # what is alive now (the opened workspace) is never scanned again
        gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)

    def restore(self) -> None:
        if self._saved is None:
            return
        gc.set_threshold(*self._saved)
        gc.unfreeze()
        self._saved = None
