"""Sealing: write a frozen active log out as a segment and merge its overlays into older segments.

File work only, on data that no longer changes (the frozen segment's versions and
overlays are immutable once frozen), so it runs in its own thread while new jobs are
committed to the next active log. The caller then writes the manifest and switches
its in-memory state (`LogState.finish_seal`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from payloads_tui.store.jobformat import Entry, JobHead, SegmentMeta
from payloads_tui.store.jobsegments import SegmentView, segment_file, write_segment
from payloads_tui.store.jobstate import Frozen, Segment


@dataclass
class SealResult:
    """What a seal wrote: the new segment (None if the frozen log held no job) and merged ones."""

    new_meta: SegmentMeta | None = None
    merged: dict[int, SegmentMeta] = field(default_factory=dict)
    views: list[SegmentView] = field(default_factory=list)
    retired: list[tuple[int, int]] = field(default_factory=list)


def seal(
    jobs_dir: Path,
    frozen: Frozen,
    segments: dict[int, Segment],
    view_of: Callable[[Segment], SegmentView],
    *,
    durable: bool,
) -> SealResult:
    """Write `frozen` as segment `frozen.id` and rewrite each segment its overlays touch."""
    result = SealResult()
    if frozen.entries:
        meta, heads = write_segment(
            jobs_dir, frozen.id, 1, frozen.entries.values(), frozen.first, frozen.upto, durable=durable
        )
        result.new_meta = meta
        result.views.append(SegmentView(frozen.id, 1, segment_file(jobs_dir, frozen.id, 1), heads))
    for seg_id, bucket in frozen.overlays.items():
        segment = segments.get(seg_id)
        if segment is None or not bucket:
            continue  # pruned meanwhile: its updates go with it
        meta, heads = merge(jobs_dir, segment, view_of(segment), bucket, durable=durable)
        result.merged[seg_id] = meta
        result.views.append(SegmentView(seg_id, meta.gen, segment_file(jobs_dir, seg_id, meta.gen), heads))
        result.retired.append((seg_id, segment.meta.gen))
    return result


def merge(
    jobs_dir: Path, segment: Segment, view: SegmentView, bucket: dict[str, Entry], *, durable: bool
) -> tuple[SegmentMeta, list[JobHead]]:
    """Rewrite `segment` as its next generation with the newer versions in `bucket`."""
    data = view.path.read_bytes()
    entries: list[Entry] = []
    for head in view.heads:
        newer = bucket.get(head.number)
        entries.append(newer or (head, data[head.offset : head.offset + head.length]))
    known = {head.number for head in view.heads}
    entries.extend(entry for number, entry in bucket.items() if number not in known)
    meta = segment.meta
    return write_segment(jobs_dir, meta.id, meta.gen + 1, entries, meta.first, meta.last, durable=durable)
