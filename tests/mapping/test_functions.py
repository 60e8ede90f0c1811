"""Every transform function: good inputs, nulls passing through, wrong types naming the function."""

from __future__ import annotations

from typing import Any

import pytest

from payloads_tui.domain.errors import MappingError
from payloads_tui.domain.functions import FUNCTION_ARITY, TransformFunctions
from payloads_tui.domain.mapping import evaluate

GOOD: list[tuple[str, Any, Any]] = [
    ("cents_to_decimal(n)", {"n": 1999}, 19.99),
    ("cents_to_decimal(n)", {"n": "1999"}, 19.99),
    ("cents_to_decimal(n)", {"n": -5}, -0.05),
    ("cents_to_decimal(n)", {"n": 0}, 0.0),
    ("decimal_to_cents(x)", {"x": 19.99}, 1999),
    ("decimal_to_cents(x)", {"x": 0.29}, 29),
    ("decimal_to_cents(x)", {"x": 1.005}, 101),
    ("decimal_to_cents(x)", {"x": "4.10"}, 410),
    ("to_iso(t)", {"t": 1795763580}, "2026-11-27T07:13:00Z"),
    ("to_iso(t)", {"t": "1795763580"}, "2026-11-27T07:13:00Z"),
    ("to_iso(t)", {"t": 1795763580.25}, "2026-11-27T07:13:00.250Z"),
    ("to_iso(t)", {"t": "2026-11-27T08:13:00+01:00"}, "2026-11-27T07:13:00Z"),
    ("from_iso(s)", {"s": "2026-11-27T07:13:00Z"}, 1795763580),
    ("from_iso(s)", {"s": "2026-11-27T08:13:00+01:00"}, 1795763580),
    ("from_iso(s)", {"s": "1970-01-01"}, 0),
    ("parse_date(s, '%d/%m/%Y %H:%M')", {"s": "27/11/2026 07:13"}, "2026-11-27T07:13:00Z"),
    ("format_date(t, '%d %b %Y')", {"t": 1795763580}, "27 Nov 2026"),
    ("format_date(t, '%H:%M')", {"t": "2026-11-27T07:13:00Z"}, "07:13"),
    ("date_only(t)", {"t": 1795763580}, "2026-11-27"),
    ("date_only(t)", {"t": "2026-11-27T23:30:00-05:00"}, "2026-11-28"),
    ("date_only(t)", {"t": "2026-11-27"}, "2026-11-27"),
    ("upper(s)", {"s": "usd"}, "USD"),
    ("lower(s)", {"s": "Ann@Example.COM"}, "ann@example.com"),
    ("trim(s)", {"s": "  Ann Lee \n"}, "Ann Lee"),
    ("title(s)", {"s": "ann o'neil-smith"}, "Ann O'neil-Smith"),
    ("default(s, 'n/a')", {"s": None}, "n/a"),
    ("default(s, 'n/a')", {"s": ""}, "n/a"),
    ("default(s, 'n/a')", {"s": 0}, 0),
    ("default(missing, 'n/a')", {}, "n/a"),
    ("concat(a, ' ', b)", {"a": "Ann", "b": "Lee"}, "Ann Lee"),
    ("concat('#', n, missing, `true`)", {"n": 42}, "#42true"),
    ("join(', ', tags)", {"tags": ["a", "b"]}, "a, b"),
    ("split(s, ',')", {"s": "a,b,,c"}, ["a", "b", "", "c"]),
    ("replace(s, '-', '')", {"s": "555-01-02"}, "5550102"),
    ("to_int(x)", {"x": "12"}, 12),
    ("to_int(x)", {"x": 12.7}, 12),
    ("to_int(x)", {"x": " -3 "}, -3),
    ("to_int(x)", {"x": True}, 1),
    ("to_float(x)", {"x": "19.99"}, 19.99),
    ("to_float(x)", {"x": 3}, 3.0),
    ("to_bool(x)", {"x": "yes"}, True),
    ("to_bool(x)", {"x": "TRUE"}, True),
    ("to_bool(x)", {"x": "1"}, True),
    ("to_bool(x)", {"x": "off"}, False),
    ("to_bool(x)", {"x": 0}, False),
    ("to_bool(x)", {"x": False}, False),
    ("lookup(s, `{\"active\": \"Customer\", \"past_due\": \"At Risk\"}`)", {"s": "past_due"}, "At Risk"),
    ("lookup(s, {\"active\": 'Customer', \"past_due\": 'At Risk'})", {"s": "active"}, "Customer"),
    ("lookup(s, `{\"active\": \"Customer\"}`)", {"s": "gone"}, None),
    ("lookup(s, `{\"active\": \"Customer\"}`, 'Other')", {"s": "gone"}, "Other"),
    ("lookup(s, `{\"active\": \"Customer\"}`, 'Other')", {}, "Other"),
    ("lookup(n, `{\"1\": \"one\"}`)", {"n": 1}, "one"),
    ("coalesce(a, b, c)", {"a": None, "b": "", "c": "x"}, "x"),
    ("coalesce(a, b)", {}, None),
    ("substring(s, `4`, `3`)", {"s": "cus_123456"}, "123"),
    ("substring(s, `4`)", {"s": "cus_123456"}, "123456"),
    ("substring(s, `20`, `3`)", {"s": "cus_1"}, ""),
    ("round_to(x, `2`)", {"x": 2.675}, 2.68),
    ("round_to(x, `0`)", {"x": 2.5}, 3),
    ("round_to(x, `1`)", {"x": "1.25"}, 1.3),
]


@pytest.mark.parametrize(("expression", "data", "expected"), GOOD)
def test_function_gives_expected_value(expression: str, data: Any, expected: Any) -> None:
    result = evaluate(expression, data)
    assert result == expected
    assert type(result) is type(expected)


NULL_IN_NULL_OUT = [
    "cents_to_decimal", "decimal_to_cents", "to_iso", "from_iso", "date_only", "upper", "lower",
    "trim", "title", "to_int", "to_float", "to_bool",
]


@pytest.mark.parametrize("name", NULL_IN_NULL_OUT)
def test_a_missing_value_stays_null(name: str) -> None:
    assert evaluate(f"{name}(missing)", {"other": 1}) is None


BAD: list[tuple[str, Any, str]] = [
    ("cents_to_decimal(x)", {"x": "abc"}, "string 'abc'"),
    ("cents_to_decimal(x)", {"x": True}, "boolean true"),
    ("decimal_to_cents(x)", {"x": [1]}, "array [1]"),
    ("to_iso(x)", {"x": "yesterday"}, "'yesterday'"),
    ("to_iso(x)", {"x": {"a": 1}}, "object"),
    ("to_iso(x)", {"x": 1e300}, "out of range"),
    ("from_iso(x)", {"x": 12}, "number 12"),
    ("from_iso(x)", {"x": "27/11/2026"}, "'27/11/2026'"),
    ("parse_date(x, '%Y')", {"x": "abc"}, "does not match"),
    ("parse_date(x, `3`)", {"x": "2026"}, "number 3"),
    ("format_date(x, '%Y')", {"x": True}, "boolean"),
    ("date_only(x)", {"x": "soon"}, "'soon'"),
    ("upper(x)", {"x": 12}, "number 12"),
    ("lower(x)", {"x": ["A"]}, "array"),
    ("trim(x)", {"x": False}, "boolean false"),
    ("title(x)", {"x": {"a": "b"}}, "object"),
    ("concat(x, 'a')", {"x": {"a": 1}}, "object"),
    ("split(x, ',')", {"x": 5}, "number 5"),
    ("split(x, '')", {"x": "a"}, "non-empty separator"),
    ("replace(x, 'a', 'b')", {"x": 5}, "number 5"),
    ("replace(x, '', 'b')", {"x": "a"}, "non-empty"),
    ("to_int(x)", {"x": "twelve"}, "string 'twelve'"),
    ("to_float(x)", {"x": [1]}, "array"),
    ("to_bool(x)", {"x": "maybe"}, "string 'maybe'"),
    ("to_bool(x)", {"x": {}}, "object"),
    ("lookup(x, 'not a map')", {"x": "a"}, "an object as its map"),
    ("lookup(x, `{\"a\": 1}`)", {"x": [1]}, "array"),
    ("substring(x, `1`, `2`)", {"x": 5}, "number 5"),
    ("substring(x, `-1`)", {"x": "abc"}, "start of 0 or more"),
    ("substring(x, `1.5`)", {"x": "abc"}, "an integer"),
    ("round_to(x, `2`)", {"x": "big"}, "string 'big'"),
    ("round_to(x, 'two')", {"x": 1.5}, "string 'two'"),
    ("round_to(x, `2`)", {"x": 1e308}, "too large"),
    ("cents_to_decimal(x)", {"x": 1e300}, "too large"),
]


@pytest.mark.parametrize(("expression", "data", "got"), BAD)
def test_wrong_types_raise_mapping_error_naming_function(expression: str, data: Any, got: str) -> None:
    name = expression.split("(", 1)[0]
    with pytest.raises(MappingError) as caught:
        evaluate(expression, data)
    message = str(caught.value)
    assert f"{name}()" in message
    assert got in message


def test_builtin_type_errors_become_mapping_errors() -> None:
    with pytest.raises(MappingError, match=r"length\(\) got number 5"):
        evaluate("length(x)", {"x": 5})


def test_now_iso_is_the_job_time_when_given() -> None:
    assert evaluate("now_iso()", {}, now_iso="2026-11-27T07:13:00Z") == "2026-11-27T07:13:00Z"
    assert evaluate("now_iso()", {}).endswith("Z")


def test_every_function_of_ours_has_a_docstring_with_an_example() -> None:
    builtins = set(TransformFunctions.__mro__[1].FUNCTION_TABLE)
    ours = set(TransformFunctions.FUNCTION_TABLE) - builtins
    assert {"cents_to_decimal", "lookup", "now_iso", "substring", "round_to"} <= ours
    for name in ours:
        doc = TransformFunctions.FUNCTION_TABLE[name]["function"].__doc__ or ""
        assert doc.count("\n") == 0 and f"{name}(" in doc, name
        assert name in FUNCTION_ARITY
