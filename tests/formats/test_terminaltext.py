"""Text from outside shown on a terminal: control characters become visible stand-ins (domain/terminaltext.py)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from payloads_tui.domain.formats.emailfmt import SUMMARY_CHARS, summary_of
from payloads_tui.domain.terminaltext import printable

ACTING = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")


@given(st.text())
def test_nothing_that_acts_on_a_terminal_is_left_and_clean_text_is_kept(text: str) -> None:
    shown = printable(text)
    assert not ACTING.search(shown)
    if not ACTING.search(text):
        assert shown is text
    assert printable(shown) == shown


def test_escape_sequences_are_shown_not_run() -> None:
    assert printable("\x1b]0;pwned\x07 \x1b[2J\x9b31m\r\nnext\rover\tx\x7f") == (
        "\u241b]0;pwned\u2407 \u241b[2J\\x9b31m\r\nnext\u240dover\tx\u2421")


def test_an_email_summary_keeps_its_sender_and_shows_control_characters() -> None:
    long = summary_of({"subject": " ".join(f"word{i}" for i in range(2000)), "from": "ann@example.com"})
    assert long is not None and long.endswith('…" from ann@example.com') and len(long) <= SUMMARY_CHARS
    evil = summary_of({"subject": "\x1b]52;c;ZWNobyBwd25lZA==\x1b\\ hi", "from": "ann@example.com"})
    assert evil == '"\u241b]52;c;ZWNobyBwd25lZA==\u241b\\ hi" from ann@example.com'
    assert summary_of({"subject": "", "from": None}) == "(no subject)"
