"""Documents to XML bodies: the inverse of `xmlread`'s mapping.

- a dict with a single key (an element name) whose value is not a list is the root:
  `{"Order": {...}}` → `<Order>...</Order>`; any other document is wrapped in `<root>`
  (a list at the top becomes `<root><item>...</item>...</root>`);
- in a dict, `"@name"` keys become attributes, `"#text"` the element's text, other keys
  child elements; a list value repeats its child element once per item; a list directly
  inside a list becomes an element holding `<item>` children;
- scalars become text (`true`/`false`, numbers as digits); `None` gives an empty element
  (an attribute whose value is `None` is left out);
- names must be XML names (as expat judges them), and text may not hold characters
  XML 1.0 cannot carry (control characters, lone surrogates): either is a `ParseError`
  naming the field. Prefixed names (`soap:Body`) are written as they are: the document
  must declare the prefix itself (`"@xmlns:soap": "..."`), since namespaces are not managed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import xml.parsers.expat
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats.common import MAX_DEPTH, shorten
from payloads_tui.domain.formats.scalars import scalar_text

_NAME_CANDIDATE = re.compile(r"^[^\s<>&\"'/=!?]+$")
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'


def encode_xml(document: Any) -> bytes:
    """UTF-8 XML (with declaration) of a document."""
    tag, value = _root_of(document)
    root = ET.Element(_name(tag, tag))
    _fill(root, value, tag, 1)
    return (_DECLARATION + ET.tostring(root, encoding="unicode")).encode("utf-8")


def _root_of(document: Any) -> tuple[str, Any]:
    if isinstance(document, Mapping) and len(document) == 1:
        ((key, value),) = document.items()
        if isinstance(key, str) and is_xml_name(key) and not isinstance(value, (list, tuple)):
            return key, value
    if isinstance(document, (list, tuple)):
        return "root", {"item": document}
    return "root", document


@lru_cache(maxsize=1024)
def is_xml_name(name: str) -> bool:
    """Whether `name` is an element/attribute name, as expat (which reads our XML back) judges it."""
    if not _NAME_CANDIDATE.match(name):
        return False
    seen: list[str] = []
    parser = xml.parsers.expat.ParserCreate()
    parser.StartElementHandler = lambda tag, attributes: seen.append(tag)
    try:
        parser.Parse(f"<{name}/>", True)
    except (xml.parsers.expat.ExpatError, UnicodeError, ValueError):
        return False
    return seen == [name]


def _name(name: Any, where: str) -> str:
    name = str(name)
    if not is_xml_name(name):
        raise ParseError(f"cannot encode XML: {shorten(name)!r} is not a valid XML name; rename the field", where)
    return name


def _text(value: Any, where: str) -> str:
    text = scalar_text(value, where, "XML")
    bad = _NOT_IN_XML.search(text)
    if bad:
        raise ParseError(
            f"cannot encode XML: the text holds U+{ord(bad.group()):04X}, which XML 1.0 cannot carry", where
        )
    return text


def _fill(element: ET.Element, value: Any, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ParseError(f"cannot encode XML: the document is nested deeper than {MAX_DEPTH} levels", where)
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            key = str(key)
            path = f"{where}.{key}"
            if key.startswith("@"):
                if item is not None:
                    if isinstance(item, (Mapping, list, tuple)):
                        raise ParseError("cannot encode XML: an attribute needs a scalar value", path)
                    element.set(_name(key[1:], path), _text(item, path))
            elif key == "#text":
                if item is not None:
                    element.text = _text(item, path)
            elif isinstance(item, (list, tuple)):
                name = _name(key, path)
                for index, entry in enumerate(item):
                    _fill(ET.SubElement(element, name), entry, f"{path}[{index}]", depth + 1)
            else:
                _fill(ET.SubElement(element, _name(key, path)), item, path, depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, entry in enumerate(value):
            _fill(ET.SubElement(element, "item"), entry, f"{where}[{index}]", depth + 1)
    else:
        element.text = _text(value, where)
