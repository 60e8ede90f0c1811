"""Live checks of what is typed into editors: expressions and `{merge}` templates, as you type."""

from __future__ import annotations

import json
from typing import Any

from payloads_tui.domain.errors import MappingError
from payloads_tui.domain.mapping import compile_expression, template_fields


def expression_problem(text: str, *, required: bool = True) -> str | None:
    """Why `text` is not a valid mapping expression, or None if it is."""
    if not text.strip():
        return "an expression is needed here" if required else None
    try:
        compile_expression(text)
    except MappingError as exc:
        return str(exc)
    return None


def template_problem(text: str) -> str | None:
    """Why a template with `{merge.field}` placeholders is not valid, or None."""
    try:
        for field in template_fields(text):
            compile_expression(field)
    except MappingError as exc:
        return f"merge field: {exc}"
    return None


def parse_value(text: str) -> Any:
    """A static value typed in a form: JSON when it parses (numbers, true, null, objects), else the text."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return text


def show_value(value: Any) -> str:
    """The inverse of `parse_value` for showing a stored value in a form."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)
