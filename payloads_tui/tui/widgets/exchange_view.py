"""How a logged request or response reads: first line, headers, and a highlighted body."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from payloads_tui.domain.formats.charset import readable_text
from payloads_tui.domain.terminaltext import printable
from payloads_tui.domain.models import HttpExchange
from payloads_tui.tui.formatting import format_size

#: Characters of a body shown; the rest is summarised.
BODY_SHOWN = 64 * 1024
LEXERS = {"json": "json", "xml": "xml", "html": "html", "csv": "text", "form": "text", "email": "email"}


def lexer_for(content_type: str) -> str:
    kind = content_type.split(";")[0].strip().lower()
    for marker, lexer in (("json", "json"), ("xml", "xml"), ("html", "html"), ("message/rfc822", "email")):
        if marker in kind:
            return lexer
    return LEXERS.get(kind, "text")


def pretty_body(body: bytes, content_type: str) -> tuple[str, str]:
    """(text, lexer) of a body: JSON indented, anything else decoded as is."""
    text = readable_text(body[:BODY_SHOWN], content_type)
    lexer = lexer_for(content_type)
    if lexer == "json" and len(body) <= BODY_SHOWN:
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return printable(text), lexer  # a sender's ESC sequences would act on the operator's terminal


def headers_table(headers: dict[str, str]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in headers.items():
        table.add_row(f"{name}:", printable(value))
    return table


def render_body(
    body: bytes | None, exchange: HttpExchange, theme: str = "ansi_dark", *, reading: bool = False
) -> RenderableType:
    """`body` shown by its content type; `reading`: a body kept in a blob is still being read."""
    if body is None:
        if exchange.body_blob and reading:
            return Text("(reading the body…)", style="dim")
        if exchange.body_blob:
            return Text("(the body's blob file is missing — pruned?)", style="dim")
        return Text("(no body)", style="dim")
    if not body:
        return Text("(empty body)", style="dim")
    text, lexer = pretty_body(body, exchange.content_type)
    parts: list[Any] = [Syntax(text, lexer, theme=theme, word_wrap=True, background_color="default")]
    if len(body) > BODY_SHOWN:
        parts.append(Text(f"… {format_size(len(body) - BODY_SHOWN)} more not shown", style="dim"))
    return Group(*parts)


def render_exchange(exchange: HttpExchange, body: bytes | None, *, request: bool, reading: bool = False) -> Group:
    """The first line (method URL, or code message), the headers, then the body."""
    if request:
        head = Text.assemble((exchange.method or "", "bold cyan"), " ", (exchange.url or "", "underline"))
    else:
        code = exchange.code or 0
        style = "bold green" if 200 <= code < 300 else "bold red" if code >= 400 else "bold yellow"
        message = exchange.message or ""
        if exchange.code and message.startswith(f"{exchange.code} "):  # "200 OK" is logged with its code
            message = message[len(str(exchange.code)) + 1:]
        head = Text.assemble((str(exchange.code or "—"), style), " ", message)
    size = exchange.body_size or (len(body) if body else 0)
    if size:
        head.append(f"  ({exchange.content_type or 'no content type'}, {format_size(size)})", style="dim")
    parts: list[Any] = [head]
    if exchange.headers:
        parts.append(headers_table(exchange.headers))
    parts.append(Text(""))
    parts.append(render_body(body, exchange, reading=reading))
    return Group(*parts)
