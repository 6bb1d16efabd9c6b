"""Running a query: bind every table it reads at its visible version, then let DuckDB run it.

The sqlglot tree is rewritten in place (table references → bound views, `@@var` → values) and
generated as DuckDB SQL; user SQL is never glued together as text.
"""

from __future__ import annotations

import itertools
import re

import duckdb
import pyarrow as pa
from sqlglot import exp

from cairn.catalog.model import Table
from cairn.catalog.types import mark_json, parse_type
from cairn.errors import (
    AnalysisError,
    CairnError,
    DataError,
    DistributedRefusal,
    NoDatabaseSelectedError,
    QueryInterruptedError,
    SqlSyntaxError,
    UnknownColumnError,
    UnknownPartitionError,
    UnknownTableError,
    UnsupportedError,
)
from cairn.lake.sqltext import create_temp_view, sql
from cairn.query import starrocks_semantics, type_functions
from cairn.query.binding import remove_dual, tables_read
from cairn.query.casts import floating_to_integer_casts_truncate, nested_casts_by_shape
from cairn.query.context import QueryContext
from cairn.query.data_access import PartitionScan, TableScan, column_expressions, empty_relation, no_rows
from cairn.query.decimal_averages import decimal_averages_as_decimals
from cairn.query.decimal_division import decimal_divisions_exact
from cairn.query.engine import QueryEngine
from cairn.query.memory_limit import memory_exceeded
from cairn.query.pruning import PartitionFilter, tablet_indexes
from cairn.query.pushdown import push_aggregate, scan_columns, scan_filters
from cairn.query.result_types import (
    ColumnTypes,
    add_table,
    integer_sums_as_bigint,
    percentiles_of_dates_as_dates,
    string_sums_as_doubles,
)
from cairn.query.rounding import whole_rounds_as_bigint
from cairn.query.variables import get_variable, hinted_variables, query_mem_limit
from cairn.query.views import expand_views

_view_ids = itertools.count(1)


def _variable_literal(ctx: QueryContext, name: str) -> exp.Expr:
    value = get_variable(ctx.variables, name)
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.Literal.number(int(value))
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def user_variable_literal(value: pa.Array) -> exp.Expr:
    """A user variable's value (a one-value Arrow array) as a typed SQL literal.

    Raises UnsupportedError for a value of a nested type (`user_variable_value` binds those)."""
    item, kind = value[0].as_py(), value.type
    if item is None:
        return exp.null()
    if pa.types.is_nested(kind):
        raise UnsupportedError("Getting analyzing error. Detail message: a user variable holding an ARRAY, MAP "
                               "or STRUCT is not supported here yet.")
    if isinstance(item, bool) or isinstance(item, (int, float, str)) and not pa.types.is_decimal(kind):
        return exp.convert(item)
    if pa.types.is_decimal(kind):
        target = exp.DataType.build(f"DECIMAL({kind.precision}, {kind.scale})")
    elif pa.types.is_date(kind):
        target = exp.DataType.build("DATE")
    elif pa.types.is_timestamp(kind):
        target = exp.DataType.build("TIMESTAMP")
    else:
        return exp.Literal.string(str(item))
    return exp.cast(exp.Literal.string(str(item)), target)


_VARIABLE_COLUMN = "v"


def user_variable_value(value: pa.Array, con: duckdb.DuckDBPyConnection | None, in_lambda: bool = False) -> exp.Expr:
    """A user variable's value as the query reads it: a literal, or for an ARRAY, MAP or STRUCT
    (which may hold a million elements, test_array_map_2) the value bound as a one-row relation on
    `con`, read by a scalar subquery, so it is neither printed as SQL nor parsed again. A lambda may
    hold no subquery: there (`in_lambda`) it is read from a DuckDB variable of `con` set from that
    relation (a constant, slower to read: DuckDB copies it per use).

    Raises DistributedRefusal for a nested value without `con` (the distributed engine cannot read
    a value kept on the FE)."""
    if not pa.types.is_nested(value.type) or value[0].as_py() is None:
        return user_variable_literal(value)
    if con is None:
        raise DistributedRefusal("it reads a user variable holding an ARRAY, MAP or STRUCT")
    name = f"__cairn_v{next(_view_ids)}"
    storage = value.storage if isinstance(value, pa.ExtensionArray) else value
    con.register(name, pa.table({_VARIABLE_COLUMN: storage}))
    read = exp.select(exp.column(_VARIABLE_COLUMN)).from_(exp.to_identifier(name, quoted=True)).subquery()
    if not in_lambda:
        return read
    assign = exp.Set(expressions=[exp.SetItem(this=exp.EQ(this=exp.column(name), expression=read), kind="VARIABLE")])
    con.execute(assign.sql(dialect="duckdb"))
    return exp.func("getvariable", exp.Literal.string(name))


def _hinted_user_variables(tree: exp.Expr) -> dict[str, exp.Expr]:
    """The user variables the outermost SELECT's `/*+ set_user_variable(@x = value, ...) */` hints
    set for this query (StarRocks' test_percentile_approx), each a constant: a literal, maybe negated."""
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    hint = select.args.get("hint") if select is not None else None
    values: dict[str, exp.Expr] = {}
    for call in hint.expressions if isinstance(hint, exp.Hint) else []:
        if not isinstance(call, exp.Anonymous) or call.name.lower() != "set_user_variable":
            continue
        for setting in call.expressions:
            value = setting.expression if isinstance(setting, exp.EQ) else None
            literal = value.this if isinstance(value, exp.Neg) else value
            if value is None or not isinstance(setting.this, exp.Parameter) \
                    or not isinstance(literal, (exp.Literal, exp.Null)):
                raise UnsupportedError("Getting analyzing error. Detail message: a set_user_variable hint other "
                                       "than @name = constant is not supported yet.")
            values[setting.this.name.lower()] = value
    return values


def _replace_session_functions(ctx: QueryContext, tree: exp.Expr, con: duckdb.DuckDBPyConnection | None) -> None:
    """Replace @@variables, @user variables (those the query's set_user_variable hints set first) and
    session functions (DATABASE(), USER(), ...) with their values; a user variable holding an ARRAY,
    MAP or STRUCT is bound on `con`."""
    user = ctx.account
    hinted = _hinted_user_variables(tree)
    for node in list(tree.find_all(exp.SessionParameter, exp.Parameter, exp.CurrentSchema, exp.CurrentUser,
                                   exp.CurrentVersion, exp.Anonymous)):
        if node.find_ancestor(exp.Hint) is not None:
            continue
        if isinstance(node, exp.Parameter) and node.name.lower() in hinted:
            shown, value = f"@{node.name}", hinted[node.name.lower()].copy()
        elif isinstance(node, exp.Parameter):
            # @x: a user variable; one never set is NULL, as in StarRocks and MySQL.
            stored = ctx.user_variables.get(node.name.lower())
            in_lambda = node.find_ancestor(exp.Lambda) is not None
            shown = f"@{node.name}"
            value = exp.null() if stored is None else user_variable_value(stored, con, in_lambda)
        elif isinstance(node, exp.SessionParameter):
            kind = node.args.get("kind")
            shown = f"@@{kind + '.' if kind else ''}{node.name}"
            value = _variable_literal(ctx, node.name)
        elif isinstance(node, exp.CurrentSchema):
            shown, value = "DATABASE()", (exp.Literal.string(ctx.database) if ctx.database else exp.null())
        elif isinstance(node, exp.CurrentUser):
            shown, value = "CURRENT_USER()", exp.Literal.string(user)
        elif isinstance(node, exp.CurrentVersion):
            shown, value = "VERSION()", _variable_literal(ctx, "version")
        elif node.name.lower() == "user":
            shown, value = "USER()", exp.Literal.string(user)
        elif node.name.lower() == "connection_id":
            shown, value = "CONNECTION_ID()", exp.Literal.number(ctx.connection_id)
        elif node.name.lower() == "session_id":
            shown, value = "SESSION_ID()", exp.Literal.string(ctx.session_id)
        else:
            continue
        if isinstance(node.parent, exp.Select) and node.arg_key == "expressions":
            value = exp.alias_(value, shown, quoted=True)
        node.replace(value)


def _unwrap_table_functions(tree: exp.Expr) -> None:
    """StarRocks writes table functions as TABLE(f(...)); DuckDB calls them directly."""
    for node in list(tree.find_all(exp.TableFromRows)):
        node.replace(exp.Table(this=node.this, alias=node.args.get("alias")))


def _type_name(text: str) -> str:
    """A column's type as `ColumnTypes` holds it: its name, and a DECIMAL's precision and scale, an
    ARRAY's element type."""
    kind = parse_type(text)
    return kind.text if kind.name in ("DECIMAL", "ARRAY") else kind.name


def bind_tables(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr, con: duckdb.DuckDBPyConnection,
                pinned: list[str], scans: dict[str, TableScan] | None = None,
                column_types: ColumnTypes | None = None, planned: list[TableScan] | None = None,
                read_rows: bool = True) -> dict[str, str]:
    """Bind every table `tree` reads (`tables_read`, once its logical views are expanded) as a view
    on `con` and point the tree at those views.

    Returns view name → 'db.table' (to put user-facing names back into error messages); adds the
    object keys read to `pinned`. Raises UnknownTableError for a table that does not exist and
    TableFunctionError for a table function Cairn does not define. With `scans` (for the
    distributed engine) each table is bound with no rows, its pruned scan kept in `scans` under the
    view's name, and no data is read; a virtual table is then refused (DistributedRefusal). With
    `column_types`, each Cairn table's column types are added to it under the name the query gives it.
    With `planned` (EXPLAIN), each Cairn table's scan, planned as running the query plans it, is
    appended to it; with `read_rows` False each is then bound with no rows, and no data is read.
    """
    expand_views(ctx, engine.catalog, engine.virtual_tables, tree)
    remove_dual(tree)
    views: dict[str, str] = {}
    qualified: dict[tuple[str, str], str] = {}
    for read in tables_read(ctx, tree, engine.virtual_tables):
        node, schema = read.node, read.database
        view = f"__cairn_t{next(_view_ids)}"
        provider = engine.virtual_tables.find(schema, node.name)
        scan: TableScan | None = None
        if provider is not None:
            if scans is not None:
                raise DistributedRefusal(f"it reads the system table {schema}.{node.name}")
            con.register(view, provider(ctx, engine.catalog))
            views[view] = f"{schema}.{node.name}"
        elif scans is not None:
            scan = scans[view] = _table_scan(engine, node, schema, pinned, pushdown=False, session=ctx.session_id)
            con.execute(sql(create_temp_view(view, exp.select(*column_expressions(scan.table)).from_(
                empty_relation(scan.table).subquery("__empty")))))
            views[view] = f"{schema}.{scan.table.name}"
        else:
            scan = _table_scan(engine, node, schema, pinned, session=ctx.session_id)
            if planned is not None:
                planned.append(scan)
            if read_rows:
                pinned.extend(engine.access.bind(con, view, scan))
            else:
                con.execute(sql(create_temp_view(view, no_rows(scan))))
            views[view] = f"{schema}.{scan.table.name}"
        alias = node.alias or node.name
        renamed = node.args["alias"].columns if isinstance(node.args.get("alias"), exp.TableAlias) else []
        if column_types is not None and scan is not None and not renamed:
            add_table(column_types, alias, {c.name.lower(): _type_name(c.type) for c in scan.table.columns})
        qualified[((schema or "").lower(), node.name.lower())] = alias
        node.replace(exp.Table(this=exp.to_identifier(view, quoted=True),
                               alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True), columns=renamed)))
    # Columns written as db.table.column refer to the table's alias now; db.table.column.field
    # (test_uppercase) is that column's field.
    for column in list(tree.find_all(exp.Column)):
        catalog = column.args.get("catalog")
        if catalog is not None:
            table_alias = qualified.get((catalog.name.lower(), column.args["db"].name.lower()))
            if table_alias is not None:
                own = exp.column(column.args["table"].copy(), table=exp.to_identifier(table_alias, quoted=True))
                column.replace(exp.Dot(this=own, expression=column.this.copy()))
            continue
        if column.args.get("db") is not None:
            table_alias = qualified.get((column.args["db"].name.lower(), column.table.lower()))
            if table_alias is not None:
                column.set("db", None)
                column.set("table", exp.to_identifier(table_alias, quoted=True))
    return views


def _named_partitions(node: exp.Table, table: Table) -> set[str] | None:
    """The partitions `FROM t PARTITION (p1, p2)` names (None: every partition).

    Raises UnknownPartitionError for a name the table does not have."""
    clause = node.args.get("partition")
    if clause is None:
        return None
    names = {e.name for e in clause.expressions}
    missing = sorted(n for n in names if table.partition(n) is None)
    if missing:
        raise UnknownPartitionError(f"Unknown partition '{missing[0]}' in table '{table.name}'")
    return names


def _table_scan(engine: QueryEngine, node: exp.Table, schema: str | None, pinned: list[str],
                pushdown: bool = True, session: str = "") -> TableScan:
    access = engine.access
    catalog = engine.catalog
    with catalog.lock:
        if not schema:
            raise NoDatabaseSelectedError("No database selected")
        if engine.virtual_tables.is_virtual_schema(schema):  # a table information_schema does not have
            raise UnknownTableError(f"Table '{schema}.{node.name}' doesn't exist")
        db, table = catalog.table(schema, node.name, session)
        table = table.model_copy(deep=True)
        # Pinned under the catalog lock, so vacuum either sees the pin or sees these versions visible.
        pinned.extend(access.pin([p.manifest_key for p in table.partitions if p.manifest_key]))
    pruning = PartitionFilter(table)
    buckets = None
    select = node.parent_select
    alias = node.args.get("alias")
    # `FROM t AS x(a, b)` renames the columns: conditions on x.a are not on t's column a, so the
    # scan is neither pruned nor narrowed by them.
    renamed = isinstance(alias, exp.TableAlias) and bool(alias.columns)
    if not renamed and select is not None and isinstance(node.parent, (exp.From, exp.Join)):
        names = {node.name.lower(), (node.alias or node.name).lower()}
        pruning.add(select.args.get("where"), names)
        buckets = tablet_indexes(table, select.args.get("where"), names)
    chosen = _named_partitions(node, table)
    partitions = [PartitionScan(p.id, p.visible_version, p.manifest_key,
                                None if buckets is None else frozenset(p.tablet_ids[b] for b in buckets))
                  for p in table.partitions if pruning.keeps(p) and (chosen is None or p.name in chosen)]
    scan = TableScan(table=table, store=engine.stores(db.storage_volume), partitions=partitions)
    if not renamed and pushdown:
        scan.columns, scan.filters = scan_columns(node, table), scan_filters(node, table)
        if access.splits_work():
            scan.aggregate = push_aggregate(node, table)
    return scan


_VIEW_NAME = re.compile(r'"?__cairn_t\d+"?')
_DECIMAL_SCALE_OVERFLOW = re.compile(r"Needed scale (\d+) to accurately represent .* Max scale is (\d+)", re.DOTALL)
_ORDER_TERM_OUT_OF_RANGE = re.compile(r"ORDER term out of range - should be between 1 and (\d+)")


def _order_position_error(text: str, tree: exp.Expr | None) -> CairnError | None:
    """DuckDB's 'ORDER term out of range' as StarRocks words it, naming the position (which DuckDB's
    message leaves out; it is read from the query)."""
    columns = _ORDER_TERM_OUT_OF_RANGE.search(text)
    if columns is None or tree is None:
        return None
    for order in tree.find_all(exp.Order):
        for ordered in order.expressions:
            key = ordered.this
            if isinstance(key, exp.Literal) and not key.is_string and key.name.isdigit() \
                    and not 1 <= int(key.name) <= int(columns.group(1)):
                return AnalysisError(f"Getting analyzing error. Detail message: ORDER BY position {key.name} "
                                     "is not in select list.")
    return None


def _user_error(exc: duckdb.Error, views: dict[str, str], tree: exp.Expr | None = None) -> CairnError:
    """A DuckDB error as the user should see it: Cairn's error type, table names not view names
    (`tree`, the query as the user wrote it, words a few errors as StarRocks does)."""
    text = str(exc).split("\n\nLINE")[0].split("\nLINE")[0]
    text = _VIEW_NAME.sub(lambda m: views.get(m.group(0).strip('"'), "table"), text)
    text = re.sub(r"^[A-Za-z ]+ Error: ", "", text)
    # DuckDB's advice to change one of its own settings means nothing to a Cairn user.
    text = re.sub(r'\s*Use "SET [^"]*"[^\n]*', "", text).strip()
    if isinstance(exc, duckdb.BinderException):
        position = _order_position_error(text, tree)
        if position is not None:
            return position
        column = re.search(r'column "?([^"\s]+)"? not found', text, re.IGNORECASE)
        if column or "Referenced column" in text:
            name = column.group(1) if column else text
            return UnknownColumnError(f"Unknown column '{name}' in 'field list'")
        return AnalysisError(f"Getting analyzing error. Detail message: {text}.")
    if isinstance(exc, duckdb.ParserException):
        return SqlSyntaxError(f"Getting syntax error. Detail message: {text}.")
    scale = _DECIMAL_SCALE_OVERFLOW.match(text)
    if scale:
        # StarRocks refuses a decimal result type whose scale it cannot hold when it analyzes the query.
        return AnalysisError(f"Getting analyzing error. Detail message: Return scale({scale.group(1)}) exceeds "
                             f"maximum value({scale.group(2)}), please cast decimal type to low-precision one.")
    if isinstance(exc, (duckdb.ConversionException, duckdb.OutOfRangeException, duckdb.InvalidInputException)):
        return DataError(text)
    if isinstance(exc, duckdb.CatalogException):
        return AnalysisError(f"Getting analyzing error. Detail message: {text}.")
    return CairnError(text)


def _session_semantics(ctx: QueryContext, tree: exp.Expr) -> None:
    """The rewrites the session's variables, or the query's SET_VAR hints, ask for (sql_mode's
    MODE_DOUBLE_LITERAL, GROUP_CONCAT_LEGACY and ALLOW_THROW_EXCEPTION)."""
    variables = hinted_variables(tree, ctx.variables)
    if starrocks_semantics.sql_mode_has(variables, "MODE_DOUBLE_LITERAL"):
        starrocks_semantics.decimal_literals_as_double(tree)
    if starrocks_semantics.sql_mode_has(variables, "GROUP_CONCAT_LEGACY"):
        starrocks_semantics.group_concat_legacy(tree)
    type_functions.literal_maps_with_null_keys(
        tree, throw=starrocks_semantics.sql_mode_has(variables, "ALLOW_THROW_EXCEPTION"))


def _overflow_fails(ctx: QueryContext, tree: exp.Expr) -> bool:
    """Whether the sql_mode (the session's, or the query's SET_VAR hint's) has ERROR_IF_OVERFLOW: a
    DECIMAL overflow fails the statement instead of being NULL."""
    return starrocks_semantics.sql_mode_has(hinted_variables(tree, ctx.variables), "ERROR_IF_OVERFLOW")


def prepare_tree(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr, con: duckdb.DuckDBPyConnection,
                 pinned: list[str], planned: list[TableScan] | None = None,
                 read_rows: bool = True) -> tuple[exp.Expr, dict[str, str]]:
    """Bind the query's tables on `con` and return the query as DuckDB runs it (and the view names
    bound). The keys read are added to `pinned`; the caller releases them when the statement ends.
    `planned` and `read_rows` are `bind_tables`' (EXPLAIN)."""
    tree = tree.copy()
    # Views first: their queries get the same semantics and session values as the statement.
    expand_views(ctx, engine.catalog, engine.virtual_tables, tree)
    _session_semantics(ctx, tree)
    starrocks_semantics.apply(tree)
    _replace_session_functions(ctx, tree, con)
    _unwrap_table_functions(tree)
    column_types: ColumnTypes = {}
    views = bind_tables(ctx, engine, tree, con, pinned, column_types=column_types, planned=planned,
                        read_rows=read_rows)
    string_sums_as_doubles(tree, column_types)
    integer_sums_as_bigint(tree, column_types)
    percentiles_of_dates_as_dates(tree, column_types)
    decimal_divisions_exact(tree, column_types, _overflow_fails(ctx, tree))
    decimal_averages_as_decimals(tree, column_types)
    whole_rounds_as_bigint(tree, column_types)
    floating_to_integer_casts_truncate(tree, column_types)
    nested_casts_by_shape(tree, column_types)
    type_functions.integer_arrays_meet_string_arrays_as_strings(tree, column_types)
    type_functions.refuse_flattening_flat_arrays(tree, column_types)
    return tree, views


def prepare_for_engine(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr, con: duckdb.DuckDBPyConnection,
                       pinned: list[str]) -> tuple[exp.Expr, exp.Expr, dict[str, TableScan], ColumnTypes]:
    """The query as the distributed engine runs it (views expanded, session values in, tables named
    by view names, none of the DuckDB-only rewrites of `starrocks_semantics`), the same query as
    DuckDB would run it over the tables bound with no rows on `con` (to learn the answer's column
    names and types), the scan of each table and the bound tables' column types. The manifests read
    are added to `pinned`."""
    tree = tree.copy()
    expand_views(ctx, engine.catalog, engine.virtual_tables, tree)
    _replace_session_functions(ctx, tree, None)
    _unwrap_table_functions(tree)
    scans: dict[str, TableScan] = {}
    column_types: ColumnTypes = {}
    bind_tables(ctx, engine, tree, con, pinned, scans, column_types)
    _session_semantics(ctx, tree)
    reference = tree.copy()
    starrocks_semantics.apply(reference)
    string_sums_as_doubles(reference, column_types)
    integer_sums_as_bigint(reference, column_types)
    percentiles_of_dates_as_dates(reference, column_types)
    decimal_divisions_exact(reference, column_types, _overflow_fails(ctx, reference))
    decimal_averages_as_decimals(reference, column_types)
    whole_rounds_as_bigint(reference, column_types)
    floating_to_integer_casts_truncate(reference, column_types)
    nested_casts_by_shape(reference, column_types)
    type_functions.integer_arrays_meet_string_arrays_as_strings(reference, column_types)
    type_functions.refuse_flattening_flat_arrays(reference, column_types)
    return tree, reference, scans, column_types


def prepare(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr, con: duckdb.DuckDBPyConnection,
            pinned: list[str]) -> tuple[str, dict[str, str]]:
    """`prepare_tree`, rendered as DuckDB SQL."""
    prepared, views = prepare_tree(ctx, engine, tree, con, pinned)
    return prepared.sql(dialect="duckdb"), views


def run_query(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr) -> pa.Table:
    """Run a SELECT (or set operation) and return its rows, within the session's
    `query_mem_limit` (its own DuckDB database then, bounded so)."""
    limit = query_mem_limit(ctx.variables)
    con = engine.duckdb.cursor(memory_limit=limit)
    pinned: list[str] = []
    views: dict[str, str] = {}
    try:
        try:
            sql, views = prepare(ctx, engine, tree, con, pinned)
            with ctx.cancel.running(con):
                relation = con.sql(sql)
                return mark_json(relation.to_arrow_table(), [str(t) for t in relation.types])
        except duckdb.OutOfMemoryException as exc:
            if ctx.cancel.cancelled:
                raise QueryInterruptedError(ctx.cancel.message) from None
            raise memory_exceeded(f"Query{ctx.connection_id}", "the FE (embedded)", limit,
                                  str(exc).splitlines()[0]) from None
        except duckdb.Error as exc:
            if ctx.cancel.cancelled:
                raise QueryInterruptedError(ctx.cancel.message) from None
            raise _user_error(exc, views, tree) from None
    finally:
        engine.access.release(pinned)
        con.close()


def describe_query(ctx: QueryContext, engine: QueryEngine, tree: exp.Expr) -> list[tuple[str, str]]:
    """The (name, DuckDB type) of each column the query returns, found without running it.

    Raises what running it would raise for a table, column or function it cannot resolve."""
    con = engine.duckdb.cursor()
    pinned: list[str] = []
    views: dict[str, str] = {}
    try:
        try:
            sql, views = prepare(ctx, engine, tree, con, pinned)
            relation = con.sql(sql)
            return [(name, str(kind)) for name, kind in zip(relation.columns, relation.types)]
        except duckdb.Error as exc:
            raise _user_error(exc, views, tree) from None
    finally:
        engine.access.release(pinned)
        con.close()
