"""Pruning: which partitions, and which tablets within them, a query's WHERE clause can need.

Only simple conjuncts on partition columns are used (=, <, <=, >, >=, BETWEEN, IN with literals;
of a LIST table of several columns, = and IN); anything else keeps every partition, so pruning never
drops a needed row.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import duckdb
from sqlglot import exp

from cairn.catalog.model import Partition, Table
from cairn.catalog.types import cast_value, parse_type, scalar
from cairn.lake.partition_key import is_monotonic, key_expression
from cairn.lake.routing import bucket_expression
from cairn.lake.sqltext import cast, try_cast

_FLIPPED = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE, exp.EQ: exp.EQ}


@lru_cache(maxsize=1 << 16)
def _typed(value: str, type_text: str) -> Any:
    """`value` cast to the column type (a query with many partitions casts each bound once, not per
    query); None when it is not a value of that type."""
    try:
        return cast_value(value, parse_type(type_text).duckdb)
    except duckdb.Error:
        return None


def _range_bound(bound: list[str] | None, type_text: str) -> Any:
    """A RANGE bound as a comparable value; None (unbounded, so the partition is kept) for a bound
    Python cannot hold, such as the year-0 start of the NULL partition of an expression-partitioned table."""
    if not bound:
        return None
    value = _typed(bound[0], type_text)
    return None if isinstance(value, str) and not parse_type(type_text).is_string else value


def _literal(node: exp.Expr) -> str | None:
    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return f"-{node.this.this}"
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
        return str(node.this.this)
    return None


def _conjuncts(where: exp.Expr | None) -> list[exp.Expr]:
    if where is None:
        return []
    node = where.this if isinstance(where, exp.Where) else where
    return list(node.flatten()) if isinstance(node, exp.And) else [node]


class PartitionFilter:
    """Which partitions a WHERE clause can need: the conditions on each partition column. A table
    partitioned by one column (or one expression of it) is pruned by ranges and values; a LIST table of
    several columns by the values each column must equal (a partition is kept when one of its value
    tuples may match them all)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.keys = [_KeyFilter(table, position) for position in range(len(table.partition_columns))]

    def add(self, where: exp.Expr | None, names: set[str]) -> None:
        """Use the conjuncts of `where` that constrain this table's partition columns (`names`: the
        table's name and alias, for qualified columns)."""
        for key in self.keys:
            key.add(where, names)

    def keeps(self, partition: Partition) -> bool:
        """False only when no row of `partition` can satisfy the gathered conditions."""
        if len(self.keys) == 1:
            return self.keys[0].keeps(partition)
        if self.table.partition_type != "LIST" or not self.keys:
            return True
        return any(all(key.holds(value) for key, value in zip(self.keys, row)) for row in partition.values or [])


class _KeyFilter:
    """Bounds on one partition column gathered from a WHERE clause."""

    def __init__(self, table: Table, position: int) -> None:
        self.table = table
        self.column: str | None = table.partition_columns[position]
        column = table.column(self.column) if self.column else None
        self.type = column.type if column else None
        self.expression = table.partition_key_expressions()[position]
        self.lower: tuple[Any, bool] | None = None  # (value, inclusive)
        self.upper: tuple[Any, bool] | None = None
        self.allowed: set[Any] | None = None

    def _is_column(self, node: exp.Expr, names: set[str]) -> bool:
        return (isinstance(node, exp.Column) and node.name.lower() == (self.column or "").lower()
                and (not node.table or node.table.lower() in names))

    def add(self, where: exp.Expr | None, names: set[str]) -> None:
        """Use the conjuncts of `where` that constrain this partition column."""
        if self.column is None or self.type is None:
            return
        for condition in _conjuncts(where):
            self._add_condition(condition, names, self.type)

    def _add_condition(self, condition: exp.Expr, names: set[str], type_text: str) -> None:
        if isinstance(condition, exp.Between) and self._is_column(condition.this, names):
            low, high = _literal(condition.args["low"]), _literal(condition.args["high"])
            if low is not None and high is not None:
                self._bound(exp.GTE, low, type_text)
                self._bound(exp.LTE, high, type_text)
            return
        if isinstance(condition, exp.In) and self._is_column(condition.this, names):
            values = [value for value in map(_literal, condition.expressions) if value is not None]
            if values and len(values) == len(condition.expressions):
                typed = {_typed(v, type_text) for v in values}
                self.allowed = typed if self.allowed is None else self.allowed & typed
            return
        kind = type(condition)
        if kind not in _FLIPPED:
            return
        left, right = condition.this, condition.expression
        if self._is_column(right, names):
            left, right, kind = right, left, _FLIPPED[kind]
        if not self._is_column(left, names):
            return
        value = _literal(right)
        if value is not None:
            self._bound(kind, value, type_text)

    def _bound(self, kind: type, text: str, type_text: str) -> None:
        value = _typed(text, type_text)
        if value is None:
            return
        if kind is exp.EQ:
            self.allowed = {value} if self.allowed is None else self.allowed & {value}
        elif kind in (exp.GT, exp.GTE):
            candidate = (value, kind is exp.GTE)
            if self.lower is None or candidate[0] > self.lower[0]:
                self.lower = candidate
        else:
            candidate = (value, kind is exp.LTE)
            if self.upper is None or candidate[0] < self.upper[0]:
                self.upper = candidate

    def holds(self, value: str | None) -> bool:
        """Whether a row whose partition key (this column's value, or its expression's) is `value` may
        satisfy the gathered conditions; only the values the column must equal are used."""
        if self.allowed is None or self.type is None:
            return True
        if self.expression is None:
            return value is not None and _typed(value, self.type) in self.allowed
        wanted = self._wanted_keys()
        return None in wanted or (value is not None and _typed(value, self.expression.type) in wanted)

    def _wanted_keys(self) -> set[Any]:
        """The partition keys of the values the column must equal (None among them: one has none)."""
        assert self.allowed is not None and self.expression is not None and self.type is not None
        expression, column_type = self.expression, self.type
        return {_key(expression.sql, column_type, expression.type, value) for value in self.allowed}

    def keeps(self, partition: Partition) -> bool:
        """False only when no row of `partition` can satisfy the gathered conditions."""
        type_text = self.type
        if self.column is None or type_text is None:
            return True
        if self.expression is not None:
            return self._keeps_by_key(partition)
        if self.table.partition_type == "LIST":
            if self.allowed is None:
                return True
            values = {_typed(row[0], type_text) for row in partition.values or [] if row[0] is not None}
            return bool(values & self.allowed)
        if self.table.partition_type != "RANGE":
            return True
        low = _range_bound(partition.lower, type_text)
        high = _range_bound(partition.upper, type_text)
        if self.allowed is not None:
            return any((low is None or v >= low) and (high is None or v < high) for v in self.allowed)
        if self.lower is not None and high is not None and self.lower[0] >= high:
            return False
        if self.upper is not None and low is not None:
            value, inclusive = self.upper
            if value < low or (value == low and not inclusive):
                return False
        return True

    def _keeps_by_key(self, partition: Partition) -> bool:
        """`keeps` for a table partitioned by an expression of its column: the column's values and
        bounds are mapped through the expression (bounds only when it grows with the column)."""
        expression = self.expression
        assert expression is not None and self.type is not None
        if self.table.partition_type == "LIST":
            if self.allowed is None:
                return True
            wanted = self._wanted_keys()
            held = {_typed(row[0], expression.type) for row in partition.values or [] if row[0] is not None}
            return None in wanted or bool(wanted & held)
        low = _range_bound(partition.lower, expression.type)
        high = _range_bound(partition.upper, expression.type)
        if self.allowed is not None:
            keys = [_key(expression.sql, self.type, expression.type, value) for value in self.allowed]
            return any(key is None or ((low is None or key >= low) and (high is None or key < high)) for key in keys)
        if not is_monotonic(expression.sql):
            return True
        if self.lower is not None and high is not None:
            key = _key(expression.sql, self.type, expression.type, self.lower[0])
            if key is not None and key >= high:
                return False
        if self.upper is not None and low is not None:
            # The expression grows strictly with the column (whole seconds or milliseconds): below
            # the bound, the key is below the bound's key.
            value, inclusive = self.upper
            key = _key(expression.sql, self.type, expression.type, value)
            if key is not None and (key < low or (key == low and not inclusive)):
                return False
        return True


@lru_cache(maxsize=1 << 12)
def _key(sql: str, column_type: str, key_type: str, value: Any) -> Any:
    """The partition expression `sql` of a column value (of `column_type`), as a value of `key_type`;
    None when it has none (NULL, or DuckDB cannot compute it), so the caller keeps the partition."""
    argument = cast(exp.Placeholder(), parse_type(column_type).duckdb)
    try:
        key = scalar(exp.select(cast(key_expression(sql, argument), parse_type(key_type).duckdb)), [value])
    except duckdb.Error:
        return None
    return key


def _equal_literals(where: exp.Expr | None, column: str, names: set[str]) -> list[str] | None:
    """The literals `column` must equal (from `column = x` or `column IN (...)`), or None."""
    def is_column(node: exp.Expr) -> bool:
        return (isinstance(node, exp.Column) and node.name.lower() == column.lower()
                and (not node.table or node.table.lower() in names))

    for condition in _conjuncts(where):
        if isinstance(condition, exp.EQ):
            for side, other in ((condition.this, condition.expression), (condition.expression, condition.this)):
                literal = _literal(other)
                if is_column(side) and literal is not None:
                    return [literal]
        if isinstance(condition, exp.In) and is_column(condition.this):
            values = [value for value in map(_literal, condition.expressions) if value is not None]
            if values and len(values) == len(condition.expressions):
                return values
    return None


def tablet_indexes(table: Table, where: exp.Expr | None, names: set[str]) -> set[int] | None:
    """The buckets that can hold rows matching `where`, when it fixes every distribution column;
    None when any bucket may. Uses the same hash as routing (lake.routing.bucket_expression)."""
    if not table.distribution_columns or table.buckets == 1:
        return None
    choices = []
    for name in table.distribution_columns:
        values = _equal_literals(where, name, names)
        if values is None:
            return None
        choices.append((values, parse_type(table.column_named(name).type).duckdb))
    if len(choices) > 1 and any(len(values) > 1 for values, _ in choices):
        return None
    buckets = set()
    for index in range(len(choices[0][0])):
        arguments: dict[str, exp.Expr] = {name: try_cast(exp.Placeholder(), kind)
                                         for name, (_, kind) in zip(table.distribution_columns, choices)}
        parameters = [values[index if len(values) > 1 else 0] for values, _ in choices]
        try:
            bucket = scalar(exp.select(bucket_expression(table, arguments)), parameters)
        except duckdb.Error:
            return None
        buckets.add(bucket)
    return buckets
