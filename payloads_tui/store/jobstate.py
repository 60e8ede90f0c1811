"""The job log's in-memory state: which segment owns a number, the latest versions, live counts.

Pure bookkeeping, no file I/O: `JobLog` (jobs.py) changes it under its lock and reads
it to answer queries. Where a job's latest version is, newest first:
1. `pending` - queued for the next group commit, not yet durable (visible to reads);
2. the active log (`active`) for jobs it owns, else `overlay[home]` - versions
   appended to the active log for jobs owned by an older segment;
3. the frozen segment, if one is being sealed: its jobs (`frozen.entries`) and the
   overlays it carried (`frozen.overlays`), until its sealer has written them out;
4. the sealed segment file itself.

Counts are *live*: each segment's counter already includes every overlay version
applied to it, so `total` and per-segment counts never need the segment files.
`SegmentMeta.counts` (the manifest) counts what is on disk, without pending overlays.
"""

from __future__ import annotations

from bisect import bisect_left

from payloads_tui.store.jobformat import KINDS, CountKey, Entry, JobHead, SegmentMeta, counts_dict
from payloads_tui.store.jobquery import JobFilter

_NO_ENTRIES: dict[str, Entry] = {}


class Segment:
    """A sealed segment: its manifest entry (what is on disk) and its live counts and times."""

    __slots__ = ("meta", "counts", "created_min", "created_max")

    def __init__(self, meta: SegmentMeta, counts: dict[CountKey, int] | None = None) -> None:
        self.meta = meta
        self.counts: dict[CountKey, int] = counts_dict(meta.counts) if counts is None else counts
        self.created_min, self.created_max = meta.created

    @property
    def id(self) -> int:
        return self.meta.id

    @property
    def jobs(self) -> int:
        return sum(self.counts.values())


class Frozen:
    """A full active log being sealed in the background; read from memory until it is done."""

    __slots__ = ("id", "entries", "counts", "created_min", "created_max", "first", "upto", "overlays")

    def __init__(
        self,
        seg_id: int,
        entries: dict[str, Entry],
        counts: dict[CountKey, int],
        created: tuple[float, float],
        first: dict[str, int],
        upto: dict[str, int],
        overlays: dict[int, dict[str, Entry]],
    ) -> None:
        self.id = seg_id
        self.entries = entries
        self.counts = counts
        self.created_min, self.created_max = created
        self.first = first
        self.upto = upto
        self.overlays = overlays


class Source:
    """One place a query reads: jobs held in memory (`entries`), or a sealed `segment` plus `overrides`.

    `counts` is the live counter of its committed jobs (pending versions are not counted
    yet): read it only under the log's lock.
    """

    __slots__ = ("segment", "entries", "overrides", "counts", "first", "last", "created_min", "created_max")

    def __init__(
        self,
        segment: Segment | None,
        entries: dict[str, Entry],
        overrides: dict[str, Entry],
        counts: dict[CountKey, int],
        first: dict[str, int],
        last: dict[str, int],
        created: tuple[float, float],
    ) -> None:
        self.segment = segment
        self.entries = entries
        self.overrides = overrides
        self.counts = counts
        #: The numbers this source owns, per kind: `first[kind]..last[kind]`.
        self.first = first
        self.last = last
        self.created_min, self.created_max = created

    def may_match(self, flt: JobFilter) -> bool:
        """Whether a job here can match `flt`, judged from counts alone (caller holds the lock)."""
        return self.segment is None or bool(self.overrides) or flt.may_match(self.counts)


def _widen(created: tuple[float, float], entries: dict[str, Entry]) -> tuple[float, float]:
    low, high = created
    for head, _ in entries.values():
        low, high = min(low, head.created), max(high, head.created)
    return low, high


class LogState:
    """Segments, the active log, the frozen segment, overlays, pending versions, counts, numbers."""

    def __init__(self, segments: list[SegmentMeta], sealed_upto: dict[str, int], next_numbers: dict[str, int]) -> None:
        self.segments = [Segment(m) for m in sorted(segments, key=lambda m: m.id)]
        self.by_id = {s.id: s for s in self.segments}
        self.sealed_upto = {k: sealed_upto.get(k, 0) for k in KINDS}
        for segment in self.segments:
            for kind in KINDS:
                self.sealed_upto[kind] = max(self.sealed_upto[kind], segment.meta.last.get(kind, 0))
        self.next = {k: max(next_numbers.get(k, 1), self.sealed_upto[k] + 1) for k in KINDS}
        self.reserved = dict(self.next)
        self.active_id = self.first_active_id(segments)
        self.active: dict[str, Entry] = {}
        self.active_counts: dict[CountKey, int] = {}
        self.active_created = (float("inf"), float("-inf"))
        self.overlay: dict[int, dict[str, Entry]] = {}
        self.frozen: Frozen | None = None
        self.pending: dict[str, Entry] = {}
        self.total: dict[CountKey, int] = {}
        self.rebuild()

    @staticmethod
    def first_active_id(segments: list[SegmentMeta]) -> int:
        """The lowest id an active log can have beside these sealed segments."""
        return max((m.id for m in segments), default=0) + 1

    def rebuild(self) -> None:
        """Recompute the number ranges and the total after segments changed."""
        self.by_id = {s.id: s for s in self.segments}
        self._lasts = {k: [s.meta.last.get(k, 0) for s in self.segments] for k in KINDS}
        total: dict[CountKey, int] = {}
        counters = [s.counts for s in self.segments] + [self.active_counts]
        if self.frozen is not None:
            counters.append(self.frozen.counts)
        for counts in counters:
            for key, n in counts.items():
                total[key] = total.get(key, 0) + n
        self.total = total

    # --- where a job lives -----------------------------------------------------------

    def home_of(self, kind: str, seq: int) -> int | None:
        """Id of the segment (frozen, or the active log) owning number `seq` of `kind`; None if pruned."""
        frozen = self.frozen
        if seq > (frozen.upto[kind] if frozen is not None else self.sealed_upto[kind]):
            return self.active_id
        if frozen is not None and seq > self.sealed_upto[kind]:
            return frozen.id
        lasts = self._lasts[kind]
        i = bisect_left(lasts, seq)
        if i == len(lasts):
            return None
        segment = self.segments[i]
        return segment.id if segment.meta.first.get(kind, 1) <= seq else None

    def committed_entry(self, home: int, number: str) -> Entry | None:
        """The latest durable version held in memory; None means: in the sealed file, or nowhere."""
        if home == self.active_id:
            return self.active.get(number)
        entry = self.overlay.get(home, _NO_ENTRIES).get(number)
        if entry is not None:
            return entry
        frozen = self.frozen
        if frozen is not None:
            if home == frozen.id:
                return frozen.entries.get(number)
            return frozen.overlays.get(home, _NO_ENTRIES).get(number)
        return None

    def in_memory_home(self, home: int) -> bool:
        """Whether every job of `home` is in memory (the active log or the frozen segment)."""
        return home == self.active_id or (self.frozen is not None and home == self.frozen.id)

    # --- changes ---------------------------------------------------------------------

    def apply(self, home: int, head: JobHead, line: bytes, prev: CountKey | None) -> None:
        """Make a committed version current and move its count from `prev` to its status."""
        entry = (head, line)
        frozen = self.frozen
        if home == self.active_id:
            self.active[head.number] = entry
            counts = self.active_counts
            low, high = self.active_created
            self.active_created = (min(low, head.created), max(high, head.created))
        else:
            self.overlay.setdefault(home, {})[head.number] = entry
            place: Segment | Frozen = frozen if frozen is not None and home == frozen.id else self.by_id[home]
            counts = place.counts
            place.created_min = min(place.created_min, head.created)
            place.created_max = max(place.created_max, head.created)
        key = head.count_key
        if prev is not None:
            counts[prev] = counts.get(prev, 0) - 1
            self.total[prev] = self.total.get(prev, 0) - 1
        counts[key] = counts.get(key, 0) + 1
        self.total[key] = self.total.get(key, 0) + 1
        if head.seq >= self.next[head.kind]:
            self.next[head.kind] = head.seq + 1
            self.reserved[head.kind] = max(self.reserved[head.kind], head.seq + 1)

    def freeze(self, new_active_id: int) -> Frozen:
        """Turn the active log into the frozen segment; start an empty active log."""
        assert self.frozen is None
        upto = dict(self.sealed_upto)
        for head, _ in self.active.values():
            upto[head.kind] = max(upto[head.kind], head.seq)
        first = {k: self.sealed_upto[k] + 1 for k in KINDS}
        frozen = Frozen(self.active_id, self.active, self.active_counts, self.active_created, first, upto, self.overlay)
        self.frozen = frozen
        self.active_id = new_active_id
        self.active = {}
        self.active_counts = {}
        self.active_created = (float("inf"), float("-inf"))
        self.overlay = {}
        return frozen

    def finish_seal(self, new_meta: SegmentMeta | None, merged: dict[int, SegmentMeta]) -> None:
        """The frozen segment is on disk (`new_meta`, None if it held no job) and its overlays merged."""
        frozen = self.frozen
        assert frozen is not None
        for seg_id, meta in merged.items():
            segment = self.by_id.get(seg_id)
            if segment is not None:
                segment.meta = meta  # live counts already include what was merged
        if new_meta is not None:
            segment = Segment(new_meta, frozen.counts)
            segment.created_min, segment.created_max = frozen.created_min, frozen.created_max
            self.segments.append(segment)
        self.sealed_upto = dict(frozen.upto)
        self.frozen = None
        self.rebuild()

    def drop(self, seg_ids: set[int]) -> None:
        """Forget pruned segments and the overlays that pointed at them."""
        self.segments = [s for s in self.segments if s.id not in seg_ids]
        for seg_id in seg_ids:
            self.overlay.pop(seg_id, None)
        self.rebuild()

    # --- queries ---------------------------------------------------------------------

    def sources(self) -> list[Source]:
        """Active log, frozen segment, sealed segments - newest first, pending versions applied."""
        pending_by_home: dict[int, dict[str, Entry]] = {}
        for number, entry in self.pending.items():
            home = self.home_of(entry[0].kind, entry[0].seq)
            if home is not None:
                pending_by_home.setdefault(home, {})[number] = entry
        frozen = self.frozen

        homes_overridden = set(pending_by_home) | {h for h, bucket in self.overlay.items() if bucket}
        if frozen is not None:
            homes_overridden |= {h for h, bucket in frozen.overlays.items() if bucket}

        def overrides(home: int) -> dict[str, Entry]:
            if home not in homes_overridden:
                return _NO_ENTRIES
            merged: dict[str, Entry] = {}
            if frozen is not None:
                merged.update(frozen.overlays.get(home, _NO_ENTRIES))
            merged.update(self.overlay.get(home, _NO_ENTRIES))
            merged.update(pending_by_home.get(home, _NO_ENTRIES))
            return merged

        active = dict(self.active)
        active.update(pending_by_home.get(self.active_id, _NO_ENTRIES))
        upto = frozen.upto if frozen is not None else self.sealed_upto
        first = {k: upto[k] + 1 for k in KINDS}
        last = {k: self.next[k] - 1 for k in KINDS}
        for head, _ in pending_by_home.get(self.active_id, _NO_ENTRIES).values():
            last[head.kind] = max(last[head.kind], head.seq)
        # Committed versions already widened the live created ranges; pending ones may widen them more.
        created = _widen(self.active_created, pending_by_home.get(self.active_id, _NO_ENTRIES))
        sources = [Source(None, active, _NO_ENTRIES, self.active_counts, first, last, created)]
        if frozen is not None:
            entries = dict(frozen.entries)
            entries.update(overrides(frozen.id))
            created = _widen((frozen.created_min, frozen.created_max), pending_by_home.get(frozen.id, _NO_ENTRIES))
            sources.append(Source(None, entries, _NO_ENTRIES, frozen.counts, frozen.first, frozen.upto, created))
        for segment in reversed(self.segments):
            extra = overrides(segment.id)
            created = (segment.created_min, segment.created_max)
            if segment.id in pending_by_home:
                created = _widen(created, pending_by_home[segment.id])
            meta = segment.meta
            sources.append(Source(segment, _NO_ENTRIES, extra, segment.counts, meta.first, meta.last, created))
        return sources

    def referenced_blobs(self) -> set[str]:
        """Blob shas of every job version held in memory."""
        buckets: list[dict[str, Entry]] = [self.active, self.pending, *self.overlay.values()]
        if self.frozen is not None:
            buckets += [self.frozen.entries, *self.frozen.overlays.values()]
        return {sha for bucket in buckets for head, _ in bucket.values() for sha in head.blobs}
