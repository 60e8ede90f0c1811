"""What the job log keeps of the values a job wrote (engine/resultlog.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from payloads_tui.domain.models import RecordResult
from payloads_tui.engine.resultlog import LIST_ITEMS, RESULTS_WITH_VALUES, VALUE_CHARS, results_for_log, value_for_log

SUFFIX_ROOM = 80  # "… (12,345 characters in all; the record holds them)"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3 * VALUE_CHARS),
    lambda inner: st.lists(inner, max_size=3 * LIST_ITEMS // 2) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=300,
)


def fits(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= VALUE_CHARS
    if isinstance(value, list):
        return len(value) <= LIST_ITEMS and all(fits(v) for v in value)
    if isinstance(value, dict):
        return all(fits(v) for v in value.values())
    return True


def bounded(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= VALUE_CHARS + SUFFIX_ROOM
    if isinstance(value, list):
        return len(value) <= LIST_ITEMS + 1 and all(bounded(v) for v in value)
    if isinstance(value, dict):
        return all(bounded(v) for v in value.values())
    return True


@given(json_values)
def test_a_value_within_the_bounds_is_kept_as_it_is_and_any_other_is_bounded(value: Any) -> None:
    kept = value_for_log(value)
    if fits(value):
        assert kept is value
    else:
        assert kept != value
    assert bounded(kept)


@given(st.text(min_size=VALUE_CHARS + 1, max_size=4 * VALUE_CHARS))
def test_a_long_string_keeps_its_start_and_says_how_long_it_was(text: str) -> None:
    kept = value_for_log(text)
    assert kept.startswith(text[:VALUE_CHARS])
    assert kept.endswith(f"… ({len(text):,} characters in all; the record holds them)")


def test_a_long_list_says_how_many_items_it_left_out() -> None:
    kept = value_for_log({"lines": list(range(LIST_ITEMS + 7))})
    assert kept["lines"][:LIST_ITEMS] == list(range(LIST_ITEMS))
    assert kept["lines"][LIST_ITEMS:] == ["… 7 more items (the record holds them)"]


def test_results_past_the_first_ones_keep_no_values_and_errors_stay() -> None:
    results = [RecordResult(target="Lines", item=i, operation="insert", record_id=f"r{i}", values={"n": i})
               for i in range(RESULTS_WITH_VALUES + 2)]
    results.append(RecordResult(target="Lines", item=999, error="price: not a number", values={"price": "x" * 5000}))
    logged = results_for_log(results)
    assert [r.values for r in logged[:RESULTS_WITH_VALUES]] == [{"n": i} for i in range(RESULTS_WITH_VALUES)]
    assert logged[0] is results[0]  # nothing to cut: the same result
    assert all(r.values is None for r in logged[RESULTS_WITH_VALUES:])
    assert logged[-1].error == "price: not a number" and logged[-1].record_id is None
    assert [(r.target, r.item, r.record_id) for r in logged] == [(r.target, r.item, r.record_id) for r in results]
