"""Rewrites that make DuckDB answer as StarRocks does where the two differ.

Each rewrite works on the sqlglot tree of a query before it is generated as DuckDB SQL, and
names the StarRocks behaviour it reproduces.
"""

from __future__ import annotations

from sqlglot import exp

_FLOATING = (exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE)


def _depth(node: exp.Expression) -> int:
    depth = 0
    while node.parent is not None:
        node, depth = node.parent, depth + 1
    return depth


def _bool_or_counts_null_rows_as_false(tree: exp.Expression) -> None:
    """StarRocks' bool_or over a non-empty input of only NULLs is false (0), not NULL.

    (StarRocks' test_bool_or: `bool_or(null)` over 40960 rows answers 0; over no rows, NULL.)
    Treating each NULL input as false gives exactly that, for aggregates and windows alike.
    """
    for node in list(tree.find_all(exp.LogicalOr)):
        argument = node.this
        node.set("this", exp.func("coalesce", exp.cast(argument, exp.DataType.Type.BOOLEAN), exp.false()))


def _nan_and_infinity_casts_are_null(tree: exp.Expression) -> None:
    """StarRocks casts 'NaN', 'Infinity' and '-Infinity' to FLOAT / DOUBLE as NULL.

    (StarRocks' test_invalid_floating_point_number.) DuckDB parses them as IEEE values, so a cast
    to a floating type keeps only finite results.
    """
    casts = [c for c in tree.find_all(exp.Cast) if c.to.this in _FLOATING]
    for cast in sorted(casts, key=_depth, reverse=True):
        finite = exp.func("isfinite", cast.copy())
        guarded = exp.Case(ifs=[exp.If(this=finite, true=cast.copy())])
        cast.replace(guarded)


def apply(tree: exp.Expression) -> None:
    """Rewrite `tree` in place so that DuckDB's answer is StarRocks' answer."""
    _bool_or_counts_null_rows_as_false(tree)
    _nan_and_infinity_casts_are_null(tree)
