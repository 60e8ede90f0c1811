"""HTML to readable plain text, for emails that carry only an HTML part.

Block elements and `<br>` become line breaks, `<script>`, `<style>` and `<head>` are
dropped, entities are unescaped, runs of blanks collapse. Not a renderer: good enough to
map and to read in a job's detail.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    "address article aside blockquote br dd div dl dt footer form h1 h2 h3 h4 h5 h6 header hr "
    "li main nav ol p pre section table tbody td th thead tr ul".split()
)
_HIDDEN = frozenset({"script", "style", "head", "template"})
_TAG = re.compile(r"<[^>]*>")
_BLANKS = re.compile(r"[ \t\f\v\u00a0]+")
_MANY_BREAKS = re.compile(r"\n{3,}")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Readable text of an HTML document."""
    collector = _TextCollector()
    try:
        collector.feed(markup)
        collector.close()
        text = "".join(collector.parts)
    except (AssertionError, ValueError):
        # html.parser raises AssertionError on some malformed declarations (`<![x`).
        text = html.unescape(_TAG.sub(" ", markup))
    lines = (_BLANKS.sub(" ", line).strip() for line in text.splitlines())
    return _MANY_BREAKS.sub("\n\n", "\n".join(lines)).strip()
