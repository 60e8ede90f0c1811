"""Sealed job-log segments: writing them, reading them, and a bounded cache of their indexes.

A sealed segment is two immutable files in `jobs/`:
- `seg-<id>-<gen>.json`: a TinyDB database, `{"jobs": {"1": {job}, "2": {job}, ...}}`,
  the latest version of every job the segment owns, ordered by kind then number;
- `seg-<id>-<gen>.idx`: the heads of those jobs (msgpack), each with the byte offset
  and length of its job inside the `.json` file, so one job is read with one `pread`
  and a list is filtered without decoding any full job.

A segment is never changed in place: merging late updates writes generation `gen+1`
and the manifest switches to it. `SegmentViews` keeps the heads of recently used
segments in memory, bounded by a total number of heads.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from operator import attrgetter
from pathlib import Path

import msgspec

from payloads_tui.store.jobformat import (
    KINDS,
    CountKey,
    Entry,
    JobHead,
    SegmentMeta,
    counts_list,
    decode_heads,
    encode_heads,
)
from payloads_tui.store.storage import atomic_write

_seq_of = attrgetter("seq")


def segment_file(jobs_dir: Path, seg_id: int, gen: int) -> Path:
    return jobs_dir / f"seg-{seg_id:08d}-{gen}.json"


def index_file(jobs_dir: Path, seg_id: int, gen: int) -> Path:
    return jobs_dir / f"seg-{seg_id:08d}-{gen}.idx"


def active_file(jobs_dir: Path, seg_id: int) -> Path:
    return jobs_dir / f"active-{seg_id:08d}.jsonl"


def _sort_key(entry: Entry) -> tuple[str, int]:
    return (entry[0].kind, entry[0].seq)


def write_segment(
    jobs_dir: Path,
    seg_id: int,
    gen: int,
    entries: Iterable[Entry],
    first: dict[str, int],
    last: dict[str, int],
    *,
    durable: bool,
) -> tuple[SegmentMeta, list[JobHead]]:
    """Write a sealed segment (TinyDB file + index) from job versions; return its meta and heads."""
    ordered = sorted(entries, key=_sort_key)
    parts: list[bytes] = [b'{"jobs":{']
    position = len(parts[0])
    heads: list[JobHead] = []
    counts: dict[CountKey, int] = {}
    created_min = float("inf")
    created_max = float("-inf")
    with_blobs = 0
    for doc_id, (head, line) in enumerate(ordered, 1):
        key = b'%s"%d":' % (b"," if doc_id > 1 else b"", doc_id)
        parts.append(key)
        parts.append(line)
        position += len(key)
        heads.append(msgspec.structs.replace(head, offset=position, length=len(line)))
        position += len(line)
        count_key = head.count_key
        counts[count_key] = counts.get(count_key, 0) + 1
        created_min = min(created_min, head.created)
        created_max = max(created_max, head.created)
        with_blobs += bool(head.blobs)
    parts.append(b"}}")
    atomic_write(segment_file(jobs_dir, seg_id, gen), b"".join(parts), durable=durable)
    atomic_write(index_file(jobs_dir, seg_id, gen), encode_heads(heads), durable=durable)
    meta = SegmentMeta(
        id=seg_id,
        gen=gen,
        jobs=len(heads),
        first=dict(first),
        last=dict(last),
        created=(created_min, created_max) if heads else (0.0, 0.0),
        counts=counts_list(counts),
        blobs=with_blobs,
    )
    return meta, heads


def remove_segment_files(jobs_dir: Path, seg_id: int, gen: int) -> None:
    for path in (segment_file(jobs_dir, seg_id, gen), index_file(jobs_dir, seg_id, gen)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


class SegmentView:
    """The heads of one sealed segment (ordered by kind, then number) and where its jobs are."""

    __slots__ = ("seg_id", "gen", "path", "heads", "_slices", "_by_created")

    def __init__(self, seg_id: int, gen: int, path: Path, heads: list[JobHead]) -> None:
        self.seg_id = seg_id
        self.gen = gen
        self.path = path
        self.heads = heads
        self._slices: dict[str, tuple[int, int]] = {}
        self._by_created: list[JobHead] | None = None
        start = 0
        for kind in KINDS:
            stop = start
            while stop < len(heads) and heads[stop].kind == kind:
                stop += 1
            self._slices[kind] = (start, stop)
            start = stop

    @classmethod
    def load(cls, jobs_dir: Path, seg_id: int, gen: int) -> SegmentView:
        heads = decode_heads(index_file(jobs_dir, seg_id, gen).read_bytes())
        return cls(seg_id, gen, segment_file(jobs_dir, seg_id, gen), heads)

    def find(self, kind: str, seq: int) -> JobHead | None:
        start, stop = self._slices.get(kind, (0, 0))
        i = bisect_left(self.heads, seq, start, stop, key=_seq_of)
        if i < stop and self.heads[i].seq == seq:
            return self.heads[i]
        return None

    def newest_of_kind(self, kind: str) -> Iterator[JobHead]:
        """Heads of one kind, highest number first."""
        start, stop = self._slices.get(kind, (0, 0))
        for i in range(stop - 1, start - 1, -1):
            yield self.heads[i]

    def newest_by_created(self) -> list[JobHead]:
        """Heads of both kinds, newest created first (sorted once, on first use)."""
        if self._by_created is None:
            self._by_created = sorted(self.heads, key=lambda h: (h.created, h.seq, h.kind), reverse=True)
        return self._by_created

    def read_lines(self, heads: Iterable[JobHead]) -> list[bytes]:
        """The encoded jobs of `heads` (heads of this segment), read with one open."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return [os.pread(fd, head.length, head.offset) for head in heads]
        finally:
            os.close(fd)


class SegmentViews:
    """A thread-safe LRU of `SegmentView`s, bounded by the total number of heads held."""

    def __init__(self, max_heads: int) -> None:
        self.max_heads = max_heads
        self._views: OrderedDict[tuple[int, int], SegmentView] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def get(self, seg_id: int, gen: int, load: Callable[[], SegmentView]) -> SegmentView:
        key = (seg_id, gen)
        with self._lock:
            view = self._views.get(key)
            if view is not None:
                self._views.move_to_end(key)
                return view
        view = load()
        self.put(view)
        return view

    def put(self, view: SegmentView) -> None:
        key = (view.seg_id, view.gen)
        with self._lock:
            old = self._views.pop(key, None)
            if old is not None:
                self._held -= len(old.heads)
            self._views[key] = view
            self._held += len(view.heads)
            while self._held > self.max_heads and len(self._views) > 1:
                _, evicted = self._views.popitem(last=False)
                self._held -= len(evicted.heads)

    def drop(self, seg_id: int) -> None:
        with self._lock:
            for key in [k for k in self._views if k[0] == seg_id]:
                self._held -= len(self._views.pop(key).heads)

    def drop_generation(self, seg_id: int, gen: int) -> None:
        with self._lock:
            view = self._views.pop((seg_id, gen), None)
            if view is not None:
                self._held -= len(view.heads)

    def clear(self) -> None:
        with self._lock:
            self._views.clear()
            self._held = 0
