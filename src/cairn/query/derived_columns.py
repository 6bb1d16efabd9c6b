"""Computing values for a SELECT one level below it: its FROM and WHERE become a derived table, under
the same alias, that adds the values as columns. DuckDB computes no window inside another window, nor
a window ordered by a volatile expression; a value computed below is an ordinary column above."""

from __future__ import annotations

import itertools

from sqlglot import exp

from cairn.errors import UnsupportedError


def derivable(select: exp.Select | None) -> bool:
    """Whether `select` reads one table or subquery with no join, GROUP BY, HAVING or DISTINCT, and
    selects no `t.*`: then its rows are its source's rows, and a derived table can stand in for it."""
    source = select.args.get("from_") if select is not None else None
    return select is not None and source is not None and not select.args.get("joins") \
        and not select.args.get("group") and not select.args.get("having") and not select.args.get("distinct") \
        and isinstance(source.this, (exp.Table, exp.Subquery)) \
        and not any(isinstance(p, exp.Column) and isinstance(p.this, exp.Star) for p in select.expressions)


def derive_columns(select: exp.Select | None, columns: dict[str, exp.Expr], what: str) -> None:
    """Make the FROM and WHERE of `select` a derived table that also computes `columns` (name →
    expression over the source's columns), in place; a `*` of `select` leaves them out. Raises
    UnsupportedError, naming `what` needs it, when `select` is not `derivable`."""
    if not derivable(select):
        raise UnsupportedError(f"Getting analyzing error. Detail message: {what} over a join, a GROUP BY or "
                               "DISTINCT, or under `t.*`, is not supported yet.")
    assert select is not None
    source = select.args["from_"].this
    inner = exp.select(exp.Star(), *[exp.alias_(e, name) for name, e in columns.items()]).from_(source.copy())
    where = select.args.get("where")
    if where is not None:
        inner.set("where", where.copy())
        select.set("where", None)
    select.set("from_", exp.From(this=exp.Subquery(this=inner, alias=exp.TableAlias(
        this=exp.to_identifier(source.alias_or_name)))))
    for star in select.expressions:
        if isinstance(star, exp.Star):
            star.set("except_", [*(star.args.get("except_") or []), *[exp.column(name) for name in columns]])


_VOLATILE = (exp.Rand, exp.Uuid)
_order_ids = itertools.count(1)


def _volatile(node: exp.Expr) -> bool:
    return any(True for _ in node.find_all(*_VOLATILE)) or any(
        a.name.lower() == "uuid_numeric" for a in node.find_all(exp.Anonymous))


def volatile_window_orders_computed_below(tree: exp.Expr) -> None:
    """`ROW_NUMBER() OVER (PARTITION BY c ORDER BY rand())`: each row's random key is computed one level
    below, as StarRocks computes it once per row (its test_window_pre_agg_with_rank); DuckDB refuses
    a volatile window ORDER BY."""
    for window in list(tree.find_all(exp.Window)):
        order = window.args.get("order")
        keys = [o for o in order.expressions if _volatile(o.this)] if order is not None else []
        if not keys:
            continue
        columns: dict[str, exp.Expr] = {}
        for ordered in keys:
            name = f"__cairn_order_{next(_order_ids)}"
            columns[name] = ordered.this.copy()
            ordered.set("this", exp.column(name))
        derive_columns(window.parent_select, columns, "a window ordered by a random value")
