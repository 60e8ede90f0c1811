"""Text from outside (a subject, a body, an error quoting either) made safe to show on a terminal.

An email or a webhook may carry control characters: ESC starts sequences that clear the
screen, set the window title or, through OSC 52, write the operator's clipboard. Shown
as they are by `jobs show`, the serve log or the console, they would act on the
terminal of whoever reads them. `printable()` replaces each C0 control but tab and line
feed by its Unicode control picture (ESC → ␛, BEL → ␇), a carriage return too unless a
line feed follows (alone, it would overwrite the line), DEL by ␡, and each C1 control
(U+0080–U+009F, which some terminals read as ESC sequences) by `\\x9b`-style text.
Everything else is left as it is.

JSON for scripts (`--json`) keeps every character, but a raw C1 control in it would act on
a terminal it is printed to (JSON escapes C0 only): `json_text()` writes those as `\\u009b`,
which every JSON reader decodes to the same string.
"""

from __future__ import annotations

import re

_C1 = re.compile("[\x80-\x9f]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"\\x{code:02x}"


def printable(text: str) -> str:
    """`text` with every control character but tab and line feed shown as a visible stand-in."""
    return _CONTROL.sub(_picture, text) if _CONTROL.search(text) else text


def json_text(encoded: bytes) -> str:
    """UTF-8 JSON as text with each raw C1 control escaped (`\\u0080`–`\\u009f`); the same JSON value."""
    text = encoded.decode()
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _C1.search(text) else text
