"""StarRocks' `session_number(k, delta) OVER (PARTITION BY .. ORDER BY ..)`: the number of the session a
row belongs to, counting from 1 in each partition; a row starts a new session when its `k` exceeds the
previous row's by more than `delta` (StarRocks' test_session_number_window_function).

DuckDB nests no window in another, so the query is rewritten in two levels (`derived_columns`): below,
each row that starts a session is marked and the rows are numbered in the window's order; above, the
marks up to each row in that order are counted.
"""

from __future__ import annotations

import itertools

from sqlglot import exp

from cairn.errors import AnalysisError
from cairn.query.derived_columns import derive_columns

_helper_ids = itertools.count(1)


def _calls(tree: exp.Expr) -> list[exp.Window]:
    return [w for w in tree.find_all(exp.Window)
            if isinstance(w.this, exp.Anonymous) and w.this.name.lower() == "session_number"]


def _check(window: exp.Window) -> tuple[exp.Expr, exp.Expr]:
    arguments = window.this.expressions
    if len(arguments) != 2:
        raise AnalysisError("Getting analyzing error. Detail message: session_number takes 2 arguments: "
                            "the value and the largest gap within a session.")
    key, delta = arguments
    if not isinstance(delta, (exp.Literal, exp.Null)) and not (
            isinstance(delta, exp.Neg) and isinstance(delta.this, exp.Literal)):
        raise AnalysisError("Getting analyzing error. Detail message: The second argument of session_number "
                            "must be a constant.")
    return key, delta


def _rewrite(window: exp.Window) -> None:
    select = window.parent_select
    key, delta = _check(window)
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
    derive_columns(select, {gap: starts, row: numbered}, "session_number")
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


def apply(tree: exp.Expr) -> None:
    """Rewrite each `session_number(...) OVER (...)` of `tree` (in place), innermost queries first."""
    while True:
        calls = _calls(tree)
        if not calls:
            return
        _rewrite(calls[-1])
