"""XML bodies to documents, through defusedxml: no DTDs, no entity expansion, no external entities.

The mapping, chosen to be predictable for JMESPath:

- the root element becomes `{root_tag: value}`;
- an element with neither attributes nor child elements is its text, stripped
  (`<name> Ada </name>` → `"Ada"`); an empty element is `None`;
- otherwise the element is a dict: attributes first as `"@name"` keys, then one key per
  child tag in document order, then its own text (if any) under `"#text"`;
- a child tag that occurs more than once becomes a list in document order; a tag named
  in `options["xml_lists"]` (comma-separated, e.g. `"line,item"`) is a list even when
  it occurs once (an absent tag stays absent; names are local and case-sensitive);
- namespaces are dropped everywhere: `{urn:x}Order` → `Order`, `p:id="1"` → `@id`; no
  `@xmlns` key is added (tags from different namespaces with one local name merge);
- comments and processing instructions are ignored; text split around child elements
  (mixed content) is joined and stripped;
- all values are strings: no number or boolean guessing.

Charset: a declared charset wins, else a byte-order mark (or UTF-16/32 zero bytes), else
the `<?xml encoding="..."?>` declaration, else UTF-8; bad bytes become U+FFFD. A DOCTYPE
is refused outright, which is what stops billion-laughs bombs and XXE.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import defusedxml
import defusedxml.ElementTree as DefusedET

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats.charset import decode_lenient, text_codec, unicode_codec
from payloads_tui.domain.formats.common import MAX_DEPTH

_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\sencoding\s*=\s*["']([^"']{1,60})["']""")
_EXPAT_POSITION = re.compile(r":\s*line \d+, column \d+\s*$")


def local_name(tag: str) -> str:
    """`tag` without its namespace: `{urn:x}Order` → `Order`."""
    return tag.rpartition("}")[2]


def parse_xml(body: bytes, charset: str | None = None, options: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The document of an XML body (see the module docstring for the mapping)."""
    text = _decode(body, charset)
    list_tags = frozenset(tag.strip() for tag in (options or {}).get("xml_lists", "").split(",") if tag.strip())
    try:
        root = DefusedET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except ET.ParseError as exc:
        line, column = exc.position
        reason = _EXPAT_POSITION.sub("", str(exc))
        raise ParseError(f"invalid XML: {reason}", f"line {line}, column {column + 1}") from None
    except defusedxml.DTDForbidden as exc:
        raise ParseError(
            "XML with a DOCTYPE is refused: a DTD can declare entity-expansion bombs (billion laughs) "
            "and external entities; send the document without <!DOCTYPE ...>",
            f"<!DOCTYPE {exc.name}>",
        ) from None
    except (defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden) as exc:
        raise ParseError(f"XML entities are refused ({exc}); send the document without entity declarations") from None
    except defusedxml.DefusedXmlException as exc:
        raise ParseError(f"XML feature refused: {exc}") from None
    except RecursionError:
        raise ParseError("invalid XML: the document is nested too deeply to read") from None
    name = local_name(root.tag)
    return {name: _value(root, list_tags, name, 1)}


def _decode(body: bytes, charset: str | None) -> str:
    if charset:
        return decode_lenient(body, text_codec(charset))
    codec, skip = unicode_codec(body)
    if codec == "utf-8" and not skip:
        declared = _DECLARED_ENCODING.match(body[:1024])
        if declared:
            codec = text_codec(declared.group(1).decode("ascii", "replace"), "XML declaration encoding")
    return decode_lenient(body[skip:], codec)


def _text_of(element: ET.Element) -> str:
    parts = [element.text or ""]
    parts.extend(child.tail or "" for child in element)
    return "".join(parts).strip()


def _value(element: ET.Element, list_tags: frozenset[str], path: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise ParseError(f"XML nested deeper than {MAX_DEPTH} elements", f"element {path}")
    text = _text_of(element)
    children = list(element)
    if not element.attrib and not children:
        return text or None
    value: dict[str, Any] = {f"@{local_name(key)}": attr for key, attr in element.attrib.items()}
    for child in children:
        name = local_name(child.tag)
        item = _value(child, list_tags, f"{path}.{name}", depth + 1)
        if name in list_tags:
            value.setdefault(name, []).append(item)
        elif name not in value:
            value[name] = item
        elif isinstance(value[name], list):
            value[name].append(item)
        else:
            value[name] = [value[name], item]
    if text:
        value["#text"] = text
    return value
