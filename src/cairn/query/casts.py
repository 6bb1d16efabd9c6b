"""CASTs that StarRocks computes otherwise than DuckDB, where the value's stored type decides.

StarRocks casts a FLOAT or DOUBLE to an integer type by dropping the fraction (`cast(0.9 as int)` is
0, `cast(-0.9 as int)` 0), and a value outside the integer type's range is NULL (its test_cast's
test_cast_floating_to_intergal: `cast(9223372036854775807.0 as bigint)` is NULL). DuckDB rounds to
the nearest integer and fails the statement when the value is out of range. Which columns are
floating is read from the bound tables' column types, as `result_types` reads them.
"""

from __future__ import annotations

from sqlglot import exp

from cairn.query.calls import depth
from cairn.query.result_types import ColumnTypes, column_type_of

_FLOATING = frozenset({"FLOAT", "DOUBLE"})
_INTEGERS = (exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT,
             exp.DataType.Type.BIGINT, exp.DataType.Type.INT128)


def _is_floating(node: exp.Expr, types: ColumnTypes) -> bool:
    if isinstance(node, (exp.Paren, exp.Neg)):
        return _is_floating(node.this, types)
    if isinstance(node, exp.Column):
        return column_type_of(node, types) in _FLOATING
    if isinstance(node, exp.Cast):
        return node.to.this in (exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE)
    return False


def floating_to_integer_casts_truncate(tree: exp.Expr, types: ColumnTypes) -> None:
    """Make each CAST of a FLOAT or DOUBLE column to an integer type drop the fraction, and be NULL
    out of the type's range, as StarRocks computes it (in place)."""
    for cast in sorted(tree.find_all(exp.Cast), key=depth, reverse=True):
        if type(cast) is exp.Cast and cast.to.this in _INTEGERS and _is_floating(cast.this, types):
            cast.replace(exp.TryCast(this=exp.func("trunc", cast.this.copy()), to=cast.to.copy()))
