"""Rewriting calls of functions DuckDB does not know (sqlglot's Anonymous nodes) by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlglot import exp
from sqlglot.dialects.starrocks import StarRocks
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import TokenType

# Builds the replacement of a call from its arguments (copies), or None to leave the call as it is.
Rewrite = Callable[[list[exp.Expr]], exp.Expr | None]


def depth(node: exp.Expr) -> int:
    """How many ancestors `node` has: sorting by it, deepest first, rewrites inner calls first."""
    ancestors = 0
    while node.parent is not None:
        node, ancestors = node.parent, ancestors + 1
    return ancestors


def rewrite_calls(tree: exp.Expr, rewrites: Mapping[str, Rewrite]) -> None:
    """Replace each call in `tree` named in `rewrites` (case-insensitive) by what its rewrite builds,
    innermost calls first, so a call rewritten inside another's arguments is kept."""
    for node in sorted(tree.find_all(exp.Anonymous), key=depth, reverse=True):
        rewrite = rewrites.get(node.name.lower())
        if rewrite is None:
            continue
        replacement = rewrite([a.copy() for a in node.expressions])
        if replacement is not None:
            node.replace(replacement)


def _place(text: str, offset: int) -> str:
    """`line L, column C` of an offset of `text`, as StarRocks counts them (lines from 1, columns from 0)."""
    line_start = text.rfind("\n", 0, offset) + 1
    return f"line {text.count(chr(10), 0, offset) + 1}, column {offset - line_start}"


def call_span(node: exp.Expr, name: str) -> str:
    """` from line L, column C to line L2, column C2`: where the call `node` of the function `name`
    stands in its statement's text (from its name to its closing parenthesis), as StarRocks places an
    analysis error; empty when the text or the call's place in it is not known (a view's call, say)."""
    text = node.root().meta.get("text")
    start, end = node.meta.get("start"), node.meta.get("end")
    if not isinstance(text, str) or not isinstance(start, int) or not isinstance(end, int) \
            or text[start:end + 1].lower() != name.lower():
        return ""
    try:
        tokens = StarRocks().tokenize(text[end + 1:])
    except TokenError:
        return ""
    depth = 0
    for token in tokens:
        depth += 1 if token.token_type == TokenType.L_PAREN else -1 if token.token_type == TokenType.R_PAREN else 0
        if depth == 0:
            return f" from {_place(text, start)} to {_place(text, end + 1 + token.start)}"
    return ""
