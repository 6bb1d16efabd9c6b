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

from sqlglot import exp

from cairn.errors import AnalysisError, UnsupportedError
from cairn.query.calls import Rewrite, depth, rewrite_calls

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
    """The whole `unit`s from `earlier` to `later` (negative when `later` is before), as a BIGINT.
    Both are read as DATETIMEs (a string that is none is NULL, as StarRocks casts it)."""
    def moment(value: exp.Expr) -> exp.Expr:
        return exp.TryCast(this=value, to=exp.DataType.build("TIMESTAMP"))
    return exp.func("datesub", exp.Literal.string(unit), moment(earlier), moment(later))


def _diff(unit: str) -> Rewrite:
    """`<unit>s_diff(a, b)`: the whole units from b to a."""
    return lambda args: _whole_units(unit, args[0], args[1]) if len(args) == 2 else None


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


def _week_iso(args: list[exp.Expr]) -> exp.Expr | None:
    """week_iso(t): t's ISO 8601 week number."""
    return exp.func("weekofyear", _datetime(args[0])) if len(args) == 1 else None


def _to_iso8601(args: list[exp.Expr]) -> exp.Expr | None:
    """to_iso8601(t): a DATE as YYYY-MM-DD, a DATETIME as YYYY-MM-DDTHH:MM:SS.ffffff."""
    if len(args) != 1:
        return None
    value = _datetime(args[0])
    is_date = exp.EQ(this=exp.func("typeof", value.copy()), expression=exp.Literal.string("DATE"))
    return exp.Case(ifs=[exp.If(this=is_date, true=exp.func("strftime", value.copy(), exp.Literal.string("%Y-%m-%d")))],
                    default=exp.func("strftime", value.copy(), exp.Literal.string("%Y-%m-%dT%H:%M:%S.%f")))


def _date_diff(args: list[exp.Expr]) -> exp.Expr | None:
    """date_diff(unit, a, b) whose unit is a value (a column, NULL): the whole units from b to a."""
    return _units_named_by(args[0], args[1], args[2]) if len(args) == 3 else None


# time_slice's units → (the interval unit its step is counted in, how many of a unit, a step of this
# many units or more spans the whole DATETIME range, 0001-01-01 to 9999-12-31).
_SLICE_UNITS = {"year": ("MONTH", 12, 120_000), "quarter": ("MONTH", 3, 120_000), "month": ("MONTH", 1, 120_000),
                "week": ("DAY", 7, 3_700_000), "day": ("DAY", 1, 3_700_000), "hour": ("HOUR", 1, 88_000_000),
                "minute": ("MINUTE", 1, 5_300_000_000), "second": ("SECOND", 1, 320_000_000_000),
                "millisecond": ("MILLISECOND", 1, 320_000_000_000_000),
                "microsecond": ("MICROSECOND", 1, 320_000_000_000_000_000)}
_FIRST_MOMENT = exp.cast(exp.Literal.string("0001-01-01 00:00:00"), exp.DataType.Type.TIMESTAMP)


def _slice(name: str, moment: exp.Expr, step: exp.Expr, unit: str, ceil: bool) -> exp.Expr:
    """time_slice / date_slice: the start (or, with `ceil`, the end) of the `step`-`unit` period
    holding `moment`, periods counted from 0001-01-01 00:00:00. A step longer than the DATETIME range
    gives that first moment (StarRocks' test_time_slice: `interval 2147483647 year`); an end past
    9999-12-31 is NULL; a moment before year 1 fails the statement, as in StarRocks."""
    if unit not in _SLICE_UNITS or not (isinstance(step, exp.Literal) and step.name.lstrip("-").isdigit()):
        raise AnalysisError(f"Getting analyzing error. Detail message: {name} requires second parameter must be "
                            "a constant interval.")
    counted, per_unit, whole_range = _SLICE_UNITS[unit]
    units = min(int(step.name) * per_unit, whole_range)
    if units <= 0:
        raise AnalysisError(f"Getting analyzing error. Detail message: {name} requires second parameter must be "
                            "greater than 0.")
    interval = exp.Interval(this=exp.Literal.number(units), unit=exp.var(counted))
    start = exp.func("time_bucket", interval.copy(), exp.cast(moment.copy(), exp.DataType.Type.TIMESTAMP),
                     _FIRST_MOMENT.copy())
    value: exp.Expr = exp.Add(this=start, expression=interval) if ceil else start
    last = exp.cast(exp.Literal.string("9999-12-31 23:59:59.999999"), exp.DataType.Type.TIMESTAMP)
    too_early = exp.LT(this=exp.cast(moment.copy(), exp.DataType.Type.TIMESTAMP), expression=_FIRST_MOMENT.copy())
    failure = exp.func("error", exp.Literal.string(f"{name} meet error: time used with {name} can't before "
                                                    "0001-01-01 00:00:00"))
    return exp.Case(ifs=[exp.If(this=too_early, true=exp.cast(failure, exp.DataType.Type.TIMESTAMP)),
                         exp.If(this=exp.LTE(this=value.copy(), expression=last), true=value)])


def _time_slices(tree: exp.Expr) -> None:
    """time_slice(t, INTERVAL n unit[, FLOOR | CEIL]) over periods from 0001-01-01 00:00:00."""
    for node in sorted(tree.find_all(exp.TimeSlice), key=depth, reverse=True):
        kind = node.args.get("kind")
        unit = node.args.get("unit")
        ceil = isinstance(kind, exp.Literal) and kind.name.upper() == "END"
        node.replace(_slice("time_slice", node.this, node.expression, unit.name.lower() if unit else "", ceil))


def _date_slice(args: list[exp.Expr]) -> exp.Expr | None:
    """date_slice(d, INTERVAL n unit[, FLOOR | CEIL]): time_slice of a date, as a DATE."""
    if len(args) not in (2, 3) or not isinstance(args[1], exp.Interval):
        return None
    ceil = len(args) == 3 and args[2].name.lower() == "ceil"
    unit = args[1].unit.name.lower() if args[1].unit is not None else ""
    if unit in ("hour", "minute", "second"):
        raise AnalysisError("Getting analyzing error. Detail message: date_slice does not support time unit "
                            f"{unit}.")
    step = args[1].this
    if isinstance(step, exp.Literal) and step.is_string:
        step = exp.Literal.number(step.name) if step.name.lstrip("-").isdigit() else step
    return exp.cast(_slice("date_slice", _datetime(args[0]), step, unit, ceil), exp.DataType.Type.DATE)


def _makedate(args: list[exp.Expr]) -> exp.Expr | None:
    """makedate(year, day_of_year): that day of that year (years 0 to 9999); NULL for a day the
    year does not have (StarRocks' test_makedate: `makedate(2023, 366)` is NULL)."""
    if len(args) != 2:
        return None
    year, day = (exp.cast(a, exp.DataType.Type.BIGINT) for a in args)
    first = exp.func("make_date", year.copy(), exp.Literal.number(1), exp.Literal.number(1))
    days_in_year = exp.func("dayofyear", exp.func("make_date", year.copy(), exp.Literal.number(12), exp.Literal.number(31)))
    valid = exp.and_(exp.Between(this=year.copy(), low=exp.Literal.number(0), high=exp.Literal.number(9999)),
                     exp.GTE(this=day.copy(), expression=exp.Literal.number(1)))
    in_year = exp.LTE(this=day.copy(), expression=days_in_year)
    offset = exp.cast(exp.Sub(this=day.copy(), expression=exp.Literal.number(1)), exp.DataType.Type.INT)
    date = exp.Add(this=first, expression=offset)
    # Nested so that make_date never sees a year outside its range.
    return exp.Case(ifs=[exp.If(this=valid, true=exp.Case(ifs=[exp.If(this=in_year, true=date)]))])


def _int(value: int) -> exp.Expr:
    return exp.Literal.number(value)


def _arith(node: type[exp.Binary], left: exp.Expr, right: exp.Expr) -> exp.Expr:
    """`(left) <op> (right)`, parenthesized (sqlglot prints a tree as it is, without precedence)."""
    return exp.Paren(this=node(this=exp.Paren(this=left), expression=exp.Paren(this=right)))


def _yearweek(args: list[exp.Expr]) -> exp.Expr | None:
    """yearweek(t[, mode]): MySQL's (and StarRocks') year and week of t, year * 100 + week, in the
    week mode 0 to 7 (default 0): bit 1 weeks start on Monday (else Sunday), bit 4 (flipped for
    Sunday-first modes) week 1 is the first with a start day in the year (else the first with 4 or
    more days in it). A value that is no date is NULL. (MySQL's calc_week with WEEK_YEAR.)"""
    if not args or len(args) > 2:
        return None
    mode = args[1] if len(args) == 2 else _int(0)
    if not (isinstance(mode, exp.Literal) and not mode.is_string and mode.name.isdigit()):
        return None
    behaviour = int(mode.name) & 7
    if not behaviour & 1:
        behaviour ^= 4
    monday_first, first_weekday = bool(behaviour & 1), bool(behaviour & 4)
    day = exp.TryCast(this=exp.TryCast(this=args[0], to=exp.DataType.build("TIMESTAMP")), to=exp.DataType.build("DATE"))
    year = exp.Year(this=day.copy())

    def week_one(year: exp.Expr) -> exp.Expr:
        """The first day of `year`'s week 1 (in the year before when 1 January is late in a week)."""
        january_first = exp.func("make_date", year, _int(1), _int(1))
        # 0 for the first day of a week (Monday or Sunday), up to 6.
        weekday = (_arith(exp.Sub, exp.func("isodow", january_first.copy()), _int(1)) if monday_first
                   else exp.func("dayofweek", january_first.copy()))
        if first_weekday:  # the first week starting in the year
            shift = _arith(exp.Mod, _arith(exp.Sub, _int(7), weekday), _int(7))
        else:  # the first week with 4 days or more in the year
            shift = _arith(exp.Sub, _arith(exp.Mod, _arith(exp.Sub, _int(10), weekday), _int(7)), _int(3))
        return _arith(exp.Add, january_first, exp.cast(shift, exp.DataType.Type.INT))

    def year_and_week(counted: exp.Expr, start: exp.Expr) -> exp.Expr:
        weeks = _arith(exp.IntDiv, _arith(exp.Sub, day.copy(), start), _int(7))
        return _arith(exp.Add, _arith(exp.Mul, counted, _int(100)), _arith(exp.Add, weeks, _int(1)))

    this_year = week_one(year.copy())
    next_year = _arith(exp.Add, year.copy(), _int(1))
    last_year = _arith(exp.Sub, year.copy(), _int(1))
    answer = exp.Case(ifs=[
        exp.If(this=exp.GTE(this=day.copy(), expression=week_one(next_year.copy())),
               true=_arith(exp.Add, _arith(exp.Mul, next_year, _int(100)), _int(1))),
        exp.If(this=exp.LT(this=day.copy(), expression=this_year.copy()),
               true=year_and_week(last_year.copy(), week_one(last_year))),
    ], default=year_and_week(year, this_year))
    return exp.cast(answer, exp.DataType.Type.BIGINT)


# Joda-Time pattern letters (a run of one letter) → strftime, by the run's length (the longest
# length at most the run's applies). Letters Joda does not define are text, as StarRocks prints them.
_JODA: dict[str, dict[int, str]] = {
    "y": {1: "%Y", 2: "%y", 3: "%Y"}, "Y": {1: "%Y", 2: "%y", 3: "%Y"}, "x": {1: "%G", 2: "%g", 3: "%G"},
    "M": {1: "%-m", 2: "%m", 3: "%b", 4: "%B"}, "d": {1: "%-d", 2: "%d"}, "D": {1: "%-j", 3: "%j"},
    "H": {1: "%-H", 2: "%H"}, "h": {1: "%-I", 2: "%I"}, "m": {1: "%-M", 2: "%M"}, "s": {1: "%-S", 2: "%S"},
    "a": {1: "%p"}, "e": {1: "%u"}, "E": {1: "%a", 4: "%A"}, "w": {1: "%-V", 2: "%V"},
}
_JODA_REFUSED = frozenset("GCKkzZ")  # era, century, 0-based hours and zones: not reproduced


def _joda_pieces(pattern: str, moment: exp.Expr) -> list[exp.Expr]:
    """The parts of jodatime_format's text for a Joda-Time `pattern`: strftime runs and fractions."""
    pieces: list[exp.Expr] = []
    fmt: list[str] = []

    def flush() -> None:
        if fmt:
            pieces.append(exp.TimeToStr(this=moment.copy(), format=exp.Literal.string("".join(fmt))))
            fmt.clear()

    i = 0
    while i < len(pattern):
        letter = pattern[i]
        run = len(pattern[i:]) - len(pattern[i:].lstrip(letter))
        if letter == "'":
            end = pattern.find("'", i + 1)
            quoted = pattern[i + 1:] if end < 0 else pattern[i + 1:end]
            fmt.append("'" if end == i + 1 else quoted.replace("%", "%%"))
            i = len(pattern) if end < 0 else end + 1
            continue
        if letter == "S":
            flush()
            micros = exp.TimeToStr(this=moment.copy(), format=exp.Literal.string("%f"))
            pieces.append(exp.func("rpad", exp.func("left", micros, _int(run)), _int(run), exp.Literal.string("0")))
        elif letter in _JODA_REFUSED:
            raise UnsupportedError(f"Getting analyzing error. Detail message: jodatime_format pattern letter "
                                   f"'{letter}' is not supported yet.")
        elif letter in _JODA:
            widths = _JODA[letter]
            fmt.append(widths[max(w for w in widths if w <= run)])
        else:
            fmt.append(pattern[i:i + run].replace("%", "%%"))
        i += run
    flush()
    return pieces


def _jodatime_format(args: list[exp.Expr]) -> exp.Expr | None:
    """jodatime_format(t, pattern): t as text in a Joda-Time pattern (`yyyy-MM-dd HH:mm:ss.SSS`);
    NULL for a t that is no DATETIME. The pattern must be a literal."""
    if len(args) != 2 or not (isinstance(args[1], exp.Literal) and args[1].is_string):
        return None
    moment = exp.TryCast(this=args[0], to=exp.DataType.build("TIMESTAMP"))
    pieces = _joda_pieces(args[1].name, moment)
    if not pieces:
        return exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Is(this=moment, expression=exp.null())),
                                    true=exp.Literal.string(""))])
    return _joined(pieces)


def _str_to_jodatime(args: list[exp.Expr]) -> exp.Expr | None:
    """str_to_jodatime(s, pattern): s read as a DATETIME in a Joda-Time pattern (`yyyy-MM-dd
    HH:mm:ss`), NULL when it does not match. The pattern must be a literal; fractions of a second
    and the letters jodatime_format does not reproduce are refused."""
    if len(args) != 2 or not (isinstance(args[1], exp.Literal) and args[1].is_string):
        return None
    pieces = _joda_pieces(args[1].name, exp.null())
    formats = [p.args["format"].name for p in pieces if isinstance(p, exp.TimeToStr)]
    if len(formats) != len(pieces) or len(formats) != 1:
        raise UnsupportedError("Getting analyzing error. Detail message: str_to_jodatime of the pattern "
                               f"'{args[1].name}' is not supported yet.")
    return exp.func("try_strptime", exp.cast(args[0], exp.DataType.Type.VARCHAR), exp.Literal.string(formats[0]))


def _joined(pieces: list[exp.Expr]) -> exp.Expr:
    """The pieces' texts one after the other (NULL when one is)."""
    return pieces[0] if len(pieces) == 1 else exp.DPipe(this=pieces[0], expression=_joined(pieces[1:]), safe=True)


_TERADATA_PUNCTUATION = frozenset("-/,.;: \r\n\t")
# Teradata format elements → (the field it sets, how many digits it reads at most).
_TERADATA_FIELDS = {"yyyy": ("year", 4), "yy": ("year", 2), "mm": ("month", 2), "dd": ("day", 2),
                    "hh24": ("hour", 2), "hh": ("hour", 2), "mi": ("minute", 2), "ss": ("second", 2)}


def _teradata_elements(pattern: str) -> list[str] | None:
    """A Teradata format as its elements (punctuation characters, `yyyy`, `mm`, `am`, ...), as
    StarRocks' TeradataFormat reads one: runs of a letter of the wrong length, upper case and
    unknown letters make it invalid (None)."""
    elements: list[str] = []
    i = 0
    while i < len(pattern):
        rest = pattern[i:]
        if rest[0] in _TERADATA_PUNCTUATION:
            elements.append(rest[0])
            i += 1
            continue
        run = len(rest) - len(rest.lstrip(rest[0]))
        element = next((e for e in ("hh24", "am", "pm", "mi") if rest.startswith(e) and (
            e == "hh24" or run == 1)), None)
        if element is None and rest[:run] in ("yyyy", "yy", "mm", "dd", "hh", "ss"):
            element = rest[:run]
        if element is None:
            return None
        elements.append(element)
        i += len(element)
    return elements


def _teradata(as_date: bool) -> Rewrite:
    """to_tera_date(s, format) / to_tera_timestamp(s, format): s read from its start in a Teradata
    format (`yyyy/mm/dd hh24:mi:ss`; `hh` with `pm` is an afternoon hour), NULL when s does not
    match it or is no valid date (StarRocks' test_to_tera_date: `to_tera_date('1988/04/08',
    'yy/mm/dd')` is NULL). An invalid format is StarRocks' error; the format must be a literal."""
    name = "to_tera_date" if as_date else "to_tera_timestamp"

    def build(args: list[exp.Expr]) -> exp.Expr | None:
        if len(args) != 2:
            return None
        text, pattern = args
        if isinstance(pattern, exp.Null):
            return exp.cast(exp.null(), exp.DataType.Type.DATE if as_date else exp.DataType.Type.TIMESTAMP)
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise UnsupportedError(f"Getting analyzing error. Detail message: {name} with a format that is not a "
                                   "constant is not supported yet.")
        elements = _teradata_elements(pattern.name)
        if elements is None:
            raise AnalysisError(f"The format parameter {pattern.name} is invalid for {name}.")
        if not any(e in ("yyyy", "yy") for e in elements):
            raise UnsupportedError(f"Getting analyzing error. Detail message: {name} with a format without a year "
                                   "is not supported yet.")
        regex, groups = "^", dict[str, tuple[int, str]]()
        for element in elements:
            if element in _TERADATA_FIELDS:
                field, digits = _TERADATA_FIELDS[element]
                regex += f"([0-9]{{1,{digits}}})"
                groups[field] = (len(groups) + 1, element)
            else:
                regex += {"am": "am", "pm": "pm"}.get(element, "\\" + element if element in ".-" else element)
        pattern_literal = exp.Literal.string(regex)

        def value(field: str, default: int) -> exp.Expr:
            if field not in groups:
                return _int(default)
            group, element = groups[field]
            read: exp.Expr = exp.cast(exp.RegexpExtract(this=text.copy(), expression=pattern_literal.copy(),
                                                        group=_int(group)), exp.DataType.Type.INT)
            if element == "yy":  # two digits: 70 to 99 are 19xx, the others 20xx
                read = _arith(exp.Add, read, exp.Case(ifs=[exp.If(this=exp.GTE(this=read.copy(), expression=_int(70)),
                                                                  true=_int(1900))], default=_int(2000)))
            if field == "hour" and "pm" in elements:
                read = _arith(exp.Add, read, _int(12))
            return read

        moment = exp.func("try", exp.func("make_timestamp", value("year", 0), value("month", 1), value("day", 1),
                                          value("hour", 0), value("minute", 0), value("second", 0)))
        matches = exp.func("regexp_matches", text.copy(), pattern_literal.copy())
        answer = exp.Case(ifs=[exp.If(this=matches, true=moment)])
        return exp.cast(answer, exp.DataType.Type.DATE) if as_date else answer
    return build


_REWRITES: dict[str, Rewrite] = {
    "jodatime_format": _jodatime_format,
    "format_datetime": _jodatime_format,  # Trino's name
    "str_to_jodatime": _str_to_jodatime,
    "parse_datetime": _str_to_jodatime,  # Trino's name
    "to_tera_date": _teradata(True),
    "to_tera_timestamp": _teradata(False),
    "yearweek": _yearweek,
    "makedate": _makedate,
    "date_slice": _date_slice,
    "date_diff": _date_diff,
    "week_iso": _week_iso,
    "to_iso8601": _to_iso8601,
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


def _whole_months(later: exp.Expr, earlier: exp.Expr, per: int) -> exp.Expr:
    """The whole spans of `per` months from `earlier` to `later` (both DATETIMEs, `later` not
    before), as StarRocks' date_diff counts them: n spans are whole when `earlier` moved n spans on
    (to its month's last day if the month is shorter) is not after `later`, or when `later` is the
    last day of its month and that day of the month n spans back is not before `earlier`
    (test_date_diff: `date_diff('month', '2017-02-28', '2016-02-28 00:00:00.001')` is 12,
    `date_diff('month', '2016-02-28', '2015-02-28 00:00:00.01')` 11)."""
    def part(name: str, value: exp.Expr) -> exp.Expr:
        return exp.func("date_part", exp.Literal.string(name), value.copy())

    months = _arith(exp.Add, _arith(exp.Mul, _arith(exp.Sub, part("year", later), part("year", earlier)), _int(12)),
                    _arith(exp.Sub, part("month", later), part("month", earlier)))
    spans = _arith(exp.IntDiv, months, _int(per))
    moved = exp.func("to_months", exp.cast(_arith(exp.Mul, spans.copy(), _int(per)), exp.DataType.Type.BIGINT))
    forward = exp.LTE(this=_arith(exp.Add, earlier.copy(), moved.copy()), expression=later.copy())
    day = exp.cast(later.copy(), exp.DataType.Type.DATE)
    time_of_day = _arith(exp.Sub, later.copy(), exp.cast(day.copy(), exp.DataType.Type.TIMESTAMP))
    back = _arith(exp.Add, exp.cast(exp.LastDay(this=_arith(exp.Sub, day.copy(), moved)), exp.DataType.Type.TIMESTAMP),
                  time_of_day)
    backward = exp.and_(exp.EQ(this=day.copy(), expression=exp.LastDay(this=day.copy())),
                        exp.GTE(this=back, expression=earlier.copy()))
    return exp.Case(ifs=[exp.If(this=exp.or_(forward, backward), true=spans.copy())],
                    default=_arith(exp.Sub, spans, _int(1)))


_MONTHS_PER = {"YEAR": 12, "QUARTER": 3, "MONTH": 1}


def _date_diff_units(unit: str, later: exp.Expr, earlier: exp.Expr) -> exp.Expr:
    """date_diff's whole units from `earlier` to `later` (negative when `later` is before): years,
    quarters and months as `_whole_months` counts them, the other units as `_whole_units`."""
    if unit not in _MONTHS_PER:
        return _whole_units(unit, later, earlier)
    later, earlier = (exp.TryCast(this=v, to=exp.DataType.build("TIMESTAMP")) for v in (later, earlier))
    per = _MONTHS_PER[unit]
    counted = exp.Case(ifs=[exp.If(this=exp.GTE(this=later.copy(), expression=earlier.copy()),
                                   true=_whole_months(later, earlier, per))],
                       default=exp.Neg(this=_whole_months(earlier, later, per)))
    return exp.cast(counted, exp.DataType.Type.BIGINT)


def _units_named_by(unit: exp.Expr, later: exp.Expr, earlier: exp.Expr) -> exp.Expr:
    """date_diff's whole units from `earlier` to `later`, the unit's name a value (a column, NULL):
    NULL for a NULL name; a name that is no unit fails the statement, as in StarRocks."""
    name = exp.func("lower", unit.copy())
    ifs = [exp.If(this=exp.Is(this=unit.copy(), expression=exp.null()), true=exp.null())]
    for spelled, part in _UNITS.items():
        if part != "MICROSECOND":
            ifs.append(exp.If(this=exp.EQ(this=name.copy(), expression=exp.Literal.string(spelled)),
                              true=_date_diff_units(part, later.copy(), earlier.copy())))
    failure = exp.func("error", exp.Literal.string("type column should be one of day/hour/minute/second/millisecond"))
    return exp.Case(ifs=ifs, default=exp.cast(failure, exp.DataType.Type.BIGINT))


def _diffs_count_whole_units(tree: exp.Expr) -> None:
    """`date_diff('unit', a, b)` and `timestampdiff(unit, b, a)` count whole units; `datediff(a, b)`
    (no unit: days between the dates) stays as it is."""
    for node in sorted(tree.find_all(exp.DateDiff, exp.TimestampDiff), key=depth, reverse=True):
        unit = node.args.get("unit")
        if isinstance(node, exp.DateDiff) and unit is None:
            continue
        name = unit.name.lower().removesuffix("s") if isinstance(unit, (exp.Var, exp.Literal)) else ""
        if name in _UNITS:
            count = _date_diff_units if isinstance(node, exp.DateDiff) else _whole_units
            node.replace(count(_UNITS[name], node.this.copy(), node.expression.copy()))
        else:
            # Checked as each row is computed, as StarRocks does: over no rows, no error.
            named = exp.Literal.string(unit.name) if isinstance(unit, exp.Var) else unit or exp.null()
            node.replace(_units_named_by(named, node.this.copy(), node.expression.copy()))


def _from_unixtime_as_text(tree: exp.Expr) -> None:
    """from_unixtime(n[, format]) is the text of the DATETIME n seconds after the epoch (UTC)."""
    for node in sorted(tree.find_all(exp.UnixToTime), key=depth, reverse=True):
        fmt = node.args.get("format")
        moment = exp.func("make_timestamp", exp.Mul(this=exp.cast(node.this.copy(), exp.DataType.Type.BIGINT),
                                                    expression=exp.Literal.number(1_000_000)))
        text = exp.TimeToStr(this=moment, format=fmt.copy() if fmt is not None else exp.Literal.string("%Y-%m-%d %H:%M:%S"))
        node.replace(text)


def _zone(zone: exp.Expr) -> exp.Expr:
    """A time zone as StarRocks names one: a region (`Asia/Shanghai`) or an offset (`+08:00`),
    which ICU, DuckDB's zone database, knows as `GMT+08:00`."""
    is_offset = exp.func("regexp_matches", zone.copy(), exp.Literal.string(r"^[+-][0-9]{1,2}:[0-9]{2}$"))
    return exp.Case(ifs=[exp.If(this=is_offset, true=exp.DPipe(this=exp.Literal.string("GMT"), expression=zone.copy()))],
                    default=zone.copy())


def _convert_tz_offsets(tree: exp.Expr) -> None:
    """convert_tz(t, from, to) takes UTC offsets as zones too (StarRocks' test_convert_tz)."""
    for node in tree.find_all(exp.ConvertTimezone):
        for key in ("source_tz", "target_tz"):
            zone = node.args.get(key)
            if zone is not None and not (isinstance(zone, exp.Literal) and "/" in zone.name):
                node.set(key, _zone(zone))


def apply(tree: exp.Expr) -> None:
    """Rewrite StarRocks' date and time function calls in `tree`, in place."""
    _string_literals_as_datetimes(tree)
    _convert_tz_offsets(tree)
    _time_slices(tree)
    for node in list(tree.find_all(exp.ParseDatetime)):  # Trino's parse_datetime, read as a node of its own
        arguments = [node.this, node.args.get("format")]
        node.replace(exp.Anonymous(this="parse_datetime", expressions=[a for a in arguments if a is not None]))
    rewrite_calls(tree, _REWRITES)
    _diffs_count_whole_units(tree)
    _from_unixtime_as_text(tree)
