"""`SmtpProtocol._getaddr` reads MAIL/RCPT paths exactly as aiosmtpd's own `SMTP._getaddr` does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import example, given, settings
from hypothesis import strategies as st

from payloads_tui.service.smtp import SmtpProtocol

ATOMS = st.one_of(
    st.sampled_from(["bench", "example", "com", "o'k", "a+tag", "SRS0=x=y", "x_9", "payloads", "localhost"]),
    st.text(st.sampled_from("ab9!#$%&'*+/=?^_`{|}~-é"), min_size=1, max_size=5),
)
DOT_ATOMS = st.lists(ATOMS, min_size=1, max_size=3).map(".".join)
PARTS = st.one_of(DOT_ATOMS, DOT_ATOMS, st.sampled_from(['"a b"', "a..b", ".a", "a.", "", "=?utf-8?q?x?=", "[1.2.3.4]",
                                                        "a b", "(c)a", "a\\b"]))
RESTS = st.sampled_from(["", " SIZE=2105", "  size=1 BODY=8BITMIME", "\tSMTPUTF8", "x", " (comment) SIZE=1", "(c)",
                         " \x0bSIZE=1", " ", ">", "@x"])


PLAIN = st.lists(st.sampled_from(["bench", "example", "com", "o'k", "a+tag", "SRS0=x=y", "x_9", "LOCALHOST"]),
                 min_size=1, max_size=3).map(".".join)
PLAIN_PATHS = st.builds("<{}@{}>{}".format, PLAIN, PLAIN, RESTS)


@st.composite
def paths(draw: st.DrawFn) -> str:
    opening = draw(st.sampled_from(["<", "<", "<", " <", "", "<<"]))
    closing = draw(st.sampled_from([">", ">", ">", "", " >"]))
    return f"{opening}{draw(PARTS)}@{draw(PARTS)}{closing}{draw(RESTS)}"


@pytest.fixture(scope="module")
def protocol() -> Iterator[SmtpProtocol]:
    loop = asyncio.new_event_loop()
    try:
        yield SmtpProtocol(object(), loop=loop)
    finally:
        loop.close()


@settings(max_examples=400, deadline=None)
@given(st.one_of(PLAIN_PATHS, paths(), st.text(max_size=30)), st.sampled_from([0, 3, 64]))
@example("<bench@example.com> size=2105", 0)
@example("<toolong@example.com>", 3)
@example("<a@b> (c) SIZE=1", 0)
@example("0@", 0)  # aiosmtpd's own reader raises IndexError here (its session then answers 500): so must ours
def test_paths_read_as_aiosmtpd_reads_them(protocol: SmtpProtocol, arg: str, limit: int) -> None:
    protocol.local_part_limit = limit
    assert outcome(protocol._getaddr, arg) == outcome(lambda a: SMTP._getaddr(protocol, a), arg)


def outcome(read: Callable[[str], object], arg: str) -> object:
    """What reading `arg` gives: its result, or the type of the exception it raises."""
    try:
        return read(arg)
    except Exception as exc:  # noqa: BLE001 - the reader's own failures are part of its behaviour
        return type(exc)
