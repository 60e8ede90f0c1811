"""The query walk of the job log: newest-first over sources, skipping, stopping early, decoding late.

`JobLog` takes a snapshot of its sources under its lock (`LogState.sources()`); this
module walks it without the lock: the active log first, then the frozen segment, then
sealed segments newest first. A source is skipped when its counts say nothing in it can
match, or when the page bound (`before`) is newer than all of it; the walk stops once it
holds `limit` jobs that nothing later can beat. Only the jobs returned are decoded.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any

from payloads_tui.domain.models import Job
from payloads_tui.store.jobformat import KIND_PREFIX, JobHead, decode_job
from payloads_tui.store.jobquery import JobFilter, OrderKey, order_key
from payloads_tui.store.jobsegments import SegmentView
from payloads_tui.store.jobstate import Segment, Source

#: A head and where its job is: the encoded line itself, or the SegmentView holding it.
Found = tuple[JobHead, Any]
ViewOf = Callable[[Segment], SegmentView]

_first = itemgetter(0)


def source_heads(source: Source, view_of: ViewOf) -> list[Found]:
    """Every head of a source, newer versions (`overrides`) applied."""
    if source.segment is None:
        return [(head, line) for head, line in source.entries.values()]
    view = view_of(source.segment)
    if not source.overrides:
        return [(head, view) for head in view.heads]
    result: list[Found] = []
    for head in view.heads:
        newer = source.overrides.get(head.number)
        result.append(newer if newer is not None else (head, view))
    known = {head.number for head in view.heads}
    result.extend(entry for number, entry in source.overrides.items() if number not in known)
    return result


def select(
    sources: list[Source],
    flt: JobFilter,
    by_number: bool,
    bound: OrderKey | None,
    limit: int | None,
    view_of: ViewOf,
    may_match: Callable[[Source], bool],
) -> list[Job]:
    """The matching jobs, newest first, at most `limit` (all if None), older than `bound`."""
    newest_after = [float("-inf")] * (len(sources) + 1)  # newest created time from source i on
    for i in range(len(sources) - 1, -1, -1):
        newest_after[i] = max(sources[i].created_max, newest_after[i + 1])
    found: list[tuple[OrderKey, JobHead, Any]] = []
    for i, source in enumerate(sources):
        if limit is not None and len(found) >= limit:
            if by_number:
                break  # sources own disjoint, descending number ranges
            oldest_kept = min(found, key=_first)[0]
            assert isinstance(oldest_kept, tuple)
            if oldest_kept[0] > newest_after[i]:
                break  # nothing left can be newer than what we hold
        if _all_after(source, flt, by_number, bound) or not may_match(source):
            continue
        need = None if limit is None else limit - len(found)
        for head, where in _candidates(source, flt, by_number, bound, need, view_of):
            found.append((order_key(head, by_number), head, where))
        if limit is not None and len(found) > limit:
            found = heapq.nlargest(limit, found, key=_first)
    found.sort(key=_first, reverse=True)
    return _decode(found if limit is None else found[:limit])


def _all_after(source: Source, flt: JobFilter, by_number: bool, bound: OrderKey | None) -> bool:
    """Whether every job of `source` is at or after `bound` (so none is on this page)."""
    if bound is None:
        return False
    if by_number:
        assert flt.kind is not None and isinstance(bound, int)
        return source.first.get(flt.kind, 1) >= bound
    assert isinstance(bound, tuple)
    return source.created_min > bound[0]


def _candidates(
    source: Source, flt: JobFilter, by_number: bool, bound: OrderKey | None, need: int | None, view_of: ViewOf
) -> list[Found]:
    if source.segment is not None and not source.overrides:
        # A sealed segment as written: walk it newest first and stop once there are enough.
        view = view_of(source.segment)
        if by_number:
            assert flt.kind is not None
            ordered: Iterable[JobHead] = view.newest_of_kind(flt.kind)
        else:
            ordered = view.newest_by_created()
        matched: list[Found] = []
        for head in ordered:
            if bound is not None and not order_key(head, by_number) < bound:  # type: ignore[operator]
                continue
            if flt.matches(head):
                matched.append((head, view))
                if need is not None and len(matched) >= need:
                    break
        return matched
    if source.segment is None and by_number:
        assert flt.kind is not None
        found = _memory_by_number(source, flt, flt.kind, bound, need)
        if found is not None:
            return found
    return [
        (head, where)
        for head, where in source_heads(source, view_of)
        if flt.matches(head) and (bound is None or order_key(head, by_number) < bound)  # type: ignore[operator]
    ]


def _memory_by_number(
    source: Source, flt: JobFilter, kind: str, bound: OrderKey | None, need: int | None
) -> list[Found] | None:
    """Jobs held in memory, by number downwards, stopping when enough; None if numbers are too sparse."""
    low, high = source.first[kind], source.last[kind]
    if bound is not None:
        assert isinstance(bound, int)
        high = min(high, bound - 1)
    if high - low + 1 > 2 * len(source.entries):
        return None  # mostly unsaved numbers: scanning the entries is cheaper
    prefix = KIND_PREFIX[kind]
    matched: list[Found] = []
    for seq in range(high, low - 1, -1):
        entry = source.entries.get(f"{prefix}-{seq}")
        if entry is not None and flt.matches(entry[0]):
            matched.append(entry)
            if need is not None and len(matched) >= need:
                break
    return matched


def _decode(found: list[tuple[OrderKey, JobHead, Any]]) -> list[Job]:
    lines: dict[str, bytes] = {}
    by_view: dict[int, tuple[SegmentView, list[JobHead]]] = {}
    for _, head, where in found:
        if isinstance(where, bytes):
            lines[head.number] = where
        else:
            by_view.setdefault(id(where), (where, []))[1].append(head)
    for view, heads in by_view.values():
        for head, line in zip(heads, view.read_lines(heads), strict=True):
            lines[head.number] = line
    return [decode_job(lines[head.number]) for _, head, _ in found]
