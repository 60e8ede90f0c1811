"""What a job's per-record results keep of the values written, in the job log.

A result records the values its item wrote. Those are for reading (`jobs show --json`,
a dry run's preview); the records hold them whole. Kept whole in the log, one 25 MB
email mapped into a description made a 25 MB job line, which every read of the newest
jobs decoded again (the console froze for seconds each time it listed them), and a
CSV of 10,000 rows as many copies of each row. So the log keeps:

- the values of the first `RESULTS_WITH_VALUES` results (the job detail lists 500);
- each string cut at `VALUE_CHARS` characters, saying how long it was;
- each list cut at `LIST_ITEMS` items, the last saying how many more there were.

A dry run shows everything: it is not logged.
"""

from __future__ import annotations

from typing import Any

import msgspec

from payloads_tui.domain.models import RecordResult

RESULTS_WITH_VALUES = 500
VALUE_CHARS = 1000
LIST_ITEMS = 100


def results_for_log(results: list[RecordResult]) -> list[RecordResult]:
    """`results` with their values cut as above (the same objects when nothing needs cutting)."""
    logged: list[RecordResult] = []
    for position, result in enumerate(results):
        values = result.values
        if values is not None:
            kept = None if position >= RESULTS_WITH_VALUES else value_for_log(values)
            if kept is not values:
                result = msgspec.structs.replace(result, values=kept)
        logged.append(result)
    return logged


def value_for_log(value: Any) -> Any:
    """`value` with long strings and lists cut (itself when nothing is cut)."""
    if isinstance(value, str):
        if len(value) <= VALUE_CHARS:
            return value
        return f"{value[:VALUE_CHARS]}… ({len(value):,} characters in all; the record holds them)"
    if isinstance(value, dict):
        cut = {key: value_for_log(item) for key, item in value.items()}
        return value if all(cut[key] is item for key, item in value.items()) else cut
    if isinstance(value, list):
        items = [value_for_log(item) for item in value[:LIST_ITEMS]]
        if len(value) > LIST_ITEMS:
            return [*items, f"… {len(value) - LIST_ITEMS:,} more items (the record holds them)"]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value
