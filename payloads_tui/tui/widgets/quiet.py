"""Updating a `Static` only when what it shows changed, and without a relayout when its size is fixed.

Every `Static.update()` lays the whole screen out again by default; a one-line Static
whose size CSS fixes (a title, a status line) only needs a repaint.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Static


def update_if_changed(static: Static, content: Any, *, layout: bool = False) -> bool:
    """Show `content` in `static` unless it already shows it; True if it changed.

    Pass `layout=True` when the widget's size follows its content (`width: auto`).
    """
    if getattr(static, "_shown_content", None) == content:
        return False
    static._shown_content = content  # type: ignore[attr-defined]
    static.update(content, layout=layout)
    return True
