"""What a table scan may do for its query on a compute node: read only the columns the query uses,
and drop rows the query's WHERE clause drops anyway.

Both are conservative: when in doubt (a `*`, USING / NATURAL joins, an outer join, a condition that
is not a column compared with literals) nothing is pushed down. What is pushed is typed (ScanFilter,
PartialAggregate): a compute node compiles it into its own query, and no SQL text leaves the FE. The FE still runs the whole query over what the
scans return, so a pushed-down filter only ever removes rows that the query would remove itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from sqlglot import exp

from cairn.catalog.model import Table
from cairn.lake.sqltext import column as quoted_column
from cairn.query.result_types import SUMS_TO_BIGINT


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
        # A STRUCT field (`s.f`, `t.s.f`, `s.f.g`) reads the column its path starts from.
        used.update(part.lower() for part in (column.table, column.db, column.catalog) if part.lower() in columns)
    return [c.name for c in table.columns if c.name.lower() in used]


_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_ALIAS = re.compile(r"^__p\d+[sc]?$")


class ScanValue(BaseModel):
    """A literal in a pushed-down filter: string, number (its exact text) or boolean."""

    kind: Literal["string", "number", "boolean"]
    text: str

    @model_validator(mode="after")
    def _well_formed(self) -> "ScanValue":
        if self.kind == "number" and not _NUMBER.match(self.text):
            raise ValueError(f"not a number: {self.text!r}")
        if self.kind == "boolean" and self.text not in ("true", "false"):
            raise ValueError(f"not a boolean: {self.text!r}")
        return self

    def expression(self) -> exp.Expr:
        if self.kind == "string":
            return exp.Literal.string(self.text)
        if self.kind == "boolean":
            return exp.Boolean(this=self.text == "true")
        return exp.Literal.number(self.text)


ScanOp = Literal["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "LIKE", "NOT LIKE", "IS NULL", "IS NOT NULL"]
_COMPARISONS: dict[type[exp.Expr], ScanOp] = {exp.EQ: "=", exp.NEQ: "!=", exp.LT: "<", exp.LTE: "<=",
                                              exp.GT: ">", exp.GTE: ">="}
_FLIPPED: dict[ScanOp, ScanOp] = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_BUILD: dict[str, type[exp.Expr]] = {op: kind for kind, op in _COMPARISONS.items()}


class ScanFilter(BaseModel):
    """One conjunct a scan applies: `column op values` (no value for IS [NOT] NULL, several for IN)."""

    column: str
    op: ScanOp
    values: list[ScanValue] = Field(default_factory=list)

    @model_validator(mode="after")
    def _arity(self) -> "ScanFilter":
        wanted = {"IS NULL": 0, "IS NOT NULL": 0, "IN": None, "NOT IN": None}.get(self.op, 1)
        if (wanted is None and not self.values) or (wanted is not None and len(self.values) != wanted):
            raise ValueError(f"wrong number of values for {self.op}")
        return self

    def expression(self) -> exp.Expr:
        """The conjunct as a DuckDB expression over the unqualified, quoted column."""
        column = exp.column(exp.to_identifier(self.column, quoted=True))
        values = [v.expression() for v in self.values]
        if self.op in _BUILD:
            return _BUILD[self.op](this=column, expression=values[0])
        built: exp.Expr
        if self.op.endswith("IN"):
            built = exp.In(this=column, expressions=values)
        elif self.op.endswith("LIKE"):
            built = exp.Like(this=column, expression=values[0])
        else:
            built = exp.Is(this=column, expression=exp.null())
        return exp.not_(built) if self.op.startswith("NOT") or self.op == "IS NOT NULL" else built


def _value(node: exp.Expr) -> ScanValue | None:
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return _value_of_number("-" + node.this.this)
    if isinstance(node, exp.Literal):
        return ScanValue(kind="string", text=node.this) if node.is_string else _value_of_number(node.this)
    if isinstance(node, exp.Boolean):
        return ScanValue(kind="boolean", text="true" if node.this else "false")
    return None


def _value_of_number(text: str) -> ScanValue | None:
    return ScanValue(kind="number", text=text) if _NUMBER.match(text) else None


def _typed(conjunct: exp.Expr, column_of: Callable[[exp.Expr], str | None]) -> list[ScanFilter] | None:
    """`conjunct` as typed filters over this table's columns, or None when it has another shape."""
    negated = isinstance(conjunct, exp.Not)
    node = conjunct.this if negated else conjunct
    if isinstance(node, exp.Paren):
        return None if negated else _typed(node.this, column_of)
    if type(node) in _COMPARISONS and not negated:
        op = _COMPARISONS[type(node)]
        left, right = node.this, node.expression
        if column_of(left) is None:
            left, right, op = right, left, _FLIPPED[op]
        column, value = column_of(left), _value(right)
        return None if column is None or value is None else [ScanFilter(column=column, op=op, values=[value])]
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        column = column_of(node.this)
        return None if column is None else [ScanFilter(column=column, op="IS NOT NULL" if negated else "IS NULL")]
    if isinstance(node, exp.In) and not node.args.get("query") and not node.args.get("unnest"):
        column = column_of(node.this)
        values = [value for value in map(_value, node.expressions) if value is not None]
        if column is None or not values or len(values) != len(node.expressions):
            return None
        return [ScanFilter(column=column, op="NOT IN" if negated else "IN", values=values)]
    if isinstance(node, exp.Like) and not node.args.get("escape"):
        column, value = column_of(node.this), _value(node.expression)
        if column is None or value is None or value.kind != "string":
            return None
        return [ScanFilter(column=column, op="NOT LIKE" if negated else "LIKE", values=[value])]
    if isinstance(node, exp.Or) and not negated:
        # `a = 1 OR a = 2 OR a IN (3)`: one column against literals, as IN.
        alternatives: list[ScanFilter] = []
        for part in node.flatten():
            typed = _typed(part, column_of)
            if typed is None or len(typed) != 1 or typed[0].op not in ("=", "IN"):
                return None
            alternatives.append(typed[0])
        columns = {f.column for f in alternatives}
        if len(columns) != 1:
            return None
        values = [v for f in alternatives for v in f.values]
        return [ScanFilter(column=columns.pop(), op="IN", values=values)]
    if isinstance(node, exp.Between) and not negated:
        column, low, high = column_of(node.this), _value(node.args["low"]), _value(node.args["high"])
        if column is None or low is None or high is None:
            return None
        return [ScanFilter(column=column, op=">=", values=[low]), ScanFilter(column=column, op="<=", values=[high])]
    return None


def _pushed_conjuncts(node: exp.Table, table: Table) -> tuple[list[ScanFilter], int, int]:
    """The WHERE conjuncts over `node` that a scan can apply, as typed filters; how many conjuncts
    were pushed and how many the WHERE clause has in all."""
    select = node.parent_select
    if select is None or not isinstance(node.parent, (exp.From, exp.Join)) or not _plain_joins(select):
        return [], 0, -1
    where = select.args.get("where")
    if where is None:
        return [], 0, 0
    single = not select.args.get("joins")
    names, columns = _names(node), _table_columns(table)

    def column_of(found: exp.Expr) -> str | None:
        if not isinstance(found, exp.Column) or isinstance(found.this, exp.Star):
            return None
        if not ((found.table.lower() in names) if found.table else single):
            return None
        return columns.get(found.name.lower())

    conjuncts = list(where.this.flatten()) if isinstance(where.this, exp.And) else [where.this]
    pushed: list[ScanFilter] = []
    count = 0
    for conjunct in conjuncts:
        typed = _typed(conjunct, column_of)
        if typed is not None:
            pushed.extend(typed)
            count += 1
    return pushed, count, len(conjuncts)


def scan_filters(node: exp.Table, table: Table) -> list[ScanFilter]:
    """The conjuncts of the WHERE clause over `node` that compare one of this table's columns with
    literals, as typed filters (the FE still applies the whole WHERE clause to what comes back)."""
    return _pushed_conjuncts(node, table)[0]


class PartialItem(BaseModel):
    """One partial aggregate a scan computes: `function(column)` (count(*) when column is None)."""

    function: Literal["count", "sum", "min", "max"]
    column: str | None
    alias: str = Field(pattern=_ALIAS.pattern)


class PartialAggregate(BaseModel):
    """A GROUP BY each compute node runs over its own tablets; the FE merges the partial rows."""

    group_by: list[str]
    items: list[PartialItem]

    def over(self, query: exp.Select) -> exp.Select:
        """`query` (a FROM, maybe a WHERE) computing these partial rows: the group columns, then each
        item under its alias."""
        name = quoted_column
        partials = [exp.alias_(exp.func(i.function, exp.Star() if i.column is None else name(i.column)), i.alias)
                    for i in self.items]
        query = query.select(*[name(c) for c in self.group_by], *partials)
        return query.group_by(*[name(c) for c in self.group_by]) if self.group_by else query


# Aggregates whose partial results merge with the same function.
_SPLIT_AGGREGATES: dict[type[exp.AggFunc], Literal["sum", "min", "max"]] = {exp.Sum: "sum", exp.Min: "min", exp.Max: "max"}
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INT", "INTEGER", "BIGINT", "LARGEINT"}


def _plain_column(expression: exp.Expr | None, names: set[str], columns: dict[str, str]) -> str | None:
    if isinstance(expression, exp.Column) and not isinstance(expression.this, exp.Star) \
            and (not expression.table or expression.table.lower() in names) and expression.name.lower() in columns:
        return columns[expression.name.lower()]
    return None


def _merged(function: str, alias: str) -> exp.Expr:
    """`function` over the partial column `alias`, as the FE merges partial rows."""
    return exp.func(function, exp.column(exp.to_identifier(alias)))


def push_aggregate(node: exp.Table, table: Table) -> PartialAggregate | None:
    """If the query over `node` is one table's GROUP BY of COUNT / SUM / MIN / MAX / AVG over plain
    columns whose whole WHERE clause runs on the scan (`scan_filters`), rewrite it to merge partial
    aggregates and return what each node computes; else change nothing and return None."""
    from cairn.catalog.types import parse_type

    select = node.parent_select
    if select is None or not isinstance(node.parent, exp.From) or select.args.get("joins") \
            or select.args.get("distinct") or select.args.get("qualify"):
        return None
    if any(s is not select for s in select.find_all(exp.Select)) or any(True for _ in select.find_all(exp.Window)):
        return None
    where = select.args.get("where")
    _, pushed, total = _pushed_conjuncts(node, table)
    if pushed != total:
        return None  # part of the WHERE clause stays on the FE: it needs the raw rows
    names, columns = _names(node), _table_columns(table)
    group = select.args.get("group")
    keys: list[str] = []
    if group is not None:
        if any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets", "all")):
            return None
        for expression in group.expressions:
            name = _plain_column(expression, names, columns)
            if name is None:
                return None
            keys.append(name)
    aggregates = list(select.find_all(exp.AggFunc))
    if not aggregates and not keys:
        return None
    items: list[PartialItem] = []
    finals: list[tuple[exp.AggFunc, exp.Expr]] = []
    for index, aggregate in enumerate(aggregates):
        argument = aggregate.this
        star = isinstance(aggregate, exp.Count) and isinstance(argument, exp.Star)
        column = None if star else _plain_column(argument, names, columns)
        if not star and column is None:
            return None  # DISTINCT, expressions, several arguments: not split here
        p = f"__p{index}"
        final: exp.Expr
        if isinstance(aggregate, exp.Count):
            items.append(PartialItem(function="count", column=column, alias=p))
            final = exp.cast(exp.func("coalesce", _merged("sum", p), exp.Literal.number(0)), "BIGINT")
        elif type(aggregate) in _SPLIT_AGGREGATES:
            function = _SPLIT_AGGREGATES[type(aggregate)]
            items.append(PartialItem(function=function, column=column, alias=p))
            final = _merged(function, p)
            if function == "sum" and column is not None \
                    and parse_type(table.column_named(column).type).name in SUMS_TO_BIGINT:
                final = exp.cast(final, "BIGINT")  # StarRocks' sum of integers is a BIGINT
        elif (isinstance(aggregate, exp.Avg) and column is not None
              and parse_type(table.column_named(column).type).name in _INTEGER_TYPES):
            items += [PartialItem(function="sum", column=column, alias=f"{p}s"),
                      PartialItem(function="count", column=column, alias=f"{p}c")]
            final = exp.Div(this=exp.cast(_merged("sum", f"{p}s"), "DOUBLE"), expression=_merged("sum", f"{p}c"))
        else:
            return None
        finals.append((aggregate, final))
    # Outside the aggregates, the query may only read the group columns.
    inside = {id(c) for a in [*aggregates, *([where] if where is not None else [])] for c in a.find_all(exp.Column)}
    if any(id(c) not in inside and _plain_column(c, names, columns) not in keys for c in select.find_all(exp.Column)):
        return None
    for aggregate, final in finals:
        if aggregate.parent is select and aggregate.arg_key == "expressions":
            final = exp.alias_(final, aggregate.sql(dialect="starrocks").lower(), quoted=True)
        aggregate.replace(final)
    if where is not None:
        where.pop()
    return PartialAggregate(group_by=list(dict.fromkeys(keys)), items=items)
