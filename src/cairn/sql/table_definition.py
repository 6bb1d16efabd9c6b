"""CREATE TABLE: turning the statement's sqlglot tree into a catalog Table, validated."""

from __future__ import annotations

from typing import Literal

import duckdb
from sqlglot import exp

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import GENERATED_PARTITION_COLUMN, Column, Database, Partition, Table, TableIndex
from cairn.catalog.ops import CreateTable
from cairn.catalog.types import cast_value, parse_type
from cairn.errors import AnalysisError, SqlSyntaxError, StorageVolumeError, UnknownColumnError
from cairn.sql.expression_partitions import expression_partitioning, range_expression
from cairn.sql.names import literal_text, properties_of
from cairn.sql.partitions import normalize_value
from cairn.sql.range_partitions import range_specs
from cairn.sql.refusals import check_properties, check_schema_item, check_table_clause, not_supported

# StarRocks chooses a bucket count itself when DISTRIBUTED BY gives none; Cairn uses a fixed one.
DEFAULT_BUCKETS = 8
CURRENT_TIMESTAMP = "CURRENT_TIMESTAMP"


def _type_text(kind: exp.DataType) -> str:
    """The type as written, in sqlglot's StarRocks spelling (`parse_type` reads spaces and nesting)."""
    return kind.sql("starrocks")


def _shown_with_time(kind: exp.DataType, in_struct: bool = False) -> str:
    """A type holding TIME as StarRocks' message spells it (`ARRAY<TIME>`, `MAP<BIGINT,TIME>`,
    `struct<c1 bigint(20), c2 TIME>`: ARRAY and MAP and what they hold in upper case, STRUCT and its
    fields as SHOW CREATE TABLE prints them): TIME has no column type to print it, so the nesting is
    printed here."""
    items = [i for i in kind.expressions if isinstance(i, (exp.DataType, exp.ColumnDef))]
    if kind.this == exp.DataType.Type.TIME:
        return "TIME"
    if kind.this == exp.DataType.Type.ARRAY and items and isinstance(items[0], exp.DataType):
        return f"ARRAY<{_shown_with_time(items[0])}>"
    if kind.this == exp.DataType.Type.MAP and len(items) == 2 and all(isinstance(i, exp.DataType) for i in items):
        return f"MAP<{_shown_with_time(items[0])},{_shown_with_time(items[1])}>"  # type: ignore[arg-type]
    if kind.this == exp.DataType.Type.STRUCT:
        fields = [f"{f.name} {_shown_with_time(f.args['kind'], True)}" for f in items if isinstance(f, exp.ColumnDef)]
        return "struct<" + ", ".join(fields) + ">"
    shown = parse_type(_type_text(kind))
    return shown.ddl_text if in_struct else shown.text


def column_definition(node: exp.ColumnDef) -> Column:
    """The column a definition (`name TYPE [NULL|NOT NULL] [DEFAULT v] [COMMENT c] [aggregate]`) describes."""
    kind = node.args.get("kind")
    if kind is None:
        raise AnalysisError(f"Column '{node.name}' has no type")
    if any(t.this == exp.DataType.Type.TIME for t in kind.find_all(exp.DataType)):
        # StarRocks has TIME values but no TIME column, nested or not; its words.
        shown = _shown_with_time(kind)
        raise AnalysisError(f"Getting analyzing error. Detail message: Type:{shown} of column:{node.name} "
                            "does not support.")
    column_type = parse_type(_type_text(kind))
    column = Column(name=node.name, type=column_type.text)
    for constraint in node.args.get("constraints") or []:
        rule = constraint.args.get("kind")
        if isinstance(rule, exp.NotNullColumnConstraint):
            column.nullable = bool(rule.args.get("allow_null"))
        elif isinstance(rule, exp.DefaultColumnConstraint):
            column.default = _default(rule.this, column_type.duckdb, node.name)
        elif isinstance(rule, exp.CommentColumnConstraint):
            column.comment = literal_text(rule.this)
        elif isinstance(rule, exp.Var):
            column.aggregate = rule.name.upper()
        elif isinstance(rule, exp.AutoIncrementColumnConstraint):
            _auto_increment(column, node)
    return column


def _auto_increment(column: Column, node: exp.ColumnDef) -> None:
    """Make `column` AUTO_INCREMENT, as StarRocks allows it: BIGINT, NOT NULL (unless it says NULL, an
    error), no DEFAULT."""
    if parse_type(column.type).name != "BIGINT":
        raise _analysis("The AUTO_INCREMENT column must be BIGINT")
    if _explicitly_nullable(node):
        raise _analysis(f"AUTO_INCREMENT column {column.name} must be NOT NULL")
    if any(isinstance(c.args.get("kind"), exp.DefaultColumnConstraint) for c in node.args.get("constraints") or []):
        raise _analysis(f"Invalid default value for '{column.name}': an AUTO_INCREMENT column has none")
    column.auto_increment, column.nullable = True, False


def _explicitly_nullable(node: exp.ColumnDef) -> bool:
    """True when the column definition says NULL (a PRIMARY KEY column is NOT NULL unless it says so)."""
    return any(isinstance(c.args.get("kind"), exp.NotNullColumnConstraint) and c.args["kind"].args.get("allow_null")
               for c in node.args.get("constraints") or [])


_KEY_PROPERTIES: dict[type[exp.Expression], Literal["DUPLICATE", "UNIQUE", "AGGREGATE"]] = {
    exp.DuplicateKeyProperty: "DUPLICATE", exp.UniqueKeyProperty: "UNIQUE", exp.AggregateKeyProperty: "AGGREGATE"}
# StarRocks' own names of the key types, as its messages spell them.
KEYS_TYPE_NAMES = {"DUPLICATE": "DUP_KEYS", "PRIMARY": "PRIMARY_KEYS", "UNIQUE": "UNIQUE_KEYS", "AGGREGATE": "AGG_KEYS"}
# Types a PRIMARY KEY column may have (StarRocks: boolean, integers, LARGEINT, strings, DATE, DATETIME).
_PRIMARY_KEY_TYPES = frozenset({"BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT", "VARCHAR", "CHAR",
                                "STRING", "DATE", "DATETIME"})


def _analysis(message: str) -> AnalysisError:
    return AnalysisError(f"Getting analyzing error. Detail message: {message}.")


def _check_keys(keys_type: str, columns: list[Column], key_names: list[str], nodes: list[exp.ColumnDef]) -> None:
    """StarRocks' rules for key columns: an ordered prefix of the schema; for PRIMARY KEY NOT NULL and of
    a key type; for AGGREGATE KEY every value column with its merge, for the others none."""
    name = KEYS_TYPE_NAMES[keys_type]
    if len(key_names) > len(columns):
        raise _analysis("The number of key columns should be less than the number of columns")
    for index, key in enumerate(key_names):
        column = columns[index]
        if key.lower() != column.name.lower():
            if all(key.lower() != c.name.lower() for c in columns):
                raise _analysis(f"Key column({key}) doesn't exist")
            raise _analysis("Key columns should be a ordered prefix of the schema")
        if column.aggregate is not None:
            raise _analysis(f"Key column[{column.name}] should not specify aggregate type")
        if keys_type == "PRIMARY":
            if _explicitly_nullable(nodes[index]):
                raise _analysis(f"primary key column[{column.name}] cannot be nullable")
            column.nullable = False
            type_name = parse_type(column.type).name
            if type_name not in _PRIMARY_KEY_TYPES:
                raise _analysis(f"primary key column[{column.name}] type not supported: {column.type}")
    for column in columns[len(key_names):]:
        if keys_type == "PRIMARY" and column.aggregate == "REPLACE":
            column.aggregate = None  # what every value column of a PRIMARY KEY table does: StarRocks allows saying it
        if keys_type == "AGGREGATE" and column.aggregate is None:
            raise _analysis(f"{name} table should specify aggregate type for non-key column[{column.name}]")
        if keys_type != "AGGREGATE" and column.aggregate is not None:
            if keys_type == "UNIQUE":
                raise AnalysisError(f"Can not assign aggregation method on column in Unique data model table: "
                                    f"{column.name}")
            raise _analysis(f"{name} table should not specify aggregate type for non-key column[{column.name}]")


def _default(value: exp.Expression, duckdb_type: str, column: str) -> str | None:
    if isinstance(value, exp.Null):
        return None
    if isinstance(value, (exp.CurrentTimestamp, exp.CurrentDate)) or (
            isinstance(value, exp.Anonymous) and value.name.upper() == "NOW"):
        return CURRENT_TIMESTAMP
    text = literal_text(value)
    try:
        cast_value(text, duckdb_type)
    except duckdb.Error:
        raise AnalysisError(f"Invalid default value for '{column}': '{text}'") from None
    return text


def _names(node: exp.Expression | None) -> list[str]:
    if node is None:
        return []
    return [e.name for e in node.expressions]


def _check_columns(table_columns: list[Column], names: list[str], what: str) -> list[str]:
    known = {c.name.lower(): c.name for c in table_columns}
    resolved = []
    for name in names:
        if name.lower() not in known:
            raise UnknownColumnError(f"Unknown column '{name}' in {what}")
        resolved.append(known[name.lower()])
    return resolved


# Types whose values no key, distribution or partition column may hold, as in StarRocks.
_NOT_KEYS = frozenset({"ARRAY", "MAP", "STRUCT", "JSON", "VARBINARY"})


def _check_key_types(columns: list[Column], names: list[str], role: str) -> None:
    by_name = {c.name: c for c in columns}
    for name in names:
        column_type = parse_type(by_name[name].type)
        if column_type.name in _NOT_KEYS:
            raise AnalysisError(f"Getting analyzing error. Detail message: Invalid data type of {role} column "
                                f"'{name}': '{column_type.text.lower()}'.")


def _sort_key_names(order: exp.Order) -> list[str]:
    """The column names of `ORDER BY (c1, c2, ...)` (StarRocks' sort key: a parenthesised list of
    columns, ascending)."""
    if len(order.expressions) != 1:
        raise SqlSyntaxError("Getting syntax error: ORDER BY of CREATE TABLE takes a list of columns in parentheses")
    ordered = order.expressions[0]
    listed = ordered.this
    if ordered.args.get("desc") or not isinstance(listed, (exp.Tuple, exp.Paren)):
        raise SqlSyntaxError("Getting syntax error: ORDER BY of CREATE TABLE takes a list of columns in parentheses")
    items = listed.expressions if isinstance(listed, exp.Tuple) else [listed.this]
    if not all(isinstance(item, exp.Column) and not item.table for item in items):
        raise SqlSyntaxError("Getting syntax error: ORDER BY of CREATE TABLE takes a list of columns in parentheses")
    return [item.name for item in items]


def sort_key(columns: list[Column], keys_type: str, key_columns: list[str], names: list[str]) -> list[str]:
    """The sort key `ORDER BY (names)` gives a table, checked as StarRocks checks it: known distinct
    columns; for AGGREGATE and UNIQUE KEY the key columns in any order; for PRIMARY KEY of a key type."""
    known = {c.name.lower(): c for c in columns}
    resolved: list[str] = []
    for name in names:
        column = known.get(name.lower())
        if column is None:
            raise AnalysisError(f"Invalid column '{name}' not exists in all columns.")
        if column.name in resolved:
            raise AnalysisError(f"Duplicate sort key column {name} is not allowed.")
        resolved.append(column.name)
    if keys_type in ("AGGREGATE", "UNIQUE") and set(resolved) != set(key_columns):
        raise _analysis(f"The sort columns of {keys_type} KEY table must be same with key columns")
    for name in resolved:
        type_name = parse_type(known[name.lower()].type).name
        if keys_type == "PRIMARY" and type_name not in _PRIMARY_KEY_TYPES:
            raise AnalysisError(f"Sort key column[{name}] type not supported: {type_name} in PrimaryKey table")
    _check_key_types(columns, resolved, "sort key")
    return resolved


def table_distribution(columns: list[Column], keys_type: str, key_columns: list[str],
                       distribution: exp.DistributedByProperty | None) -> tuple[list[str], int, bool]:
    """(distribution columns, buckets, whether the bucket count was left to Cairn) of a table with these
    columns and keys and this DISTRIBUTED BY (None: the default, StarRocks' HASH of a PRIMARY KEY's
    columns or RANDOM for DUPLICATE KEY), checked as StarRocks checks them. Empty columns: RANDOM."""
    buckets = DEFAULT_BUCKETS
    auto_buckets = True
    distribution_columns: list[str] = []
    if distribution is not None:
        if (distribution.args.get("kind") or "HASH").upper() == "HASH":
            distribution_columns = _check_columns(columns, _names(distribution), "distribution description")
        if distribution.args.get("buckets") is not None:
            buckets = int(literal_text(distribution.args["buckets"]))
            auto_buckets = False
            if not 1 <= buckets <= 1024:
                raise AnalysisError(f"Bucket number must be between 1 and 1024, got {buckets}")
    elif keys_type == "PRIMARY":
        distribution_columns = list(key_columns)
    if keys_type != "DUPLICATE":
        # A key's rows must meet in one tablet of one partition for the merge (lake/keyed.py).
        if distribution is None and keys_type != "PRIMARY":
            raise _analysis(f"Currently not support default distribution in {KEYS_TYPE_NAMES[keys_type]}")
        if not distribution_columns:
            if keys_type != "AGGREGATE" or any(c.aggregate == "REPLACE" for c in columns):
                raise _analysis("Random distribution must be used in DUP_KEYS or AGG_KEYS without replace")
            raise not_supported("DISTRIBUTED BY RANDOM for an AGGREGATE KEY table")
        for distributed in distribution_columns:
            if distributed not in key_columns:
                raise _analysis(f"Distribution column[{distributed}] is not key column")
    return distribution_columns, buckets, auto_buckets


def check_distribution_types(columns: list[Column], names: list[str]) -> None:
    """Refuse distribution columns of a type that cannot be hashed into tablets (JSON, nested types, ...)."""
    _check_key_types(columns, names, "distribution")


def _check_generated_partition_column(columns: list[Column], node: exp.PartitionedByProperty, keys_type: str,
                                      key_columns: list[str]) -> None:
    """StarRocks keeps the value of a LIST partition expression (`from_unixtime(ts, fmt)`) in a generated
    column, a value column of a keyed table: its rules and messages."""
    found = expression_partitioning(columns, node)
    if found.partition_type != "LIST" or not found.expressions or keys_type == "DUPLICATE":
        return
    if keys_type == "AGGREGATE":
        raise _analysis(f"AGG_KEYS table should specify aggregate type for non-key column[{GENERATED_PARTITION_COLUMN}0]")
    if any(c not in key_columns for c in found.columns):
        raise _analysis("The partition expr should base on key column")


def table_indexes(columns: list[Column], nodes: list[exp.IndexColumnConstraint]) -> list[TableIndex]:
    """The bitmap indexes of a column list (`refusals.check_schema_item` refused every other kind),
    their columns checked to exist."""
    indexes: list[TableIndex] = []
    for node in nodes:
        if any(i.name.lower() == node.name.lower() for i in indexes):
            raise _analysis(f"Duplicate index name '{node.name}'")
        named = _check_columns(columns, [c.name for c in node.expressions], f"index '{node.name}'")
        comment = next((literal_text(o.args["comment"]) for o in node.args.get("options") or []
                        if o.args.get("comment") is not None), "")
        indexes.append(TableIndex(name=node.name, columns=named, comment=comment))
    return indexes


BLOOM_FILTER_COLUMNS = "bloom_filter_columns"


def bloom_filter_columns(columns: list[Column], properties: dict[str, str]) -> list[str]:
    """The columns the `bloom_filter_columns` property names, each checked to be a column (StarRocks' words)."""
    known = {c.name.lower() for c in columns}
    named = [n.strip() for n in properties.get(BLOOM_FILTER_COLUMNS, "").split(",") if n.strip()]
    for name in named:
        if name.lower() not in known:
            raise AnalysisError(f"Getting analyzing error. Detail message: Invalid bloom filter column '{name}': "
                                "not exists.")
    return named


def build_table(catalog: Catalog, db: Database, name: str, statement: exp.Create) -> CreateTable:
    """Validate a CREATE TABLE statement and return the op that creates the table.

    Raises AnalysisError / UnknownColumnError naming the offending column, key or bound.
    """
    schema = statement.this
    if statement.expression is not None:
        raise not_supported("CREATE TABLE ... AS SELECT")
    if not isinstance(schema, exp.Schema):
        raise AnalysisError("CREATE TABLE needs a column list")
    for item in schema.expressions:
        check_schema_item(item)
    columns = [column_definition(c) for c in schema.expressions if isinstance(c, exp.ColumnDef)]
    if not columns:
        raise AnalysisError("CREATE TABLE needs at least one column")
    if sum(c.auto_increment for c in columns) > 1:
        raise _analysis("More than one AUTO_INCREMENT column defined in CREATE TABLE Statement")
    seen: set[str] = set()
    for column in columns:
        if column.name.lower().startswith(GENERATED_PARTITION_COLUMN):
            raise _analysis(f"Column name [{column.name}] starts with {GENERATED_PARTITION_COLUMN} is a system "
                            "reserved name. Please choose a different one.")
        if column.name.lower() in seen:
            raise AnalysisError(f"Duplicate column name '{column.name}'")
        seen.add(column.name.lower())

    properties = statement.args.get("properties")
    props = properties.expressions if properties is not None else []
    key_names: list[str] = []
    keys_type: Literal["DUPLICATE", "PRIMARY", "UNIQUE", "AGGREGATE"] = "DUPLICATE"
    primary = [item for item in schema.expressions if isinstance(item, exp.PrimaryKey)]
    if primary:
        keys_type, key_names = "PRIMARY", _names(primary[0])
    partition_node = distribution = None
    sort_names: list[str] | None = None
    comment = ""
    for prop in props:
        check_table_clause(prop)
        if type(prop) in _KEY_PROPERTIES:
            if primary:
                raise _analysis("A table has one key: PRIMARY KEY and another KEY clause were both given")
            keys_type, key_names = _KEY_PROPERTIES[type(prop)], _names(prop)
        elif isinstance(prop, (exp.PartitionByRangeProperty, exp.PartitionByListProperty,
                               exp.PartitionedByProperty)):
            partition_node = prop
        elif isinstance(prop, exp.DistributedByProperty):
            distribution = prop
            if prop.args.get("order") is not None:  # ORDER BY (...) after DISTRIBUTED BY
                sort_names = _sort_key_names(prop.args["order"])
        elif isinstance(prop, exp.Order):  # ORDER BY (...) before DISTRIBUTED BY
            sort_names = _sort_key_names(prop)
        elif isinstance(prop, exp.SchemaCommentProperty):
            comment = literal_text(prop.this)
        elif type(prop) not in (exp.EngineProperty, exp.Property):
            raise not_supported(f"'{prop.sql('starrocks')}' in CREATE TABLE")
    indexes = table_indexes(columns, [i for i in schema.expressions if isinstance(i, exp.IndexColumnConstraint)])
    table_properties = properties_of(properties)
    check_properties(table_properties)
    bloom_filter_columns(columns, table_properties)
    volume = table_properties.get("storage_volume")
    if volume is not None and volume != db.storage_volume:
        if volume not in catalog.state.storage_volumes:
            raise StorageVolumeError(f'Unknown storage volume "{volume}"')  # StarRocks' words
        raise not_supported(f"A table on storage volume '{volume}' in a database on '{db.storage_volume}'")
    column_nodes = [c for c in schema.expressions if isinstance(c, exp.ColumnDef)]
    if keys_type != "DUPLICATE" or any(c.aggregate for c in columns):
        if not key_names and keys_type == "DUPLICATE":
            keys_type = "AGGREGATE"  # value columns with a merge and no key clause: StarRocks' AGGREGATE KEY
            key_names = [c.name for c in columns if c.aggregate is None]
        _check_keys(keys_type, columns, key_names, column_nodes)
    key_columns = _check_columns(columns, key_names, "key description")
    for column in columns:
        column.is_key = column.name in key_columns

    if isinstance(partition_node, exp.PartitionedByProperty) and keys_type == "AGGREGATE":
        # StarRocks names this error before a missing DISTRIBUTED BY.
        _check_generated_partition_column(columns, partition_node, keys_type, key_columns)
    distribution_columns, buckets, auto_buckets = table_distribution(columns, keys_type, key_columns, distribution)
    _check_key_types(columns, key_columns, "key")
    check_distribution_types(columns, distribution_columns)
    sort_columns = sort_key(columns, keys_type, key_columns, sort_names) if sort_names is not None else []

    ids = catalog.id_source()
    table = Table(id=next(ids), name=name, columns=columns, keys_type=keys_type, key_columns=key_columns,
                  distribution_columns=distribution_columns, buckets=buckets, auto_buckets=auto_buckets,
                  comment=comment,
                  sort_columns=sort_columns, indexes=indexes,
                  properties=table_properties)

    def new_partition(partition_name: str) -> Partition:
        return Partition(id=next(ids), name=partition_name, tablet_ids=[next(ids) for _ in range(buckets)])

    if partition_node is None:
        table.partitions = [new_partition(name)]
        return CreateTable(db_id=db.id, table=table)

    by_expression = None
    if isinstance(partition_node, exp.PartitionedByProperty):
        by_expression = expression_partitioning(columns, partition_node)
        partition_columns = by_expression.columns
    else:
        expressions = partition_node.args.get("partition_expressions") or []
        if isinstance(partition_node, exp.PartitionByRangeProperty) and any(
                not isinstance(e, exp.Column) for e in expressions):
            if len(expressions) != 1:
                raise not_supported("RANGE partitioning by several expressions")
            source, expression = range_expression(columns, expressions[0])
            table.partition_expressions = [expression]
            expressions = [exp.column(source)]
        partition_columns = _check_columns(columns, [e.name for e in expressions], "partition description")
    _check_key_types(columns, partition_columns, "partition")
    table.partition_columns = partition_columns
    outside = [c for c in partition_columns if c not in key_columns]
    if isinstance(partition_node, exp.PartitionedByProperty):
        _check_generated_partition_column(columns, partition_node, keys_type, key_columns)
    if keys_type != "DUPLICATE" and outside:
        raise _analysis(f"The partition column could not be aggregated column and {KEYS_TYPE_NAMES[keys_type]} "
                        f"table's partition column must be key column")
    if by_expression is not None:
        # No partition yet: loads make each one as its first row arrives.
        table.partition_type, table.auto_partition = by_expression.partition_type, by_expression.auto
        table.partition_expressions = by_expression.expressions
        return CreateTable(db_id=db.id, table=table)
    typed = [table.column_named(c) for c in partition_columns]
    parts = list(partition_node.args.get("create_expressions") or [])
    entries = [e for part in parts if not isinstance(part, exp.PartitionByRangePropertyDynamic)
               for e in part.expressions]
    if isinstance(partition_node, exp.PartitionByRangeProperty):
        table.partition_type = "RANGE"
        specs = range_specs(table, parts)
        names = [spec.name.lower() for spec in specs]
        if len(set(names)) != len(names):
            raise AnalysisError("Duplicate partition name in partition description")
        for spec in specs:
            partition = new_partition(spec.name)
            partition.lower, partition.upper = spec.lower, spec.upper
            table.partitions.append(partition)
    else:
        names = [e.name for e in entries]
        if len(set(names)) != len(names):
            raise AnalysisError("Duplicate partition name in partition description")
        table.partition_type = "LIST"
        seen_values: set[tuple[str, ...]] = set()
        for entry in entries:
            rows: list[list[str | None]] = []
            for value in entry.expressions:
                items = value.expressions if isinstance(value, exp.Tuple) else [
                    value.this if isinstance(value, exp.Paren) else value]
                row = [normalize_value(literal_text(v), c.type) for v, c in zip(items, typed)]
                if tuple(row) in seen_values:
                    raise AnalysisError(f"Value ({', '.join(row)}) is in more than one partition")
                seen_values.add(tuple(row))
                rows.append(list[str | None](row))
            partition = new_partition(entry.name)
            partition.values = rows
            table.partitions.append(partition)
    return CreateTable(db_id=db.id, table=table)
