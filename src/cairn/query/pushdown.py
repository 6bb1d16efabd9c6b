"""What a table scan may do for its query on a compute node: read only the columns the query uses,
and drop rows the query's WHERE clause drops anyway.

Both are conservative: when in doubt (a `*`, USING / NATURAL joins, an outer join, a subquery or an
aggregate in a condition) nothing is pushed down. The FE still runs the whole query over what the
scans return, so a pushed-down filter only ever removes rows that the query would remove itself.
"""

from __future__ import annotations

from sqlglot import exp

from cairn.catalog.model import Table

# Conditions containing these are never pushed down (they depend on more than one row, or on chance).
_NOT_PUSHABLE = (exp.Subquery, exp.Select, exp.Exists, exp.AggFunc, exp.Window, exp.Rand, exp.Placeholder,
                 exp.Star)


def _names(node: exp.Table) -> set[str]:
    return {node.name.lower(), (node.alias or node.name).lower()}


def _table_columns(table: Table) -> dict[str, str]:
    return {c.name.lower(): c.name for c in table.columns}


def _plain_joins(select: exp.Select) -> bool:
    """True when every join of `select` is an inner or cross join without USING / NATURAL."""
    for join in select.args.get("joins") or []:
        if join.args.get("using") or join.side or (join.kind or "").upper() not in {"", "INNER", "CROSS"}:
            return False
        if (join.args.get("method") or "").upper() == "NATURAL":
            return False
    return True


def scan_columns(node: exp.Table, table: Table) -> list[str] | None:
    """The table's columns the statement containing `node` may read (None: all of them)."""
    root = node.root()
    for star in root.find_all(exp.Star):
        if not isinstance(star.parent, exp.Count):
            return None
    for join in root.find_all(exp.Join):
        if join.args.get("using") or (join.args.get("method") or "").upper() == "NATURAL":
            return None
    names, columns = _names(node), _table_columns(table)
    used: set[str] = set()
    for column in root.find_all(exp.Column):
        qualifier = column.table.lower()
        if (not qualifier or qualifier in names) and column.name.lower() in columns:
            used.add(column.name.lower())
    return [c.name for c in table.columns if c.name.lower() in used]


def scan_filter(node: exp.Table, table: Table) -> str | None:
    """The conjuncts of the WHERE clause over `node` that only read this table's columns, as DuckDB
    SQL over unqualified column names; None when there is none."""
    select = node.parent_select
    if select is None or not isinstance(node.parent, (exp.From, exp.Join)) or not _plain_joins(select):
        return None
    where = select.args.get("where")
    if where is None:
        return None
    single = not select.args.get("joins")
    names, columns = _names(node), _table_columns(table)
    pushed = []
    for conjunct in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        if any(True for _ in conjunct.find_all(*_NOT_PUSHABLE)):
            continue
        found = list(conjunct.find_all(exp.Column))
        if not found or not all(
                ((c.table.lower() in names) if c.table else single) and c.name.lower() in columns for c in found):
            continue
        copy = conjunct.copy()
        for column in copy.find_all(exp.Column):
            column.replace(exp.column(exp.to_identifier(columns[column.name.lower()], quoted=True)))
        pushed.append(f"({copy.sql(dialect='duckdb')})")
    return " AND ".join(pushed) or None
