"""StarRocks' aggregate functions that DuckDB lacks or answers otherwise, rewritten on the sqlglot
tree of a statement before it is generated as DuckDB SQL.

The approximate distinct counts (`ndv`, `approx_count_distinct`, the bitmap, HLL and DataSketches
forms) answer the exact distinct count: StarRocks' sketches are exact within their error bound, and
an exact answer is within every bound. `percentile_approx` answers as StarRocks' t-digest does while
it holds every value as its own centroid (each value at the middle of its rank), so small inputs get
StarRocks' very answer.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from cairn.errors import AnalysisError, SqlSyntaxError
from cairn.query.calls import depth

# Builds the replacement of a call from its arguments (copies), or None to leave the call as it is.
_Build = Callable[[list[exp.Expr]], exp.Expr | None]

_SORTED = "__cairn_sorted"
_ENTRY = "__cairn_entry"


def _analysis_error(message: str) -> AnalysisError:
    return AnalysisError(f"Getting analyzing error. Detail message: {message}.")


def _count_distinct(args: list[exp.Expr]) -> exp.Expr | None:
    if len(args) != 1:
        return None
    return exp.Count(this=exp.Distinct(expressions=[args[0]]))


def _sketch_count_distinct(name: str, max_args: int) -> _Build:
    """ds_hll_count_distinct(x[, log_k[, type]]) and ds_theta_count_distinct(x): the distinct count;
    a log_k outside 4..21 fails as in StarRocks."""
    def build(args: list[exp.Expr]) -> exp.Expr | None:
        if not 1 <= len(args) <= max_args:
            types = ", ".join(_signature_type(a) for a in args)
            raise _analysis_error(f"No matching function with signature: {name}({types})")
        if len(args) > 1:
            log_k = _number(args[1])
            if log_k is None or not 4 <= log_k <= 21:
                raise _analysis_error(f"{name} second parameter'value should be between 4 and 21")
        return _count_distinct(args[:1])
    return build


def _signature_type(arg: exp.Expr) -> str:
    """The type StarRocks names for a literal in "No matching function" messages, else the type of
    a column as far as the call's text tells it."""
    if isinstance(arg, exp.Literal):
        return "varchar" if arg.is_string else "tinyint(4)"
    return "bigint(20)"


def _number(node: exp.Expr) -> float | None:
    """The value of a numeric literal (or a cast of one, or its negation), else None."""
    if isinstance(node, (exp.Cast, exp.TryCast, exp.Paren)):
        return _number(node.this)
    if isinstance(node, exp.Neg):
        value = _number(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return float(node.name)
        except ValueError:
            return None
    return None


def _checked_rate(name: str, rate: exp.Expr) -> None:
    """StarRocks refuses a percentile rate outside [0, 1]: a literal while analysing the statement,
    a cast one when it evaluates it (each with its own message)."""
    value = _number(rate)
    if value is None or 0 <= value <= 1:
        return
    if isinstance(rate, (exp.Cast, exp.TryCast)):
        raise AnalysisError("Percentile rate must be between 0 and 1")
    raise _analysis_error(f"{name} second parameter'value should be between 0 and 1")


def _percentile_disc_lc(args: list[exp.Expr]) -> exp.Expr | None:
    """percentile_disc_lc(x, rate): the discrete percentile (a value of x), as percentile_disc."""
    if len(args) != 2:
        return None
    _checked_rate("percentile_disc_lc", args[1])
    return exp.PercentileDisc(this=args[0], expression=args[1])


def _t_digest_percentile(value: exp.Expr, rate: exp.Expr) -> exp.Expr:
    """The `rate` percentile of `value` as a t-digest of singleton centroids answers it: the sorted
    values v[1..n] stand at ranks 0.5, 1.5, ..., n - 0.5, and the answer at rank rate * n is
    interpolated between its neighbours (the first or last value beyond them); NULL over no values."""
    values = exp.Filter(
        this=exp.func("list", exp.cast(value.copy(), exp.DataType.Type.DOUBLE)),
        expression=exp.Where(this=exp.Not(this=exp.Is(this=value.copy(), expression=exp.null()))))
    sorted_values = exp.to_identifier(_SORTED)
    count = exp.func("len", sorted_values.copy())
    rank = exp.Sub(this=exp.Mul(this=exp.Paren(this=rate.copy()), expression=count.copy()),
                   expression=exp.Literal.number(0.5))
    below = exp.func("floor", rank.copy())

    def at(index: exp.Expr) -> exp.Expr:
        return exp.func("list_extract", sorted_values.copy(), index)

    one = exp.Literal.number(1)
    lower = at(exp.cast(exp.Add(this=below.copy(), expression=one.copy()), exp.DataType.Type.BIGINT))
    upper = at(exp.cast(exp.Add(this=below.copy(), expression=exp.Literal.number(2)), exp.DataType.Type.BIGINT))
    between = exp.Add(this=lower.copy(), expression=exp.Mul(
        this=exp.Paren(this=exp.Sub(this=rank.copy(), expression=below.copy())),
        expression=exp.Paren(this=exp.Sub(this=upper, expression=lower))))
    answer = exp.Case(ifs=[
        exp.If(this=exp.EQ(this=count.copy(), expression=exp.Literal.number(0)), true=exp.null()),
        exp.If(this=exp.LTE(this=rank.copy(), expression=exp.Literal.number(0)), true=at(one.copy())),
        exp.If(this=exp.GTE(this=rank.copy(), expression=exp.Sub(this=count.copy(), expression=one.copy())),
               true=at(count.copy())),
    ], default=between)
    # A one-element list binds the sorted values once for the lambda that reads them several times.
    bound = exp.func("list_transform", exp.Array(expressions=[exp.func("list_sort", values)]),
                     exp.Lambda(this=answer, expressions=[sorted_values]))
    return exp.func("list_extract", bound, one.copy())


def _constant_of_group(value: exp.Expr, name: str) -> exp.Expr:
    """`value` read once per group: a column that holds one value there (a user variable selected in
    a CTE, test_percentile_approx); the statement fails when it holds several."""
    if value.find(exp.Column) is None:
        return value
    lowest, highest = exp.func("min", value.copy()), exp.func("max", value.copy())
    failure = exp.func("error", exp.Literal.string(f"Expr evaluate meet error: {name} requires its rate to be "
                                                   "a constant."))
    return exp.Case(ifs=[exp.If(this=exp.NullSafeNEQ(this=lowest.copy(), expression=highest), true=failure)],
                    default=lowest)


def _percentile_approx(args: list[exp.Expr]) -> exp.Expr | None:
    """percentile_approx(x, rate[, compression])."""
    if len(args) not in (2, 3):
        return None
    return _t_digest_percentile(args[0], _constant_of_group(args[1], "percentile_approx"))


def _percentile_approx_raw(args: list[exp.Expr]) -> exp.Expr | None:
    """percentile_approx_raw(percentile_union(percentile_hash(x)), rate): the percentile_approx of x
    (Cairn has no PERCENTILE column type, so the state is always built in the same query)."""
    if len(args) != 2:
        return None
    state = args[0]
    if not (isinstance(state, exp.Anonymous) and state.name.lower() == "percentile_union"
            and len(state.expressions) == 1):
        return None
    hashed = state.expressions[0]
    if not (isinstance(hashed, exp.Anonymous) and hashed.name.lower() == "percentile_hash"
            and len(hashed.expressions) == 1):
        return None
    return _t_digest_percentile(hashed.expressions[0], args[1])


def _bitmap_union_count(args: list[exp.Expr]) -> exp.Expr | None:
    """bitmap_union_count(to_bitmap(x)): the distinct count of x's values a bitmap holds (NULL and
    negative values are not in any bitmap)."""
    if len(args) != 1 or not isinstance(args[0], exp.Anonymous) or args[0].name.lower() != "to_bitmap" \
            or len(args[0].expressions) != 1:
        return None
    value = args[0].expressions[0]
    kept = exp.Case(ifs=[exp.If(this=exp.GTE(this=exp.TryCast(this=value.copy(), to=exp.DataType.build("HUGEINT")),
                                              expression=exp.Literal.number(0)), true=value.copy())])
    return _count_distinct([kept])


def _hll_union_agg(args: list[exp.Expr]) -> exp.Expr | None:
    """hll_union_agg(hll_hash(x)): the distinct count of x."""
    if len(args) != 1 or not isinstance(args[0], exp.Anonymous) or args[0].name.lower() != "hll_hash" \
            or len(args[0].expressions) != 1:
        return None
    return _count_distinct(args[0].expressions)


def _multi_distinct_sum(args: list[exp.Expr]) -> exp.Expr | None:
    if len(args) != 1:
        return None
    return exp.Sum(this=exp.Distinct(expressions=[args[0]]))


def _over(aggregate: exp.Expr, window: exp.Window | None) -> exp.Expr:
    """`aggregate`, or `aggregate OVER` the same window as `window`."""
    if window is None:
        return aggregate
    over = window.copy()
    over.set("this", aggregate)
    return over


def _approx_top_k(node: exp.ApproxTopK, window: exp.Window | None) -> exp.Expr:
    """approx_top_k(x[, k[, counters]]) [OVER (...)]: the k (default 5) most frequent values of x,
    NULL counted as one, as [{"item": v, "count": n}, ...] from the most frequent; exact, which the
    sketch is while x has no more distinct values than counters; NULL over no rows."""
    value = node.this
    limit = node.args.get("expression")
    k = _number(limit) if limit is not None else 5.0
    if k is None or k != int(k) or k <= 0:
        raise _analysis_error("The second parameter of APPROX_TOP_K must be a positive integer constant")
    counters = node.args.get("counters")
    if counters is not None:
        number = _number(counters)
        if number is None or number < k:
            raise _analysis_error("The third parameter of APPROX_TOP_K must be a constant not less than the "
                                  "second parameter")
    entry = exp.to_identifier(_ENTRY)
    # Entries as {count: -n, known: v IS NOT NULL, item: v}: sorting the list puts the most frequent
    # first, and NULL first among the equally frequent, as StarRocks lists them.
    frequency = exp.cast(_field(entry, "value"), exp.DataType.Type.BIGINT)
    counted = exp.func("list_transform", exp.func("map_entries", _over(exp.func("histogram", value.copy()), window)),
                       exp.Lambda(this=_struct(("count", exp.Neg(this=frequency)), ("known", exp.true()),
                                               ("item", _field(entry, "key"))),
                                  expressions=[entry.copy()]))
    rows = _over(exp.Count(this=exp.Star()), window)
    nulls = exp.Paren(this=exp.Sub(this=rows.copy(), expression=_over(exp.Count(this=value.copy()), window)))
    null_entry = exp.Case(
        ifs=[exp.If(this=exp.GT(this=nulls.copy(), expression=exp.Literal.number(0)),
                    true=exp.Array(expressions=[_struct(("count", exp.Neg(this=nulls.copy())), ("known", exp.false()),
                                                        ("item", exp.null()))]))],
        default=exp.Array(expressions=[]))
    everything = exp.func("list_sort", exp.func("list_concat", exp.func("coalesce", counted, exp.Array(expressions=[])),
                                                 null_entry))
    top = exp.func("list_slice", everything, exp.Literal.number(1), exp.Literal.number(int(k)))
    shaped = _struct(("item", _field(entry, "item")), ("count", exp.Neg(this=_field(entry, "count"))))
    answer = exp.func("list_transform", top, exp.Lambda(this=shaped, expressions=[entry.copy()]))
    # Over no rows it is NULL, as every aggregate but count.
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=rows.copy(), expression=exp.Literal.number(0)),
                                true=exp.null())], default=answer)


def _field(struct: exp.Identifier, name: str) -> exp.Expr:
    return exp.func("struct_extract", struct.copy(), exp.Literal.string(name))


def _struct(*fields: tuple[str, exp.Expr]) -> exp.Struct:
    return exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(name, quoted=True), expression=value)
                                   for name, value in fields])


_REWRITES: dict[str, _Build] = {
    "ndv": _count_distinct,
    "approx_count_distinct_hll_sketch": _count_distinct,
    "multi_distinct_count": _count_distinct,
    "bitmap_union_int": _count_distinct,
    "ds_hll_count_distinct": _sketch_count_distinct("ds_hll_count_distinct", 3),
    "ds_theta_count_distinct": _sketch_count_distinct("ds_theta_count_distinct", 1),
    "bitmap_union_count": _bitmap_union_count,
    "hll_union_agg": _hll_union_agg,
    "multi_distinct_sum": _multi_distinct_sum,
    "percentile_disc_lc": _percentile_disc_lc,
    "percentile_approx": _percentile_approx,
    "percentile_approx_raw": _percentile_approx_raw,
}


def _replace_keeping_name(node: exp.Expr, replacement: exp.Expr) -> None:
    """Replace `node`; a select column keeps the name the call gave it (its StarRocks text)."""
    if isinstance(node.parent, exp.Select) and node.arg_key == "expressions":
        replacement = exp.alias_(replacement, node.sql(dialect="starrocks").lower(), quoted=True)
    node.replace(replacement)


def apply(tree: exp.Expr) -> None:
    """Rewrite StarRocks' aggregate function calls in `tree`, in place.

    Raises AnalysisError for arguments StarRocks refuses."""
    for percentile in list(tree.find_all(exp.PercentileCont, exp.PercentileDisc)):
        name = "percentile_cont" if isinstance(percentile, exp.PercentileCont) else "percentile_disc"
        if percentile.expression is not None:
            _checked_rate(name, percentile.expression)
        if isinstance(percentile.parent, exp.Select) and percentile.arg_key == "expressions":
            # Named as StarRocks names the column, not as DuckDB's quantile_cont / quantile_disc.
            _replace_keeping_name(percentile, percentile.copy())
    calls: list[exp.Expr] = list(tree.find_all(exp.Anonymous, exp.ApproxDistinct, exp.ApproxTopK))
    for node in sorted(calls, key=depth, reverse=True):
        replacement: exp.Expr | None
        if isinstance(node, exp.ApproxDistinct):
            replacement = _count_distinct([node.this.copy()])
        elif isinstance(node, exp.ApproxTopK):
            window = node.parent if isinstance(node.parent, exp.Window) and node.arg_key == "this" else None
            replacement = _approx_top_k(node, window)
            if window is not None:
                _replace_keeping_name(window, replacement)
                continue
        else:
            build = _REWRITES.get(node.name.lower())
            replacement = build([a.copy() for a in node.expressions]) if build is not None else None
        if replacement is not None:
            _replace_keeping_name(node, replacement)


_ELEMENT = "__cairn_x"
_POSITION = "__cairn_i"


def _first_of_each(values: exp.Expr) -> exp.Expr:
    """The list `values` with each value kept only where it first occurs (NULL counted as a value)."""
    element, position = exp.to_identifier(_ELEMENT), exp.to_identifier(_POSITION)
    first = exp.EQ(this=exp.func("list_position", values.copy(), element.copy()), expression=position.copy())
    return exp.func("list_filter", values.copy(), exp.Lambda(this=first, expressions=[element, position]))


def _bound_once(value: exp.Expr, name: str, body: exp.Expr) -> exp.Expr:
    """`body` with the identifier `name` standing for `value`, which is computed once."""
    bound = exp.func("list_transform", exp.Array(expressions=[value]),
                     exp.Lambda(this=body, expressions=[exp.to_identifier(name)]))
    return exp.func("list_extract", bound, exp.Literal.number(1))


def _distinct_ordered_by_others(aggregate: exp.ArrayAgg | exp.GroupConcat) -> exp.Expr | None:
    """`array_agg(DISTINCT x ORDER BY k)` / `group_concat(DISTINCT x ORDER BY k)` where k is not x:
    the values in the order of k, each where it first comes. (DuckDB orders a DISTINCT aggregate
    only by its arguments.)"""
    order = aggregate.this
    if not isinstance(order, exp.Order) or not isinstance(order.this, exp.Distinct) \
            or len(order.this.expressions) != 1:
        return None
    value = order.this.expressions[0]
    if all(ordered.this == value for ordered in order.expressions):
        return None
    ordered_values = exp.Order(this=value.copy(), expressions=[o.copy() for o in order.expressions])
    listed: exp.Expr = exp.ArrayAgg(this=ordered_values)
    values = exp.to_identifier(_SORTED)
    if isinstance(aggregate, exp.ArrayAgg):
        return _bound_once(listed, _SORTED, _first_of_each(values))
    # group_concat leaves out NULL values, and is NULL over none.
    listed = exp.Filter(this=listed, expression=exp.Where(
        this=exp.Not(this=exp.Is(this=value.copy(), expression=exp.null()))))
    separator = aggregate.args.get("separator") or exp.Literal.string(",")
    joined = exp.func("array_to_string", _first_of_each(values), separator.copy())
    return _bound_once(listed, _SORTED, joined)


def _separated_by_rows(aggregate: exp.GroupConcat) -> exp.Expr | None:
    """`group_concat(x SEPARATOR s)` where s is not a constant (a column): each value but the last is
    followed by its own row's s (NULL as nothing), as StarRocks joins them (test_group_concat)."""
    separator = aggregate.args.get("separator")
    if isinstance(separator, exp.Identifier):
        separator = exp.column(separator.copy())  # sqlglot reads `SEPARATOR name` as a bare name
    if separator is None or isinstance(separator, (exp.Literal, exp.Null)) or separator.find(exp.Column) is None:
        return None
    order = aggregate.this if isinstance(aggregate.this, exp.Order) else None
    value = order.this if order is not None else aggregate.this
    if isinstance(value, exp.Distinct):
        raise _analysis_error("group_concat(DISTINCT ...) with a separator that is not a constant is not supported yet")
    pair = _struct(("v", value.copy()), ("s", exp.func("coalesce", separator.copy(), exp.Literal.string(""))))
    listed: exp.Expr = exp.ArrayAgg(this=exp.Order(this=pair, expressions=[o.copy() for o in order.expressions])
                                    if order is not None else pair)
    listed = exp.Filter(this=listed, expression=exp.Where(
        this=exp.Not(this=exp.Is(this=value.copy(), expression=exp.null()))))
    values, element, position = exp.to_identifier(_SORTED), exp.to_identifier(_ELEMENT), exp.to_identifier(_POSITION)
    last = exp.EQ(this=position.copy(), expression=exp.func("len", values.copy()))
    piece = exp.DPipe(this=_field(element, "v"), expression=exp.Case(
        ifs=[exp.If(this=last, true=exp.Literal.string(""))], default=_field(element, "s")))
    pieces = exp.func("list_transform", values.copy(), exp.Lambda(this=piece, expressions=[element, position]))
    return _bound_once(listed, _SORTED, exp.func("array_to_string", pieces, exp.Literal.string("")))


def distinct_aggregates_ordered_by_other_keys(tree: exp.Expr) -> None:
    """Rewrite each DISTINCT array_agg / group_concat ordered by something other than its value, and
    each group_concat with a separator of its rows, in place (after group_concat's ORDER BY positions
    are read as its arguments)."""
    for node in sorted(tree.find_all(exp.ArrayAgg, exp.GroupConcat), key=depth, reverse=True):
        if not isinstance(node, (exp.ArrayAgg, exp.GroupConcat)):
            continue
        replacement = _distinct_ordered_by_others(node)
        if replacement is None and isinstance(node, exp.GroupConcat):
            replacement = _separated_by_rows(node)
        if replacement is not None:
            _replace_keeping_name(node, replacement)


def _constant(node: exp.Expr) -> bool:
    return isinstance(node, (exp.Null, exp.Boolean)) or isinstance(node, exp.Literal) and (
        node.is_string or not node.name.isdigit())


def aggregate_orders_read_as_starrocks(tree: exp.Expr) -> None:
    """In `array_agg(x ORDER BY 1)` the number is the argument's position, as group_concat's are
    (StarRocks' test_count_distinct: `array_agg(v5 order by 1)` sorts by v5); an ORDER BY key that is
    a constant (`ORDER BY null`) orders nothing, where DuckDB refuses it; group_concat's `SEPARATOR
    NULL` joins with nothing (test_group_concat), where DuckDB's answer would be NULL. In place."""
    for node in list(tree.find_all(exp.ArrayAgg, exp.GroupConcat)):
        if isinstance(node, exp.GroupConcat) and isinstance(node.args.get("separator"), exp.Null):
            node.set("separator", exp.Literal.string(""))
        order = node.this
        if not isinstance(order, exp.Order):
            continue
        for ordered in list(order.expressions):
            key = ordered.this
            if _constant(key):
                ordered.pop()
            elif isinstance(node, exp.ArrayAgg) and isinstance(key, exp.Literal) and key.name.isdigit():
                value = order.this.expressions[0] if isinstance(order.this, exp.Distinct) else order.this
                if key.name != "1":
                    raise SqlSyntaxError(f"Getting syntax error. Detail message: ORDER BY position {key.name} "
                                         "is not in array_agg output list.")
                key.replace(value.copy())
        if not order.expressions:
            order.replace(order.this)


def count_if_counts_true_values(tree: exp.Expr) -> None:
    """count_if(x) counts the rows where x is true; x that is not a condition is read as a BOOLEAN
    (non-zero numbers; a string that is no BOOLEAN is not), as StarRocks does (test_count_if:
    `count_if(v4)` of an INT, `count_if(v2)` of a VARCHAR, `count_if(null)` is 0). It is a BIGINT
    count, where DuckDB's count_if is a HUGEINT and NULL over only NULLs. In place."""
    for node in list(tree.find_all(exp.CountIf)):
        if isinstance(node.this, exp.Distinct):
            raise SqlSyntaxError("Getting syntax error. Detail message: Unexpected input '(', the most similar "
                                 "input is {<EOF>, ';'}.")
        value = node.this.copy()
        if not isinstance(value, (exp.Predicate, exp.Not, exp.Connector, exp.Boolean)):
            value = exp.TryCast(this=value, to=exp.DataType.build("BOOLEAN"))
        counted = exp.Count(this=exp.Case(ifs=[exp.If(this=value, true=exp.Literal.number(1))]))
        _replace_keeping_name(node, counted)
