"""Automatic partitions (StarRocks' expression partitioning): the partitions a load's rows need.

A table partitioned by `date_trunc(unit, col)` or `time_slice(col, INTERVAL n unit)` gets one RANGE
partition per period a row falls in; a table partitioned by columns (`PARTITION BY (c1, c2)`) gets one
LIST partition per value tuple. A load first asks DuckDB, in one vectorized pass, for the distinct
partition keys of its rows that no partition holds yet (`missing_keys_query`); the FE then turns each
key into a named partition (`plan_partitions`, StarRocks' names: p20230214, p202302, p2023,
p20220401_hangzhou) and commits them as one AddPartitions journal entry before the rows are routed.
Only the few keys go through Python, never the rows.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlglot import exp

from cairn.catalog.catalog import Catalog
from cairn.catalog.committer import Committer
from cairn.catalog.model import AutoPartition, Database, Partition, Table
from cairn.catalog.ops import AddPartitions
from cairn.catalog.types import parse_type
from cairn.catalog.view import CatalogView
from cairn.errors import AnalysisError, UnknownTableError
from cairn.lake.partition_key import key_expression
from cairn.lake.routing import NO_PARTITION, NULL_RANGE_VALUE, partition_expression, partition_keys
from cairn.lake.sqltext import call, cast, string


@dataclass(frozen=True)
class PartitionLimits:
    """How many partitions loads may make: in all, per table (`max_automatic_partition_number`), and
    in one load (`auto_partition_max_creation_number_per_load`); StarRocks' fe.conf keys and defaults."""

    per_table: int = 4096
    per_load: int = 4096


# StarRocks cuts longer LIST partition names and adds their hash (FeConstants.MAX_LIST_PARTITION_NAME_LENGTH).
MAX_LIST_PARTITION_NAME_LENGTH = 50
# How many digits of yyyyMMddHHmm name a RANGE partition per granularity (StarRocks' AnalyzerUtils).
_NAME_DIGITS = {"minute": 12, "hour": 10, "day": 8, "month": 6, "year": 4}
# Granularities a table may be created with; automatic creation supports those of _NAME_DIGITS.
DATE_TRUNC_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "quarter", "year"})
DATE_UNITS = frozenset({"day", "week", "month", "quarter", "year"})
# Python's datetime has no year 0; the Gregorian calendar repeats every 400 years.
_CYCLE_YEARS = 400
_MAX_DATE = datetime(9999, 12, 31, 23, 59, 59)


@dataclass(frozen=True)
class NewPartition:
    """A partition a load needs: its name and either its [lower, upper) range or its one value tuple."""

    name: str
    lower: list[str] | None = None
    upper: list[str] | None = None
    values: list[list[str | None]] | None = None


def _period_start(auto: AutoPartition, value: exp.Expr, duckdb_type: str) -> exp.Expr:
    """The start of the period `value` falls in, as the column's DuckDB type."""
    if auto.function == "date_trunc":
        return cast(call("date_trunc", string(auto.unit), value), duckdb_type)
    width = exp.Interval(this=string(str(auto.step)), unit=exp.var(auto.unit.upper()))
    origin = cast(string("0001-01-01 00:00:00"), "TIMESTAMP")
    return cast(call("time_bucket", width, cast(value, "TIMESTAMP"), origin), duckdb_type)


def key_expressions(table: Table, casts: dict[str, exp.Expr]) -> list[exp.Expr]:
    """The partition key of a row (as text; NULL for a NULL) whose partition columns' values are
    `casts`: the values of a LIST table's columns, the start of a RANGE table's period."""
    auto = table.auto_partition
    assert auto is not None
    if auto.function == "column":
        # Each key's value as text: a column's, or an expression's (`from_unixtime(ts, '%Y-%m-%d')`,
        # `substring(s, 1, 4)`, `date_trunc('day', k2)`).
        return [cast(key.copy(), "VARCHAR") for key in partition_keys(table, casts)]
    name = table.partition_columns[0]
    duckdb_type = parse_type(table.partition_key_types()[0]).duckdb
    value = casts[name].copy()
    if table.partition_expression is not None:
        # date_trunc over an expression of the column (`date_trunc('month', str2date(s, '%Y%m%d'))`).
        value = cast(key_expression(table.partition_expression.sql, value), duckdb_type)
    return [cast(_period_start(auto, value, duckdb_type), "VARCHAR")]


def missing_keys_query(table: Table, casts: dict[str, exp.Expr], relation: exp.Expr,
                       bad_row: exp.Expr) -> exp.Select:
    """The distinct partition keys (`key_expressions`) of the rows of `relation` that no partition of
    `table` holds, leaving out rows that cannot be stored anyway (`bad_row`)."""
    keys = key_expressions(table, casts)
    routed = partition_expression(table, casts)
    where = exp.and_(exp.EQ(this=exp.paren(routed), expression=exp.Literal.number(NO_PARTITION)),
                     exp.not_(exp.paren(bad_row)))
    return exp.select(*keys).distinct().from_(relation.copy()).where(where)


def _shift(text: str) -> tuple[datetime, int]:
    """`text` (a DATE or DATETIME value) as a datetime, moved 400 years on if its year is 0."""
    year = int(text[:4])
    shift = _CYCLE_YEARS if year < 1 else 0
    moment = datetime.fromisoformat(f"{year + shift:04d}{text[4:]}")
    return moment, shift


def _unshift(moment: datetime, shift: int, date_only: bool) -> str:
    """`moment` as DATE or DATETIME text, moved back by `shift` years (strftime pads no year below 1000)."""
    text = f"{moment.year - shift:04d}-{moment.month:02d}-{moment.day:02d}"
    return text if date_only else f"{text} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"


def _plus(moment: datetime, unit: str, step: int) -> datetime | None:
    """`moment` plus `step` `unit`s; None past StarRocks' greatest DATETIME (the range ends at MAXVALUE)."""
    try:
        if unit in ("month", "year", "quarter"):
            months = step * {"month": 1, "quarter": 3, "year": 12}[unit]
            total = moment.year * 12 + moment.month - 1 + months
            year, month = divmod(total, 12)
            day = min(moment.day, calendar.monthrange(year, month + 1)[1])
            return moment.replace(year=year, month=month + 1, day=day)
        seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}[unit]
        later = moment + timedelta(seconds=seconds * step)
    except (ValueError, OverflowError):
        return None
    return later if later <= _MAX_DATE else None


def _java_hash(text: str) -> int:
    """Java's String.hashCode (StarRocks names long LIST partitions by it)."""
    data = text.encode("utf-16-be")
    value = 0
    for index in range(0, len(data), 2):
        value = (31 * value + int.from_bytes(data[index:index + 2], "big")) & 0xFFFFFFFF
    return value


def _hex(value: int) -> str:
    """Java's Integer.toHexString of a 32-bit value (two's complement for a negative one)."""
    return format(value & 0xFFFFFFFF, "x")


def format_value(value: str) -> str:
    """A LIST value as StarRocks spells it in a partition name: letters and digits kept, '-', ':' and
    ' ' dropped, anything else as its code point in hex; a leading '-' becomes '_'."""
    parts = ["_"] if value.startswith("-") else []
    for char in value:
        if char.isascii() and char.isalnum():
            parts.append(char)
        elif char not in "-: ":
            parts.append(format(ord(char), "x"))
    return "".join(parts)


def _list_name(values: list[str | None], taken: set[str]) -> str:
    name = "p" + "_".join("NULL" if v is None else format_value(v) for v in values)
    if len(name) > MAX_LIST_PARTITION_NAME_LENGTH:
        name = name[:MAX_LIST_PARTITION_NAME_LENGTH] + "_" + _hex(_java_hash(name))
    if name.lower() in taken:
        diff = _java_hash(name)
        candidate = f"{name}_{_hex(diff)}"
        for _ in range(100):
            if candidate.lower() not in taken:
                break
            diff += 1
            candidate = f"{name}_{_hex(diff)}"
        name = candidate
    return name


def period_partition(auto: AutoPartition, key: str | None, date_only: bool) -> NewPartition:
    """The partition of one period of `auto` starting at `key` (NULL: StarRocks' lowest value), named
    as StarRocks names it (p20230214, p202302, ...)."""
    unit = auto.unit
    if unit not in _NAME_DIGITS:
        raise AnalysisError(f"Getting analyzing error. Detail message: unsupported automatic partition "
                            f"granularity:{unit}.")
    lower, shift = _shift(key if key is not None else NULL_RANGE_VALUE)
    digits = "".join(ch for ch in _unshift(lower, shift, date_only=False) if ch.isdigit())
    upper = _plus(lower, unit, auto.step)
    return NewPartition(name="p" + digits[:_NAME_DIGITS[unit]], lower=[_unshift(lower, shift, date_only)],
                        upper=None if upper is None else [_unshift(upper, shift, date_only)])


def plan_partitions(table: Table, keys: list[tuple[str | None, ...]]) -> list[NewPartition]:
    """The partitions that hold `keys` (rows of `missing_keys_query`), named as StarRocks names them.

    Raises AnalysisError for a granularity automatic creation does not support.
    """
    auto = table.auto_partition
    assert auto is not None
    taken = {p.name.lower() for p in table.partitions}
    held: set[tuple[str | None, ...]] = {tuple(row) for p in table.partitions for row in (p.values or [])}
    held |= {tuple(p.lower) for p in table.partitions if p.lower is not None}
    made: dict[tuple[str | None, ...], NewPartition] = {}
    if auto.function == "column":
        for key in sorted(keys, key=lambda k: tuple((v is not None, v or "") for v in k)):
            values = list(key)
            if tuple(values) in made or tuple(values) in held:
                continue
            partition = NewPartition(name=_list_name(values, taken), values=[values])
            taken.add(partition.name.lower())
            made[tuple(values)] = partition
        return list(made.values())
    date_only = parse_type(table.partition_key_types()[0]).name == "DATE"
    for key in keys:
        partition = period_partition(auto, key[0], date_only)
        assert partition.lower is not None
        if tuple(partition.lower) in made or tuple(partition.lower) in held:
            continue
        if partition.name.lower() in taken:
            raise AnalysisError(f"Getting analyzing error. Detail message: Duplicate partition name "
                                f"{partition.name}.")
        taken.add(partition.name.lower())
        made[tuple(partition.lower)] = partition
    return sorted(made.values(), key=lambda p: p.name)


def add_partitions(committer: Committer, catalog: CatalogView, db: Database, table: Table,
                   keys: list[tuple[str | None, ...]], limits: PartitionLimits, made: int = 0) -> Table:
    """Commit the partitions `keys` need (one AddPartitions journal entry) and return a copy of the
    table as it is then. Partitions another load made meanwhile are not made twice.

    Raises AnalysisError when the table would have more partitions than `limits.per_table`, or the
    load (which has made `made` already) more than `limits.per_load`; UnknownTableError when the table
    was dropped.
    """
    def build(current_catalog: Catalog) -> AddPartitions | None:
        _, current = current_catalog.table_by_key(db.name, table.catalog_key)
        if current.id != table.id:
            raise UnknownTableError(f"Table '{db.name}.{table.name}' was dropped during the load")
        planned = plan_partitions(current, keys)
        if not planned:
            return None
        if len(current.partitions) + len(planned) > limits.per_table:
            raise AnalysisError(f"Getting analyzing error. Detail message: Automatically created partitions "
                                f"exceeded the maximum limit: {limits.per_table}. You can modify this restriction "
                                f"on by setting max_automatic_partition_number larger.")
        if made + len(planned) > limits.per_load:
            raise AnalysisError(f"Getting analyzing error. Detail message: The load would create {made + len(planned)} "
                                f"partitions automatically, more than the limit of one load: {limits.per_load}. You "
                                f"can modify this restriction by setting auto_partition_max_creation_number_per_load "
                                f"larger.")
        ids = iter(current_catalog.allocate_ids(len(planned) * (1 + current.buckets)))
        partitions = [Partition(id=next(ids), name=p.name, lower=p.lower, upper=p.upper, values=p.values,
                                tablet_ids=[next(ids) for _ in range(current.buckets)]) for p in planned]
        return AddPartitions(db_id=db.id, table_id=table.id, partitions=partitions)

    committer.commit_if(build)
    with catalog.lock:
        _, live = catalog.table_by_key(db.name, table.catalog_key)
        if live.id != table.id:
            raise UnknownTableError(f"Table '{db.name}.{table.name}' was dropped during the load")
        return live.model_copy(deep=True)
