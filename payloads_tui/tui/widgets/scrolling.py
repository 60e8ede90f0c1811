"""`KeyScroll`: a vertical scroll that also takes the console's reading keys (`j k g G`).

The README promises `↑ ↓ j k` and `g / G` everywhere; tables bind them themselves
(`KeyedTable`), and screens that are one long read (a job, the keys help) scroll with this.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll


class KeyScroll(VerticalScroll):
    """`VerticalScroll` with `j`/`k` for a line down/up and `g`/`G` for the top/bottom."""

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False),
        Binding("k", "scroll_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]
