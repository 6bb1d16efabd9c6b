"""SELECT and set operations (UNION / INTERSECT / EXCEPT)."""

from __future__ import annotations

from sqlglot import exp

from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.query.scale_out import run_scaled_out
from cairn.query.select import run_query
from cairn.sql.refusals import not_supported
from cairn.sql.registry import StatementRegistry, reads
from cairn.sql.result import ResultSet


def select(query: QueryContext, fe: Frontend, statement: exp.Expression) -> ResultSet:
    if statement.find(exp.Lock) is not None:
        raise not_supported("SELECT ... FOR UPDATE / FOR SHARE (Cairn has no row locks)")
    # On the distributed engine when it is on and can answer as StarRocks would (query/scale_out.py).
    answer = run_scaled_out(query, fe.engine, statement)
    return ResultSet(answer if answer is not None else run_query(query, fe.engine, statement))


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add((exp.Select, exp.SetOperation), select, needs=reads)
