"""Statements about the connection itself: SET, SHOW VARIABLES / WARNINGS, BEGIN / COMMIT / ROLLBACK."""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from cairn.errors import AnalysisError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.query.select import run_query
from cairn.query.variables import DEFAULTS, check_honoured, get_variable
from cairn.query.virtual_tables import VirtualTables
from cairn.sql.names import literal_text
from cairn.sql.refusals import not_supported
from cairn.sql.registry import Handler, Requirement, StatementRegistry, nothing, reads
from cairn.sql.result import ResultSet
from cairn.sql.show import like_filter


def _value(node: exp.Expression) -> object:
    if isinstance(node, exp.Literal):
        return node.to_py()
    if isinstance(node, exp.Boolean):
        return int(bool(node.this))
    return node.name if isinstance(node, (exp.Column, exp.Identifier, exp.Var)) else node.sql(dialect="starrocks")


def _session_value(query: QueryContext, fe: Frontend, node: exp.Expression) -> object:
    """A session variable's new value: a literal or a name as written, a constant expression
    (`10 * 2`, `-1`) evaluated. An expression that reads a table is refused: its value would
    depend on data the SET is not authorized to read."""
    if isinstance(node, (exp.Literal, exp.Boolean, exp.Column, exp.Identifier, exp.Var)):
        return _value(node)
    if node.find(exp.Query, exp.Column, exp.Table) is not None:
        raise AnalysisError("Getting analyzing error. Detail message: the value of a session variable "
                            "must be a constant expression.")
    return run_query(query, fe.engine, exp.select(node.copy())).column(0)[0].as_py()


def set_variables(query: QueryContext, fe: Frontend, statement: exp.Set) -> ResultSet:
    """SET NAMES x / SET [SESSION] var = value / SET @@var = value (kept per session).

    SET GLOBAL is refused: variables live in the session, so a global one would silently not apply
    to any other session."""
    for item in statement.expressions:
        target = item.this.this if isinstance(item.this, exp.EQ) else None
        if (item.args.get("kind") or "").upper() == "GLOBAL" or (
                isinstance(target, exp.SessionParameter) and (target.args.get("kind") or "").upper() == "GLOBAL"):
            raise not_supported("SET GLOBAL (variables are kept per session)")
    for item in statement.expressions:
        if (item.args.get("kind") or "").upper() == "NAMES":
            charset = item.name or "utf8mb4"
            for name in ("character_set_client", "character_set_connection", "character_set_results"):
                query.variables[name] = charset
            continue
        assignment = item.this
        if isinstance(assignment, exp.EQ) and isinstance(assignment.this, exp.Parameter):
            # SET @x = expr: evaluated now (it may read tables), kept with its type.
            result = run_query(query, fe.engine, exp.select(assignment.expression.copy()))
            if result.num_rows > 1:
                raise AnalysisError("Getting analyzing error. Detail message: the value of a user variable "
                                    "must be a single value, the query returned more than one row.")
            column = result.column(0).combine_chunks()
            query.user_variables[assignment.this.name.lower()] = column if len(column) else pa.nulls(1)
        elif isinstance(assignment, exp.EQ):
            value = _session_value(query, fe, assignment.expression)
            check_honoured(assignment.this.name, value)
            query.variables[assignment.this.name.lower()] = value
    return ResultSet.ok()


def transaction(query: QueryContext, fe: Frontend, statement: exp.Expression) -> ResultSet:
    """Every statement commits by itself; transaction statements are accepted as no-ops."""
    return ResultSet.ok()


def _show_variables(query: QueryContext, fe: Frontend, statement: exp.Show) -> ResultSet:
    names = sorted(set(DEFAULTS) | set(query.variables))
    like = statement.args.get("like")
    names = like_filter(names, literal_text(like) if like is not None else None)
    values = {n: get_variable(query.variables, n) for n in names}
    rows = [(n, "" if value is None else str(value)) for n, value in values.items()]
    return ResultSet.from_rows(["Variable_name", "Value"], rows)


def _show_empty(columns: list[str]) -> Handler:
    return lambda query, fe, statement: ResultSet.from_rows(columns, [])


def _set_needs(ctx: QueryContext, statement: exp.Set, virtual: VirtualTables) -> list[Requirement]:
    """SET @x = expr reads what its expression reads; other SETs change only the session."""
    return [requirement for item in statement.expressions
            if isinstance(item.this, exp.EQ) and isinstance(item.this.this, exp.Parameter)
            for requirement in reads(ctx, item.this.expression, virtual)]


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(exp.Set, set_variables, needs=_set_needs)
    statements.add((exp.Transaction, exp.Commit, exp.Rollback), transaction, needs=nothing)
    statements.add_show("VARIABLES", _show_variables)
    statements.add_show("WARNINGS", _show_empty(["Level", "Code", "Message"]))
    statements.add_show("ERRORS", _show_empty(["Level", "Code", "Message"]))
    statements.add_show("STATUS", _show_empty(["Variable_name", "Value"]))
