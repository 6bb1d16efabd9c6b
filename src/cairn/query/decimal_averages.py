"""`avg` of a DECIMAL as StarRocks types it: a DECIMAL, where DuckDB's is a DOUBLE.

StarRocks divides a DECIMAL(p, s) sum by the count with its DECIMAL division, whose scale is s + 6
for s up to 6, 12 for s up to 12 and s above that; the result is DECIMAL(38, that scale) (its
test_window_function: `avg` of a DECIMAL(18, 5) prints 147164.00000000000, of that average
2.993084933290). The argument's scale is read from the bound tables' column types, through
subqueries, casts, and the aggregates and window functions that keep their argument's type; an
`avg` whose argument's type is not known that way is left as DuckDB types it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from cairn.errors import DistributedRefusal
from cairn.query.calls import depth
from cairn.query.result_types import ColumnTypes, column_sources

# Aggregates and window functions whose result has their first argument's DECIMAL scale.
_KEEPS_SCALE = (exp.Sum, exp.Min, exp.Max, exp.FirstValue, exp.LastValue, exp.Lead, exp.Lag, exp.AnyValue,
                exp.NthValue)
RESULT_PRECISION = 38


def divided_scale(scale: int) -> int:
    """The scale of StarRocks' DECIMAL division of a DECIMAL of scale `scale` (by an integer)."""
    return scale + 6 if scale <= 6 else 12 if scale <= 12 else scale


def _declared_scale(type_name: str | None) -> int | None:
    """The scale of a type spelled `DECIMAL(p,s)` (as ColumnTypes holds DECIMALs), else None."""
    if type_name is None or not type_name.startswith("DECIMAL("):
        return None
    return int(type_name.rstrip(")").split(",")[1])


def _column_scale(column: exp.Column, types: ColumnTypes) -> int | None:
    scales = column_sources(column, types, _declared_scale, lambda inner: decimal_scale(inner, types))
    if not scales:
        return None
    # A column two tables share (JOIN ... USING) is known when both sides have the same scale.
    return scales[0] if all(s == scales[0] for s in scales) else None


def decimal_scale(node: exp.Expr, types: ColumnTypes) -> int | None:
    """The scale of `node` when it is certainly a DECIMAL whose scale is known, else None."""
    if isinstance(node, (exp.Paren, exp.Window, exp.IgnoreNulls, exp.RespectNulls)):
        return decimal_scale(node.this, types)
    if isinstance(node, exp.Column):
        return _column_scale(node, types)
    if isinstance(node, (exp.Cast, exp.TryCast)):
        to = node.to
        if to.is_type(exp.DataType.Type.DECIMAL) and len(to.expressions) == 2:
            return int(to.expressions[1].name)
        return None
    if isinstance(node, exp.Avg):
        scale = decimal_scale(node.this, types)
        return divided_scale(scale) if scale is not None else None
    if isinstance(node, _KEEPS_SCALE):
        return decimal_scale(node.this, types)
    return None


def _with_aggregate(outer: exp.Expr, average: exp.Avg, aggregate: exp.Expr) -> exp.Expr:
    """A copy of `outer` (the average, or the window or FILTER around it) computing `aggregate` instead."""
    copy = outer.copy()
    inner = copy if isinstance(copy, exp.Avg) else next(n for n in copy.find_all(exp.Avg) if n == average)
    if inner is copy:
        return aggregate
    inner.replace(aggregate)
    return copy


def units(value: exp.Expr, scale: int) -> exp.Expr:
    """`value`, a DECIMAL of scale `scale`, in whole units of 10^-scale as a HUGEINT. Its whole part
    and its fraction are converted apart: multiplying the DECIMAL itself by 10^scale could overflow
    38 digits where the HUGEINT does not."""
    if scale == 0:
        return exp.Cast(this=value.copy(), to=exp.DataType.build("HUGEINT"))
    whole = exp.func("trunc", value.copy())
    fraction = exp.Sub(this=value.copy(), expression=whole.copy())
    hugeint = exp.DataType.build("HUGEINT")
    return exp.Add(
        this=exp.Mul(this=exp.Cast(this=whole, to=hugeint), expression=exp.Literal.number(10 ** scale)),
        expression=exp.Cast(this=exp.Mul(this=exp.Paren(this=fraction), expression=exp.Literal.number(10 ** scale)),
                            to=hugeint))


def _exact_average(outer: exp.Expr, average: exp.Avg, scale: int) -> exp.Expr:
    """The average `outer` computes, as StarRocks' DECIMAL division gives it: the sum in units of
    10^-result scale divided by the count, rounded half away from zero, a DECIMAL(38, result scale).
    It is computed in integers (DuckDB divides DECIMALs as DOUBLEs, which loses the last places): the
    DECIMAL sum is converted to HUGEINT units once per group or row, and a sum that does not fit
    fails the statement as an overflow."""
    result_scale = divided_scale(scale)
    total = _with_aggregate(outer, average, exp.Sum(this=average.this.copy()))
    count = _with_aggregate(outer, average, exp.Count(this=average.this.copy()))
    scaled = exp.Mul(this=exp.Paren(this=units(total, scale)), expression=exp.Literal.number(10 ** (result_scale - scale)))
    doubled = exp.Add(this=exp.Mul(this=exp.Literal.number(2), expression=scaled),
                      expression=exp.Mul(this=exp.func("sign", total), expression=count.copy()))
    divisor = exp.Mul(this=exp.Literal.number(2), expression=exp.func("nullif", count, exp.Literal.number(0)))
    quotient = exp.IntDiv(this=exp.Paren(this=doubled), expression=exp.Paren(this=divisor))
    return units_as_decimal(quotient, result_scale)


def units_as_decimal(quotient: exp.Expr, scale: int) -> exp.Expr:
    """`quotient`, a HUGEINT count of units of 10^-scale (scale ≥ 1), as a DECIMAL(38, scale)."""
    unit = exp.Cast(this=exp.Literal.string("0." + "0" * (scale - 1) + "1"),
                    to=exp.DataType.build(f"DECIMAL({min(RESULT_PRECISION, scale + 1)}, {scale})"))
    whole = exp.Cast(this=quotient, to=exp.DataType.build(f"DECIMAL({RESULT_PRECISION}, 0)"))
    return exp.Cast(this=exp.Mul(this=whole, expression=unit),
                    to=exp.DataType.build(f"DECIMAL({RESULT_PRECISION}, {scale})"))


def _exact_average_on_datafusion(outer: exp.Expr, average: exp.Avg, scale: int) -> exp.Expr:
    """`_exact_average` as DataFusion computes it: the sum as a DECIMAL(38, result scale) divided by
    the count. DataFusion's DECIMAL division truncates at 4 places more than the dividend's scale, and
    its cast to fewer places rounds half away from zero, which gives the exact quotient rounded so
    (truncating below the place that decides the rounding changes no rounding); a sum that does not
    fit fails the statement. Raises DistributedRefusal for a result scale with no place to spare."""
    result_scale = divided_scale(scale)
    if result_scale >= RESULT_PRECISION:
        raise DistributedRefusal(f"avg of a DECIMAL of scale {scale} is not verified on it yet")
    typed = exp.DataType.build(f"DECIMAL({RESULT_PRECISION}, {result_scale})")
    total = exp.Cast(this=_with_aggregate(outer, average, exp.Sum(this=average.this.copy())), to=typed)
    count = _with_aggregate(outer, average, exp.Count(this=average.this.copy()))
    quotient = exp.Div(this=total, expression=exp.func("nullif", count, exp.Literal.number(0)), typed=True)
    return exp.Cast(this=quotient, to=typed.copy())


def decimal_averages_as_decimals(tree: exp.Expr, types: ColumnTypes,
                                 exact: Callable[[exp.Expr, exp.Avg, int], exp.Expr] = _exact_average) -> None:
    """Make each `avg` of a DECIMAL in `tree` a DECIMAL of StarRocks' scale (in place), innermost
    first, so an average of averages sees the type the inner one now has. `exact` builds it (for
    DuckDB by default; `for_datafusion` below for the distributed engine)."""
    for node in sorted(tree.find_all(exp.Avg), key=depth, reverse=True):
        argument = node.this
        if isinstance(argument, exp.Distinct):
            if len(argument.expressions) != 1:
                continue
            argument = argument.expressions[0]  # avg(DISTINCT x) has avg(x)'s type
        scale = decimal_scale(argument, types)
        if scale is None:
            continue
        outer: exp.Expr = node
        while isinstance(outer.parent, (exp.Window, exp.Filter)) and outer.arg_key == "this":
            outer = outer.parent
        typed = exact(outer, node, scale)
        if isinstance(outer.parent, exp.Select) and outer.arg_key == "expressions":
            # The column keeps the name it had: the aggregate's text.
            typed = exp.alias_(typed, outer.sql(dialect="starrocks").lower(), quoted=True)
        outer.replace(typed)


def for_datafusion(tree: exp.Expr, types: ColumnTypes) -> None:
    """`decimal_averages_as_decimals` for DataFusion, and every other `avg` over its argument as a
    DOUBLE, as DuckDB's is (DataFusion's `avg` of a DECIMAL whose scale is not known here would be a
    DECIMAL of its own scale, truncated)."""
    decimal_averages_as_decimals(tree, types, _exact_average_on_datafusion)
    for node in list(tree.find_all(exp.Avg)):
        argument = node.this
        if isinstance(argument, exp.Distinct):
            argument.set("expressions", [exp.cast(e.copy(), exp.DataType.Type.DOUBLE) for e in argument.expressions])
        else:
            node.set("this", exp.cast(argument.copy(), exp.DataType.Type.DOUBLE))
