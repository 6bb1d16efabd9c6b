"""CREATE TABLE ... AS SELECT: a table whose columns are typed from its query, then filled by it.

The columns take the types StarRocks gives them: a column the query selects as it is keeps its
table's type and NOT NULL; any other expression takes the type of its result (a string is
VARCHAR(1048576), integer arithmetic its widened integer type, a decimal its precision and scale).
The optional column list renames the query's columns; keys, partitioning, distribution and
PROPERTIES are CREATE TABLE's own (`cairn.sql.table_definition.build_table`).

As in StarRocks, the table is created, then loaded by INSERT; when the load fails the table is
dropped again, so a failed statement leaves no table behind.
"""

from __future__ import annotations

import duckdb
from sqlglot import exp

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import Column, Table
from cairn.catalog.ops import CreateTable, DropTable
from cairn.catalog.types import from_duckdb, parse_type
from cairn.errors import AnalysisError, TableExistsError, UnsupportedError
from cairn.fe.frontend import Frontend
from cairn.lake.load import load_relation
from cairn.query.context import QueryContext
from cairn.query.select import _user_error, describe_query, prepare_tree
from cairn.query.views import find_view
from cairn.sql import temporary_tables
from cairn.sql.names import table_name
from cairn.sql.result import ResultSet
from cairn.sql.table_definition import build_table


def _query(statement: exp.Create) -> exp.Query:
    body = statement.expression
    if isinstance(body, exp.Subquery):
        body = body.unnest()
    if not isinstance(body, exp.Query):
        raise AnalysisError("CREATE TABLE ... AS needs a query")
    return body


def _selected_columns(query: QueryContext, fe: Frontend, body: exp.Query) -> list[Column | None]:
    """For each column of a single-table SELECT, the table column it selects unchanged (None for an
    expression). Empty when the query is anything else: its columns are typed from their results.
    Grouping or DISTINCT keeps a selected column's values, so its type and NOT NULL hold."""
    clause = body.args.get("from_") or body.args.get("from") if isinstance(body, exp.Select) else None
    if not isinstance(body, exp.Select) or not isinstance(clause, exp.From) or body.args.get("joins"):
        return []
    source = clause.this
    if not isinstance(source, exp.Table) or isinstance(source.this, exp.Func):
        return []
    database = source.db or query.database
    if find_view(fe.catalog, database, source.name) is not None or not database:
        return []
    with fe.catalog.lock:
        db = fe.catalog.state.databases.get(database)
        table: Table | None = None if db is None else db.tables.get(fe.catalog.table_key(db, source.name, query.session_id))
        if table is None:
            return []
        table = table.model_copy(deep=True)
    names = {source.name.lower(), (source.alias or source.name).lower()}
    found: list[Column | None] = []
    for item in body.expressions:
        inner = item.this if isinstance(item, exp.Alias) else item
        if isinstance(inner, exp.Star):
            found.extend(table.columns)
        elif isinstance(inner, exp.Column) and isinstance(inner.this, exp.Star):
            found.extend(table.columns if inner.table.lower() in names else [])
        elif isinstance(inner, exp.Column) and (not inner.table or inner.table.lower() in names):
            found.append(table.column(inner.name))
        else:
            found.append(None)
    return found


# StarRocks types an integer literal by the smallest integer type that holds it.
_INTEGER_LITERAL_TYPES = ((127, "TINYINT"), (32767, "SMALLINT"), (2147483647, "INT"), (9223372036854775807, "BIGINT"))


def _literal_type(body: exp.Query, position: int) -> str | None:
    """TINYINT for `SELECT 1`, as StarRocks types an integer literal (None for anything else)."""
    if not isinstance(body, exp.Select) or position >= len(body.expressions):
        return None
    item = body.expressions[position]
    inner = item.this if isinstance(item, exp.Alias) else item
    negative = isinstance(inner, exp.Neg)
    literal = inner.this if negative else inner
    if not isinstance(literal, exp.Literal) or literal.is_string or not literal.this.isdigit():
        return None
    value = int(literal.this)
    return next((name for bound, name in _INTEGER_LITERAL_TYPES if value <= bound + int(negative)), "LARGEINT")


def inferred_columns(query: QueryContext, fe: Frontend, body: exp.Query, names: list[str]) -> list[Column]:
    """The new table's columns, typed as StarRocks types a CTAS's query (see the module's doc)."""
    described = describe_query(query, fe.engine, body)
    if names and len(names) != len(described):
        raise AnalysisError("Number of columns don't equal number of SELECT statement's select list")
    selected = _selected_columns(query, fe, body)
    if len(selected) != len(described):
        selected = [None] * len(described)
    columns = []
    for position, ((name, duckdb_type), source) in enumerate(zip(described, selected)):
        new_name = names[position] if names else name
        if source is not None:
            columns.append(Column(name=new_name, type=source.type, nullable=source.nullable))
            continue
        literal = _literal_type(body, position) if not any(isinstance(e, exp.Star) for e in body.expressions) else None
        if literal is not None:
            columns.append(Column(name=new_name, type=literal))
            continue
        kind = from_duckdb(duckdb_type)
        if kind is None:
            raise UnsupportedError(f"Getting analyzing error. Detail message: column '{new_name}' of type "
                                   f"{duckdb_type.lower()} cannot be stored in a table yet.")
        columns.append(Column(name=new_name, type=kind.text))
    return columns


# Bytes a value takes in StarRocks' short key index; a string ends the key.
_KEY_BYTES = {"TINYINT": 1, "BOOLEAN": 1, "SMALLINT": 2, "INT": 4, "DATE": 3, "BIGINT": 8, "DATETIME": 8,
              "LARGEINT": 16, "DECIMAL": 16}
_STRINGS = {"CHAR", "VARCHAR", "STRING"}


def default_keys(columns: list[Column]) -> list[str]:
    """StarRocks' DUPLICATE KEY for a table that names none: its leading columns, at most three and
    36 bytes, ending at the first string; a FLOAT or DOUBLE (or any type no key holds) ends it too."""
    keys: list[str] = []
    size = 0
    for column in columns:
        name = parse_type(column.type).name
        if name in _STRINGS:
            if len(keys) < 3:
                keys.append(column.name)
            break
        size += _KEY_BYTES.get(name, 0)
        if name not in _KEY_BYTES or len(keys) >= 3 or size > 36:
            break
        keys.append(column.name)
    return keys


def _definition(statement: exp.Create, target: exp.Expression, columns: list[Column]) -> exp.Create:
    """The CREATE TABLE statement the CTAS amounts to: its clauses, with the inferred columns. Without
    a key, StarRocks' default DUPLICATE KEY; without DISTRIBUTED BY, RANDOM (as StarRocks does)."""
    defs: list[exp.Expr] = []
    for column in columns:
        constraints = [] if column.nullable else [exp.ColumnConstraint(kind=exp.NotNullColumnConstraint())]
        defs.append(exp.ColumnDef(this=exp.to_identifier(column.name, quoted=True),
                                  kind=exp.DataType.build(column.type, dialect="starrocks"), constraints=constraints))
    given = statement.args.get("properties")
    properties = given.copy() if given is not None else exp.Properties(expressions=[])
    clauses = properties.expressions
    if not any(type(p).__name__.endswith("KeyProperty") or isinstance(p, exp.PrimaryKey) for p in clauses):
        keys = default_keys(columns)
        if keys:
            clauses.insert(0, exp.DuplicateKeyProperty(expressions=[exp.to_identifier(k, quoted=True) for k in keys]))
    # PRIMARY KEY(...) belongs with the columns, where CREATE TABLE reads it.
    defs += [p for p in clauses if isinstance(p, exp.PrimaryKey)]
    clauses = [p for p in clauses if not isinstance(p, exp.PrimaryKey)]
    keyed = any(isinstance(p, (exp.PrimaryKey, exp.UniqueKeyProperty, exp.AggregateKeyProperty))
                for p in [*defs, *clauses])
    if not keyed and not any(isinstance(p, exp.DistributedByProperty) for p in clauses):
        # A keyed table is hashed by its key instead (CREATE TABLE's default): RANDOM cannot keep a key together.
        clauses.append(exp.DistributedByProperty(kind="RANDOM"))
    properties.set("expressions", clauses)
    return exp.Create(kind="TABLE", this=exp.Schema(this=target.copy(), expressions=defs), properties=properties)


def create_table_as_select(query: QueryContext, fe: Frontend, statement: exp.Create) -> ResultSet:
    schema = statement.this
    target = schema.this if isinstance(schema, exp.Schema) else schema
    names = [item.name for item in schema.expressions] if isinstance(schema, exp.Schema) else []
    if isinstance(schema, exp.Schema) and any(not isinstance(i, (exp.Identifier, exp.Column)) for i in schema.expressions):
        raise AnalysisError("CREATE TABLE ... AS SELECT takes column names only; their types come from the query")
    db_name, name = table_name(query, target)
    temporary = temporary_tables.is_temporary(statement)
    if temporary:
        temporary_tables.check_enabled(fe)
        statement = temporary_tables.without_temporary(statement)
    if_not_exists = bool(statement.args.get("exists"))
    db = fe.catalog.database(db_name)
    if if_not_exists and (temporary_tables.exists(db, name, query.session_id) if temporary
                          else name in db.tables or name in db.views):
        return ResultSet.ok()
    body = _query(statement)
    columns = inferred_columns(query, fe, body, names)
    seen: set[str] = set()
    for column in columns:
        if column.name.lower() in seen:
            raise AnalysisError(f"Duplicate column name '{column.name}'")
        seen.add(column.name.lower())
    definition = _definition(statement, target, columns)
    created: list[CreateTable] = []

    def build(catalog: Catalog) -> CreateTable | None:
        live = catalog.database(db_name)
        if temporary and temporary_tables.exists(live, name, query.session_id):
            if if_not_exists:
                return None
            raise temporary_tables.already_exists(name)
        if not temporary and (name in live.tables or name in live.views):
            if if_not_exists:
                return None
            raise TableExistsError(f"Getting analyzing error. Detail message: Table '{name}' already exists.")
        op = build_table(catalog, live, name, definition)
        if temporary:
            temporary_tables.made_temporary(op, query)
        created.append(op)
        return op

    fe.commit_if(build)
    if not created:
        return ResultSet.ok()
    try:
        loaded = _load(query, fe, db_name, created[0].table.catalog_key, body)
    except BaseException:
        _drop_created(fe, created[0])
        raise
    return ResultSet.ok(affected_rows=loaded)


def _load(query: QueryContext, fe: Frontend, db_name: str | None, name: str, body: exp.Query) -> int:
    con = fe.duckdb.cursor()
    views: dict[str, str] = {}
    pinned: list[str] = []
    try:
        prepared, views = prepare_tree(query, fe.engine, body, con, pinned)
        with query.cancel.running(con):
            return load_relation(fe.loads, db_name, name, con, exp.Subquery(this=prepared)).loaded_rows
    except duckdb.Error as exc:
        raise _user_error(exc, views) from None
    finally:
        fe.data_access.release(pinned)
        con.close()


def _drop_created(fe: Frontend, created: CreateTable) -> None:
    """Drop the table a failed CTAS created (unless something replaced it meanwhile)."""
    def build(catalog: Catalog) -> DropTable | None:
        db = catalog.database_by_id(created.db_id)
        table = None if db is None else db.tables.get(created.table.catalog_key)
        if table is None or table.id != created.table.id:
            return None
        return DropTable(db_id=created.db_id, table_id=table.id,
                         data_prefix=fe.keys.table_prefix(created.db_id, table.id))

    fe.commit_if(build)
