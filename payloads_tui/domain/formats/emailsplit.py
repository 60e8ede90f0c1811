"""Raw email bytes to a stdlib `Message`, as `email.message_from_bytes` builds it, faster for single-part mail.

The stdlib's feed parser handles every line of a message in Python, body lines
included, to find MIME boundaries. A message that is not multipart (nor `message/*`)
has none to find: its payload is everything after the blank line that ends the
headers. `message_from_bytes` here parses such a message's header lines exactly as
the feed parser does (same header/continuation rules, same `header_source_parse`)
and sets the rest as the payload in one piece. Anything else - multipart and
`message/*` types, a unix `From ` line, a lone CR, a header block not ended by a
blank line, a line the feed parser would treat specially - goes to the stdlib's
parser, so the result is always the one it gives (the `defects` lists aside, which
nothing here reads). tests/formats/test_email_equivalence.py checks both.
"""

from __future__ import annotations

import email
import re
from email.message import Message
from email.policy import Policy

#: The feed parser's test for a header or continuation line (`email.feedparser.headerRE`).
_HEADER_LINE = re.compile(r"^(From |[\041-\071\073-\176]*:|[\t ])")
_PARSED_ELSEWHERE = ("multipart", "message")


def message_from_bytes(body: bytes, policy: Policy) -> Message:
    """`email.message_from_bytes(body, policy=policy)`, without reading a single-part body line by line."""
    text = body.decode("ascii", "surrogateescape")
    message = _single_part(text, policy)
    return message if message is not None else email.message_from_bytes(body, policy=policy)


def _single_part(text: str, policy: Policy) -> Message | None:
    """The message of `text` if it is a plain single-part one; None to leave it to the feed parser."""
    if text.count("\r") != text.count("\r\n"):  # a lone CR ends a line for the feed parser, not for us
        return None
    message = Message(policy=policy)
    start = 0
    header: list[str] = []
    first = True
    while True:
        end = text.find("\n", start)
        if end < 0:
            return None  # no blank line after the headers
        line = text[start : end + 1]
        start = end + 1
        if line in ("\n", "\r\n"):
            break
        if not _HEADER_LINE.match(line) or line.startswith("From ") or line.startswith(":"):
            return None
        if line[0] in " \t":
            if first:
                return None  # a continuation with nothing to continue
            header.append(line)
            continue
        if header:
            message.set_raw(*policy.header_source_parse(header))
        header = [line]
        first = False
    if header:
        message.set_raw(*policy.header_source_parse(header))
    if message.get_content_maintype() in _PARSED_ELSEWHERE:
        return None
    message.set_payload(text[start:])
    return message
