"""Statements sqlglot does not parse: Cairn's own small grammar over sqlglot's tokenizer.

Each statement is a dataclass deriving from ExtendedStatement. `parse(text)` returns one, or None
when the text is not one of these statements (then sqlglot parses it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ExtendedStatement:
    """Base of the statements parsed here."""

    text: str


def parse(text: str) -> ExtendedStatement | None:
    """Parse `text` if it is one of Cairn's own statements, else return None."""
    return None
