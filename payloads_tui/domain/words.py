"""Words for counts in messages: one helper, so every layer says `1 job` and `3 jobs` alike."""

from __future__ import annotations


def noun(count: int, word: str) -> str:
    """`word` in the number `count` asks for (nouns that take an `s`): `job`, `jobs`."""
    return word if count == 1 else f"{word}s"


def counted(count: int, word: str) -> str:
    """`1 source`, `3 sources`: a count with its noun in the right number."""
    return f"{count} {noun(count, word)}"
