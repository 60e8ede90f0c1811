"""The mapping engine: JMESPath expressions with our transforms, targets, merge fields.

- `compile_expression()` parses once (cached) and rejects, at save time, what JMESPath
  would only report while running: unknown functions and wrong argument counts.
- `evaluate()` runs an expression over data; failures are `MappingError`s.
- `map_target()` turns a document into one `ItemMapping` per selected item; it never
  raises: an item whose mapping fails carries the error instead of values.
- `check_inbound_expressions()` / `check_outbound_expressions()` compile every
  expression of a payload for `validation.py`, naming the bad field.
- `render_template()` fills `{merge.field}` placeholders in URLs, headers and queries.
"""

from __future__ import annotations

import difflib
import functools
import json
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from jmespath import exceptions as jp_exceptions
from jmespath import lexer as jp_lexer
from jmespath import parser as jp_parser
from jmespath.visitor import Options, TreeInterpreter

from payloads_tui.domain.errors import MappingError, PayloadsError, ValidationError
from payloads_tui.domain.functions import FUNCTION_ARITY, OUR_FUNCTIONS, TransformFunctions, describe
from payloads_tui.domain.models import Element, FieldMapping, InboundPayload, OutboundPayload, Target

CredentialValue = Callable[[str, str], str]
_EXPRESSION_SOURCES = frozenset({"item", "document", "context"})
_NOT_JSON = "a `literal` must be JSON: check its quotes and braces, or write text as 'raw string'"


class ExpressionError(MappingError):
    """An expression that cannot be compiled; `position` is the 0-based column of the fault."""

    def __init__(self, message: str, expression: str, position: int | None) -> None:
        self.expression = expression
        self.position = position
        where = f" at column {position + 1}" if position is not None else ""
        super().__init__(f"in {expression!r}{where}: {message}" if expression.strip() else message)
        self.reason = message


# --- compiling and evaluating ----------------------------------------------------------


class Runtime:
    """What evaluation needs: our functions (fixing `now_iso()`), and an interpreter for
    the parts of an expression the compiled closures leave to JMESPath itself."""

    __slots__ = ("functions", "interpreter")

    def __init__(self, now_iso: str | None = None) -> None:
        self.functions = TransformFunctions(now=now_iso)
        self.interpreter = TreeInterpreter(Options(custom_functions=self.functions))


Run = Callable[[Any, Runtime], Any]
_DEFAULT_RUNTIME = Runtime()


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled expression: its text, its AST, and the closure that evaluates it."""

    text: str
    tree: dict[str, Any]
    run: Run

    def evaluate(self, data: Any, runtime: Runtime | None = None) -> Any:
        """The value of this expression over `data`; a failure is a `MappingError`."""
        try:
            return self.run(data, runtime or _DEFAULT_RUNTIME)
        except MappingError:
            raise
        except jp_exceptions.JMESPathTypeError as exc:
            raise MappingError(
                f"{exc.function_name}() got {describe(exc.current_value)}, expected {' or '.join(exc.expected_types)}"
            ) from None
        except jp_exceptions.ArityError as exc:
            raise MappingError(str(exc)) from None
        except (jp_exceptions.JMESPathError, TypeError, ValueError, ArithmeticError, RecursionError) as exc:
            raise MappingError(f"the expression {self.text!r} failed: {exc}") from None


def _closure(node: dict[str, Any]) -> Run:
    """A Python closure for the common nodes (fields, literals, pipes, function calls);
    anything else (projections, filters, multi-selects, &refs) runs in JMESPath's interpreter.

    Same semantics as the interpreter, minus its per-node dispatch: a mapping of a
    thousand items evaluates thousands of these.
    """
    kind = node["type"]
    if kind == "field":
        name = node["value"]
        return lambda value, _rt: value.get(name) if isinstance(value, dict) else None
    if kind in ("current", "identity"):
        return lambda value, _rt: value
    if kind == "literal":
        constant = node["value"]
        return lambda _value, _rt: constant
    if kind in ("subexpression", "pipe"):
        steps = [_closure(child) for child in node["children"]]

        def chain(value: Any, runtime: Runtime) -> Any:
            for step in steps:
                value = step(value, runtime)
            return value

        return chain
    if kind == "function_expression" and not any(c["type"] == "expref" for c in node["children"]):
        name = node["value"]
        args = [_closure(child) for child in node["children"]]
        if name in OUR_FUNCTIONS:
            ours = OUR_FUNCTIONS[name]  # checks its own arguments; arity was checked at compile time
            return lambda value, runtime: ours(runtime.functions, *[arg(value, runtime) for arg in args])
        return lambda value, runtime: runtime.functions.call_function(name, [arg(value, runtime) for arg in args])
    return lambda value, runtime: runtime.interpreter.visit(node, value)


def _tokens(text: str) -> list[dict[str, Any]]:
    """JMESPath tokens of `text`; a backtick literal that is not JSON is an error.

    JMESPath still reads such a literal as a string (a deprecated form, with only a
    warning), which hides typos like a map missing its closing brace.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        tokens = list(jp_lexer.Lexer().tokenize(text))
    for token in tokens:
        start = token["start"]
        if token["type"] == "literal" and text[start] == "`":
            try:
                json.loads(_literal_text(text, start))
            except ValueError:
                raise ExpressionError(_NOT_JSON, text, start) from None
    return tokens


def _literal_text(text: str, start: int) -> str:
    """The JSON between the backtick at `start` and its closing backtick, unescaped."""
    end = start + 1
    while end < len(text) and text[end] != "`":
        end += 2 if text[end] == "\\" else 1
    return text[start + 1 : end].replace("\\`", "`")


def _function_calls(tokens: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(name, column) of every `name(` among `tokens`, in source order."""
    calls = []
    for token, following in zip(tokens, tokens[1:], strict=False):
        if following["type"] == "lparen" and token["type"] in ("unquoted_identifier", "quoted_identifier"):
            calls.append((token["value"], token["start"]))
    return calls


def _suggestion(name: str) -> str:
    close = difflib.get_close_matches(name, FUNCTION_ARITY, n=1)
    return f"; did you mean {close[0]}()?" if close else "; see the list of transform functions"


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("children", ()):
        if isinstance(child, dict):
            yield from _walk(child)


@functools.lru_cache(maxsize=2048)
def compile_expression(text: str) -> Expression:
    """Parse `text` once; `ExpressionError` for syntax errors, unknown functions, bad arity."""
    if not text.strip():
        raise ExpressionError("an expression is needed here", text, None)
    try:
        tokens = _tokens(text)
        parsed = jp_parser.Parser().parse(text)
    except jp_exceptions.IncompleteExpressionError:
        raise ExpressionError("the expression ends too early", text, len(text)) from None
    except jp_exceptions.LexerError as exc:
        reason = _NOT_JSON if exc.message.startswith("Bad token") else exc.message
        raise ExpressionError(reason, text, exc.lexer_position) from None
    except jp_exceptions.ParseError as exc:
        reason = exc.msg if exc.msg.startswith("Invalid function") else f"unexpected {exc.token_value!r}"
        raise ExpressionError(reason, text, exc.lex_position) from None
    except jp_exceptions.JMESPathError as exc:
        raise ExpressionError(str(exc), text, None) from None
    tree = parsed.parsed
    if tree["type"] == "expref":
        raise ExpressionError("'&' makes a reference for sort_by/map, not a value", text, 0)
    calls = _function_calls(tokens)
    positions: dict[str, list[int]] = {}
    for name, column in calls:
        if name not in FUNCTION_ARITY:
            raise ExpressionError(f"unknown function {name}(){_suggestion(name)}", text, column)
        positions.setdefault(name, []).append(column)
    seen: dict[str, int] = {}
    for node in _walk(tree):
        if node["type"] != "function_expression":
            continue
        name, given = node["value"], len(node["children"])
        index = seen.get(name, 0)
        seen[name] = index + 1
        low, high = FUNCTION_ARITY[name]
        if given < low or (high is not None and given > high):
            wanted = f"{low}" if low == high else f"{low} to {high}" if high is not None else f"at least {low}"
            noun = "argument" if wanted in ("1", "at least 1") else "arguments"
            columns = positions.get(name, [])
            column = columns[min(index, len(columns) - 1)] if columns else None
            raise ExpressionError(f"{name}() takes {wanted} {noun}, got {given}", text, column)
    return Expression(text=text, tree=tree, run=_closure(tree))


def evaluate(expr_text: str, data: Any, *, now_iso: str | None = None) -> Any:
    """Compile (cached) and run `expr_text` over `data` with our functions."""
    return compile_expression(expr_text).evaluate(data, Runtime(now_iso) if now_iso else None)


# --- inbound targets -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ItemMapping:
    """The mapped field values of one selected item, or why they could not be mapped."""

    index: int
    values: dict[str, Any] | None
    error: str | None = None
    #: The selected item itself (a later target's items are matched to it by identity).
    item: Any = field(default=None, compare=False, repr=False)


PARENT_FAILED = "parent record failed"


def select_items(target: Target, document: Any, runtime: Runtime | None = None) -> list[Any]:
    """The items a target maps: an array's elements, one object (or value), or none for null."""
    selected = compile_expression(target.items or "@").evaluate(document, runtime)
    if selected is None:
        return []
    if isinstance(selected, list):
        return selected
    return [selected]


def _positions(items: list[Any]) -> dict[int, int]:
    """The `id()` of each object and array in each item (the item too) → that item's position.

    A parsed document never shares a node between two places, and JMESPath selects the
    document's own nodes, so a later target's item is found inside the item it came from."""
    found: dict[int, int] = {}
    for position, item in enumerate(items):
        stack = [item]
        while stack:
            node = stack.pop()
            if id(node) in found:
                continue
            if isinstance(node, dict):
                found[id(node)] = position
                stack.extend(value for value in node.values() if isinstance(value, (dict, list)))
            elif isinstance(node, list):
                found[id(node)] = position
                stack.extend(value for value in node if isinstance(value, (dict, list)))
    return found


class _Parents:
    """The records of the earlier targets a `target` mapping reads, found for each item."""

    def __init__(self, earlier: Mapping[str, list[dict[str, Any] | None]],
                 earlier_items: Mapping[str, list[Any]], count: int) -> None:
        self.earlier = earlier
        self.earlier_items = earlier_items
        self.count = count  # how many items this target selected
        self._positions: dict[str, dict[int, int]] = {}

    def record(self, name: str, item: Any, index: int) -> dict[str, Any] | None | bool | _Failed:
        """The record target `name` wrote for the item this `item` lies in: a dict, None (it failed),
        False (it wrote none) or why it cannot be told.

        One record: every item links to it. Several: the one whose item holds this item
        (`orders` → `orders[].lines[]`); failing that, the one of the same index when both
        targets selected as many items (parallel selections)."""
        records = self.earlier.get(name, [])
        if not records:
            return False
        if len(records) == 1:
            return records[0]
        items = self.earlier_items.get(name)
        if items is not None and len(items) == len(records) and isinstance(item, (dict, list)):
            positions = self._positions.get(name)
            if positions is None:
                positions = self._positions[name] = _positions(items)
            position = positions.get(id(item))
            if position is not None:
                return records[position]
        if len(records) == self.count:
            return records[index]
        return _Failed(
            f"cannot tell which of the {len(records)} {name} records this item belongs to: it does not lie "
            f"inside an item of target {name}. Select this target's items under {name}'s "
            f"(for orders and their lines: orders, then orders[].lines[])"
        )


class _Failed:
    """A value that could not be read: every item that needs it fails with `message`."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def _fixed_value(mapping: FieldMapping, document: Any, context: Mapping[str, Any], runtime: Runtime,
                 now_iso: str, variables: Mapping[str, str],
                 credential_value: CredentialValue | None) -> Any:
    """The value of a mapping that is the same for every item (all sources but item and target)."""
    try:
        source = mapping.source
        if source == "document":
            return compile_expression(mapping.expression).evaluate(document, runtime)
        if source == "context":
            return compile_expression(mapping.expression).evaluate(dict(context), runtime)
        if source == "static":
            return mapping.value
        if source == "now":
            return now_iso
        if source == "variable":
            return variables.get(mapping.expression)
        if source == "credential":
            if credential_value is None:
                raise MappingError("credential values are not available to this job")
            return credential_value(mapping.credential, mapping.expression)
        raise MappingError(f"unknown source {source!r}")  # the model's Literal rules this out
    except PayloadsError as exc:
        return _Failed(f"{mapping.field}: {exc}")


def map_target(
    target: Target,
    document: Any,
    *,
    context: Mapping[str, Any],
    now_iso: str,
    variables: Mapping[str, str],
    earlier: Mapping[str, list[dict[str, Any] | None]],
    credential_value: CredentialValue | None,
    earlier_items: Mapping[str, list[Any]] | None = None,
) -> list[ItemMapping]:
    """Map each item `target.items` selects; errors are reported per item, never raised.

    `earlier[name]` holds, per item index, the record an earlier target wrote (None if
    that item failed), and `earlier_items[name]` the items it selected. A `target` source
    reads the record of the earlier item this item lies inside (`_Parents.record`).
    Values that do not depend on the item (document, context, static, now, variable,
    credential) are read once.
    """
    runtime = Runtime(now_iso)
    try:
        items = select_items(target, document, runtime)
    except PayloadsError as exc:
        return [ItemMapping(0, None, f"items: {exc}")]
    if not items:
        return []
    # Per mapping (by position): a compiled item expression, or the value shared by all items.
    readers: list[Expression | _Failed | None] = []
    fixed: list[Any] = []
    for mapping in target.mappings:
        reader: Expression | _Failed | None = None
        if mapping.source == "item":
            try:
                reader = compile_expression(mapping.expression)
            except PayloadsError as exc:
                reader = _Failed(f"{mapping.field}: {exc}")
        readers.append(reader)
        shared = mapping.source in ("item", "target")
        fixed.append(None if shared else _fixed_value(mapping, document, context, runtime, now_iso, variables, credential_value))
    parents = _Parents(earlier, earlier_items or {}, len(items))
    results: list[ItemMapping] = []
    for index, item in enumerate(items):
        values: dict[str, Any] = {}
        error: str | None = None
        for position, mapping in enumerate(target.mappings):
            reader = readers[position]
            if isinstance(reader, Expression):
                try:
                    value = reader.evaluate(item, runtime)
                except PayloadsError as exc:
                    error = f"{mapping.field}: {exc}"
                    break
            elif mapping.source == "target":
                record = parents.record(mapping.target, item, index)
                if record is None:
                    error = PARENT_FAILED
                    break
                if isinstance(record, _Failed):
                    error = f"{mapping.field}: {record.message}"
                    break
                value = record.get(mapping.expression or "id") if record else None
            else:
                value = reader if isinstance(reader, _Failed) else fixed[position]
                if isinstance(value, _Failed):
                    error = value.message
                    break
            values[mapping.field] = value
        results.append(ItemMapping(index, None, error, item) if error else ItemMapping(index, values, item=item))
    return results


# --- checks at save time ---------------------------------------------------------------


def _check(text: str, field: str) -> None:
    try:
        compile_expression(text)
    except MappingError as exc:
        raise ValidationError(str(exc), field) from None


def check_inbound_expressions(payload: InboundPayload, where: str) -> None:
    """Raise `ValidationError` for the first bad expression of an inbound payload."""
    for j, target in enumerate(payload.targets):
        twhere = f"{where}.targets[{j}]"
        _check(target.items or "@", f"{twhere}.items")
        for k, mapping in enumerate(target.mappings):
            if mapping.source in _EXPRESSION_SOURCES:
                _check(mapping.expression, f"{twhere}.mappings[{k}].expression")


def _check_elements(elements: list[Element], where: str) -> None:
    for i, element in enumerate(elements):
        ewhere = f"{where}[{i}]"
        if element.source in ("record", "context") and element.expression.strip():
            _check(element.expression, f"{ewhere}.expression")
        _check_elements(element.elements, f"{ewhere}.elements")


def _check_template(text: str, field: str) -> None:
    try:
        for merge_field in template_fields(text):
            compile_expression(merge_field)
    except MappingError as exc:
        raise ValidationError(f"merge field: {exc}", field) from None


def check_outbound_expressions(payload: OutboundPayload, where: str) -> None:
    """Raise `ValidationError` for the first bad expression or merge field of an outbound payload."""
    _check_template(payload.endpoint, f"{where}.endpoint")
    for name, value in payload.headers.items():
        _check_template(value, f"{where}.headers.{name}")
    for name, value in payload.query.items():
        _check_template(value, f"{where}.query.{name}")
    for j, source in enumerate(payload.sources):
        swhere = f"{where}.sources[{j}]"
        if source.filter.strip():
            _check(source.filter, f"{swhere}.filter")
        if source.sort.strip():
            _check(source.sort, f"{swhere}.sort")
        for k, child in enumerate(source.children):
            cwhere = f"{swhere}.children[{k}]"
            if child.filter.strip():
                _check(child.filter, f"{cwhere}.filter")
            if child.sort.strip():
                _check(child.sort, f"{cwhere}.sort")
    _check_elements(payload.elements, f"{where}.elements")


# --- merge fields ----------------------------------------------------------------------


def _template_parts(text: str) -> Iterator[tuple[bool, str]]:
    """(is_field, text) pieces of a template; `{{` and `}}` are literal braces."""
    literal: list[str] = []
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        if char in "{}" and text.startswith(char * 2, i):
            literal.append(char)
            i += 2
        elif char == "{":
            end = text.find("}", i + 1)
            if end < 0:
                raise MappingError(f"a merge field opened at column {i + 1} is never closed with '}}'")
            name = text[i + 1 : end].strip()
            if not name:
                raise MappingError(f"the merge field at column {i + 1} is empty")
            if literal:
                yield False, "".join(literal)
                literal = []
            yield True, name
            i = end + 1
        elif char == "}":
            raise MappingError(f"a '}}' at column {i + 1} closes no merge field; write '}}}}' for a brace")
        else:
            literal.append(char)
            i += 1
    if literal:
        yield False, "".join(literal)


def template_fields(text: str) -> list[str]:
    """The merge fields of a template, in order."""
    return [part for is_field, part in _template_parts(text) if is_field]


def _merge_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def render_template(
    text: str,
    context: Mapping[str, Any],
    variables: Mapping[str, str],
    *,
    url_encode: bool,
    fields: Mapping[str, str] | None = None,
) -> str:
    """Fill `{name}` placeholders: a URL element's value from `fields`, else a variable
    of that name, else a JMESPath over `context`.

    A merge field without a value raises `MappingError` naming it. With `url_encode`,
    values that come from data (fields and expressions) are percent-encoded with
    nothing left safe (`/` is `%2F`); integration variables are configuration such as
    `{base_url}` and go in as they are.
    """
    pieces: list[str] = []
    data = dict(context)
    fields = fields or {}
    for is_field, part in _template_parts(text):
        if not is_field:
            pieces.append(part)
            continue
        from_config = part in variables and part not in fields
        if part in fields:
            value: Any = fields[part]
        elif from_config:
            value = variables[part]
        else:
            value = compile_expression(part).evaluate(data)
        if value is None or value == "":
            raise MappingError(f"the merge field {{{part}}} has no value; check the record or the variable")
        rendered = _merge_text(value)
        pieces.append(quote(rendered, safe="") if url_encode and not from_config else rendered)
    return "".join(pieces)
