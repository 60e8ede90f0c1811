"""Filters and ordering of job-log queries, over job heads and per-segment counts.

`JobFilter` says whether a head matches (kind, integration, statuses, payload, text)
and whether a segment can hold a match at all, judged from its counts alone - which
lets `JobLog.newest()` skip whole segments without reading them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from payloads_tui.store.jobformat import CountKey, JobHead

OrderKey = tuple[float, int, str] | int


def order_key(head: JobHead, by_number: bool) -> OrderKey:
    """Newest-first ordering: by number within one kind, by created time across kinds."""
    if by_number:
        return head.seq
    return (head.created, head.seq, head.kind)


@dataclass(frozen=True, slots=True)
class JobFilter:
    """What `newest()`/`counts()` select; None means any."""

    kind: str | None = None
    integration: str | None = None
    statuses: frozenset[str] | None = None
    payload: str | None = None
    text: str | None = None

    @classmethod
    def of(
        cls,
        kind: str | None = None,
        integration: str | None = None,
        statuses: Collection[str] | None = None,
        payload: str | None = None,
        text: str | None = None,
    ) -> JobFilter:
        folded = text.strip().casefold() if text else None
        return cls(kind, integration, frozenset(statuses) if statuses is not None else None, payload, folded or None)

    def matches(self, head: JobHead) -> bool:
        if self.kind is not None and head.kind != self.kind:
            return False
        if self.integration is not None and head.integration != self.integration:
            return False
        if self.statuses is not None and head.status not in self.statuses:
            return False
        if self.payload is not None and head.payload != self.payload:
            return False
        if self.text is not None:
            text = self.text
            return (
                text in head.number.casefold()
                or text in head.payload.casefold()
                or text in head.status.casefold()
                or text in head.source.casefold()
                or (head.error is not None and text in head.error.casefold())
                or (head.summary is not None and text in head.summary.casefold())
            )
        return True

    def counts_match(self, key: CountKey) -> bool:
        integration, kind, status = key
        return (
            (self.kind is None or kind == self.kind)
            and (self.integration is None or integration == self.integration)
            and (self.statuses is None or status in self.statuses)
        )

    def may_match(self, counts: Mapping[CountKey, int]) -> bool:
        """Whether a segment with these counts can hold a matching job."""
        return any(n > 0 and self.counts_match(key) for key, n in counts.items())
