"""`/` with a DECIMAL operand as StarRocks computes it: a DECIMAL, where DuckDB's is a DOUBLE.

StarRocks divides a DECIMAL(p1, s1) (or an integer, scale 0) by a DECIMAL(p2, s2) (or an integer) in
128-bit integers: the dividend is scaled up to s + s2, where s, the result's scale, is s1 + 6 for s1
up to 6, 12 for s1 up to 12 and s1 above that; the quotient, rounded half away from zero, is a
DECIMAL(38, s) (its test_number's test_sr_9663: `-2516.460439/1673.37` is -1.503827867716). A dividend
that does not fit 128 bits once scaled is NULL (the same case: DECIMAL(38, 18) / DECIMAL(38, 18);
under sql_mode ERROR_IF_OVERFLOW it fails the statement), as is a division by zero; s + s2 above 38
is refused when the statement is analyzed. Operands are known as DECIMALs from decimal literals,
what `decimal_averages.decimal_scale` reads from the bound tables' column types, and + - * of those;
a `/` with a floating or string operand, or one whose type is not known that way, is left as DuckDB
computes it (a DOUBLE, as StarRocks computes a floating one).
"""

from __future__ import annotations

from sqlglot import exp

from cairn.errors import AnalysisError
from cairn.query.calls import depth
from cairn.query.decimal_averages import RESULT_PRECISION, decimal_scale, divided_scale, units, units_as_decimal
from cairn.query.result_types import ColumnTypes, declared_type

# The StarRocks column types StarRocks divides as DECIMALs of scale 0 when the other operand is a DECIMAL.
_INTEGER_TYPES = frozenset({"BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT"})
_INTEGER_CASTS = (exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT,
                  exp.DataType.Type.BIGINT, exp.DataType.Type.INT128)
_HUGEINT_MAX = 2 ** 127 - 1
_OVERFLOW = "Expr evaluate meet error: The 'div' operation involving decimal values overflows."


def _literal_scale(node: exp.Expr) -> int | None:
    """The scale of a decimal literal (`1673.37` is a DECIMAL(6, 2) in StarRocks), else None."""
    if isinstance(node, (exp.Neg, exp.Paren)):
        return _literal_scale(node.this)
    if isinstance(node, exp.Literal) and not node.is_string and "." in node.name \
            and not any(c in node.name for c in "eE"):
        return len(node.name.split(".", 1)[1])
    return None


def _is_integer(node: exp.Expr, types: ColumnTypes) -> bool:
    if isinstance(node, (exp.Neg, exp.Paren)):
        return _is_integer(node.this, types)
    if isinstance(node, exp.Literal):
        return not node.is_string and node.name.isdigit()
    if isinstance(node, exp.Count):
        return True
    if isinstance(node, exp.Column):
        return declared_type(node, types) in _INTEGER_TYPES
    if isinstance(node, exp.Cast):
        return node.to.this in _INTEGER_CASTS
    return False


def _operand(node: exp.Expr, types: ColumnTypes) -> tuple[int, bool] | None:
    """(scale, whether it is a DECIMAL) of an operand known to be a DECIMAL or an integer, else None.
    + - and * of such operands are too, with StarRocks' (and DuckDB's) scales: the larger one for
    + and -, their sum for *."""
    if isinstance(node, (exp.Paren, exp.Neg)):
        return _operand(node.this, types)
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
        left, right = _operand(node.this, types), _operand(node.expression, types)
        if left is None or right is None:
            return None
        combined = left[0] + right[0] if isinstance(node, exp.Mul) else max(left[0], right[0])
        return combined, left[1] or right[1]
    scale = _literal_scale(node)
    if scale is None:
        scale = decimal_scale(node, types)
    if scale is not None:
        return scale, True
    return (0, False) if _is_integer(node, types) else None


def _quotient(dividend: exp.Expr, divisor: exp.Expr, adjust: int, overflow_fails: bool) -> exp.Expr:
    """dividend × 10^adjust / divisor (HUGEINTs) rounded half away from zero; NULL for a divisor of
    0, and for a scaled dividend beyond 128 bits NULL or (`overflow_fails`) an error. The remainder is compared with the divisor's rest rather
    than doubled, so no step leaves 128 bits."""
    numerator = exp.Mul(this=exp.func("abs", dividend.copy()), expression=exp.Literal.number(10 ** adjust))
    magnitude = exp.func("abs", divisor.copy())
    whole = exp.IntDiv(this=numerator.copy(), expression=magnitude.copy())
    rest = exp.Mod(this=numerator, expression=magnitude.copy())
    rounded = exp.Add(this=whole, expression=exp.Case(
        ifs=[exp.If(this=exp.GTE(this=rest.copy(), expression=exp.Sub(this=magnitude.copy(), expression=rest)),
                    true=exp.Literal.number(1))], default=exp.Literal.number(0)))
    signed = exp.Mul(this=exp.Mul(this=exp.func("sign", dividend.copy()), expression=exp.func("sign", divisor.copy())),
                     expression=exp.Paren(this=rounded))
    too_wide = exp.GT(this=exp.func("abs", dividend.copy()), expression=exp.Literal.number(_HUGEINT_MAX // 10 ** adjust))
    overflow = exp.func("error", exp.Literal.string(_OVERFLOW)) if overflow_fails else exp.null()
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=magnitude, expression=exp.Literal.number(0)), true=exp.null()),
                         exp.If(this=too_wide, true=overflow)], default=signed)


def _decimal_scales(node: exp.Div, types: ColumnTypes) -> tuple[int, int] | None:
    """The dividend's and the divisor's scales when `node` is a DECIMAL division, else None."""
    left, right = _operand(node.this, types), _operand(node.expression, types)
    if left is None or right is None or not (left[1] or right[1]):
        return None
    return left[0], right[0]


def _as_datafusion_decimal(node: exp.Expr) -> exp.Expr:
    """An operand as DataFusion should read it: each decimal literal in it (a DOUBLE there) cast to
    its DECIMAL."""
    copy = node.copy()
    for literal in list(copy.find_all(exp.Literal)):
        scale = _literal_scale(literal)
        if scale is not None:
            digits = sum(c.isdigit() for c in literal.name)
            typed = exp.Cast(this=literal.copy(), to=exp.DataType.build(f"DECIMAL({max(digits, scale)}, {scale})"))
            if literal is copy:
                return typed
            literal.replace(typed)
    return copy


def decimal_division_on_datafusion(node: exp.Div, types: ColumnTypes) -> exp.Expr | None:
    """`node` as DataFusion computes StarRocks' DECIMAL division, or None when `decimal_divisions_exact`
    leaves it a DOUBLE division. The dividend is cast to DECIMAL(38, s) first: DataFusion's quotient
    then has s + 4 places, truncated, and its cast to s places rounds half away from zero, which is
    the quotient rounded as StarRocks rounds it (truncating below the place that decides the rounding
    changes no rounding). A division by zero is NULL; a dividend that overflows fails the statement
    there, where the embedded path gives NULL."""
    scales = _decimal_scales(node, types)
    if scales is None:
        return None
    dividend_scale, divisor_scale = scales
    scale = divided_scale(dividend_scale)
    if scale + divisor_scale > RESULT_PRECISION:
        raise AnalysisError(f"Getting analyzing error. Detail message: Dividend fails to adjust scale to "
                            f"{scale + divisor_scale} that exceeds maximum value({RESULT_PRECISION}).")
    typed = exp.DataType.build(f"DECIMAL({RESULT_PRECISION}, {scale})")
    dividend = exp.Cast(this=_as_datafusion_decimal(node.this), to=typed)
    divisor = exp.func("nullif", _as_datafusion_decimal(node.expression), exp.Literal.number(0))
    return exp.Cast(this=exp.Div(this=dividend, expression=divisor, typed=True), to=typed.copy())


def decimal_divisions_exact(tree: exp.Expr, types: ColumnTypes, overflow_fails: bool = False) -> None:
    """Make each `/` of a DECIMAL by a DECIMAL or an integer (or of an integer by a DECIMAL) in `tree`
    StarRocks' DECIMAL division (in place; the module's docstring), innermost first, so a quotient
    divided again is known as the DECIMAL it now is. `overflow_fails` (sql_mode ERROR_IF_OVERFLOW):
    a dividend that overflows fails the statement instead of being NULL."""
    for node in sorted(tree.find_all(exp.Div), key=depth, reverse=True):
        scales = _decimal_scales(node, types)
        if scales is None:
            continue
        dividend_scale, divisor_scale = scales
        scale = divided_scale(dividend_scale)
        if scale + divisor_scale > RESULT_PRECISION:
            raise AnalysisError(f"Getting analyzing error. Detail message: Dividend fails to adjust scale to "
                                f"{scale + divisor_scale} that exceeds maximum value({RESULT_PRECISION}).")
        quotient = _quotient(units(node.this, dividend_scale), units(node.expression, divisor_scale),
                             scale + divisor_scale - dividend_scale, overflow_fails)
        typed: exp.Expr = units_as_decimal(quotient, scale)
        if isinstance(node.parent, exp.Select) and node.arg_key == "expressions":
            # The column keeps the name it had: the expression's text.
            typed = exp.alias_(typed, node.sql(dialect="starrocks").lower(), quoted=True)
        node.replace(typed)
