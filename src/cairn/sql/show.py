"""SHOW and DESC statements about databases, tables, columns and partitions."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import pyarrow as pa
from sqlglot import exp

from cairn.auth.privileges import ANY, can_see
from cairn.catalog.model import Column, Table, TableIndex
from cairn.catalog.partition_text import describe_range, describe_values
from cairn.catalog.types import parse_type
from cairn.display import format_time
from cairn.errors import AnalysisError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.query.information_schema import COLUMN_KEYS
from cairn.query.virtual_tables import Provider, VirtualTables
from cairn.sql import extended
from cairn.sql.explain import explain_needs, explain_query
from cairn.sql.names import literal_text, table_name
from cairn.sql.registry import Requirement, StatementRegistry
from cairn.sql.result import ResultSet
from cairn.sql.table_definition import bloom_filter_columns
from cairn.sql.views import lookup, view_as_table, view_result

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def like_filter(names: list[str], pattern: str | None) -> list[str]:
    """Names matching a SQL LIKE pattern (case-insensitive, as MySQL compares names)."""
    if pattern is None:
        return names
    glob = pattern.replace("*", "[*]").replace("?", "[?]").replace("%", "*").replace("_", "?")
    return [n for n in names if fnmatch.fnmatchcase(n.lower(), glob.lower())]


def _quote(name: str) -> str:
    """A backquoted identifier; a backquote inside is doubled, as MySQL and StarRocks read it."""
    return "`" + name.replace("`", "``") + "`"


def _partition_name(name: str) -> str:
    """A partition name as StarRocks shows it: bare when it is a plain identifier, else backquoted."""
    return name if _PLAIN_NAME.fullmatch(name) else _quote(name)


def _string(text: str) -> str:
    """A double-quoted string literal with backslashes and double quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def column_ddl(column: Column, keys_type: str = "DUPLICATE") -> str:
    """A column as SHOW CREATE TABLE prints it (StarRocks' `Column.toSql`): `name` type [aggregate]
    NULL|NOT NULL [DEFAULT "v"] COMMENT "c"; a PRIMARY KEY table's columns without an aggregate."""
    parts = [_quote(column.name), parse_type(column.type).ddl_text,
             *([column.aggregate] if column.aggregate and keys_type != "PRIMARY" else []),
             "NULL" if column.nullable else "NOT NULL", *(["AUTO_INCREMENT"] if column.auto_increment else [])]
    if column.default is not None:
        default = column.default
        shown = "CURRENT_TIMESTAMP" if default == "CURRENT_TIMESTAMP" else _string(default)
        parts.append(f"DEFAULT {shown}")
    parts.append(f"COMMENT {_string(column.comment)}")
    return " ".join(parts)


def _index_ddl(index: TableIndex) -> str:
    """An index as SHOW CREATE TABLE prints it: INDEX name (`c`, ...) USING BITMAP [COMMENT 'c']."""
    text = f"INDEX {_partition_name(index.name)} ({', '.join(map(_quote, index.columns))}) USING {index.using}"
    quoted = index.comment.replace("\\", "\\\\").replace("'", "\\'")
    return text + (f" COMMENT '{quoted}'" if index.comment else "")


def _partition_expression(table: Table) -> str:
    """An expression-partitioned table's PARTITION BY clause, as StarRocks shows it (its partitions are
    made by loads, so none is listed)."""
    auto = table.auto_partition
    assert auto is not None
    if auto.function == "date_trunc":
        inner = (table.partition_expression.sql if table.partition_expression is not None
                 else _partition_name(table.partition_columns[0]))
        return f"date_trunc('{auto.unit}', {inner})"
    if auto.function == "time_slice":
        return f"time_slice({_partition_name(table.partition_columns[0])}, interval {auto.step} {auto.unit})"
    if table.partition_expressions:
        # Columns and expressions of columns (`k1, date_trunc('day', k2)`), as CREATE TABLE gave them.
        return ", ".join(_quote(name) if expression is None else expression.sql
                         for name, expression in zip(table.partition_columns, table.partition_key_expressions()))
    return f"({','.join(_quote(c) for c in table.partition_columns)})"


def _listed(parts: list[str]) -> str:
    """A RANGE or LIST table's partition list; none at all for a table that has no partition yet."""
    return "(" + ",\n".join(parts) + ")\n" if parts else ""


def show_create_table(db_name: str, table: Table) -> str:
    """The DDL that re-creates `table` (StarRocks' layout; parses back to an equal table)."""
    lines = ["  " + column_ddl(column, table.keys_type) for column in table.columns]
    lines += ["  " + _index_ddl(index) for index in table.indexes]
    head = "CREATE TEMPORARY TABLE " if table.temporary is not None else "CREATE TABLE "
    ddl = head + _quote(table.name) + " (\n" + ",\n".join(lines) + "\n) ENGINE=OLAP \n"
    if table.key_columns:
        ddl += f"{table.keys_type} KEY({', '.join(map(_quote, table.key_columns))})\n"
    if table.comment:
        ddl += f"COMMENT {_string(table.comment)}\n"
    if table.auto_partition is not None:
        ddl += f"PARTITION BY {_partition_expression(table)}\n"
    elif table.partition_type == "RANGE":
        parts = []
        for p in table.partitions:
            if p.lower is not None:
                # StarRocks shows both bounds of every range that has a lower one.
                lower = ", ".join(_string(v) for v in p.lower)
                upper = "MAXVALUE" if p.upper is None else ", ".join(_string(v) for v in p.upper)
                parts.append(f"PARTITION {_partition_name(p.name)} VALUES [({lower}), ({upper}))")
            else:
                bound = "MAXVALUE" if p.upper is None else "(" + ", ".join(_string(v) for v in p.upper) + ")"
                parts.append(f"PARTITION {_partition_name(p.name)} VALUES LESS THAN {bound}")
        by = (table.partition_expression.sql if table.partition_expression is not None
              else ", ".join(map(_quote, table.partition_columns)))
        ddl += f"PARTITION BY RANGE({by})\n" + _listed(parts)
    elif table.partition_type == "LIST":
        parts = []
        for p in table.partitions:
            rows = ", ".join("(" + ", ".join("NULL" if v is None else _string(v) for v in row) + ")"
                             for row in p.values or [])
            parts.append(f"PARTITION {_partition_name(p.name)} VALUES IN ({rows})")
        ddl += f"PARTITION BY LIST({', '.join(map(_quote, table.partition_columns))})\n" + _listed(parts)
    ddl += "DISTRIBUTED BY " + (f"HASH({', '.join(map(_quote, table.distribution_columns))})"
                                if table.distribution_columns else "RANDOM")
    ddl += "\n" if table.auto_buckets else f" BUCKETS {table.buckets} \n"
    if table.sort_columns:
        ddl += f"ORDER BY({', '.join(map(_quote, table.sort_columns))})\n"
    pairs = [f"{_string(k)} = {_string(v)}" for k, v in sorted(shown_properties(table).items())]
    ddl += "PROPERTIES (\n" + ",\n".join(pairs) + "\n)"
    return ddl.rstrip() + ";"


# What StarRocks shows for the storage properties a CREATE TABLE did not set (its defaults; for Cairn,
# whose one copy of the data lives on object storage, they are accepted and change nothing).
_DEFAULT_PROPERTIES = {"compression": "LZ4", "fast_schema_evolution": "true", "replicated_storage": "true",
                       "replication_num": "3"}
# The size StarRocks gives each bucket of a RANDOM table whose bucket count it chooses (4 GB).
_AUTOMATIC_BUCKET_SIZE = "4294967296"


def shown_properties(table: Table) -> dict[str, str]:
    """The PROPERTIES SHOW CREATE TABLE lists: the table's own over StarRocks' defaults for them."""
    shown = dict(_DEFAULT_PROPERTIES)
    if table.keys_type == "PRIMARY":
        shown["enable_persistent_index"] = "true"
    if not table.distribution_columns and table.auto_buckets:
        shown["bucket_size"] = _AUTOMATIC_BUCKET_SIZE
    shown.update(table.properties)
    return shown


def describe_table(table: Table) -> ResultSet:
    """DESC t: each column's name, type, nullability, key, default and Extra (its aggregate, or
    BLOOM_FILTER for a column of `bloom_filter_columns`, as StarRocks shows them)."""
    bloom = {n.lower() for n in bloom_filter_columns(table.columns, table.properties)}
    rows = [(c.name, c.type.lower(), "YES" if c.nullable else "NO", "true" if c.is_key else "false",
             c.default, c.aggregate or ("BLOOM_FILTER" if c.name.lower() in bloom else ""))
            for c in table.columns]
    return ResultSet.from_rows(["Field", "Type", "Null", "Key", "Default", "Extra"], rows)


_ARROW_TYPES = ((pa.types.is_int64, "bigint"), (pa.types.is_int32, "int"), (pa.types.is_int16, "smallint"),
                (pa.types.is_int8, "tinyint"), (pa.types.is_boolean, "boolean"), (pa.types.is_float64, "double"),
                (pa.types.is_float32, "float"), (pa.types.is_timestamp, "datetime"), (pa.types.is_date, "date"),
                (pa.types.is_string, "varchar(65535)"))


def _describe_virtual(query: QueryContext, fe: Frontend, schema: str, name: str, provider: Provider) -> ResultSet:
    """DESC of an information_schema table: its declared columns, or its rows' columns."""
    declared = fe.engine.virtual_tables.declared_columns(schema, name)
    if declared is not None:
        described = [(c.name, c.type.lower(), c.nullable) for c in declared]
    else:
        schema_of = provider(query, fe.catalog).schema
        described = [(f.name, next((t for test, t in _ARROW_TYPES if test(f.type)), str(f.type)), True)
                     for f in schema_of]
    return ResultSet.from_rows(["Field", "Type", "Null", "Key", "Default", "Extra"],
                               [(n, t, "YES" if nullable else "NO", "false", None, "") for n, t, nullable in described])


def describe(query: QueryContext, fe: Frontend, statement: exp.Describe) -> ResultSet:
    if not isinstance(statement.this, (exp.Table, exp.Identifier, exp.Column)):
        return explain_query(query, fe, statement.this, "NORMAL")  # DESC <query> is EXPLAIN, as in StarRocks
    db_name, name = table_name(query, statement.this)
    provider = fe.engine.virtual_tables.find(db_name, name)
    if provider is not None:
        return _describe_virtual(query, fe, db_name or "", name, provider)
    _, found = lookup(fe, db_name, name, query.session_id)
    return describe_table(found if isinstance(found, Table) else view_as_table(found))


def _shown_database(ctx: QueryContext, statement: exp.Show) -> str | None:
    db_node = statement.args.get("db")
    return db_node.name if db_node is not None else ctx.database


def _shown_table(ctx: QueryContext, statement: exp.Show) -> tuple[str | None, str]:
    """(database, table) of SHOW COLUMNS / SHOW CREATE TABLE: `db.t`, `t FROM db`, or `t`."""
    target = statement.args["target"]
    if isinstance(target, exp.Table) and target.db:
        return target.db, target.name
    return _shown_database(ctx, statement), target.name


def _show_tables(query: QueryContext, fe: Frontend, statement: exp.Show) -> ResultSet:
    """The tables and views of a database the user holds any privilege on (root: all of them)."""
    db = fe.catalog.database(_shown_database(query, statement))
    like = statement.args.get("like")
    state = fe.catalog.state
    kinds = {**{t.name: "BASE TABLE" for t in db.tables.values() if t.temporary is None},
             **{n: "VIEW" for n in db.views}}
    visible = [n for n in sorted(kinds) if can_see(state, query.user, db.name, n)]
    names = like_filter(visible, literal_text(like) if like is not None else None)
    header = f"Tables_in_{db.name}"
    if statement.args.get("full"):
        return ResultSet.from_rows([header, "Table_type"], [(n, kinds[n]) for n in names])
    return ResultSet.from_rows([header], [(n,) for n in names])


def _show_databases(query: QueryContext, fe: Frontend, statement: exp.Show) -> ResultSet:
    """The databases the user holds any privilege on, in or below them, and information_schema."""
    like = statement.args.get("like")
    state = fe.catalog.state
    names = [n for n in state.databases if can_see(state, query.user, n)] + ["information_schema"]
    names = like_filter(sorted(names), literal_text(like) if like is not None else None)
    return ResultSet.from_rows(["Database"], [(n,) for n in names])


def _show_create_table(query: QueryContext, fe: Frontend, statement: exp.Show) -> ResultSet:
    db, found = lookup(fe, *_shown_table(query, statement), query.session_id)
    if not isinstance(found, Table):
        return view_result(found)
    return ResultSet.from_rows(["Table", "Create Table"], [(found.name, show_create_table(db.name, found))])


def _show_columns(query: QueryContext, fe: Frontend, statement: exp.Show) -> ResultSet:
    _, found = lookup(fe, *_shown_table(query, statement), query.session_id)
    table = found if isinstance(found, Table) else view_as_table(found)
    like = statement.args.get("like")
    if like is not None:
        kept = set(like_filter([c.name for c in table.columns], literal_text(like)))
        table = table.model_copy(update={"columns": [c for c in table.columns if c.name in kept]})
    if statement.args.get("full"):
        # StarRocks' verbose form: Key says YES or NO, Extra the value column's merge.
        return ResultSet.from_rows(
            ["Field", "Type", "Collation", "Null", "Key", "Default", "Extra", "Privileges", "Comment"],
            [(c.name, c.type.lower(), "", "YES" if c.nullable else "NO", "YES" if c.is_key else "NO", c.default,
              c.aggregate or "", "", c.comment) for c in table.columns])
    if statement.args.get("where") is not None:
        # StarRocks answers SHOW COLUMNS ... WHERE from information_schema.columns: Key is its
        # COLUMN_KEY (empty for a value column) and Extra its EXTRA (empty).
        return ResultSet.from_rows(
            ["Field", "Type", "Null", "Key", "Default", "Extra"],
            [(c.name, c.type.lower(), "YES" if c.nullable else "NO",
              COLUMN_KEYS[table.keys_type] if c.is_key else "", c.default, "") for c in table.columns])
    return describe_table(table)


def _database_needs(ctx: QueryContext, statement: exp.Show, virtual: VirtualTables) -> list[Requirement]:
    """SHOW TABLES: any privilege on the database or a table in it."""
    database = _shown_database(ctx, statement)
    return [] if virtual.is_virtual_schema(database) else [Requirement(ANY, database or "")]


def _table_needs(ctx: QueryContext, statement: exp.Show, _virtual: VirtualTables) -> list[Requirement]:
    """SHOW COLUMNS / SHOW CREATE TABLE: any privilege on the table."""
    database, name = _shown_table(ctx, statement)
    return [Requirement(ANY, database or "", name)]


PARTITION_COLUMNS = ["PartitionId", "PartitionName", "CompactVersion", "VisibleVersion", "VisibleVersionTime",
                     "NextVersion", "State", "PartitionKey", "Range", "DistributionKey", "Buckets",
                     "DataSize", "RowCount", "StoragePath"]


def _sort_key(value: Any) -> tuple[bool, Any]:
    """A SHOW PARTITIONS value as ORDER BY compares it: NULL (no visible version time) first."""
    return value is not None, value if value is not None else 0


def show_partitions(query: QueryContext, fe: Frontend, statement: extended.ShowPartitions) -> ResultSet:
    db, table = fe.catalog.table(statement.database or query.database, statement.table, query.session_id)
    volume = fe.catalog.storage_volume(db.storage_volume)
    keys = fe.keys
    rows = []
    for p in table.temp_partitions if statement.temporary else table.partitions:
        if table.partition_type == "RANGE":
            bounds = describe_range(p, table)
        elif table.partition_type == "LIST":
            bounds = describe_values(p)
        else:
            bounds = ""
        path = f"{volume.location.rstrip('/')}/{keys.partition_prefix(db.id, table.id, p.id)}"
        rows.append((p.id, p.name, p.compact_version, p.visible_version, format_time(p.visible_version_time),
                     p.visible_version + 1, "NORMAL", ", ".join(table.partition_key_names()), bounds,
                     ", ".join(table.distribution_columns) or "ALL KEY", table.buckets,
                     p.data_size, p.row_count, path))
    types = [pa.int64(), pa.string(), pa.int64(), pa.int64(), pa.string(), pa.int64(), pa.string(),
             pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.int64(), pa.string()]
    titles = {title.lower(): index for index, title in enumerate(PARTITION_COLUMNS)}
    for title, descending in reversed(statement.order_by):
        if title.lower() not in titles:
            raise AnalysisError(f"Getting analyzing error. Detail message: Title name[{title}] does not exist.")
        index = titles[title.lower()]
        # A stable sort per key, last key first, orders by all of them.
        rows.sort(key=lambda row: _sort_key(row[index]), reverse=descending)
    end = None if statement.limit is None else statement.offset + statement.limit
    return ResultSet.from_rows(PARTITION_COLUMNS, rows[statement.offset:end], types)


def _describe_needs(ctx: QueryContext, statement: exp.Describe, virtual: VirtualTables) -> list[Requirement]:
    if not isinstance(statement.this, (exp.Table, exp.Identifier, exp.Column)):
        return explain_needs(ctx, statement.this, virtual)
    database, name = table_name(ctx, statement.this)
    if virtual.find(database, name) is not None:
        return []  # information_schema: every user may describe it
    return [Requirement("SELECT", database or "", name)]


def _show_partitions_needs(ctx: QueryContext, statement: extended.ShowPartitions,
                           _virtual: VirtualTables) -> list[Requirement]:
    return [Requirement("SELECT", statement.database or ctx.database or "", statement.table)]


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add_show("TABLES", _show_tables, needs=_database_needs)
    statements.add_show("DATABASES", _show_databases)
    statements.add_show("SCHEMAS", _show_databases)
    statements.add_show("CREATE TABLE", _show_create_table, needs=_table_needs)
    statements.add_show("COLUMNS", _show_columns, needs=_table_needs)
    statements.add(exp.Describe, describe, needs=_describe_needs)
    statements.add(extended.ShowPartitions, show_partitions, needs=_show_partitions_needs)
