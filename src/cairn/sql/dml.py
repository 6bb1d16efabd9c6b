"""INSERT INTO ... VALUES and INSERT INTO ... SELECT: evaluate the rows in DuckDB, then load them."""

from __future__ import annotations

import duckdb
from sqlglot import exp

from cairn.catalog.model import Table
from cairn.errors import AnalysisError, UnknownPartitionError
from cairn.fe.frontend import Frontend
from cairn.lake.coerce import default_expression
from cairn.lake.load import load_relation
from cairn.query import starrocks_semantics
from cairn.query.context import QueryContext
from cairn.query.select import _user_error, bind_tables, prepare_tree
from cairn.query.virtual_tables import VirtualTables
from cairn.sql.names import table_name
from cairn.sql.overwrite_values import partition_of_values
from cairn.sql.refusals import not_supported
from cairn.sql.registry import Requirement, StatementRegistry, reads
from cairn.sql.result import ResultSet

SOURCE = "__cairn_source"


def _values_sql(values: exp.Values, as_text: bool) -> str:
    """DuckDB SQL that keeps a VALUES list as the temporary table SOURCE, optionally with every value
    as text (coerced per column later)."""
    rows = []
    width = None
    for row in values.expressions:
        items = list(row.expressions) if isinstance(row, exp.Tuple) else [row]
        if width is None:
            width = len(items)
        elif len(items) != width:
            raise AnalysisError("Every row of VALUES must have the same number of values")
        if as_text:
            items = [exp.cast(item.copy(), "VARCHAR") for item in items]
        rows.append(exp.Tuple(expressions=items))
    alias = exp.TableAlias(this=exp.to_identifier("v"), columns=[exp.to_identifier(f"c{i}") for i in range(width or 0)])
    rows_query = exp.select("*").from_(exp.Values(expressions=rows, alias=alias))
    create = exp.Create(kind="TABLE", this=exp.to_table(SOURCE), expression=rows_query,
                        properties=exp.Properties(expressions=[exp.TemporaryProperty()]))
    return create.sql(dialect="duckdb")


def _with_defaults(values: exp.Values, table: Table, columns: list[str] | None) -> None:
    """Replace each DEFAULT among the values with its column's default (NULL for an AUTO_INCREMENT
    column, which the load then gives an id), in place."""
    targets = [table.column(name) for name in columns] if columns is not None else list(table.columns)
    for row in values.expressions:
        items = list(row.expressions) if isinstance(row, exp.Tuple) else [row]
        for item, target in zip(items, targets):
            if not (isinstance(item, exp.Var) and item.name.upper() == "DEFAULT") or target is None:
                continue
            filled = exp.cast(exp.null(), "BIGINT") if target.auto_increment else default_expression(target)
            item.replace(filled)


def _overwritten(table: Table, target: exp.Expr) -> list[int]:
    """The ids of the partitions INSERT OVERWRITE replaces: those its PARTITION clause names, or all."""
    chosen = target.args.get("partition") if isinstance(target, exp.Table) else None
    if chosen is None:
        return [p.id for p in table.partitions]
    ids: list[int] = []
    for item in chosen.expressions:
        if not isinstance(item, (exp.Column, exp.Identifier)):
            raise not_supported(f"INSERT OVERWRITE PARTITION ({item.sql('starrocks')})")
        partition = table.partition(item.name)
        if partition is None:
            raise UnknownPartitionError(f"Unknown partition '{item.name}' in table '{table.name}'")
        if partition.id not in ids:
            ids.append(partition.id)
    return ids


def _check_distinct_names(select: exp.Select) -> None:
    """INSERT ... BY NAME matches columns by the names the query gives them: two of one name are an
    error (StarRocks' words), not a renamed second column."""
    seen: set[str] = set()
    for item in select.expressions:
        if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star)):
            continue
        name = item.alias_or_name.lower()
        if name in seen:
            raise AnalysisError(f"Getting analyzing error. Detail message: Duplicate column name '{item.alias_or_name}'.")
        seen.add(name)


def insert(query: QueryContext, fe: Frontend, statement: exp.Insert) -> ResultSet:
    target = statement.this
    columns = None
    if isinstance(target, exp.Schema):
        columns = [c.name for c in target.expressions]
        target = target.this
    overwrite = bool(statement.args.get("overwrite"))
    if isinstance(target, exp.Table) and target.args.get("partition") is not None and not overwrite:
        raise not_supported("INSERT INTO a named PARTITION (rows are routed to their partitions by value)")
    db_name, name = table_name(query, target)
    chosen = target.args.get("partition") if isinstance(target, exp.Table) else None
    with fe.catalog.lock:
        _, table = fe.catalog.table(db_name, name, query.session_id)
        name = table.catalog_key
        by_value = overwrite and chosen is not None and any(isinstance(e, exp.EQ) for e in chosen.expressions)
        replaced = _overwritten(table, target) if overwrite and not by_value else None
        table = table.model_copy(deep=True)
    for named in columns or []:
        if table.column(named) is None:  # StarRocks analyses the column list before the rows
            raise AnalysisError(f"Getting analyzing error. Detail message: Unknown column '{named}' in "
                                f"'{table.name}'.")
    if by_value and chosen is not None:
        replaced = partition_of_values(fe, db_name, table, list(chosen.expressions))
    by_name = bool(statement.args.get("by_name"))
    if by_name and columns is not None:
        raise AnalysisError("Getting analyzing error. Detail message: Cannot use COLUMN LIST and BY NAME clause "
                            "together in insert.")
    if by_name and isinstance(statement.expression, exp.Values):
        raise AnalysisError("Getting analyzing error. Detail message: Insert match column by name does not "
                            "support values().")
    if by_name and isinstance(statement.expression, exp.Select):
        _check_distinct_names(statement.expression)
    source = statement.expression
    con = fe.duckdb.cursor()
    views: dict[str, str] = {}
    pinned: list[str] = []
    try:
        if isinstance(source, exp.Values):
            # A subquery among the values reads through the same binder as any query.
            source = source.copy()
            _with_defaults(source, table, columns)
            starrocks_semantics.apply_to_values(source)
            views = bind_tables(query, fe.engine, source, con, pinned)
            try:
                con.execute(_values_sql(source, as_text=False))
            except duckdb.Error:
                con.execute(_values_sql(source, as_text=True))
            relation: exp.Expr = exp.to_table(SOURCE)
        else:
            prepared, views = prepare_tree(query, fe.engine, source, con, pinned)
            relation = exp.Subquery(this=prepared)
        with query.cancel.running(con):
            result = load_relation(fe.loads, db_name, name, con, relation, columns,
                                   label=statement.meta.get("label"), overwrite=replaced, by_name=by_name,
                                   overwrite_all=overwrite and chosen is None)
    except duckdb.Error as exc:
        raise _user_error(exc, views) from None
    finally:
        fe.data_access.release(pinned)
        con.close()
    return ResultSet.ok(affected_rows=result.loaded_rows)


def _insert_needs(ctx: QueryContext, statement: exp.Insert, virtual: VirtualTables) -> list[Requirement]:
    """INSERT on the target, and SELECT on every table its rows are read from."""
    target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
    database, name = table_name(ctx, target)
    return [Requirement("INSERT", database or "", name), *reads(ctx, statement.expression, virtual)]


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(exp.Insert, insert, needs=_insert_needs, writes=True)
