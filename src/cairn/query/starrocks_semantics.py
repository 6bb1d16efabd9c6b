"""Rewrites that make DuckDB answer as StarRocks does where the two differ.

Each rewrite works on the sqlglot tree of a query before it is generated as DuckDB SQL, and
names the StarRocks behaviour it reproduces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlglot import exp

from cairn.errors import AnalysisError, SqlSyntaxError, UnsupportedError
from cairn.query import (
    aggregate_functions,
    date_functions,
    hash_functions,
    session_number,
    string_functions,
    type_functions,
)
from cairn.query.calls import depth
from cairn.query.derived_columns import volatile_window_orders_computed_below
from cairn.query.variables import get_variable

_FLOATING = (exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE)


def _bool_or_counts_null_rows_as_false(tree: exp.Expr) -> None:
    """StarRocks' bool_or over a non-empty input of only NULLs is false (0), not NULL.

    (StarRocks' test_bool_or: `bool_or(null)` over 40960 rows answers 0; over no rows, NULL.)
    Treating each NULL input as false gives exactly that, for aggregates and windows alike.
    """
    for node in list(tree.find_all(exp.LogicalOr)):
        argument = node.this
        node.set("this", exp.func("coalesce", exp.cast(argument, exp.DataType.Type.BOOLEAN), exp.false()))


def _nan_and_infinity_casts_are_null(tree: exp.Expr) -> None:
    """StarRocks casts 'NaN', 'Infinity' and '-Infinity' to FLOAT / DOUBLE as NULL.

    (StarRocks' test_invalid_floating_point_number.) DuckDB parses them as IEEE values, so a cast
    to a floating type keeps only finite results.
    """
    casts = [c for c in tree.find_all(exp.Cast) if c.to.this in _FLOATING]
    for cast in sorted(casts, key=depth, reverse=True):
        finite = exp.func("isfinite", cast.copy())
        guarded = exp.Case(ifs=[exp.If(this=finite, true=cast.copy())])
        cast.replace(guarded)


def _source_names(select: exp.Select) -> set[str]:
    names = set()
    for table in select.find_all(exp.Table):
        if table.parent_select is select:
            names.add((table.alias or table.name).lower())
    return names


def _sides(node: exp.Expr, inner: set[str]) -> set[str] | None:
    """Which query a node's columns belong to: {"inner"}, {"outer"}, both, or None when a column
    names no table (which query it belongs to is not known before binding)."""
    found: set[str] = set()
    for column in node.find_all(exp.Column):
        if not column.table:
            return None
        found.add("inner" if column.table.lower() in inner else "outer")
    return found


def _conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    if node is None:
        return []
    return list(node.flatten()) if isinstance(node, exp.And) else [node]


def _filters_rows(node: exp.Expr) -> bool:
    """Whether `node` is a WHERE clause's condition or one of its AND-ed parts, where NULL and false
    both drop the row."""
    while isinstance(node.parent, (exp.And, exp.Paren)):
        node = node.parent
    return isinstance(node.parent, exp.Where)


def _null_aware_anti_join(node: exp.Not) -> exp.Expr | None:
    """`a NOT IN (SELECT b FROM ... WHERE o = b AND rest)`, the correlation comparing an outer
    expression o with the very value b the subquery returns, filtering rows as StarRocks does: each
    such `o = b` is a key of its null-aware anti join as `a = b` is, so an outer row is dropped when an
    inner row meets `rest` and no key is false for it (a NULL on either side is not false).
    (StarRocks' test_not_in: `x1.v2 NOT IN (SELECT x2.v2 FROM t0 x2 WHERE x1.v3 = x2.v2)` drops the
    rows whose v3 is NULL, where the standard finds no inner row and keeps them; a correlation on
    another column is the standard's, test_null_aware_anti_join.) None for any other shape."""
    query = node.this.args.get("query")
    select = query.this if isinstance(query, exp.Subquery) else None
    if not isinstance(select, exp.Select) or len(select.expressions) != 1 or any(
            select.args.get(k) for k in ("group", "having", "limit", "offset", "qualify", "windows")) \
            or select.find(exp.AggFunc, exp.Window) is not None:
        return None
    inner = _source_names(select) | {s.alias.lower() for s in select.find_all(exp.Subquery)
                                     if s.parent_select is select and s.alias}
    value = select.expressions[0]
    value = value.this if isinstance(value, exp.Alias) else value
    keys: list[tuple[exp.Expr, exp.Expr]] = [(node.this.this, value)]
    rest: list[exp.Expr] = []
    for conjunct in _conjuncts(select.args["where"].this if select.args.get("where") else None):
        if _sides(conjunct, inner) is None or conjunct.find(exp.Select) is not None:
            return None
        if isinstance(conjunct, exp.EQ):
            pair = (conjunct.this, conjunct.expression)
            for outer, returned in (pair, pair[::-1]):
                if returned == value and _sides(outer, inner) == {"outer"}:
                    keys.append((outer, returned))
                    break
            else:
                rest.append(conjunct)
            continue
        rest.append(conjunct)
    if len(keys) == 1:
        return None
    not_false = [exp.Not(this=exp.Is(this=exp.Paren(this=exp.EQ(this=o.copy(), expression=i.copy())),
                                     expression=exp.false())) for o, i in keys]
    probe = select.copy()
    probe.set("expressions", [exp.Literal.number(1)])
    probe.set("order", None)
    probe.set("distinct", None)
    probe.set("where", exp.Where(this=exp.and_(*[c.copy() for c in rest], *not_false)))
    return exp.Not(this=exp.Exists(this=probe))


def _not_in_as_null_aware_anti_join(tree: exp.Expr) -> None:
    """Each NOT IN that filters rows and is correlated on the value its subquery returns, run as
    StarRocks' null-aware anti join (`_null_aware_anti_join`); innermost first."""
    for node in sorted(tree.find_all(exp.Not), key=depth, reverse=True):
        if isinstance(node.this, exp.In) and node.this.args.get("query") is not None and _filters_rows(node):
            replacement = _null_aware_anti_join(node)
            if replacement is not None:
                node.replace(replacement)


def _refuse_not_in_correlated_on_its_output(tree: exp.Expr) -> None:
    """Refuse `x NOT IN (SELECT t.c FROM t WHERE outer.y = t.c)` where it does not filter rows (its
    value is selected, say), and an IN subquery's value whose correlation reads several outer columns.

    Filtering rows, such a NOT IN is StarRocks' null-aware anti join (`_null_aware_anti_join`); as a
    value, StarRocks' answer for an outer row whose correlated column is NULL is not known, so Cairn
    refuses the shape rather than give the standard's answer (an empty subquery: true). An IN
    subquery's value whose correlation reads two outer columns (`x1.v3 = x2.v3 + x1.v2`) is
    StarRocks' analysis error (test_not_in).
    """
    for node in tree.find_all(exp.In):
        query = node.args.get("query")
        if query is None or not isinstance(query.this, exp.Select) or _filters_rows(
                node.parent if isinstance(node.parent, exp.Not) else node):
            continue
        select = query.this
        inner = _source_names(select)
        where = select.args.get("where")
        for conjunct in _conjuncts(where.this if where is not None else None):
            outer = {(c.table.lower(), c.name.lower()) for c in conjunct.find_all(exp.Column)
                     if c.table and c.table.lower() not in inner}
            if len(outer) > 1:
                raise AnalysisError("Getting analyzing error. Detail message: IN subquery not supported the "
                                    "correlation predicate of the WHERE clause that used multiple outer-table "
                                    "columns at the same time.")
        if not isinstance(node.parent, exp.Not):
            continue
        outputs = {(c.table.lower(), c.name.lower()) for c in select.expressions if isinstance(c, exp.Column)}
        for eq in where.find_all(exp.EQ) if where is not None else []:
            sides = [eq.this, eq.expression]
            if not all(isinstance(side, exp.Column) and side.table for side in sides):
                continue
            keys = [(side.table.lower(), side.name.lower()) for side in sides]
            if any(k in outputs for k in keys) and any(k[0] not in inner for k in keys):
                raise UnsupportedError(
                    "Getting analyzing error. Detail message: NOT IN over a subquery correlated on the column "
                    f"it returns ({eq.sql('starrocks')}) is not supported yet.")


def _refuse_tablet_clause(tree: exp.Expr) -> None:
    """Refuse `FROM t TABLET (id, ...)`: sqlglot reads it as the alias `tablet` with numeric column
    names, which would read every tablet."""
    for table in tree.find_all(exp.Table):
        alias = table.args.get("alias")
        if isinstance(alias, exp.TableAlias) and any(not c.quoted and c.name.isdigit() for c in alias.columns):
            raise UnsupportedError(f"Getting analyzing error. Detail message: {alias.name.upper()} (...) "
                                   "after a table name is not supported yet.")


# Where a row's fields meet a STRUCT's by position: comparisons, IN lists, casts and the array
# functions that look for elements (a row there may be inside an array literal).
_POSITIONAL_CONTEXTS = (exp.EQ, exp.NEQ, exp.NullSafeEQ, exp.NullSafeNEQ, exp.LT, exp.LTE, exp.GT, exp.GTE,
                        exp.In, exp.Cast, exp.TryCast, exp.ArrayContains, exp.ArrayContainsAll, exp.ArrayPosition,
                        exp.ArrayRemove)
_SEARCHING_CALLS = frozenset({"array_contains_seq", "arrays_overlap"})


def _meets_a_struct_by_position(node: exp.Expr) -> bool:
    parent = node.parent
    if isinstance(parent, exp.Array):
        parent = parent.parent
    return isinstance(parent, _POSITIONAL_CONTEXTS) or (
        isinstance(parent, exp.Anonymous) and parent.name.lower() in _SEARCHING_CALLS)


def _structs_as_starrocks_builds_them(tree: exp.Expr, *, named_rows: bool = True) -> None:
    """`row(a, b)` and `struct(a, b)` are STRUCTs with fields col1, col2 and `named_struct('f', v, ...)`
    one with the given names, as in StarRocks (test_array: `[row(1,2,3)]` prints `[{"col1":1,...}]`;
    test_struct: `struct(v1,v2,v3)` prints `{"col1":...}`)."""
    for node in list(tree.find_all(exp.Anonymous, exp.Struct)):
        name, args = node.name.lower(), node.expressions
        # Compared with or cast to a STRUCT, a row's fields match by position (test_prune:
        # `a2[1] = row(1, 13)` for a STRUCT<a, b>), as DuckDB matches an unnamed row's.
        by_position = not named_rows or _meets_a_struct_by_position(node)
        if isinstance(node, exp.Struct):
            if not args or any(isinstance(a, (exp.PropertyEQ, exp.Alias)) for a in args):
                continue
            if by_position:
                node.replace(exp.func("row", *args))
                continue
            fields = [(f"col{i}", value) for i, value in enumerate(args, 1)]
        elif name == "row" and not by_position:
            fields = [(f"col{i}", value) for i, value in enumerate(args, 1)]
        elif name == "named_struct" and len(args) % 2 == 0 and all(
                isinstance(k, exp.Literal) and k.is_string for k in args[::2]):
            fields = [(key.this, value) for key, value in zip(args[::2], args[1::2])]
        else:
            continue
        node.replace(exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(field, quoted=True), expression=value)
                                             for field, value in fields]))


def _struct_fields_by_position(tree: exp.Expr) -> None:
    """`named_struct('a', x, 'b', y)[1]` is the struct's first field (test_struct); DuckDB indexes
    only unnamed structs with `[n]`, a named one with struct_extract_at."""
    for node in list(tree.find_all(exp.Bracket)):
        index = node.expressions[0] if len(node.expressions) == 1 else None
        if not isinstance(node.this, exp.Struct) or not isinstance(index, exp.Literal) or index.is_string:
            continue
        # sqlglot keeps StarRocks' 1-based index 0-based unless the bracket says otherwise.
        position = int(index.name) + (0 if node.args.get("offset") else 1)
        node.replace(exp.func("struct_extract_at", node.this.copy(), exp.Literal.number(position)))


def _refuse_any_value_over_a_window(tree: exp.Expr) -> None:
    """any_value(x) OVER (...) is refused, as StarRocks refuses it (test_any_value)."""
    for node in tree.find_all(exp.Window):
        if isinstance(node.this, exp.AnyValue):
            raise AnalysisError("Getting analyzing error. Detail message: any_value is not supported with OVER clause.")


def _group_concat_orders_by_argument_position(tree: exp.Expr) -> None:
    """In `group_concat(a, b ORDER BY 1, 2)` the numbers are argument positions (StarRocks'
    test_group_concat), not constants: DuckDB would not sort at all. A position past the arguments is
    StarRocks' syntax error."""
    for node in tree.find_all(exp.GroupConcat):
        order = node.this
        if not isinstance(order, exp.Order):
            continue
        value = order.this.expressions[0] if isinstance(order.this, exp.Distinct) else order.this
        arguments = value.expressions if isinstance(value, exp.Concat) else [value]
        for ordered in order.expressions:
            key = ordered.this
            if isinstance(key, exp.Literal) and not key.is_string and key.name.isdigit():
                if not 1 <= int(key.name) <= len(arguments):
                    raise SqlSyntaxError(f"Getting syntax error. Detail message: ORDER BY position {key.name} "
                                         "is not in group_concat output list.")
                key.replace(arguments[int(key.name) - 1].copy())


def _order_by_reads_aggregate_aliases(tree: exp.Expr) -> None:
    """In an aggregating SELECT, a name in ORDER BY outside any aggregate that is the alias of an
    aggregate output (`min(v1) v1 ... ORDER BY abs(min(v1)) + abs(v1)`) is that output, as in
    StarRocks (test_orderby_agg); DuckDB reads it as the table's column, which is not grouped. A name
    that is also a GROUP BY key keeps its meaning."""
    for select in list(tree.find_all(exp.Select)):
        order = select.args.get("order")
        if order is None:
            continue
        outputs = {e.alias.lower(): e.this for e in select.expressions
                   if isinstance(e, exp.Alias) and e.this.find(exp.AggFunc) is not None}
        group = select.args.get("group")
        keys = {k.name.lower() for k in (group.expressions if group is not None else []) if isinstance(k, exp.Column)}
        for column in list(order.find_all(exp.Column)):
            name = column.name.lower()
            if column.table or name not in outputs or name in keys or column.find_ancestor(exp.AggFunc) is not None:
                continue
            if isinstance(column.parent, exp.Ordered):
                continue  # a whole ORDER BY item: DuckDB reads the alias itself
            column.replace(exp.Paren(this=outputs[name].copy()))


def _failed_casts_of_literals_are_null(tree: exp.Expr) -> None:
    """A CAST of a literal that fails is NULL in StarRocks (test_cast_string_to_int: `cast('-' as
    tinyint)`), where DuckDB fails the statement. A cast of a column's value that fails still fails
    the statement (Cairn's CREATE TABLE ... AS SELECT relies on that error)."""
    for cast in list(tree.find_all(exp.Cast)):
        value = cast.this.this if isinstance(cast.this, exp.Neg) else cast.this
        if type(cast) is exp.Cast and isinstance(value, exp.Literal):
            cast.replace(exp.TryCast(this=cast.this.copy(), to=cast.to.copy()))


def _values_columns_named_as_starrocks_names_them(tree: exp.Expr) -> None:
    """`(VALUES (1, 2)) t` without column names has the columns column_0, column_1, ... in StarRocks
    (test_always_null_statistic_funcs: `select column_0 from (values (1), (2)) t`); DuckDB names them
    col0, col1."""
    for node in tree.find_all(exp.Values):
        alias = node.args.get("alias")
        first = node.expressions[0] if node.expressions else None
        if not isinstance(first, exp.Tuple) or isinstance(alias, exp.TableAlias) and alias.columns:
            continue
        names = [exp.to_identifier(f"column_{i}") for i in range(len(first.expressions))]
        if isinstance(alias, exp.TableAlias):
            alias.set("columns", names)
        elif isinstance(node.parent, (exp.From, exp.Join, exp.Subquery)):
            node.set("alias", exp.TableAlias(this=exp.to_identifier("__cairn_values"), columns=names))


def _corr_of_no_spread_is_null(tree: exp.Expr) -> None:
    """corr over rows where a side does not vary (one row, say) is NULL in StarRocks
    (test_always_null_statistic_funcs), NaN in DuckDB."""
    for node in sorted(tree.find_all(exp.Corr), key=depth, reverse=True):
        outer: exp.Expr = node
        while isinstance(outer.parent, (exp.Window, exp.Filter)) and outer.arg_key == "this":
            outer = outer.parent
        value = outer.copy()
        guarded: exp.Expr = exp.Case(ifs=[exp.If(this=exp.Not(this=exp.func("isnan", value.copy())), true=value)])
        if isinstance(outer.parent, exp.Select) and outer.arg_key == "expressions":
            guarded = exp.alias_(guarded, outer.sql(dialect="starrocks").lower(), quoted=True)
        outer.replace(guarded)


def decimal_literals_as_double(tree: exp.Expr) -> None:
    """Under StarRocks' sql_mode MODE_DOUBLE_LITERAL a number literal with a point or an exponent
    is a DOUBLE, not a DECIMAL (test_number's test_sr_8425: a product whose DECIMAL scale would
    exceed 38 is computed in DOUBLE instead of refused)."""
    for literal in list(tree.find_all(exp.Literal)):
        if not literal.is_string and any(c in literal.name for c in ".eE"):
            literal.replace(exp.cast(literal.copy(), exp.DataType.Type.DOUBLE))


# StarRocks' SqlModeHelper bits of the modes Cairn reads, for a sql_mode set as a number.
_SQL_MODE_BITS = {"MODE_DOUBLE_LITERAL": 1 << 17, "GROUP_CONCAT_LEGACY": 1 << 36}


def sql_mode_has(variables: Mapping[str, Any], mode: str) -> bool:
    """Whether the session's sql_mode (a comma-separated list of names, any case, or StarRocks'
    number of bits) names `mode`."""
    value = get_variable(variables, "sql_mode")
    text = str(value or "").strip()
    if text.isdigit():
        return bool(int(text) & _SQL_MODE_BITS.get(mode, 0))
    return mode in {name.strip().upper() for name in text.split(",")}


def group_concat_legacy(tree: exp.Expr) -> None:
    """Under sql_mode GROUP_CONCAT_LEGACY, `group_concat(x)` joins with ', ' and `group_concat(x, s)`
    joins x with the separator s, as StarRocks reads them (testLegacyGroupConcat); with SEPARATOR
    written, the call means what it means otherwise."""
    for node in tree.find_all(exp.GroupConcat):
        if node.args.get("separator") is not None:
            continue
        order = node.this if isinstance(node.this, exp.Order) else None
        holder = order if order is not None else node
        value = holder.this.expressions[0] if isinstance(holder.this, exp.Distinct) else holder.this
        arguments = value.expressions if isinstance(value, exp.Concat) else [value]
        if len(arguments) == 1:
            node.set("separator", exp.Literal.string(", "))
        elif len(arguments) == 2:
            value.replace(arguments[0].copy())
            node.set("separator", arguments[1].copy())


def apply_to_values(tree: exp.Expr) -> None:
    """The rewrites for the rows of INSERT ... VALUES. A `row(...)` stays a struct without field
    names there, which DuckDB casts to the target STRUCT column by position, as StarRocks stores it.
    A value is computed by StarRocks' functions as in a SELECT (`unix_timestamp('2021-01-05')`)."""
    _structs_as_starrocks_builds_them(tree, named_rows=False)
    type_functions.apply(tree)
    date_functions.apply(tree)
    string_functions.apply(tree)
    hash_functions.apply(tree)


def apply(tree: exp.Expr) -> None:
    """Rewrite `tree` in place so that DuckDB's answer is StarRocks' answer.

    Raises UnsupportedError for a query whose StarRocks answer Cairn cannot reproduce."""
    _not_in_as_null_aware_anti_join(tree)
    _refuse_not_in_correlated_on_its_output(tree)
    session_number.apply(tree)
    volatile_window_orders_computed_below(tree)
    _refuse_tablet_clause(tree)
    _order_by_reads_aggregate_aliases(tree)
    _refuse_any_value_over_a_window(tree)
    _failed_casts_of_literals_are_null(tree)
    _values_columns_named_as_starrocks_names_them(tree)
    _bool_or_counts_null_rows_as_false(tree)
    _corr_of_no_spread_is_null(tree)
    _structs_as_starrocks_builds_them(tree)
    _struct_fields_by_position(tree)
    type_functions.apply(tree)
    aggregate_functions.apply(tree)
    date_functions.apply(tree)
    string_functions.apply(tree)
    hash_functions.apply(tree)
    aggregate_functions.aggregate_orders_read_as_starrocks(tree)
    aggregate_functions.count_if_counts_true_values(tree)
    _group_concat_orders_by_argument_position(tree)
    aggregate_functions.distinct_aggregates_ordered_by_other_keys(tree)
    _nan_and_infinity_casts_are_null(tree)
