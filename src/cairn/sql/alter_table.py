"""ALTER TABLE: add, drop, modify and rename columns, and rename the table.

Rowsets are immutable, so a column change rewrites no data: the statement's actions, applied in
order to a copy of the schema, become ONE `AlterTableSchema` journal entry with the next schema
version. Each rowset records the version it was written under and is read through the column
histories kept here (`Column.added_in`, `Column.former`; lake/schema_read.py): an added column reads
its default in older rowsets, a dropped one is ignored, a renamed one is found by the column's
identity rather than its name, a modified one is cast. Compaction writes merged rowsets in the
current schema. A snapshot or point-in-time restore brings back the catalog of its time, so the
schema and the rows read as they were then.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import TokenType

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import Column, FormerColumn, Table
from cairn.catalog.ops import AlterTableSchema, RenamePartition, RenameTable
from cairn.catalog.types import ColumnType, parse_type
from cairn.errors import (
    AnalysisError,
    DuplicateColumnError,
    PartitionExistsError,
    TableExistsError,
    UnknownPartitionError,
)
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.query.virtual_tables import VirtualTables
from cairn.sql import extended, temporary_tables
from cairn.sql.names import check_table_name, literal_text, table_name
from cairn.sql.parser import DIALECT
from cairn.sql.refusals import (
    AGGREGATE_TYPES,
    NO_OP_PROPERTIES,
    check_properties,
    not_supported,
)
from cairn.sql.registry import Requirement, StatementRegistry
from cairn.sql.result import ResultSet
from cairn.sql.show import column_ddl
from cairn.sql.table_definition import CURRENT_TIMESTAMP, column_definition
from cairn.sql.views import alter_needs, alter_view

_MODEL_NAMES = {"PRIMARY": "primary", "UNIQUE": "Unique", "AGGREGATE": "Aggregate", "DUPLICATE": "Duplicate"}
_INTEGER_ORDER = ["TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT"]
# Types whose values the engine writes as text exactly as StarRocks does (not FLOAT, DOUBLE or BOOLEAN,
# whose text forms differ), so MODIFY to a string type reads the same values StarRocks would.
_TO_TEXT = frozenset({"TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT", "DECIMAL", "DATE", "DATETIME", "CHAR",
                      "VARCHAR", "STRING"})


def _error(message: str) -> AnalysisError:
    return AnalysisError(message)


def widening_allowed(old: ColumnType, new: ColumnType) -> bool:
    """Whether every value of type `old` converts to `new` without loss, so rowsets written before
    MODIFY COLUMN read correctly through a cast (StarRocks' allowed changes that need no check of
    the data: wider integers, FLOAT to DOUBLE, DATE to DATETIME, longer strings, wider DECIMAL, and
    integers, DECIMAL, DATE and DATETIME to strings, whose text the engine writes as StarRocks does)."""
    if old == new:
        return True
    if old.name in _INTEGER_ORDER and new.name in _INTEGER_ORDER:
        return _INTEGER_ORDER.index(new.name) >= _INTEGER_ORDER.index(old.name)
    if (old.name, new.name) in {("FLOAT", "DOUBLE"), ("DATE", "DATETIME")}:
        return True
    if old.name == "DECIMAL" and new.name == "DECIMAL":
        assert old.precision is not None and old.scale is not None
        assert new.precision is not None and new.scale is not None
        return new.scale >= old.scale and new.precision - new.scale >= old.precision - old.scale
    if new.name in {"VARCHAR", "STRING"} and old.name in _TO_TEXT:
        if old.is_string:
            return (new.max_length or 0) >= (old.max_length or 0)
        return True
    return False


@dataclass
class _Schema:
    """The schema a statement's actions change, in order; `text` is the statement as parsed."""

    table: Table
    version: int
    text: str = ""
    changed: bool = False

    def column(self, name: str) -> Column | None:
        return self.table.column(name)

    def index(self, name: str) -> int:
        lowered = name.lower()
        return next(i for i, c in enumerate(self.table.columns) if c.name.lower() == lowered)

    def place(self, column: Column, position: exp.ColumnPosition | None, default_index: int) -> None:
        columns = self.table.columns
        if position is None:
            columns.insert(default_index, column)
            return
        if (position.args.get("position") or "").upper() == "FIRST":
            columns.insert(0, column)
            return
        after = position.this.name
        if self.column(after) is None or after.lower() == column.name.lower():
            raise _error(f"Column[{after}] does not exist")
        columns.insert(self.index(after) + 1, column)


# What a column definition in ADD or MODIFY COLUMN may say: NULL / NOT NULL, DEFAULT, COMMENT, KEY, an aggregate.
_CONSTRAINTS = (exp.NotNullColumnConstraint, exp.DefaultColumnConstraint, exp.CommentColumnConstraint,
                exp.PrimaryKeyColumnConstraint, exp.Var)


def _check_definition(node: exp.ColumnDef, what: str) -> None:
    """Refuse what a column definition says that ALTER TABLE would otherwise drop (AUTO_INCREMENT, AS ...)."""
    if not isinstance(node.this, exp.Identifier):
        raise not_supported(f"ALTER TABLE {node.sql(dialect='starrocks')[:60]}")
    for constraint in node.args.get("constraints") or []:
        rule = constraint.args.get("kind")
        if not isinstance(rule, _CONSTRAINTS):
            raise not_supported(f"{constraint.sql(dialect='starrocks')} in {what}")
        if isinstance(rule, exp.Var) and rule.name.upper() not in AGGREGATE_TYPES:
            raise not_supported(f"Aggregate type {rule.name.upper()} (column '{node.name}')")


def _is_key(node: exp.ColumnDef) -> bool:
    return any(isinstance(c.args.get("kind"), exp.PrimaryKeyColumnConstraint)
               for c in node.args.get("constraints") or [])


def _says_nullability(node: exp.ColumnDef) -> bool:
    return any(isinstance(c.args.get("kind"), exp.NotNullColumnConstraint) for c in node.args.get("constraints") or [])


def _says_default(node: exp.ColumnDef) -> bool:
    return any(isinstance(c.args.get("kind"), exp.DefaultColumnConstraint) for c in node.args.get("constraints") or [])


def _place(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    return f"line {line}, column {offset - (text.rfind(chr(10), 0, offset) + 1)}"


def _span(text: str, node: exp.ColumnDef) -> str:
    """StarRocks' `from line L, column C to line L, column C` of a column definition in the statement:
    from its name to the start of its last token (columns counted from 0); '' when unknown."""
    start = node.this.meta.get("start") if isinstance(node.this, exp.Identifier) else None
    if not text or not isinstance(start, int):
        return ""
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        return ""
    depth, last = 0, start
    for token in (t for t in tokens if t.start >= start):
        depth += 1 if token.token_type == TokenType.L_PAREN else -1 if token.token_type == TokenType.R_PAREN else 0
        if depth < 0 or (depth == 0 and token.token_type in (TokenType.COMMA, TokenType.SEMICOLON)):
            break
        last = token.start
    return f" from {_place(text, start)} to {_place(text, last)}"


def _check_aggregate(schema: _Schema, node: exp.ColumnDef, column: Column, key: bool) -> None:
    table = schema.table
    if key and (column.aggregate is not None or table.keys_type == "PRIMARY"):
        raise _error(f"Getting analyzing error{_span(schema.text, node)}. Detail message: Column definition is "
                     f"wrong. Cannot specify aggregate function '{column.aggregate or 'REPLACE'}' for key column "
                     f"'{column.name}'.")
    if column.aggregate is not None and table.keys_type in {"UNIQUE", "DUPLICATE"}:
        raise _error(f"Can not assign aggregation method on column in {_MODEL_NAMES[table.keys_type]} data model "
                     f"table: {column.name}")
    if column.aggregate is not None and table.keys_type == "PRIMARY":
        column.aggregate = None  # StarRocks accepts and ignores it on a PRIMARY KEY table's value column
    if not key and table.keys_type == "AGGREGATE" and column.aggregate is None:
        raise _error(f"Getting analyzing error. Detail message: AGG_KEYS table should specify aggregate type for "
                     f"non-key column[{column.name}].")


def _add(schema: _Schema, node: exp.ColumnDef, added: dict[str, Column]) -> None:
    table = schema.table
    _check_definition(node, "ADD COLUMN")
    if node.args.get("exists") and schema.column(node.name) is not None:
        return  # ADD COLUMN IF NOT EXISTS of a column the table has
    column = column_definition(node)
    key = _is_key(node)
    _check_aggregate(schema, node, column, key)
    earlier = added.get(column.name.lower())
    if earlier is not None:
        raise _error(f"Repeatedly add same column with different definition: {column.name}")
    existing = schema.column(column.name)
    # StarRocks still knows a renamed column by its first name (its column id) and refuses that name too.
    renamed = next((c for c in table.columns if c.name.lower() != column.name.lower()
                    and any(f.name.lower() == column.name.lower() for f in c.former)), None)
    if (existing is not None and table.keys_type == "PRIMARY") or renamed is not None:
        shown = existing if existing is not None and table.keys_type == "PRIMARY" else renamed
        assert shown is not None
        raise _error(f"Can not add column which already exists in column id: {column.name}, you can remove "
                     f"{column_ddl(shown)} and try again.")
    if existing is not None:
        raise _error(f"Can not add column which already exists in base table: {column.name}")
    if column.default == CURRENT_TIMESTAMP:
        raise not_supported("ADD COLUMN with DEFAULT CURRENT_TIMESTAMP (the rows already stored would need the "
                            "time of the change)")
    if not column.nullable and column.default is None:
        raise _error(f"Can not add column which is not nullable and has no default value: {column.name}")
    if column.aggregate == "SUM" and column.default not in (None, "0"):
        raise not_supported("ADD COLUMN of a SUM column with a DEFAULT other than 0 or NULL (the rows stored "
                            "before it under several versions of a key would each add the default)")
    if key:
        column.is_key = True
        column.nullable = column.nullable and table.keys_type != "PRIMARY"
    column.unique_id = table.next_column_id
    column.added_in = schema.version
    table.next_column_id += 1
    key_count = len(table.key_columns)
    schema.place(column, node.args.get("position"), key_count if key else len(table.columns))
    if key:
        table.key_columns = [c.name for c in table.columns if c.is_key]
    added[column.name.lower()] = column
    schema.changed = True


def _drop(schema: _Schema, name: str) -> None:
    table = schema.table
    column = schema.column(name)
    if column is None:
        raise _error(f"Column does not exists: {name}")
    if table.keys_type != "DUPLICATE" and column.is_key:
        raise _error(f"Can not drop key column in {_MODEL_NAMES[table.keys_type]} data model table")
    if column.name in table.sort_columns:
        # Rowsets stay sorted by the key they were written with: the key cannot lose a column.
        raise _error(f"Can not drop sort column in {_MODEL_NAMES[table.keys_type]} data model table")
    if column.name in table.partition_columns:
        raise _error(f"Partition column[{column.name}] cannot be dropped. index[{table.name}]")
    if column.name in table.distribution_columns:
        raise _error(f"Distribution column[{column.name}] cannot be dropped. index[{table.name}]")
    if len(table.columns) == 1:
        raise _error("Can not drop all columns")
    table.columns.remove(column)
    table.key_columns = [k for k in table.key_columns if k != column.name]
    # StarRocks drops the indexes of a dropped column with it.
    table.indexes = [i for i in table.indexes if column.name not in i.columns]
    schema.changed = True


def _remember(column: Column, version: int) -> None:
    """Record the column's current name and type as what rowsets written before `version` hold (once
    per statement: what an earlier action of the same statement changed was never written)."""
    if column.former and column.former[-1].until == version:
        return
    column.former.append(FormerColumn(until=version, name=column.name, type=column.type))


def _modify(schema: _Schema, node: exp.ColumnDef) -> None:
    table = schema.table
    column = schema.column(node.name)
    if column is None:
        raise _error(f"Column[{node.name}] does not exists")
    if node.args.get("kind") is None:  # MODIFY COLUMN c COMMENT '...'
        for constraint in node.args.get("constraints") or []:
            rule = constraint.args.get("kind")
            if isinstance(rule, exp.CommentColumnConstraint):
                column.comment = literal_text(rule.this)
        schema.changed = True
        return
    wanted = column_definition(node)
    if wanted.aggregate is not None and table.keys_type in {"UNIQUE", "DUPLICATE"}:
        raise _error(f"Can not assign aggregation method on column in {_MODEL_NAMES[table.keys_type]} data model "
                     f"table: {column.name}")
    if table.keys_type == "AGGREGATE" and wanted.aggregate is not None and wanted.aggregate != column.aggregate:
        raise _error("Can not change aggregation type")
    if table.keys_type == "PRIMARY" and column.name in table.sort_columns:
        raise _error("Can not modify sort column in primary data model table")
    old_type, new_type = parse_type(column.type), parse_type(wanted.type)
    if old_type != new_type:
        if column.name in table.sort_columns and old_type.is_string != new_type.is_string:
            # Rowsets are not rewritten: their order by the old type must stay an order by the new one.
            raise not_supported(f"Modifying sort column[{column.name}] from {old_type.text} to {new_type.text}")
        if column.is_key and table.keys_type == "PRIMARY":
            raise _error(f"Can not modify key column: {column.name} for primary key table")
        if column.name in table.partition_columns:
            raise _error(f"Can not modify partition column[{column.name}]. index[{table.name}]")
        if column.name in table.distribution_columns:
            raise _error(f"Can not modify distribution column[{column.name}]. index[{table.name}]")
        if old_type.is_string and new_type.is_string and (new_type.max_length or 0) < (old_type.max_length or 0):
            raise _error("Cannot shorten string length")
        if not widening_allowed(old_type, new_type):
            raise _error(f"Can not change {old_type.text} to {new_type.text}")
        if table.keys_type == "AGGREGATE" and not column.is_key and (column.aggregate or "") == "SUM" \
                and new_type.is_string:
            raise _error(f"Can not change {old_type.text} to {new_type.text}")
        _remember(column, schema.version)
        column.type = new_type.text
    if _says_nullability(node):
        if column.nullable and not wanted.nullable:
            raise _error("Can not change from nullable to non-nullable")
        column.nullable = wanted.nullable
    if _says_default(node):
        column.default = wanted.default
    if wanted.comment:
        column.comment = wanted.comment
    position = node.args.get("position")
    if position is not None:
        table.columns.remove(column)
        schema.place(column, position, len(table.columns))
        if column.is_key != (schema.index(column.name) < len(table.key_columns)):
            raise _error("Invalid column order. value should be after key")
    schema.changed = True


def _rename_column(schema: _Schema, old: str, new: str) -> None:
    table = schema.table
    column = schema.column(old)
    if column is None:
        raise _error(f"Column '{old}' does not exist")
    if schema.column(new) is not None:
        raise DuplicateColumnError(f"Duplicate column name '{new}'")
    used = next((e for name, e in zip(table.partition_columns, table.partition_key_expressions())
                 if e is not None and name == column.name), None)
    if used is not None:
        # The stored partition expression names the column; the table is routed by it.
        raise _error(f"Column[{column.name}] is used by the partition expression {used.sql} and cannot be renamed")
    _remember(column, schema.version)
    was = column.name

    def renamed(names: list[str]) -> list[str]:
        return [new if n == was else n for n in names]

    column.name = new
    table.key_columns = renamed(table.key_columns)
    table.partition_columns = renamed(table.partition_columns)
    table.distribution_columns = renamed(table.distribution_columns)
    table.sort_columns = renamed(table.sort_columns)
    for index in table.indexes:
        index.columns = renamed(index.columns)
    bloom = table.properties.get("bloom_filter_columns")
    if bloom:
        table.properties["bloom_filter_columns"] = ",".join(renamed([n.strip() for n in bloom.split(",")]))
    schema.changed = True


def _with_unique_ids(table: Table) -> None:
    """Give the columns of a table never altered their unique ids (by position, as StarRocks numbers them)."""
    if table.schema_version == 0 and all(c.unique_id is None for c in table.columns):
        for index, column in enumerate(table.columns):
            column.unique_id = index
        table.next_column_id = len(table.columns)


def _apply_action(schema: _Schema, action: exp.Expr, added: dict[str, Column]) -> None:
    if isinstance(action, exp.ColumnDef):
        _add(schema, action, added)
    elif isinstance(action, exp.Drop) and (action.args.get("kind") or "").upper() == "COLUMN":
        for target in action.args.get("tables") or []:
            if not (action.args.get("exists") and schema.column(target.name) is None):
                _drop(schema, target.name)
    elif isinstance(action, exp.ModifyColumn):
        if action.args.get("rename_from") is not None:
            raise not_supported("ALTER TABLE CHANGE COLUMN (RENAME COLUMN, then MODIFY COLUMN)")
        _check_definition(action.this, "MODIFY COLUMN")
        _modify(schema, action.this)
    elif isinstance(action, exp.RenameColumn):
        _rename_column(schema, action.this.name, action.args["to"].name)
    else:
        raise not_supported(f"ALTER TABLE {action.sql(dialect='starrocks')[:60]}")


# Properties ALTER TABLE ... SET may change: those Cairn keeps and shows without acting on them.
_SETTABLE_PROPERTIES = NO_OP_PROPERTIES - {"bloom_filter_columns"}


def _set_properties(settings: list[exp.AlterSet]) -> dict[str, str]:
    """The properties `ALTER TABLE t SET ("k" = "v", ...)` gives, checked as CREATE TABLE checks them."""
    found: dict[str, str] = {}
    for setting in settings:
        for item in setting.expressions:
            if not (isinstance(item, exp.EQ) and isinstance(item.this, exp.Literal)
                    and isinstance(item.expression, exp.Literal)):
                raise not_supported(f"ALTER TABLE SET {item.sql(dialect='starrocks')[:60]}")
            found[literal_text(item.this)] = literal_text(item.expression)
    check_properties(found)
    fixed = sorted(key for key in found if key not in _SETTABLE_PROPERTIES)
    if fixed:
        raise not_supported(f"ALTER TABLE SET of the property '{fixed[0]}'")
    return found


def _rename_table(query: QueryContext, fe: Frontend, db_name: str | None, name: str, new_name: str) -> ResultSet:
    def build(catalog: Catalog) -> RenameTable:
        db, table = catalog.table(db_name, name)
        if new_name == name:
            raise _error(f"Same table name: {name}")
        if new_name in db.tables or new_name in db.views:
            raise TableExistsError(f"Table '{new_name}' already exists")
        return RenameTable(db_id=db.id, table_id=table.id, name=new_name)

    fe.commit(build)
    return ResultSet.ok()


def alter_table(query: QueryContext, fe: Frontend, statement: exp.Alter) -> ResultSet:
    """ALTER TABLE's column actions as one new schema version, or RENAME of the table."""
    db_name, name = table_name(query, statement.this)
    temporary_tables.refuse_if_temporary(query, fe.catalog, db_name, name)
    actions = list(statement.args.get("actions") or [])
    renames = [a for a in actions if isinstance(a, exp.AlterRename)]
    if renames:
        if len(actions) != 1:
            raise not_supported("ALTER TABLE RENAME together with other changes")
        check_table_name(renames[0].this.name)
        return _rename_table(query, fe, db_name, name, renames[0].this.name)

    comment: str | None = None
    for option in statement.args.get("options") or []:
        if not isinstance(option, exp.SchemaCommentProperty):
            raise not_supported(f"ALTER TABLE {option.sql(dialect='starrocks')[:60]}")
        comment = literal_text(option.this)
    settings = _set_properties([a for a in actions if isinstance(a, exp.AlterSet)])
    actions = [a for a in actions if not isinstance(a, exp.AlterSet)]
    if not actions and comment is None and not settings:
        raise not_supported(f"ALTER TABLE {statement.sql(dialect='starrocks')[:80]}")

    def build(catalog: Catalog) -> AlterTableSchema | None:
        db, live = catalog.table(db_name, name)
        table = live.model_copy(deep=True)
        _with_unique_ids(table)
        schema = _Schema(table, live.schema_version + 1, statement.meta.get("text") or "")
        added: dict[str, Column] = {}
        for action in actions:
            _apply_action(schema, action, added)
        if not schema.changed and comment is None and not settings:
            return None  # only IF [NOT] EXISTS actions that found nothing to do
        table.properties.update(settings)
        return AlterTableSchema(db_id=db.id, table_id=table.id,
                                schema_version=schema.version if schema.changed else live.schema_version,
                                next_column_id=table.next_column_id, columns=table.columns,
                                key_columns=table.key_columns, partition_columns=table.partition_columns,
                                distribution_columns=table.distribution_columns, properties=table.properties,
                                comment=comment, sort_columns=table.sort_columns or None,
                                indexes=table.indexes if table.indexes != live.indexes else None)

    fe.commit_if(build)
    return ResultSet.ok()


def rename_partition(query: QueryContext, fe: Frontend, statement: extended.RenamePartitionStatement) -> ResultSet:
    """ALTER TABLE t RENAME PARTITION p new_name (not of an expression-partitioned table, whose partitions
    are named after their values, as in StarRocks)."""
    db_name, name = statement.database or query.database, statement.table
    temporary_tables.refuse_if_temporary(query, fe.catalog, db_name, name)

    def build(catalog: Catalog) -> RenamePartition:
        db, table = catalog.table(db_name, name)
        if table.auto_partition is not None:
            raise _error(f"Table[{table.name}] is automatic partitioned. not support to rename partition name.")
        partition = table.partition(statement.partition)
        if partition is None:
            raise UnknownPartitionError(f"Partition '{statement.partition}' does not exist in table '{table.name}'")
        if (table.partition(statement.new_name) or table.temp_partition(statement.new_name)) is not None:
            raise PartitionExistsError(f"Partition name[{statement.new_name}] is already used")
        return RenamePartition(db_id=db.id, table_id=table.id, partition_id=partition.id, name=statement.new_name)

    fe.commit(build)
    return ResultSet.ok()


def _rename_partition_needs(ctx: QueryContext, statement: extended.RenamePartitionStatement,
                            _virtual: VirtualTables) -> list[Requirement]:
    return [Requirement("ALTER", statement.database or ctx.database or "", statement.table)]


def alter(query: QueryContext, fe: Frontend, statement: exp.Alter) -> ResultSet:
    """ALTER TABLE or ALTER VIEW."""
    if (statement.args.get("kind") or "").upper() == "TABLE":
        return alter_table(query, fe, statement)
    return alter_view(query, fe, statement)


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(exp.Alter, alter, needs=alter_needs, writes=True)
    statements.add(extended.RenamePartitionStatement, rename_partition, needs=_rename_partition_needs, writes=True)
