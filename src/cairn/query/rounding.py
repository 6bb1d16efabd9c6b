"""StarRocks' type of `round(x)`: a BIGINT, where DuckDB keeps x's floating type (test_orderby_agg:
`round(count(v2) / min(v1))` answers 2, not 2.0). A round of a DECIMAL stays a DECIMAL in both."""

from __future__ import annotations

from sqlglot import exp

from cairn.query.decimal_averages import decimal_scale
from cairn.query.result_types import ColumnTypes


def whole_rounds_as_bigint(tree: exp.Expr, types: ColumnTypes) -> None:
    """Make each one-argument `round(x)` in `tree` a BIGINT unless x is certainly a DECIMAL (in place)."""
    for node in list(tree.find_all(exp.Round)):
        if node.args.get("decimals") is not None or decimal_scale(node.this, types) is not None \
                or isinstance(node.parent, exp.Cast):
            continue
        whole: exp.Expr = exp.cast(node.copy(), exp.DataType.Type.BIGINT)
        if isinstance(node.parent, exp.Select) and node.arg_key == "expressions":
            whole = exp.alias_(whole, node.sql(dialect="starrocks").lower(), quoted=True)
        node.replace(whole)
