"""A RANGE table's partitions as CREATE TABLE lists them: `VALUES LESS THAN (...)`, fixed ranges
`VALUES [(lower), (upper))` and batches `START (...) END (...) EVERY (INTERVAL n unit)`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from cairn.catalog.model import AutoPartition, Table
from cairn.catalog.types import parse_type
from cairn.errors import AnalysisError
from cairn.lake.auto_partition import period_partition
from cairn.sql.names import literal_text
from cairn.sql.partitions import MAXVALUE, chain_ranges, normalize_value, sort_key
from cairn.sql.refusals import not_supported

# StarRocks' max_partitions_in_one_batch.
MAX_BATCH_PARTITIONS = 4096
# The units a batch of DATE or DATETIME ranges may step by, each named as StarRocks names its partitions.
_BATCH_UNITS = frozenset({"hour", "day", "month", "year"})


@dataclass(frozen=True)
class RangeSpec:
    """One RANGE partition to create: its name and [lower, upper) (None: MINVALUE / MAXVALUE)."""

    name: str
    lower: list[str] | None
    upper: list[str] | None


def _analysis(message: str) -> AnalysisError:
    return AnalysisError(f"Getting analyzing error. Detail message: {message}.")


def _bound(values: list[exp.Expression], types: list[str]) -> list[str]:
    texts = [literal_text(v) for v in values]
    if len(texts) != len(types):
        raise _analysis(f"Partition values number is more than partition column number: ({', '.join(texts)})")
    return [normalize_value(v, t) for v, t in zip(texts, types)]


def fixed_range(table: Table, lower: list[str], upper: list[str]) -> tuple[list[str], list[str] | None]:
    """`VALUES [(lower), (upper))` normalized to the partition key's types (an upper of MAXVALUE is
    None); AnalysisError unless lower < upper."""
    types = table.partition_key_types()
    if len(lower) != len(types) or (len(upper) != len(types) and upper != [MAXVALUE]):
        raise _analysis("Partition values number does not match the partition columns")
    low = [normalize_value(v, t) for v, t in zip(lower, types)]
    if upper == [MAXVALUE]:
        return low, None
    high = [normalize_value(v, t) for v, t in zip(upper, types)]
    if sort_key(low, table) >= sort_key(high, table):
        raise _analysis(f"Upper range should not be less than or equal to lower range: "
                        f"[{', '.join(low)}, {', '.join(high)})")
    return low, high


def batch_ranges(table: Table, start: str, end: str, step_text: str, unit: str | None) -> list[RangeSpec]:
    """`START (start) END (end) EVERY (INTERVAL step unit)` of a DATE or DATETIME partition key: one
    partition per period from start up to end, named as StarRocks names them (p20210101, p202101, ...).
    `unit` None: `EVERY (step)`, a number range, which Cairn refuses."""
    types = table.partition_key_types()
    key_type = parse_type(types[0]).name if len(types) == 1 else ""
    if unit is None or key_type not in ("DATE", "DATETIME"):
        raise not_supported("Batch partitions of a number range (EVERY (n))")
    unit = unit.lower()
    if not step_text.isdigit() or int(step_text) < 1:
        raise _analysis(f"Batch partition every value must be a positive integer: {step_text}")
    auto = table.auto_partition
    if auto is not None:
        # Loads make this table's partitions on its own grid: a batch must lie on it.
        if int(step_text) != auto.step:
            raise _analysis(f"The step of the auto-partitioned table should be {auto.step}")
        if unit != auto.unit:
            raise _analysis(f"The granularity of the auto-partitioned table granularity({auto.unit}) should be "
                            f"consistent with the increased partition granularity({unit.upper()}).")
    if unit not in _BATCH_UNITS:
        raise not_supported(f"Batch partitions every {unit.upper()}")
    low, high = normalize_value(start, types[0]), normalize_value(end, types[0])
    date_only = key_type == "DATE"
    grid = AutoPartition(function="date_trunc", unit=unit, step=int(step_text))
    floors = [_floor(value, unit, date_only) for value in (low, high)]
    if [low, high] != floors:
        raise _analysis(f"Batch build partition range [{low},{high}) should be a standard unit of time "
                        f"({unit.upper()}) . suggest range [{floors[0]},{floors[1]})If you want to create partial "
                        "partitions in batch, you can turn off this check by setting the FE config "
                        "enable_create_partial_partition_in_batch=true")
    if sort_key([low], table) >= sort_key([high], table):
        raise _analysis("Batch build partition start date should less than end date.")
    auto = grid
    specs: list[RangeSpec] = []
    lower = low
    while sort_key([lower], table) < sort_key([high], table):
        if len(specs) >= MAX_BATCH_PARTITIONS:
            raise _analysis(f"The number of batch partitions should not exceed: {MAX_BATCH_PARTITIONS}")
        period = period_partition(auto, lower, date_only)
        upper = high if period.upper is None or sort_key(period.upper, table) > sort_key([high], table) \
            else period.upper[0]
        specs.append(RangeSpec(period.name, [lower], [upper]))
        lower = upper
    return specs


def _text(value: exp.Expression) -> str:
    """A bound's literal, or MAXVALUE (which sqlglot reads as a column)."""
    if isinstance(value, exp.Column) and value.name.upper() == MAXVALUE:
        return MAXVALUE
    return literal_text(value)


def _floor(value: str, unit: str, date_only: bool) -> str:
    """The start of the `unit` (hour, day, month, year) holding the DATE or DATETIME text `value`."""
    date, _, time = value.partition(" ")
    year, month, day = date.split("-")
    hour = time.split(":")[0] if time else "00"
    kept = {"hour": (month, day, hour), "day": (month, day, "00"), "month": (month, "01", "00"),
            "year": ("01", "01", "00")}[unit]
    floor = f"{year}-{kept[0]}-{kept[1]}"
    return floor if date_only else f"{floor} {kept[2]}:00:00"


def range_specs(table: Table, parts: list[exp.Expression]) -> list[RangeSpec]:
    """The partitions CREATE TABLE's RANGE list makes, lowest first; AnalysisError for bounds that do not
    increase or ranges that overlap."""
    types = table.partition_key_types()
    entries = [e for part in parts if not isinstance(part, exp.PartitionByRangePropertyDynamic)
               for e in part.expressions]
    if all(isinstance(p, exp.Partition) for p in parts) and all(
            isinstance(e, exp.PartitionRange) and not any(isinstance(v, exp.Tuple) for v in e.expressions)
            for e in entries):
        # Only VALUES LESS THAN: each range starts where the one before ends.
        uppers = [None if [literal_text(v) for v in e.expressions] == [MAXVALUE] else _bound(e.expressions, types)
                  for e in entries]
        return [RangeSpec(e.name, lower, upper) for e, (lower, upper) in zip(entries, chain_ranges(table, uppers))]
    specs: list[RangeSpec] = []
    for part in parts:
        if isinstance(part, exp.PartitionByRangePropertyDynamic):
            every = part.args["every"]
            interval = isinstance(every, exp.Interval)
            specs.extend(batch_ranges(table, literal_text(part.args["start"]), literal_text(part.args["end"]),
                                      literal_text(every.this if interval else every),
                                      every.text("unit") if interval else None))
            continue
        for entry in part.expressions:
            if not isinstance(entry, exp.PartitionRange):
                raise AnalysisError(f"Partition '{entry.name}' must use VALUES LESS THAN or VALUES [(...), (...))")
            if len(entry.expressions) == 2 and all(isinstance(v, exp.Tuple) for v in entry.expressions):
                low, high = fixed_range(table, *([_text(v) for v in bound.expressions] for bound in entry.expressions))
                specs.append(RangeSpec(entry.name, low, high))
                continue
            # VALUES LESS THAN among other forms: it starts where the partition listed before it ends.
            upper = None if [literal_text(v) for v in entry.expressions] == [MAXVALUE] else _bound(entry.expressions,
                                                                                                    types)
            lower = specs[-1].upper if specs else None
            if lower is None and specs:
                raise AnalysisError("No partition may follow a partition bounded by MAXVALUE")
            if lower is not None and upper is not None and sort_key(upper, table) <= sort_key(lower, table):
                raise _analysis(f"Upper range should not be less than or equal to lower range: "
                                f"[{', '.join(lower)}, {', '.join(upper)})")
            specs.append(RangeSpec(entry.name, lower, upper))
    check_overlaps(table, [(s.name, s.lower, s.upper) for s in specs])
    return sorted(specs, key=lambda s: (s.lower is not None, sort_key(s.lower, table) if s.lower else ()))


def check_overlaps(table: Table, ranges: list[tuple[str, list[str] | None, list[str] | None]]) -> None:
    """AnalysisError when two of `ranges` (name, lower, upper) share a value."""
    ordered = sorted(ranges, key=lambda r: (r[1] is not None, sort_key(r[1], table) if r[1] is not None else ()))
    for (name, _, upper), (other, lower, _) in zip(ordered, ordered[1:]):
        if upper is None or (lower is None) or sort_key(lower, table) < sort_key(upper, table):
            raise _analysis(f"Range of partition '{other}' is intersected with the range of partition '{name}'")
