"""The fast email parser gives exactly what the old one (email.policy.default) gave, on generated messages.

Three levels:
- header by header: `header_text` / `header_addresses` against the stdlib's header
  objects, over values aimed at the fast paths and just beside them;
- message splitting: `emailsplit.message_from_bytes` against the stdlib's feed parser;
- whole messages: `parse_email` against `email_oracle.parse_email` (the old
  implementation), over messages with encoded-word headers, raw 8-bit headers,
  multipart/alternative and mixed, attachments with odd filenames, non-UTF-8
  charsets, transfer encodings, attached messages, malformed headers, unix `From `
  lines, LF-only and lone-CR line ends.
"""

from __future__ import annotations

import base64
import email
import email.policy
import quopri
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.utils import format_datetime
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from payloads_tui.domain.errors import ParseError
from payloads_tui.domain.formats.emailfmt import parse_email
from payloads_tui.domain.formats.emailheaders import FETCH_POLICY, header_addresses, header_text
from payloads_tui.domain.formats.emailsplit import message_from_bytes
from payloads_tui.domain.formats.parsed import ParsedBody
from tests.formats import email_oracle

FIXTURES = Path(__file__).parent.parent / "fixtures"
#: Run with many more examples when changing emailheaders.py (6,000 each passed when it was written).
HEADER_RUNS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MESSAGE_RUNS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- pieces of headers ---------------------------------------------------------------

WORDS = st.sampled_from(
    ["Ada", "Lovelace", "O'Brien", "Jean-Luc", "x_y", "a+b", "Dr.", "Q.", "café", "Zoë", "bob", "A&B", "50%", "x/y"]
)
TEXTS = st.text(st.sampled_from("ab cé€✔,;:\"'<>()@.=?_-\t\\[]"), max_size=14)
LOCAL = st.builds("{}{}".format, st.sampled_from(["ada", "b", "x9", "billing", "o'k", "a_b"]),
                  st.sampled_from(["", ".lovelace", "+tag", ".a.b", "-1"]))
DOMAIN = st.builds("{}.{}".format, st.sampled_from(["example", "payloads", "x-y", "a1", "mail.example"]),
                   st.sampled_from(["com", "localhost", "FR", "co.uk"]))
ADDR_SPEC = st.builds("{}@{}".format, LOCAL, DOMAIN)
ODD_ADDR = st.sampled_from(
    ['"a b"@x.example', "<>", "a@[127.0.0.1]", "abc", "a@@b.example", "a@b.", ".a@b.example", "a..b@c.example",
     "a@b.example>", "<a@b.example", "a@b.example (Ada)", "(c) a@b.example", "é@b.example", "a@b.example;"]
)
CHARSETS = st.sampled_from(["utf-8", "UTF-8", "iso-8859-1", "windows-1252", "koi8-r", "x-bogus", "utf-16"])
SPACES = st.sampled_from([" ", "  ", "\t", "\r\n ", "\r\n\t", ""])


@st.composite
def encoded_words(draw: st.DrawFn) -> str:
    text = draw(TEXTS)
    charset = draw(CHARSETS)
    codec = "utf-8" if charset == "x-bogus" else charset
    data = text.encode(codec, "replace")
    if draw(st.booleans()):
        return f"=?{charset}?{draw(st.sampled_from('bB'))}?{base64.b64encode(data).decode()}?="
    quoted = quopri.encodestring(data, header=True).decode().replace("?", "=3F").replace(" ", "_")
    broken = draw(st.sampled_from(["", "", "", "=", "?", "=?", "=ZZ"]))
    return f"=?{charset}?{draw(st.sampled_from('qQ'))}?{quoted}{broken}?="


PHRASE = st.lists(st.one_of(WORDS, encoded_words(), st.just('"Last, First"'), st.just("(note)")), min_size=1,
                  max_size=3).map(" ".join)


MAILBOXES = st.one_of(
    ADDR_SPEC,
    ADDR_SPEC.map("<{}>".format),
    st.builds("{} <{}>".format, PHRASE, ADDR_SPEC),
    st.builds("{}{}<{}>".format, PHRASE, SPACES, ADDR_SPEC),
    st.builds("{} ({})".format, ADDR_SPEC, WORDS),
    ODD_ADDR,
    st.builds("{}  {} <{}>".format, WORDS, WORDS, ADDR_SPEC),
)


ADDRESS_LISTS = st.one_of(
    st.lists(MAILBOXES, min_size=1, max_size=3).flatmap(
        lambda items: st.sampled_from([", ", ",", " , ", ",\r\n\t", ",,"]).map(lambda sep: sep.join(items))
    ),
    st.sampled_from(["undisclosed-recipients:;", "Team: a@b.example, c@d.example;", "", "  ", ",", "@"]),
)

ZONES = st.sampled_from([0, 60, -300, 330, 840, -720]).map(lambda m: timezone(timedelta(minutes=m)))
DATES = st.one_of(
    st.builds(lambda moment, zone: format_datetime(moment.replace(tzinfo=zone)),
              st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)), ZONES),
    st.builds(lambda moment: format_datetime(moment), st.datetimes(min_value=datetime(1970, 1, 1))),  # -0000
    st.sampled_from(
        ["22 Jul 2024 12:52 GMT", "Mon, 22 Jul 24 12:52:07 EST", "not a date", "", "Mon, 32 Jul 2024 25:61:00 +0200",
         "Mon, 22 Jul 99999 12:52:07 +0200", "Mon, 22 Jul 2024 12:52:07 +0200 (CEST)", "Mon,22 Jul 2024 1:2:3 +0000",
         "Mon, 22 Jul 2024 12:52:07 +9999", "2024-07-22T12:52:07Z", "Mon, 22 Jul 2024 12:52:07 +0200 junk"]
    ),
)
MESSAGE_IDS = st.one_of(
    st.builds("<{}@{}>".format, LOCAL, DOMAIN),
    st.builds("{}@{}".format, LOCAL, DOMAIN),
    st.sampled_from(["<a@b.example> (x)", "<a b@c.example>", "", "<a@b.example> junk", " <a@b.example>",
                     "<a@[1.2.3.4]>", "<=?utf-8?q?x?=@b.example>", "<a@b.example", "<>", "<a.@b.example>"]),
)
TOKENS = st.text(st.sampled_from("Az09!#$&+.^_`{|}~-"), min_size=1, max_size=8)
PARAM_VALUES = st.one_of(TOKENS, TOKENS.map('"{}"'.format), TEXTS.map('"{}"'.format),
                         st.sampled_from(['"===============0123456789=="', '"a b"', "utf-8''caf%C3%A9", '""', "x;y"]))
MIME_TYPES = st.sampled_from(
    ["text/plain", "multipart/mixed", "TEXT/HTML", "application/pdf", "attachment", "inline", "base64", "1.0", "text",
     "a/b/c"]
)
PARAMETER_NAMES = st.sampled_from(["charset", "boundary", "filename", "name", "name*", "x-y", "FILENAME"])
PARAMETERS = st.builds(";{}{}={}".format, st.sampled_from([" ", "", "\t", "  "]), PARAMETER_NAMES, PARAM_VALUES)
MIME_VALUES = st.one_of(
    st.builds(lambda kind, parameters: kind + "".join(parameters), MIME_TYPES, st.lists(PARAMETERS, max_size=3)),
    TEXTS,
    st.sampled_from(["text/plain (comment); charset=utf-8", "text/plain; charset=\"utf-8\" ", "1.0 (produced by x)",
                     "quoted-printable", " base64", "text/plain;", "; charset=x",
                     "attachment; filename*=utf-8''%E2%9C%94"]),
)
UNSTRUCTURED = st.lists(st.one_of(WORDS, TEXTS, encoded_words()), max_size=4).flatmap(
    lambda parts: st.sampled_from([" ", "", "\t", "\r\n "]).map(lambda sep: sep.join(parts))
)


def _as_stdlib(name: str, value: str) -> object:
    try:
        header = email.policy.default.header_fetch_parse(name, value)
        addresses = getattr(header, "addresses", None)
        pairs = None if addresses is None else [(a.display_name, a.addr_spec) for a in addresses]
        return ("ok", str(header), pairs)
    except Exception as exc:  # noqa: BLE001 - the comparison includes which errors are raised
        return ("error", type(exc).__name__)


def _as_ours(name: str, value: str, addresses: bool) -> object:
    try:
        pairs = header_addresses(name, value) if addresses else None
        return ("ok", header_text(name, value), pairs)
    except Exception as exc:  # noqa: BLE001 - see _as_stdlib
        return ("error", type(exc).__name__)


HEADERS = st.one_of(
    st.tuples(st.sampled_from(["From", "to", "CC", "Reply-To", "Sender", "Resent-To"]), ADDRESS_LISTS),
    st.tuples(st.sampled_from(["Date", "resent-date"]), DATES),
    st.tuples(st.sampled_from(["Message-ID", "message-id"]), MESSAGE_IDS),
    st.tuples(st.sampled_from(["Content-Type", "Content-Disposition", "Content-Transfer-Encoding", "MIME-Version"]),
              MIME_VALUES),
    st.tuples(st.sampled_from(["Subject", "X-Order-Id", "Received", "Comments"]), UNSTRUCTURED),
    st.tuples(  # anything at all, to find the edges of the fast paths
        st.sampled_from(["From", "To", "Date", "Message-ID", "Content-Type", "Content-Disposition", "Subject"]),
        st.text(st.characters(min_codepoint=9, max_codepoint=0x7F) | st.sampled_from("é€\x85\xa0\u2028"),
                max_size=40),
    ),
)


@HEADER_RUNS
@given(HEADERS, st.sampled_from(["ascii", "utf-8", "latin-1"]))
@example(("From", "Ada Lovelace <ada@example.com>"), "ascii")
@example(("To", "a@b.example, Bob  Smith <b@c.example>"), "ascii")
@example(("Content-Type", 'multipart/mixed; boundary="===============0123=="'), "ascii")
@example(("Date", "Mon, 22 Jul 2024 12:52:07 -0000"), "ascii")
def test_header_texts_are_the_stdlib_ones(header: tuple[str, str], raw: str) -> None:
    name, value = header
    if raw != "ascii":  # as the parser keeps raw 8-bit bytes: surrogate escapes
        value = value.encode(raw, "replace").decode("ascii", "surrogateescape")
    is_address = name.lower() in {"from", "to", "cc", "reply-to", "sender", "resent-to"}
    assert _as_ours(name, value, is_address) == _as_stdlib(name, value)


# --- whole messages ---------------------------------------------------------------------


def _encode_body(text: str, charset: str, cte: str) -> bytes:
    codec = "utf-8" if charset in ("x-bogus", "") else charset
    data = text.replace("\n", "\r\n").encode(codec, "replace")
    if cte.strip().lower() == "base64":
        return base64.encodebytes(data)
    if cte.strip().lower() == "quoted-printable":
        return quopri.encodestring(data)
    return data


#: A MIME part: its header lines and its body.
Part = tuple[list[str], bytes]


@st.composite
def text_leaves(draw: st.DrawFn) -> Part:
    kind = draw(st.sampled_from(["text/plain", "text/html", "text/html", "TEXT/Plain", "text/plain (x)"]))
    charset = draw(st.one_of(CHARSETS, st.just("")))
    cte = draw(st.sampled_from(["", "7bit", "8bit", "base64", "quoted-printable", "x-bogus", " Base64 "]))
    text = draw(st.text(st.sampled_from("Hello ébè€✔<>&;\n\t"), max_size=40))
    if kind == "text/html":
        text = f"<p>{text}</p><br>x"
    quote = draw(st.sampled_from(["", '"']))
    lines = [f"Content-Type: {kind}" + (f"; charset={quote}{charset}{quote}" if charset else "")]
    if cte:
        lines.append(f"Content-Transfer-Encoding: {cte}")
    if draw(st.integers(0, 5)) == 0:
        disposition = draw(st.sampled_from(["inline", "attachment", "inline; filename=a.txt"]))
        lines.append(f"Content-Disposition: {disposition}")
    return lines, _encode_body(text, charset, cte)


FILENAMES = st.one_of(
    st.sampled_from(['filename="facture.pdf"', "filename=a.csv", 'filename="../../etc/passwd"',
                     'filename="C:\\x\\y.doc"',
                     "filename*=utf-8''%C3%A9t%C3%A9.txt", 'filename="=?utf-8?q?caf=C3=A9.pdf?="', 'filename="a\x01b"',
                     'filename=".."', 'filename=""', "filename*0=ab; filename*1=cd.txt", 'filename="  sp.txt "']),
    encoded_words().map('filename="{}"'.format),
)


@st.composite
def attachment_leaves(draw: st.DrawFn) -> Part:
    kind = draw(st.sampled_from(["application/pdf", "image/png", "text/csv", "application/octet-stream", "x", "a/b/c"]))
    data = draw(st.binary(max_size=60))
    lines = [f"Content-Type: {kind}" + draw(st.sampled_from(["", '; name="n.bin"', "; name*=utf-8''%E2%9C%94.bin"]))]
    disposition = draw(st.sampled_from(["attachment", "inline", "ATTACHMENT", ""]))
    if disposition or draw(st.booleans()):
        lines.append(f"Content-Disposition: {disposition}" + draw(st.one_of(st.just(""), FILENAMES.map("; {}".format))))
    cte = draw(st.sampled_from(["base64", "base64", "quoted-printable", "", "7bit"]))
    if cte:
        lines.append(f"Content-Transfer-Encoding: {cte}")
    body = base64.encodebytes(data) if cte == "base64" else quopri.encodestring(data) if cte else data
    return lines, body


@st.composite
def attached_messages(draw: st.DrawFn) -> Part:
    return ["Content-Type: message/rfc822"], draw(messages(depth=2))


def _multipart(depth: int) -> st.SearchStrategy[Part]:
    @st.composite
    def build(draw: st.DrawFn) -> Part:
        subtype = draw(st.sampled_from(["alternative", "alternative", "mixed", "related", "MIXED", "digest"]))
        boundary = draw(st.sampled_from(["b1", "===============0123456789==", "=-alt-3Kp8VnR1", "a b", "x'y"]))
        quoted = draw(st.booleans()) or " " in boundary
        children = draw(st.lists(parts(depth + 1), min_size=0, max_size=3))
        quote = '"' if quoted else ""
        body = b"preamble\r\n" if draw(st.booleans()) else b""
        for child in children:
            body += b"--" + boundary.encode() + b"\r\n" + _flatten(child)
        if draw(st.integers(0, 4)):  # sometimes the closing boundary is missing
            body += b"--" + boundary.encode() + b"--\r\n"
        return [f"Content-Type: multipart/{subtype}; boundary={quote}{boundary}{quote}"], body

    return build()


def parts(depth: int = 0) -> st.SearchStrategy[Part]:
    leaves = st.one_of(text_leaves(), attachment_leaves())
    if depth >= 3:
        return leaves
    return st.one_of(leaves, leaves, _multipart(depth), attached_messages() if depth < 2 else leaves)


def _flatten(part: Part, extra_headers: bytes = b"") -> bytes:
    lines, body = part
    return extra_headers + b"".join(line.encode() + b"\r\n" for line in lines) + b"\r\n" + body + b"\r\n"


MALFORMED = st.sampled_from(
    [b"no colon here\r\n", b" leading continuation\r\n", b"Bad Name: x\r\n", b"X-Empty:\r\n", b"X-Nul: a\x00b\r\n",
     b"Subject: second subject\r\n", b"Subject : spaced name\r\n", b"X-Tab\t: v\r\n",
     b"X-Long: " + b"word " * 40 + b"\r\n", b"X-Folded: a\r\n\r\n"]
)


MESSAGE_HEADERS = [
    st.tuples(st.just("From"), ADDRESS_LISTS),
    st.tuples(st.sampled_from(["To", "to"]), ADDRESS_LISTS),
    st.tuples(st.just("Cc"), ADDRESS_LISTS),
    st.tuples(st.just("Subject"), UNSTRUCTURED),
    st.tuples(st.just("Date"), DATES),
    st.tuples(st.just("Message-ID"), MESSAGE_IDS),
]


FIRST_LINES = st.sampled_from(
    [b"", b"", b"", b"From bench@example.com Mon Jul 22 12:52:07 2024\r\n", b" continuation first\r\n", b":no name\r\n"]
)


@st.composite
def messages(draw: st.DrawFn, depth: int = 0) -> bytes:
    headers = [draw(header) for header in MESSAGE_HEADERS if draw(st.integers(0, 3))]
    headers += draw(st.lists(HEADERS.filter(lambda h: not h[0].lower().startswith(("content-", "mime-"))), max_size=3))
    headers = draw(st.permutations(headers))
    raw_codec = draw(st.sampled_from(["utf-8", "latin-1", "ascii-only"]))
    head = b""
    for name, value in headers:
        if raw_codec == "ascii-only":
            value = value.encode("ascii", "replace").decode()
        head += f"{name}: {value}".encode("latin-1" if raw_codec == "latin-1" else "utf-8", "replace") + b"\r\n"
    if draw(st.integers(0, 3)) == 0:
        head += draw(MALFORMED)
    if draw(st.booleans()):
        head += b"MIME-Version: 1.0\r\n"
    head = draw(FIRST_LINES) + head
    raw = _flatten(draw(parts(depth)), head)
    endings = draw(st.sampled_from(["crlf", "crlf", "lf", "lone-cr", "no-blank-line"]))
    if endings == "lf":
        return raw.replace(b"\r\n", b"\n")
    if endings == "lone-cr":
        return raw.replace(b"\r\n", b"\r", 1)
    if endings == "no-blank-line":
        return head
    return raw


def _shape(message: Message) -> object:
    """What `emailfmt` can read of a parsed message (its `defects` aside)."""
    payload = message.get_payload()
    inner = [_shape(part) for part in payload] if isinstance(payload, list) else payload
    return list(message.raw_items()), message.get_unixfrom(), message.get_default_type(), inner


@MESSAGE_RUNS
@given(messages())
def test_split_messages_are_the_feed_parsers_ones(raw: bytes) -> None:
    assert _shape(message_from_bytes(raw, FETCH_POLICY)) == _shape(email.message_from_bytes(raw, policy=FETCH_POLICY))


def _outcome(parse: object, raw: bytes) -> object:
    try:
        parsed = parse(raw)  # type: ignore[operator]
    except ParseError as exc:
        return ("error", str(exc))
    assert isinstance(parsed, ParsedBody)
    return parsed.document, [(a.filename, a.content_type, a.size, a.sha256, a.data) for a in parsed.attachments]


@MESSAGE_RUNS
@given(messages())
def test_documents_are_the_ones_of_the_old_parser(raw: bytes) -> None:
    assert _outcome(parse_email, raw) == _outcome(email_oracle.parse_email, raw)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_what_the_old_parser_gave(raw: bytes) -> None:
    assert _outcome(parse_email, raw) == _outcome(email_oracle.parse_email, raw)


def test_the_fixtures_and_a_plain_email_give_what_the_old_parser_gave() -> None:
    plain = (
        b"From: bench@example.com\r\nTo: billing@payloads.localhost\r\nSubject: Invoice 7 is overdue\r\n"
        b"Message-ID: <bench-7@example.com>\r\nDate: Mon, 22 Jul 2024 12:52:07 +0200\r\n"
        b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 7bit\r\nMIME-Version: 1.0\r\n\r\n'
        b"Please pay.\r\n"
    )
    for raw in [plain, *(p.read_bytes() for p in sorted(FIXTURES.glob("*.eml")))]:
        ours = _outcome(parse_email, raw)
        assert ours == _outcome(email_oracle.parse_email, raw)
        assert ours[0]["from"] is not None  # type: ignore[index]
