"""Form URL-encoded bodies with Stripe's bracket notation, both ways.

Parsing (`parse_form`):
- `a=1` → `{"a": "1"}`; `metadata[order_id]=7` → `{"metadata": {"order_id": "7"}}`;
- `tags[]=a&tags[]=b` → `{"tags": ["a", "b"]}`; a `[]` followed by more keys appends a
  new element each time (`a[][x]=1&a[][y]=2` → `[{"x": "1"}, {"y": "2"}]`, as PHP does);
- an object whose keys are exactly `0..n-1` (decimal, any order) becomes a list in index
  order: `items[0][price]=5&items[1][price]=6` → `{"items": [{"price": "5"}, {"price": "6"}]}`;
  sparse or other numeric keys (`metadata[2024]`) stay object keys; the top level is
  always an object;
- values stay strings; a key without `=` has the value `""`; a repeated plain key keeps
  its last value; a key whose brackets are malformed (`a[b`, `[x]`) is taken literally;
- a key used in two shapes (value and object, object and list) is a `ParseError`
  naming it; nesting is limited to `MAX_DEPTH` segments.

Encoding (`encode_form`) is the inverse: nested dicts → `a[b][c]`, lists → indexes
`a[0]`, `True`/`False` → `"true"`/`"false"`, numbers as digits, `None` → left out (to
clear a Stripe field, map `""` explicitly), empty dicts and lists → left out. Keys must be
non-empty and free of `[`/`]` (Stripe refuses those too). Brackets are written literally.

Round trip: `parse_form(encode_form(d)) == d` for every dict `d` whose keys are non-empty
strings without brackets and not all digits, whose values are strings, non-empty lists
or non-empty dicts of the same kind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote_plus

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats.charset import decode_text, text_codec
from payloads_tui.domain.formats.common import MAX_DEPTH, shorten
from payloads_tui.domain.formats.scalars import scalar_text

_BRACKET_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_INDEX = re.compile(r"^(?:0|[1-9][0-9]{0,8})$")


def parse_form(text: str) -> dict[str, Any]:
    """The document of URL-encoded form text (UTF-8 percent escapes)."""
    return _parse_pairs(text, "utf-8")


def parse_form_body(body: bytes, charset: str | None = None) -> dict[str, Any]:
    """The document of a form body; percent escapes are read in the declared charset (else UTF-8)."""
    codec = text_codec(charset) if charset else "utf-8"
    return _parse_pairs(decode_text(body, charset), codec)


def _parse_pairs(text: str, codec: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding=codec, errors="replace")
    except (UnicodeError, LookupError, ValueError) as exc:
        raise ParseError(f"the form cannot be decoded as {codec}: {exc}", "charset") from None
    document: dict[str, Any] = {}
    for key, value in pairs:
        _assign(document, _segments(key), value)
    return _lists_from_indexes(document)


def _segments(key: str) -> list[str]:
    match = _BRACKET_KEY.match(key)
    if not match:
        return [key]
    return [match.group(1), *_SEGMENT.findall(match.group(2))]


def _key_text(path: list[str], upto: int) -> str:
    return path[0] + "".join(f"[{segment}]" for segment in path[1 : upto + 1])


def _shape(node: Any) -> str:
    if isinstance(node, list):
        return "a list (key[])"
    if isinstance(node, dict):
        return "an object (key[name])"
    return "a plain value"


def _assign(document: dict[str, Any], path: list[str], value: str) -> None:
    if len(path) > MAX_DEPTH:
        raise ParseError(f"form key nested deeper than {MAX_DEPTH} levels", shorten(_key_text(path, 3)))
    parent: Any = document
    for depth, segment in enumerate(path):
        last = depth == len(path) - 1
        wanted: Any = value if last else ([] if path[depth + 1] == "" else {})
        if depth > 0 and segment == "":
            parent.append(wanted)
            parent = wanted
            continue
        existing = parent.get(segment)
        if existing is None:
            parent[segment] = wanted
            parent = wanted
        elif isinstance(existing, str) and last:
            parent[segment] = value
        elif type(existing) is type(wanted) and not last:
            parent = existing
        else:
            key = shorten(_key_text(path, depth))
            raise ParseError(
                f"form key {key!r} is used both as {_shape(existing)} and as {_shape(wanted)}; "
                "send it in one shape only",
                key,
            )


def _lists_from_indexes(node: dict[str, Any]) -> dict[str, Any]:
    for key, child in node.items():
        node[key] = _listify(child)
    return node


def _listify(node: Any) -> Any:
    if isinstance(node, list):
        return [_listify(item) for item in node]
    if not isinstance(node, dict):
        return node
    _lists_from_indexes(node)
    if node and all(_INDEX.match(key) for key in node):
        indexes = sorted(int(key) for key in node)
        if indexes == list(range(len(node))):
            return [node[str(index)] for index in indexes]
    return node


def encode_form(document: Mapping[str, Any]) -> str:
    """URL-encoded form text of a document, in Stripe's bracket notation."""
    if not isinstance(document, Mapping):
        raise ParseError(f"cannot encode a form: the document must be an object, not a {type(document).__name__}")
    pairs: list[tuple[str, str]] = []
    for key, value in document.items():
        _flatten(_form_key(key, "", None), value, pairs, 1)
    try:
        return "&".join(f"{quote_plus(key, safe='[]')}={quote_plus(value, safe='')}" for key, value in pairs)
    except UnicodeEncodeError as exc:
        raise ParseError(
            f"cannot encode a form: the text holds a character UTF-8 cannot carry ({exc.reason})"
        ) from None


def _form_key(key: Any, prefix: str, where: str | None) -> str:
    name = str(key)
    if not name or "[" in name or "]" in name:
        raise ParseError(
            f"cannot encode a form: the key {shorten(name)!r} must be non-empty and free of '[' and ']'",
            where or name or "(empty key)",
        )
    return f"{prefix}[{name}]" if prefix else name


def _flatten(key: str, value: Any, pairs: list[tuple[str, str]], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ParseError(f"cannot encode a form: nested deeper than {MAX_DEPTH} levels", shorten(key))
    if value is None:
        return
    if isinstance(value, Mapping):
        for name, item in value.items():
            _flatten(_form_key(name, key, key), item, pairs, depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _flatten(f"{key}[{index}]", item, pairs, depth + 1)
    else:
        pairs.append((key, scalar_text(value, key, "a form")))
