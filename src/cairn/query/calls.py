"""Rewriting calls of functions DuckDB does not know (sqlglot's Anonymous nodes) by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlglot import exp

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
