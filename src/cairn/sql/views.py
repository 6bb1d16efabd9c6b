"""Logical views: CREATE [OR REPLACE] VIEW, ALTER VIEW, DROP VIEW, SHOW CREATE VIEW, and what
DESC, SHOW COLUMNS and SHOW CREATE TABLE answer for a view.

A view is catalog state (`PutView` / `DropView`, one journal entry each). Its query is validated
and its columns typed when it is made; it is stored with every table qualified by the database it
was resolved in, and expanded wherever a statement reads the view (`cairn.query.views`).
"""

from __future__ import annotations

from typing import Literal

from sqlglot import exp

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import Column, Database, Table, View, ViewColumn, temporary_key
from cairn.catalog.ops import DropView, PutView
from cairn.catalog.types import from_duckdb
from cairn.errors import AnalysisError, TableExistsError, UnknownTableError, WrongObjectError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.query.select import describe_query
from cairn.query.views import qualify
from cairn.query.virtual_tables import VirtualTables
from cairn.sql.names import literal_text, table_name
from cairn.sql.refusals import not_supported
from cairn.sql.registry import Requirement, StatementRegistry, reads
from cairn.sql.result import ResultSet

VIEW_CHARSET, VIEW_COLLATION = "utf8", "utf8_general_ci"


def wrong_object(database: str, name: str, expected: str) -> WrongObjectError:
    """StarRocks' ER_WRONG_OBJECT: a view statement naming a table, or a table statement naming a view."""
    return WrongObjectError(f"'{database}'.'{name}' is not '{expected}'")


def _body(statement: exp.Expr | None) -> exp.Query:
    if isinstance(statement, exp.Subquery):
        statement = statement.unnest()
    if not isinstance(statement, exp.Query):
        raise AnalysisError("A view is defined by a query")
    return statement


def _named_columns(target: exp.Expr) -> list[ViewColumn]:
    """The `(col [COMMENT '...'], ...)` list of CREATE VIEW, without types yet."""
    named = []
    for item in target.expressions if isinstance(target, exp.Schema) else []:
        comment = ""
        for constraint in item.args.get("constraints") or []:
            if isinstance(constraint.args.get("kind"), exp.CommentColumnConstraint):
                comment = literal_text(constraint.args["kind"].this)
        named.append(ViewColumn(name=item.name, type="", comment=comment))
    return named


def _typed_columns(query: QueryContext, fe: Frontend, body: exp.Query, named: list[ViewColumn]) -> list[ViewColumn]:
    """The view's columns: the query's, named by the column list when there is one."""
    described = describe_query(query, fe.engine, body)
    if named and len(named) != len(described):
        raise AnalysisError("View's SELECT and view's field list have different column counts")
    columns = []
    for position, (name, duckdb_type) in enumerate(described):
        kind = from_duckdb(duckdb_type)
        shown = kind.text if kind is not None else duckdb_type.lower()
        given = named[position] if named else None
        columns.append(ViewColumn(name=given.name if given else name, type=shown,
                                  comment=given.comment if given else ""))
    seen: set[str] = set()
    for column in columns:
        if column.name.lower() in seen:
            raise AnalysisError(f"Duplicate column name '{column.name}'")
        seen.add(column.name.lower())
    return columns


def _options(properties: exp.Expr | None) -> tuple[str | None, Literal["NONE", "INVOKER"] | None]:
    """(comment, security) of CREATE VIEW's options; None where the statement does not say."""
    comment: str | None = None
    security: Literal["NONE", "INVOKER"] | None = None
    for prop in properties.expressions if properties is not None else []:
        if isinstance(prop, exp.SchemaCommentProperty):
            comment = literal_text(prop.this)
        elif isinstance(prop, exp.SqlSecurityProperty):
            given = str(prop.this).upper()
            if given not in ("NONE", "INVOKER"):
                raise AnalysisError(f"Getting syntax error. Detail message: SECURITY {given} is not valid: "
                                    "NONE or INVOKER.")
            security = "INVOKER" if given == "INVOKER" else "NONE"
        elif isinstance(prop, exp.MaterializedProperty):
            raise not_supported("CREATE MATERIALIZED VIEW")
        else:
            raise not_supported(f"'{prop.sql('starrocks')}' in CREATE VIEW")
    return comment, security


def _resolved_body(query: QueryContext, body: exp.Query) -> exp.Query:
    """The query with its unqualified tables placed in the current database, where they resolve now."""
    resolved = body.copy()
    if query.database:
        qualify(resolved, query.database)
    return resolved


def refuse_temporary_tables(query: QueryContext, fe: Frontend, body: exp.Query) -> None:
    """A view cannot read a temporary table: it would outlive it, and other sessions could not read it."""
    with fe.catalog.lock:
        for node in body.find_all(exp.Table):
            db = fe.catalog.state.databases.get(node.db or query.database or "")
            if db is not None and query.session_id and temporary_key(node.name, query.session_id) in db.tables:
                raise AnalysisError("Getting analyzing error. Detail message: View can't base on temporary table.")


def create_view(query: QueryContext, fe: Frontend, statement: exp.Create) -> ResultSet:
    target = statement.this
    named = _named_columns(target)
    db_name, name = table_name(query, target.this if isinstance(target, exp.Schema) else target)
    replace, if_not_exists = bool(statement.args.get("replace")), bool(statement.args.get("exists"))
    comment, security = _options(statement.args.get("properties"))
    fe.catalog.database(db_name)
    body = _resolved_body(query, _body(statement.expression))
    refuse_temporary_tables(query, fe, body)
    columns = _typed_columns(query, fe, body, named)

    def build(catalog: Catalog) -> PutView | None:
        db = catalog.database(db_name)
        existing = db.views.get(name)
        if name in db.tables or (existing is not None and not replace):
            if if_not_exists and name not in db.tables:
                return None
            raise TableExistsError(f"Table '{name}' already exists")
        view = View(id=existing.id if existing is not None else catalog.allocate_ids(1)[0], name=name,
                    definition=body.sql(dialect="starrocks"), columns=columns, explicit_columns=bool(named),
                    comment=comment or "", security=security or "NONE", definer=query.account)
        return PutView(db_id=db.id, view=view)

    fe.commit_if(build)
    return ResultSet.ok()


def _existing_view(catalog: Catalog, db_name: str | None, name: str) -> tuple[Database, View]:
    db = catalog.database(db_name)
    view = db.views.get(name)
    if view is None:
        if name in db.tables:
            raise wrong_object(db.name, name, "VIEW")
        raise UnknownTableError(f"Unknown table '{db.name}.{name}'")
    return db, view


def alter_view(query: QueryContext, fe: Frontend, statement: exp.Alter) -> ResultSet:
    if (statement.args.get("kind") or "").upper() != "VIEW":
        raise not_supported(f"ALTER {statement.args.get('kind') or ''}".strip())
    target = statement.this
    given_names = _named_columns(target)
    db_name, name = table_name(query, target.this if isinstance(target, exp.Schema) else target)
    actions = statement.args.get("actions") or []
    if len(actions) != 1:
        raise not_supported("this ALTER VIEW")
    action = actions[0]
    with fe.catalog.lock:
        _, current = _existing_view(fe.catalog, db_name, name)
    changes: dict[str, object] = {}
    if isinstance(action, exp.AlterSet):
        comment, security = _options(action.expressions[0] if action.expressions else None)
        changes = {key: value for key, value in (("comment", comment), ("security", security)) if value is not None}
    elif isinstance(action, (exp.Query, exp.Subquery)):
        body = _resolved_body(query, _body(action))
        refuse_temporary_tables(query, fe, body)
        named = given_names or (current.columns if current.explicit_columns else [])
        if not given_names and named and len(named) != len(describe_query(query, fe.engine, body)):
            named = []  # a new query with another width keeps none of the old names
        changes = {"definition": body.sql(dialect="starrocks"), "explicit_columns": bool(named),
                   "columns": _typed_columns(query, fe, body, named)}
    else:
        raise not_supported("this ALTER VIEW")

    def build(catalog: Catalog) -> PutView:
        db, view = _existing_view(catalog, db_name, name)
        return PutView(db_id=db.id, view=view.model_copy(update=changes))

    fe.commit(build)
    return ResultSet.ok()


def drop_view(query: QueryContext, fe: Frontend, target: exp.Expression, if_exists: bool,
              materialized: bool = False) -> ResultSet:
    """DROP VIEW; DROP MATERIALIZED VIEW IF EXISTS of nothing does nothing (Cairn has none)."""
    db_name, name = table_name(query, target)

    def build(catalog: Catalog) -> DropView | None:
        db = catalog.database(db_name)
        if name not in db.views and name not in db.tables and if_exists:
            return None
        if materialized:
            raise not_supported("DROP MATERIALIZED VIEW")
        _, view = _existing_view(catalog, db_name, name)
        return DropView(db_id=db.id, view_id=view.id)

    fe.commit_if(build)
    return ResultSet.ok()


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def show_create_view(view: View) -> str:
    """The statement that makes the view again, as StarRocks shows it."""
    columns = ", ".join(_quote(c.name) + (f" COMMENT {_string(c.comment)}" if c.comment else "")
                        for c in view.columns)
    text = f"CREATE VIEW {_quote(view.name)} ({columns})"
    if view.comment:
        text += f" COMMENT {_string(view.comment)}"
    if view.security == "INVOKER":
        text += " SECURITY INVOKER"
    return f"{text} AS {view.definition};"


def view_result(view: View) -> ResultSet:
    """SHOW CREATE VIEW's (and SHOW CREATE TABLE's, for a view) row."""
    return ResultSet.from_rows(["View", "Create View", "character_set_client", "collation_connection"],
                               [(view.name, show_create_view(view), VIEW_CHARSET, VIEW_COLLATION)])


def view_as_table(view: View) -> Table:
    """The view's columns in the shape DESC and SHOW COLUMNS print (no keys, every column nullable)."""
    return Table(id=view.id, name=view.name, partitions=[],
                 columns=[Column(name=c.name, type=c.type, comment=c.comment) for c in view.columns])


def lookup(fe: Frontend, db_name: str | None, name: str, session: str = "") -> tuple[Database, Table | View]:
    """The table or view `db_name`.`name` as `session` sees it (its temporary table of that name
    first); UnknownTableError when it is neither."""
    with fe.catalog.lock:
        db = fe.catalog.database(db_name)
        view = db.views.get(name)
        if view is not None and not (session and temporary_key(name, session) in db.tables):
            return db, view.model_copy(deep=True)
    return fe.catalog.table(db_name, name, session)


def _show_create_view(query: QueryContext, fe: Frontend, statement: exp.Show) -> ResultSet:
    target = statement.args["target"]
    db_node = statement.args.get("db")
    db_name = target.db if isinstance(target, exp.Table) and target.db else (
        db_node.name if db_node is not None else query.database)
    with fe.catalog.lock:
        _, view = _existing_view(fe.catalog, db_name, target.name)
        return view_result(view.model_copy(deep=True))


def _show_create_view_needs(ctx: QueryContext, statement: exp.Show, _virtual: VirtualTables) -> list[Requirement]:
    target = statement.args["target"]
    db_node = statement.args.get("db")
    database = target.db if isinstance(target, exp.Table) and target.db else (
        db_node.name if db_node is not None else ctx.database)
    return [Requirement("ANY", database or "", target.name)]


def view_query_needs(ctx: QueryContext, body: exp.Expr | None, virtual: VirtualTables) -> list[Requirement]:
    """SELECT on what a view's query reads: whoever makes or changes a view must be able to read it."""
    return reads(ctx, _body(body), virtual) if body is not None else []


def alter_needs(ctx: QueryContext, statement: exp.Alter, virtual: VirtualTables) -> list[Requirement]:
    """ALTER on the view or table; a view's new query also needs SELECT on what it reads."""
    target = statement.this
    database, name = table_name(ctx, target.this if isinstance(target, exp.Schema) else target)
    body = next((a for a in statement.args.get("actions") or [] if isinstance(a, (exp.Query, exp.Subquery))), None)
    return [Requirement("ALTER", database or "", name), *view_query_needs(ctx, body, virtual)]


def register(statements: StatementRegistry) -> None:
    """Add this module's statements (CREATE and DROP VIEW go through `cairn.sql.ddl`, ALTER VIEW through
    `cairn.sql.alter_table`)."""
    statements.add_show("CREATE VIEW", _show_create_view, needs=_show_create_view_needs)
