"""StarRocks' date and time functions that DuckDB names or computes otherwise, rewritten on the
sqlglot tree of a statement before it is generated as DuckDB SQL.

- A string literal where a date function takes a date is a DATETIME, as StarRocks types it
  (`date_trunc('year', '2023-10-31')` is `2023-01-01 00:00:00`, `days_add('2023-10-31 23:59:59', 1)`
  keeps its time of day).
- `years_add` ... `microseconds_add` and their `_sub` twins add that many units.
- `years_diff` ... `milliseconds_diff`, `date_diff('unit', a, b)` and `timestampdiff(unit, b, a)`
  count the whole units from b to a (StarRocks' test_date_diff: `date_diff('year', '2017-02-28',
  '2016-03-01')` is 0), where DuckDB's date_diff counts the boundaries crossed (1).
- `unix_timestamp([t])` is the seconds since the epoch, `from_unixtime(n[, format])` their text.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from cairn.errors import AnalysisError

Rewrite = Callable[[list[exp.Expr]], exp.Expr | None]

# StarRocks' unit names (as in years_add, or a date_diff's first argument) → the interval unit.
_UNITS = {"year": "YEAR", "quarter": "QUARTER", "month": "MONTH", "week": "WEEK", "day": "DAY", "hour": "HOUR",
          "minute": "MINUTE", "second": "SECOND", "millisecond": "MILLISECOND", "microsecond": "MICROSECOND"}

# The functions whose `this` (and `expression`, for the two-sided ones) is a date or datetime.
_DATE_TAKING: tuple[type[exp.Expr], ...] = (
    exp.DayOfWeekIso, exp.LastDay, exp.Quarter, exp.Hour, exp.Minute, exp.Second, exp.Dayname, exp.ToDays,
    exp.NextDay, exp.PreviousDay, exp.TimestampTrunc, exp.DateTrunc, exp.DateAdd, exp.DateSub, exp.DateDiff,
    exp.TimestampDiff, exp.TimeSlice,
)
_TWO_SIDED: tuple[type[exp.Expr], ...] = (exp.DateDiff, exp.TimestampDiff)


def _depth(node: exp.Expr) -> int:
    depth = 0
    while node.parent is not None:
        node, depth = node.parent, depth + 1
    return depth


def _datetime(value: exp.Expr) -> exp.Expr:
    """`value` as StarRocks reads a date argument: a string literal is a DATETIME (NULL when it is
    not a valid one: `dayofweek_iso('')` is NULL)."""
    if isinstance(value, exp.Literal) and value.is_string or isinstance(value, exp.Null):
        return exp.TryCast(this=value, to=exp.DataType.build("TIMESTAMP"))
    return value


def _add(unit: str, negate: bool) -> Rewrite:
    """`<unit>s_add(t, n)` / `<unit>s_sub(t, n)`: t moved by n units."""
    def build(args: list[exp.Expr]) -> exp.Expr | None:
        if len(args) != 2:
            return None
        node = exp.DateSub if negate else exp.DateAdd
        return node(this=_datetime(args[0]), expression=exp.Paren(this=args[1]), unit=exp.var(unit))
    return build


def _whole_units(unit: str, later: exp.Expr, earlier: exp.Expr) -> exp.Expr:
    """The whole `unit`s from `earlier` to `later` (negative when `later` is before), as a BIGINT."""
    return exp.func("datesub", exp.Literal.string(unit), _datetime(earlier), _datetime(later))


def _diff(unit: str) -> Rewrite:
    """`<unit>s_diff(a, b)`: the whole units from b to a."""
    return lambda args: _whole_units(unit, args[0], args[1]) if len(args) == 2 else None


def _unit_name(node: exp.Expr | None) -> str:
    """The interval unit a date_diff / timestampdiff names. Raises AnalysisError for another name."""
    name = node.name.lower() if node is not None else "day"
    unit = _UNITS.get(name.removesuffix("s"))
    if unit is None:
        raise AnalysisError(f"Getting analyzing error. Detail message: unsupported time unit '{name}'.")
    return unit


def _unix_timestamp(args: list[exp.Expr]) -> exp.Expr | None:
    """unix_timestamp(): now; unix_timestamp(t): t's seconds since the epoch (BIGINT)."""
    if not args:
        return exp.cast(exp.func("epoch", exp.CurrentTimestamp()), exp.DataType.Type.BIGINT)
    if len(args) == 1:
        return exp.cast(exp.func("epoch", exp.cast(args[0], exp.DataType.Type.TIMESTAMP)), exp.DataType.Type.BIGINT)
    return None


def _last_day(args: list[exp.Expr]) -> exp.Expr | None:
    """last_day(t, unit): the last day of t's month, quarter or year (the unit may be a column)."""
    if len(args) != 2:
        return None
    moment, unit = _datetime(args[0]), exp.func("lower", args[1])

    def last(part: str, months: int) -> exp.Expr:
        start = exp.TimestampTrunc(this=moment.copy(), unit=exp.var(part))
        end = exp.DateSub(this=exp.DateAdd(this=start, expression=exp.Literal.number(months), unit=exp.var("MONTH")),
                          expression=exp.Literal.number(1), unit=exp.var("DAY"))
        return exp.cast(end, exp.DataType.Type.DATE)

    return exp.Case(ifs=[exp.If(this=exp.EQ(this=unit.copy(), expression=exp.Literal.string(name)), true=last(part, n))
                         for name, part, n in (("month", "MONTH", 1), ("quarter", "QUARTER", 3), ("year", "YEAR", 12))])


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekday(name: str, spelled: exp.Expr) -> exp.Expr:
    """The ISO number (Monday 1) of the weekday `spelled` as StarRocks spells one: two or three
    letters or the whole name, any case. Another spelling fails the statement."""
    lowered = exp.func("lower", spelled.copy())
    ifs = [exp.If(this=exp.Is(this=spelled.copy(), expression=exp.null()), true=exp.null())]
    for number, day in enumerate(_WEEKDAYS, 1):
        spellings = [exp.Literal.string(s) for s in (day[:2], day[:3], day)]
        ifs.append(exp.If(this=exp.In(this=lowered.copy(), expressions=spellings), true=exp.Literal.number(number)))
    failure = exp.func("error", exp.func("concat", spelled.copy(), exp.Literal.string(f" not supported in {name} dow_string")))
    return exp.Case(ifs=ifs, default=failure)


def _next_day(forward: bool) -> Rewrite:
    """next_day(t, weekday) / previous_day(t, weekday): the first such day after / before t's date."""
    name = "next_day" if forward else "previous_day"

    def build(args: list[exp.Expr]) -> exp.Expr | None:
        if len(args) != 2:
            return None
        moment, target = _datetime(args[0]), _weekday(name, args[1])
        today = exp.func("isodow", moment.copy())
        apart = exp.Sub(this=target, expression=today) if forward else exp.Sub(this=today, expression=target)
        days = exp.Add(this=exp.Mod(this=exp.Paren(this=exp.Add(this=apart, expression=exp.Literal.number(6))),
                                    expression=exp.Literal.number(7)), expression=exp.Literal.number(1))
        node = exp.DateAdd if forward else exp.DateSub
        return _in_range(exp.cast(node(this=moment, expression=exp.Paren(this=days), unit=exp.var("DAY")),
                                  exp.DataType.Type.DATE))
    return build


def _in_range(date: exp.Expr) -> exp.Expr:
    """`date`, or NULL outside the years 1 to 9999 (StarRocks' `next_day('9999-12-31', 'Sun')` is NULL)."""
    year = exp.Year(this=date.copy())
    return exp.Case(ifs=[exp.If(this=exp.Between(this=year, low=exp.Literal.number(1), high=exp.Literal.number(9999)),
                                true=date)])


_REWRITES: dict[str, Rewrite] = {
    "next_day": _next_day(True),
    "previous_day": _next_day(False),
    "last_day": _last_day,
    **{f"{name}s_add": _add(unit, False) for name, unit in _UNITS.items()},
    **{f"{name}s_sub": _add(unit, True) for name, unit in _UNITS.items()},
    **{f"{name}s_diff": _diff(unit) for name, unit in _UNITS.items() if name != "microsecond"},
    "unix_timestamp": _unix_timestamp,
}


def _string_literals_as_datetimes(tree: exp.Expr) -> None:
    for node in tree.find_all(*_DATE_TAKING):
        for key in ("this", "expression") if isinstance(node, _TWO_SIDED) else ("this",):
            value = node.args.get(key)
            if isinstance(value, (exp.Literal, exp.Null)):
                node.set(key, _datetime(value))


def _diffs_count_whole_units(tree: exp.Expr) -> None:
    """`date_diff('unit', a, b)` and `timestampdiff(unit, b, a)` count whole units; `datediff(a, b)`
    (no unit: days between the dates) stays as it is."""
    for node in sorted(tree.find_all(exp.DateDiff, exp.TimestampDiff), key=_depth, reverse=True):
        if isinstance(node, exp.DateDiff) and node.args.get("unit") is None:
            continue
        unit = _unit_name(node.args.get("unit"))
        node.replace(_whole_units(unit, node.this.copy(), node.expression.copy()))


def _from_unixtime_as_text(tree: exp.Expr) -> None:
    """from_unixtime(n[, format]) is the text of the DATETIME n seconds after the epoch (UTC)."""
    for node in sorted(tree.find_all(exp.UnixToTime), key=_depth, reverse=True):
        fmt = node.args.get("format")
        moment = exp.func("make_timestamp", exp.Mul(this=exp.cast(node.this.copy(), exp.DataType.Type.BIGINT),
                                                    expression=exp.Literal.number(1_000_000)))
        text = exp.TimeToStr(this=moment, format=fmt.copy() if fmt is not None else exp.Literal.string("%Y-%m-%d %H:%M:%S"))
        node.replace(text)


def apply(tree: exp.Expr) -> None:
    """Rewrite StarRocks' date and time function calls in `tree`, in place."""
    _string_literals_as_datetimes(tree)
    for node in sorted(tree.find_all(exp.Anonymous), key=_depth, reverse=True):
        rewrite = _REWRITES.get(node.name.lower())
        if rewrite is None:
            continue
        replacement = rewrite([a.copy() for a in node.expressions])
        if replacement is not None:
            node.replace(replacement)
    _diffs_count_whole_units(tree)
    _from_unixtime_as_text(tree)
