"""EXPLAIN [LOGICAL | VERBOSE | COSTS | ANALYZE] of a query: one column, `Explain String`, one row per
line, as StarRocks answers (the plan itself: `cairn.query.explain`)."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.query.explain import Level, explain
from cairn.query.virtual_tables import VirtualTables
from cairn.sql.explain_grammar import ExplainStatement
from cairn.sql.refusals import not_supported
from cairn.sql.registry import Requirement, StatementRegistry, reads
from cairn.sql.result import ResultSet

COLUMN = "Explain String"


def explain_query(query: QueryContext, fe: Frontend, target: Any, level: Level) -> ResultSet:
    """The plan of the query `target`. Raises UnsupportedError for any other statement, which
    Cairn cannot explain yet, and what running the query would raise for a table, column or function
    it cannot resolve."""
    if not isinstance(target, exp.Query):
        kind = type(target).__name__
        name = kind.upper() if isinstance(target, exp.Expr) else kind.removesuffix("Statement")
        raise not_supported(f"EXPLAIN of {name}")
    if target.find(exp.Lock) is not None:
        raise not_supported("SELECT ... FOR UPDATE / FOR SHARE (Cairn has no row locks)")
    return ResultSet.from_rows([COLUMN], [(line,) for line in explain(query, fe.engine, target, level)])


def _explain(query: QueryContext, fe: Frontend, statement: ExplainStatement) -> ResultSet:
    return explain_query(query, fe, statement.statement, statement.level)


def explain_needs(ctx: QueryContext, target: Any, virtual: VirtualTables) -> list[Requirement]:
    """What explaining `target` needs: SELECT on every table the query reads, as running it would."""
    return reads(ctx, target, virtual) if isinstance(target, exp.Query) else []


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(ExplainStatement, _explain,
                   needs=lambda ctx, statement, virtual: explain_needs(ctx, statement.statement, virtual))
