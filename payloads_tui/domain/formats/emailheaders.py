"""Email header values exactly as the stdlib's `email.policy.default` reads them, at a fraction of the cost.

`email.policy.default` turns every header it is asked for into a header object: the
registry builds a new class per call (`type(...)`, an ABC) and parses the value with
`email._header_value_parser`, a tokenizer written for correctness, not speed. Parsing
a 2 KB email that way took ~2.5 ms, most of it here. The text of such an object is all
`emailfmt.py` reads (plus the addresses of address headers), so this module gives:

- `header_text(name, value)`: `str(email.policy.default.header_fetch_parse(name, value))`;
- `header_addresses(name, value)`: its `(display_name, addr_spec)` pairs (address headers);
- `FETCH_POLICY`: `compat32` whose messages answer `get()`, `get_all()`, `get_param()`,
  `get_content_type()`... with those same texts, so a message parsed with it has the
  same MIME tree and the same values as one parsed with `email.policy.default`.

Each value is read one of two ways:
1. a *fast path* for the common simple forms, where the stdlib's text is known without
   its tokenizer: unstructured text without encoded words (the text itself), dates
   (`format_datetime` of the parsed date, as the stdlib does), plain addresses
   (`a@b`, `Name <a@b>`, lists of them), `<id@host>` message ids, and plain
   `type/subtype; name=value` Content-Type / Content-Disposition (re-rendered with
   quoted values, as the stdlib renders its parameters);
2. else the stdlib's own header classes (built once per class, not per call).

Short values are memoised (bounded LRU): a part's Content-Type is read several times
per email, and content types, transfer encodings and senders repeat between emails.

The fast paths are checked against the stdlib in tests/formats/test_email_equivalence.py.
Raised exceptions are the stdlib's own: a header it cannot read raises here too.
"""

from __future__ import annotations

import email.utils
import functools
import re
from email.headerregistry import (
    AddressHeader,
    BaseHeader,
    ContentDispositionHeader,
    ContentTypeHeader,
    DateHeader,
    HeaderRegistry,
    MessageIDHeader,
    UnstructuredHeader,
)
from email.policy import Compat32
from typing import Any

# Character classes of the fast paths: deliberately narrower than the RFCs (ASCII, no
# characters that start encoded words, comments, quoted pairs or RFC 2231 parameters).
_WORD = r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+"
_DOT_ATOM = rf"{_WORD}(?:\.{_WORD})*"
_ADDR_SPEC = rf"{_DOT_ATOM}@{_DOT_ATOM}"
_PLAIN_ADDRESS = re.compile(
    rf"[ \t]*(?:(?P<bare>{_ADDR_SPEC})|(?P<name>{_WORD}(?:[ \t]+{_WORD})*)?[ \t]*<(?P<angle>{_ADDR_SPEC})>)[ \t]*"
)
_MESSAGE_ID = re.compile(rf"<{_DOT_ATOM}@{_DOT_ATOM}>")
_TOKEN = r"[A-Za-z0-9!#$&+.^_`{|}~-]+"
_PARAMETER = rf";[ \t]*(?P<name>[A-Za-z0-9_-]+)=(?:(?P<token>{_TOKEN})|\"(?P<quoted>[A-Za-z0-9 !#-&(-/:;<-\[\]-~]*)\")"
_MIME_PARAMETERS = re.compile(rf"(?P<type>{_TOKEN}(?P<slash>/{_TOKEN})?)(?P<parameters>(?:{_PARAMETER})*)")
_MIME_PARAMETER = re.compile(_PARAMETER)
_BLANKS = re.compile(r"[ \t]+")


#: Values longer than this are not memoised (they rarely repeat and would hold memory).
_MEMO_CHARS = 200
_MEMO_SIZE = 512


class _HeaderClasses(HeaderRegistry):
    """`email.policy.default`'s header registry, building each header class once rather than per call."""

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[type, type] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        kind = self.registry.get(name.lower(), self.default_class)
        built = self._built.get(kind)
        if built is None:
            built = self._built[kind] = type("_" + kind.__name__, (kind, self.base_class), {})
        return built  # type: ignore[return-value]


_HEADERS = _HeaderClasses()


def _without_line_breaks(value: str) -> str:
    """`value` without CR and LF characters, as `email.policy.default` reads it (`linesep_splitter`)."""
    if "\r" in value or "\n" in value:
        return value.replace("\r", "").replace("\n", "")
    return value


def _sanitized(text: str) -> str:
    """Raw 8-bit bytes (surrogate escapes) read as UTF-8, as `BaseHeader` does."""
    try:
        text.encode()
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def header_text(name: str, value: str) -> str:
    """The text `email.policy.default` gives header `name` with raw `value` (encoded words decoded...)."""
    value = _without_line_breaks(value)
    if len(value) <= _MEMO_CHARS:  # a part's Content-Type is read several times per email
        return _memo_text(name.lower(), value)
    return _text(name.lower(), value)


def header_addresses(name: str, value: str) -> list[tuple[str, str]]:
    """`(display_name, addr_spec)` of each address `email.policy.default` finds in address header `name`."""
    value = _without_line_breaks(value)
    fast = _plain_addresses(value)
    if fast is not None:
        return [(display, address) for display, address, _ in fast]
    if len(value) <= _MEMO_CHARS:
        return list(_memo_addresses(name.lower(), value))
    return [(a.display_name, a.addr_spec) for a in _HEADERS(name, value).addresses]  # type: ignore[attr-defined]


def _text(kind: str, value: str) -> str:
    fast = _fast_text(kind, value)
    return fast if fast is not None else str(_HEADERS(kind, value))


_memo_text = functools.lru_cache(maxsize=_MEMO_SIZE)(_text)


@functools.lru_cache(maxsize=_MEMO_SIZE)
def _memo_addresses(name: str, value: str) -> tuple[tuple[str, str], ...]:
    return tuple((a.display_name, a.addr_spec) for a in _HEADERS(name, value).addresses)  # type: ignore[attr-defined]


def _fast_text(kind: str, value: str) -> str | None:
    """The stdlib's text of a header of a simple form, or None to ask the stdlib."""
    if "=?" in value:
        return None
    parser = _HEADERS.registry.get(kind, UnstructuredHeader)
    if issubclass(parser, UnstructuredHeader):
        return _sanitized(value)  # the tokens of unstructured text keep every character of it
    if issubclass(parser, AddressHeader):
        found = _plain_addresses(value)
        return None if found is None else ", ".join(text for _, _, text in found)
    if issubclass(parser, DateHeader):
        return _date_text(value)
    if issubclass(parser, ContentTypeHeader):
        return _parameterized_text(value, with_subtype=True)
    if issubclass(parser, ContentDispositionHeader):
        return _parameterized_text(value, with_subtype=False)
    if issubclass(parser, MessageIDHeader):
        return value if _MESSAGE_ID.fullmatch(value) else None
    return None  # MIME-Version, Content-Transfer-Encoding: few values, memoised


def _date_text(value: str) -> str | None:
    """`DateHeader.parse`: the date re-formatted, or the text itself when it is not a date."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except ValueError:
        return _sanitized(value)
    except Exception:  # noqa: BLE001 - whatever else the stdlib does, it does on the slow path
        return None
    return email.utils.format_datetime(moment)


def _parameterized_text(value: str, *, with_subtype: bool) -> str | None:
    """`ParameterizedMIMEHeader`'s text: `type/subtype; name="value"; ...`, the first of each name."""
    match = _MIME_PARAMETERS.fullmatch(value)
    if match is None or (match["slash"] is not None) != with_subtype:
        return None
    if not match["parameters"]:
        return match["type"]
    parameters: dict[str, str] = {}
    for parameter in _MIME_PARAMETER.finditer(match["parameters"]):
        found = parameter["token"] if parameter["token"] is not None else parameter["quoted"]
        parameters.setdefault(parameter["name"], found)
    listed = "; ".join(f'{name}="{found}"' if found else name for name, found in parameters.items())
    return f"{match['type']}; {listed}"


def _plain_addresses(value: str) -> list[tuple[str, str, str]] | None:
    """(display name, addr-spec, text) of each address of a list of plain ones; None for any other form."""
    if "=?" in value or not value.strip(" \t"):
        return None
    found = []
    for item in value.split(","):
        match = _PLAIN_ADDRESS.fullmatch(item)
        if match is None:
            return None
        if match["bare"] is not None:
            found.append(("", match["bare"], match["bare"]))
            continue
        address = match["angle"]
        display = _BLANKS.sub(" ", match["name"]) if match["name"] else ""
        found.append((display, address, f"{display} <{address}>" if display else address))
    return found


class FetchPolicy(Compat32):
    """`compat32` that answers header reads with `header_text` (`email.policy.default`'s texts).

    Parsing, the MIME tree and every `Message` method that reads headers then behave
    as with `email.policy.default`, without building header objects.
    """

    def header_fetch_parse(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):  # a Header object set by the caller: compat32's own rules
            return super().header_fetch_parse(name, value)
        return header_text(name, value)


FETCH_POLICY = FetchPolicy()
