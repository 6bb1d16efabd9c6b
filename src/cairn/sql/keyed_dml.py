"""UPDATE and DELETE.

A PRIMARY KEY table's UPDATE reads the rows it matches at the table's visible version, computes
their new values and upserts them; its DELETE writes the keys it matches as a delete rowset
(lake/keyed.py merges both away at read time). UNIQUE and AGGREGATE KEY tables take a DELETE whose
conditions are simple predicates on key columns, as StarRocks requires; DUPLICATE KEY tables a
DELETE of simple predicates on any column but FLOAT and DOUBLE ones, which rewrites the rowsets
holding matching rows (lake/delete.py).
"""

from __future__ import annotations

import duckdb
from sqlglot import exp

from cairn.catalog.model import Column, Table
from cairn.catalog.types import cast_value, parse_type
from cairn.errors import AnalysisError, UnknownColumnError, UnknownPartitionError
from cairn.fe.frontend import Frontend
from cairn.lake.delete import delete_rows
from cairn.lake.load import load_relation
from cairn.lake.routing import partition_expression
from cairn.query.context import QueryContext
from cairn.query.select import _user_error, prepare_tree
from cairn.query.virtual_tables import VirtualTables
from cairn.sql.names import table_name
from cairn.sql.registry import Requirement, StatementRegistry, reads
from cairn.sql.result import ResultSet


def _analysis(message: str) -> AnalysisError:
    return AnalysisError(f"Getting analyzing error. Detail message: {message}.")


def _target(query: QueryContext, fe: Frontend, node: exp.Expression) -> tuple[str | None, str, Table]:
    if not isinstance(node, exp.Table):
        raise _analysis(f"Expected a table name, got '{node.sql('starrocks')}'")
    db_name, name = table_name(query, node)
    _, table = fe.catalog.table(db_name, name, query.session_id)
    return db_name, table.catalog_key, table.model_copy(deep=True)


def _write_selected(query: QueryContext, fe: Frontend, db_name: str | None, name: str, select: exp.Select,
                    columns: list[str], deletes: bool) -> int:
    """Run `select` (it reads the target at its visible version) and load its rows into the table."""
    con = fe.duckdb.cursor()
    pinned: list[str] = []
    views: dict[str, str] = {}
    try:
        prepared, views = prepare_tree(query, fe.engine, select, con, pinned)
        with query.cancel.running(con):
            result = load_relation(fe.loads, db_name, name, con, exp.Subquery(this=prepared), columns,
                                   deletes=deletes)
        return result.loaded_rows
    except duckdb.Error as exc:
        raise _user_error(exc, views) from None
    finally:
        fe.data_access.release(pinned)
        con.close()


def update(query: QueryContext, fe: Frontend, statement: exp.Update) -> ResultSet:
    """UPDATE t SET c = e, ... [FROM ...] WHERE ...: the matched rows, recomputed, upserted."""
    target = statement.this
    db_name, name, table = _target(query, fe, target)
    if table.keys_type != "PRIMARY":
        raise _analysis("only support updating primary key table")
    where = statement.args.get("where")  # none: every row (StarRocks' row mode, its default)
    assigned: dict[str, exp.Expression] = {}
    for assignment in statement.expressions:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise _analysis(f"Expected column = value, got '{assignment.sql('starrocks')}'")
        found = table.column(assignment.this.name)
        if found is None:
            raise UnknownColumnError(f"Unknown column '{assignment.this.name}' in '{table.name}'")
        if found.is_key:
            raise _analysis(f"primary key column cannot be updated: {found.name}")
        _check_literal(found, assignment.expression)
        assigned[found.name] = assignment.expression  # the last assignment of a column wins
    alias = target.alias_or_name
    values = [exp.alias_(assigned[c.name].copy(), c.name, quoted=True) if c.name in assigned
              else exp.alias_(exp.column(c.name, table=alias, quoted=True), c.name, quoted=True)
              for c in table.columns]
    select = exp.select(*values).from_(target.copy())
    if where is not None:
        select = select.where(where.this.copy())
    source = statement.args.get("from_") or statement.args.get("from")
    if source is not None:
        for extra in [source.this, *source.expressions]:
            select = select.join(extra.copy(), join_type="CROSS")
    rows = _write_selected(query, fe, db_name, name, select, [c.name for c in table.columns], deletes=False)
    return ResultSet.ok(affected_rows=rows)


_NUMBERS = frozenset({"TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT", "FLOAT", "DOUBLE", "DECIMAL",
                      "DECIMALV2", "DECIMAL32", "DECIMAL64", "DECIMAL128"})


def _check_literal(column: Column, value: exp.Expression) -> None:
    """A string assigned to a number column must read as one, as StarRocks checks at analysis
    (whether or not the UPDATE matches any row)."""
    column_type = parse_type(column.type)
    if isinstance(value, exp.Literal) and value.is_string and column_type.name in _NUMBERS:
        try:
            cast_value(value.this, column_type.duckdb)
        except duckdb.Error:
            raise _analysis(f"Invalid number format: {value.this}") from None


_SIMPLE_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


def _condition_columns(table: Table, condition: exp.Expression) -> None:
    """StarRocks' limits on a DELETE of a table other than PRIMARY KEY: predicates `column op value`,
    IN lists and IS [NOT] NULL joined by AND, on key columns (any column of a DUPLICATE KEY table)
    other than FLOAT and DOUBLE ones."""
    if isinstance(condition, exp.Paren):
        _condition_columns(table, condition.this)
        return
    if isinstance(condition, exp.And):
        _condition_columns(table, condition.this)
        _condition_columns(table, condition.expression)
        return
    node = condition.this if isinstance(condition, exp.Not) and isinstance(condition.this, (exp.In, exp.Is)) \
        else condition
    if isinstance(node, _SIMPLE_COMPARISONS + (exp.In, exp.Is)) and isinstance(node.this, exp.Column) \
            and node.args.get("query") is None:
        values = node.expressions if isinstance(node, exp.In) else [node.expression]
        if all(v.find(exp.Column, exp.Subquery, exp.Select) is None for v in values if v is not None):
            found = table.column(node.this.name)
            if found is None:
                raise UnknownColumnError(f"Unknown column '{node.this.name}' in '{table.name}'")
            type_name = parse_type(found.type).name
            if (not found.is_key and table.keys_type != "DUPLICATE") or type_name in ("FLOAT", "DOUBLE"):
                raise _analysis(f"Column[{found.name}] is not key column or storage model is not duplicate "
                                "or column type is float or double")
            return
    raise _analysis("Where clause only supports compound predicate, binary predicate, is_null predicate "
                    "or in predicate")


def _partitions(table: Table, node: exp.Table) -> list[int] | None:
    clause = node.args.get("partition")
    if clause is None:
        return None
    chosen = []
    for entry in clause.expressions:
        partition = table.partition(entry.name)
        if partition is None:
            raise UnknownPartitionError(f"Unknown partition '{entry.name}' in table '{table.name}'")
        chosen.append(partition.id)
    return chosen


def delete(query: QueryContext, fe: Frontend, statement: exp.Delete) -> ResultSet:
    """DELETE FROM t [PARTITION (p, ...)] WHERE ..."""
    target = statement.this
    db_name, name, table = _target(query, fe, target)
    where = statement.args.get("where")
    if where is None:
        raise _analysis("Where clause is not set")
    partitions = _partitions(table, target)
    if table.keys_type != "PRIMARY":
        _condition_columns(table, where.this)
    if table.keys_type == "DUPLICATE":
        con = fe.duckdb.cursor()
        try:
            with query.cancel.running(con):
                rows = delete_rows(fe.loads, con, db_name, name, where.this, partitions)
        except duckdb.Error as exc:
            raise _user_error(exc, {}) from None
        finally:
            con.close()
        return ResultSet.ok(affected_rows=rows)
    alias = target.alias_or_name
    source = target.copy()
    source.set("partition", None)
    select = exp.select(*[exp.alias_(exp.column(k, table=alias, quoted=True), k, quoted=True)
                          for k in table.key_columns]).from_(source).where(where.this.copy())
    if partitions is not None:
        select = select.where(_in_partitions(table, alias, partitions))
    rows = _write_selected(query, fe, db_name, name, select, list(table.key_columns), deletes=True)
    return ResultSet.ok(affected_rows=rows)


def _in_partitions(table: Table, alias: str, partition_ids: list[int]) -> exp.Expression:
    """A condition true for rows of the named partitions (by their partition column values)."""
    columns: dict[str, exp.Expr] = {c.name: exp.column(c.name, table=alias, quoted=True) for c in table.columns}
    indexes = [i for i, p in enumerate(table.partitions) if p.id in partition_ids]
    routed = partition_expression(table, columns)
    return exp.In(this=exp.paren(routed), expressions=[exp.Literal.number(i) for i in indexes])


def _target_requirement(ctx: QueryContext, node: exp.Expression, privilege: str) -> Requirement:
    database, name = table_name(ctx, node)
    return Requirement(privilege, database or "", name)


def _update_needs(ctx: QueryContext, statement: exp.Update, virtual: VirtualTables) -> list[Requirement]:
    """UPDATE on the target, SELECT on what its values and condition read."""
    others = [*statement.expressions, statement.args.get("where"), statement.args.get("from_")]
    return [_target_requirement(ctx, statement.this, "UPDATE"),
            *[r for node in others if node is not None for r in reads(ctx, node, virtual)]]


def _delete_needs(ctx: QueryContext, statement: exp.Delete, virtual: VirtualTables) -> list[Requirement]:
    """DELETE on the target, SELECT on what its condition reads."""
    where = statement.args.get("where")
    return [_target_requirement(ctx, statement.this, "DELETE"), *(reads(ctx, where, virtual) if where else [])]


def register(statements: StatementRegistry) -> None:
    """Add UPDATE and DELETE, each with the privileges it needs."""
    statements.add(exp.Update, update, needs=_update_needs, writes=True)
    statements.add(exp.Delete, delete, needs=_delete_needs, writes=True)

