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
otherwise unchanged, since almost everything is freed by reference counting; cycles
among objects that existed at start are collected only after the service stops.
`GcTuning.apply()` is undone by `restore()` (the TUI embeds the service).
"""

from __future__ import annotations

import gc
import threading

#: Young-generation threshold while the service runs (CPython's default is 700).
YOUNG_THRESHOLD = 10_000

_lock = threading.Lock()
_users = 0
_saved: tuple[int, int, int] | None = None


class GcTuning:
    """One service's hold on the tuning: the first `apply()` in the process tunes, the last
    `restore()` puts back the thresholds it found and unfreezes (several services may run in
    one process, as in the tests)."""

    def __init__(self) -> None:
        self._applied = False

    def apply(self) -> None:
        global _users, _saved
        with _lock:
            if self._applied:
                return
            self._applied = True
            _users += 1
            if _users > 1:
                return
            _saved = gc.get_threshold()
            young, middle, old = _saved
            gc.freeze()  # what is alive now (the opened workspace) is never scanned again
            gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)

    def restore(self) -> None:
        global _users, _saved
        with _lock:
            if not self._applied:
                return
            self._applied = False
            _users -= 1
            if _users or _saved is None:
                return
            gc.set_threshold(*_saved)
            gc.unfreeze()
            _saved = None
