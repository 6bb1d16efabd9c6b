"""StarRocks' `session_number(k, delta) OVER (PARTITION BY .. ORDER BY ..)`: the number of the session a
row belongs to, counting from 1 in each partition; a row starts a new session when its `k` exceeds the
previous row's by more than `delta` (StarRocks' test_session_number_window_function).

DuckDB nests no window in another, so the query is rewritten in two levels: the FROM and WHERE of the
SELECT become a derived table (under the same alias) that marks each row that starts a session and
numbers the rows in the window's order; the SELECT then counts the marks up to each row in that order.
"""

from __future__ import annotations

import itertools

from sqlglot import exp

from cairn.errors import AnalysisError, UnsupportedError

_helper_ids = itertools.count(1)


def _calls(tree: exp.Expr) -> list[exp.Window]:
    return [w for w in tree.find_all(exp.Window)
            if isinstance(w.this, exp.Anonymous) and w.this.name.lower() == "session_number"]


def _check(window: exp.Window, select: exp.Select | None) -> tuple[exp.Expr, exp.Expr]:
    arguments = window.this.expressions
    if len(arguments) != 2:
        raise AnalysisError("Getting analyzing error. Detail message: session_number takes 2 arguments: "
                            "the value and the largest gap within a session.")
    key, delta = arguments
    if not isinstance(delta, (exp.Literal, exp.Null)) and not (
            isinstance(delta, exp.Neg) and isinstance(delta.this, exp.Literal)):
        raise AnalysisError("Getting analyzing error. Detail message: The second argument of session_number "
                            "must be a constant.")
    source = select.args.get("from_") if select is not None else None
    if select is None or source is None or select.args.get("joins") or select.args.get("group") \
            or select.args.get("having") or select.args.get("distinct") \
            or not isinstance(source.this, (exp.Table, exp.Subquery)) \
            or any(isinstance(p, exp.Column) and isinstance(p.this, exp.Star) for p in select.expressions):
        raise UnsupportedError("Getting analyzing error. Detail message: session_number over a join, a GROUP BY "
                               "or DISTINCT, or under `t.*`, is not supported yet.")
    return key, delta


def _rewrite(window: exp.Window) -> None:
    select = window.parent_select
    key, delta = _check(window, select)
    assert select is not None
    source = select.args["from_"].this
    alias = source.alias_or_name
    n = next(_helper_ids)
    gap, row = f"__cairn_session_gap_{n}", f"__cairn_session_row_{n}"
    spec = {"partition_by": [p.copy() for p in window.args.get("partition_by") or []],
            "order": window.args["order"].copy() if window.args.get("order") else None}
    previous = exp.Window(this=exp.Anonymous(this="lag", expressions=[key.copy()]), **spec)
    starts = exp.Case(ifs=[exp.If(this=exp.GT(this=exp.Paren(this=exp.Sub(this=key.copy(), expression=previous)),
                                                expression=delta.copy()), true=exp.Literal.number(1))],
                      default=exp.Literal.number(0))
    numbered = exp.Window(this=exp.RowNumber(), **{k: (v.copy() if isinstance(v, exp.Expr) else
                                                       [p.copy() for p in v] if v else v) for k, v in spec.items()})
    inner = exp.select(exp.Star(), exp.alias_(starts, gap), exp.alias_(numbered, row)).from_(source.copy())
    where = select.args.get("where")
    if where is not None:
        inner.set("where", where.copy())
        select.set("where", None)
    select.set("from_", exp.From(this=exp.Subquery(this=inner, alias=exp.TableAlias(
        this=exp.to_identifier(alias)))))
    running = exp.Window(
        this=exp.Sum(this=exp.column(gap)), partition_by=[p.copy() for p in window.args.get("partition_by") or []],
        order=exp.Order(expressions=[exp.Ordered(this=exp.column(row))]),
        spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW"))
    unknown = exp.Or(this=exp.Is(this=key.copy(), expression=exp.Null()),
                   expression=exp.Is(this=delta.copy(), expression=exp.Null()))
    number: exp.Expr = exp.Case(ifs=[exp.If(this=unknown, true=exp.Null())],
                                default=exp.cast(exp.Add(this=exp.Literal.number(1), expression=running), exp.DataType.Type.BIGINT))
    if isinstance(window.parent, exp.Select) and window.arg_key == "expressions":
        number = exp.alias_(number, window.sql(dialect="starrocks").lower(), quoted=True)  # the name it had
    window.replace(number)
    for star in select.expressions:
        if isinstance(star, exp.Star):
            star.set("except_", [*(star.args.get("except_") or []), exp.column(gap), exp.column(row)])


def apply(tree: exp.Expr) -> None:
    """Rewrite each `session_number(...) OVER (...)` of `tree` (in place), innermost queries first."""
    while True:
        calls = _calls(tree)
        if not calls:
            return
        _rewrite(calls[-1])
