"""Text from outside shown on a terminal: control characters become visible stand-ins (domain/terminaltext.py)."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from payloads_tui.domain.formats.emailfmt import SUMMARY_CHARS, summary_of
from payloads_tui.domain.terminaltext import json_text, printable

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


@given(st.recursive(st.text() | st.integers() | st.none(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)))
def test_json_for_a_terminal_has_no_raw_control_and_decodes_to_the_same_value(value: object) -> None:
    text = json_text(json.dumps(value, ensure_ascii=False).encode())
    assert not re.search("[\x00-\x1f\x80-\x9f]", text)
    assert json.loads(text) == value
