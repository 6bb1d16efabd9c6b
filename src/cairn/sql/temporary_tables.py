"""StarRocks' temporary tables: CREATE TEMPORARY TABLE (plain, LIKE, AS SELECT), DROP TEMPORARY TABLE,
SHOW TEMPORARY TABLES, and dropping a session's temporary tables when it ends.

A temporary table is a normal table of the catalog (journaled, its data in the lake like any other,
so loads, UPDATE, DELETE, TRUNCATE and queries work on it unchanged) that carries its owner
(`TemporaryOwner`: the session and its FE) and is held under `temporary_key`, so only its own
session sees it, in place of a normal table of the same name. SHOW TABLES and information_schema
leave temporary tables out; snapshots and restores never carry them (docs/architecture.md,
"Temporary tables").
"""

from __future__ import annotations

from sqlglot import exp

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import Database, TemporaryOwner, temporary_key
from cairn.catalog.ops import CreateTable, DropTable
from cairn.errors import (
    AnalysisError,
    AnalyzerUnknownDatabaseError,
    AnalyzerUnknownTableError,
    SqlSyntaxError,
    TableExistsError,
)
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.sql import extended
from cairn.sql.registry import StatementRegistry, nothing
from cairn.sql.result import ResultSet

DEFAULT_CATALOG = "default_catalog"


def is_temporary(statement: exp.Create) -> bool:
    """Whether the statement is CREATE TEMPORARY TABLE."""
    properties = statement.args.get("properties")
    return properties is not None and any(isinstance(p, exp.TemporaryProperty) for p in properties.expressions)


def without_temporary(statement: exp.Create) -> exp.Create:
    """The statement without its TEMPORARY keyword (a copy): the table definition it describes, as
    CREATE TABLE parses it (after TEMPORARY the parser leaves PRIMARY KEY among the properties
    instead of the schema)."""
    plain = statement.copy()
    properties = plain.args.get("properties")
    if properties is None:
        return plain
    keys = [p for p in properties.expressions if isinstance(p, exp.PrimaryKey)]
    properties.set("expressions", [p for p in properties.expressions
                                   if not isinstance(p, (exp.TemporaryProperty, exp.PrimaryKey))])
    if keys and isinstance(plain.this, exp.Schema):
        plain.this.set("expressions", [*plain.this.expressions, *keys])
    elif keys:
        properties.set("expressions", [*keys, *properties.expressions])
    return plain


def check_enabled(fe: Frontend) -> None:
    """Refuse CREATE TEMPORARY TABLE while `enable_experimental_temporary_table` is off (StarRocks' words)."""
    if not fe.config.enable_experimental_temporary_table:
        raise SqlSyntaxError("Getting syntax error. Detail message: FE config "
                             "'enable_experimental_temporary_table' is disabled.")


def owner(query: QueryContext) -> TemporaryOwner:
    """The owner a temporary table the statement creates gets: its session and that session's FE."""
    if not query.session_id:
        raise AnalysisError("Getting analyzing error. Detail message: a temporary table needs a session.")
    return TemporaryOwner(session=query.session_id, frontend=query.session_frontend)


def exists(db: Database, name: str, session: str) -> bool:
    """Whether `session` already has a temporary table `name` in `db`."""
    return temporary_key(name, session) in db.tables


def already_exists(name: str) -> TableExistsError:
    """StarRocks' error for a second temporary table of one name in one session."""
    return TableExistsError(f"Getting analyzing error. Detail message: Table '{name}' already exists.")


def made_temporary(op: CreateTable, query: QueryContext) -> CreateTable:
    """`op` creating its table as the session's temporary table."""
    op.table.temporary = owner(query)
    # StarRocks keeps a temporary table out of colocation groups (CREATE TEMPORARY TABLE LIKE drops it).
    op.table.properties.pop("colocate_with", None)
    return op


def refuse_if_temporary(query: QueryContext, catalog: Catalog, db_name: str | None, name: str,
                        statement: str = "alter table") -> None:
    """StarRocks' refusal of a statement temporary tables do not support (ALTER TABLE, ...) when
    `name` is the session's temporary table."""
    with catalog.lock:
        db = catalog.state.databases.get(db_name or "")
        found = db is not None and query.session_id != "" and exists(db, name, query.session_id)
    if found:
        raise AnalysisError(f"Getting analyzing error. Detail message: temporary table doesn't support "
                            f"{statement} statement.")


def drop_temporary(query: QueryContext, fe: Frontend, target: exp.Expression, if_exists: bool) -> None:
    """DROP TEMPORARY TABLE [IF EXISTS] [db.]t: drop the session's own temporary table `t`, never a
    normal table."""
    if isinstance(target, exp.Table) and target.catalog and target.catalog != DEFAULT_CATALOG:
        raise AnalysisError("Getting analyzing error. Detail message: drop temporary table can only be execute "
                            "under default catalog.")
    db_name = (target.db if isinstance(target, exp.Table) else "") or query.database
    name = target.name

    def build(catalog: Catalog) -> DropTable | None:
        db = catalog.state.databases.get(db_name or "")
        if db is None:
            raise AnalyzerUnknownDatabaseError(f"Getting analyzing error. Detail message: Unknown database "
                                               f"'{db_name}'.")
        table = db.tables.get(temporary_key(name, query.session_id))
        if table is None:
            if if_exists:
                return None
            raise AnalyzerUnknownTableError(f"Getting analyzing error. Detail message: Unknown table '{name}'.")
        return DropTable(db_id=db.id, table_id=table.id, data_prefix=fe.keys.table_prefix(db.id, table.id))

    fe.commit_if(build)


def session_tables(catalog: Catalog, session: str) -> list[tuple[str, str]]:
    """(database, table) of every temporary table of `session`, by name."""
    with catalog.lock:
        return sorted((db.name, t.name) for db in catalog.state.databases.values() for t in db.tables.values()
                      if t.temporary is not None and t.temporary.session == session)


def shown_temporary_tables(catalog: Catalog, db: Database, session: str) -> list[str]:
    """SHOW TEMPORARY TABLES: the names of the session's temporary tables in `db`."""
    with catalog.lock:
        return sorted(t.name for t in db.tables.values()
                      if t.temporary is not None and t.temporary.session == session)


def show_temporary_tables(query: QueryContext, fe: Frontend, statement: extended.ShowTemporaryTables) -> ResultSet:
    """SHOW TEMPORARY TABLES [FROM db]: the session's temporary tables in the database."""
    db = fe.catalog.database(statement.database or query.database)
    names = shown_temporary_tables(fe.catalog, db, query.session_id)
    return ResultSet.from_rows([f"Tables_in_{db.name}"], [(n,) for n in names])


def register(statements: StatementRegistry) -> None:
    """Add this module's statements (CREATE and DROP TEMPORARY TABLE go through `cairn.sql.ddl`)."""
    statements.add(extended.ShowTemporaryTables, show_temporary_tables, needs=nothing)
