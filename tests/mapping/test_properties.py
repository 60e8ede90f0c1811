"""Property: map_target never raises, whatever JSON it is given; failures are per-item errors."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from payloads_tui.domain.mapping import ItemMapping, map_target
from payloads_tui.domain.models import FieldMapping, Target

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
    | st.sampled_from(["1795763580", "2026-11-27T07:13:00Z", "19.99", "yes", "active", "2026-13-45"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "amount", "created", "name", "status", "data", "tags", "x"]), children, max_size=5),
    max_leaves=25,
)

EXPRESSIONS = [
    "id", "data[0].amount", "cents_to_decimal(amount)", "decimal_to_cents(amount)", "to_iso(created)",
    "from_iso(created)", "date_only(created)", "format_date(created, '%Y-%m-%d')", "parse_date(name, '%Y')",
    "upper(name)", "lower(name)", "trim(name)", "title(name)", "default(name, 'n/a')", "concat(name, '-', id)",
    "join(',', tags)", "split(name, ',')", "replace(name, 'a', 'b')", "to_int(amount)", "to_float(amount)",
    "to_bool(status)", "lookup(status, `{\"active\": \"Customer\"}`, 'Other')", "coalesce(name, id, `0`)",
    "substring(name, `1`, `2`)", "round_to(amount, `2`)", "length(data)", "sort_by(data, &amount)",
    "max(tags)", "sum(data[].amount)", "data[?amount > `1`].id | [0]", "keys(@)", "to_number(x)",
]


def _target(items: str) -> Target:
    mappings = [FieldMapping(field=f"f{i}", expression=e) for i, e in enumerate(EXPRESSIONS)]
    mappings += [
        FieldMapping(field="doc", source="document", expression="data"),
        FieldMapping(field="parent", source="target", target="Parent"),
        FieldMapping(field="ctx", source="context", expression="record.id"),
    ]
    return Target(name="T", object="Thing", items=items, operation="insert", mappings=mappings)


TARGETS = [_target("@"), _target("data"), _target("data[].x"), _target("upper(name)")]


@settings(max_examples=200, deadline=None)
@given(
    document=JSON,
    target=st.sampled_from(TARGETS),
    parents=st.lists(st.none() | st.fixed_dictionaries({"id": st.text(max_size=4)}), max_size=3),
)
def test_map_target_never_raises(document: Any, target: Target, parents: list[dict[str, Any] | None]) -> None:
    mapped = map_target(
        target, document, context={"record": document}, now_iso="2026-11-27T07:13:00Z",
        variables={}, earlier={"Parent": parents}, credential_value=None,
    )
    for index, item in enumerate(mapped):
        assert isinstance(item, ItemMapping)
        assert item.index == index
        assert (item.values is None) != (item.error is None)
        if item.values is not None:
            assert set(item.values) == {m.field for m in target.mappings}


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="ab_(),.`'\"{}[]?&|@*!=<>:0123456789- ", max_size=20))
def test_compile_expression_fails_only_with_expression_errors(text: str) -> None:
    from payloads_tui.domain.mapping import ExpressionError, compile_expression

    try:
        compile_expression(text)
    except ExpressionError as exc:
        assert exc.position is None or 0 <= exc.position <= len(text)
