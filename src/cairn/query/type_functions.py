"""StarRocks' JSON, ARRAY and MAP functions that DuckDB names or shapes otherwise, rewritten on the
sqlglot tree of a statement before it is generated as DuckDB SQL."""

from __future__ import annotations

import re

from sqlglot import exp

from cairn.errors import AnalysisError
from cairn.query.calls import Rewrite, call_span, depth, rewrite_calls
from cairn.query.result_types import ColumnTypes, declared_type


def _json_text(args: list[exp.Expr]) -> exp.Expr:
    return exp.func("json_extract_string", *args)


_INTEGER_TEXT = r"^\s*[+-]?[0-9]+\s*$"


def _typed_json(target: str) -> Rewrite:
    """get_json_int / _double / _bool: the value at the path as that type, as StarRocks converts it
    (test_flat_json_with_type): a boolean is 1 or 0, a number is truncated to an integer and is
    true when not 0, a string is read as that type (an integer's text only for INT and BOOLEAN,
    'true' / 'false' for BOOLEAN too); anything else (objects, arrays, null, other text) is NULL."""
    def build(args: list[exp.Expr]) -> exp.Expr | None:
        if len(args) != 2:
            return None
        kind = exp.func("json_type", exp.func("json_extract", *[a.copy() for a in args]))
        text = _json_text(args)

        def cast(value: exp.Expr, to: str) -> exp.Expr:
            return exp.TryCast(this=value, to=exp.DataType.build(to, dialect="duckdb"))

        def integer_text(value: exp.Expr) -> exp.Expr:
            return exp.Case(ifs=[exp.If(this=exp.RegexpLike(this=text.copy(), expression=exp.Literal.string(_INTEGER_TEXT)),
                                        true=value)])

        is_true = exp.EQ(this=text.copy(), expression=exp.Literal.string("true"))
        nonzero = exp.NEQ(this=cast(text.copy(), "DOUBLE"), expression=exp.Literal.number(0))
        if target == "BOOLEAN":
            from_bool: exp.Expr = is_true
            from_integer: exp.Expr = nonzero
            from_double: exp.Expr = nonzero.copy()
            lowered = exp.func("lower", exp.func("trim", text.copy()))
            from_text: exp.Expr = exp.Case(ifs=[
                exp.If(this=exp.EQ(this=lowered, expression=exp.Literal.string("true")), true=exp.true()),
                exp.If(this=exp.EQ(this=lowered.copy(), expression=exp.Literal.string("false")), true=exp.false())],
                default=integer_text(exp.NEQ(this=cast(text.copy(), "HUGEINT"), expression=exp.Literal.number(0))))
        else:
            from_bool = cast(cast(is_true, "INTEGER"), target)
            from_integer = cast(text.copy(), target)
            from_double = cast(exp.func("trunc", cast(text.copy(), "DOUBLE")), target) if target == "BIGINT" \
                else cast(text.copy(), target)
            from_text = integer_text(cast(text.copy(), target)) if target == "BIGINT" else cast(text.copy(), target)

        def when(names: tuple[str, ...], value: exp.Expr) -> exp.If:
            return exp.If(this=exp.In(this=kind.copy(), expressions=[exp.Literal.string(n) for n in names]), true=value)

        return exp.Case(ifs=[when(("BOOLEAN",), from_bool), when(("BIGINT", "UBIGINT"), from_integer),
                             when(("DOUBLE",), from_double), when(("VARCHAR",), from_text)])
    return build


def json_string(args: list[exp.Expr]) -> exp.Expr | None:
    """get_json_string(j, path): the text at the path; an object or array as StarRocks prints JSON,
    `", "` and `": "` between items (test_flat_json: `get_json_string(j2, "$")`). DuckDB's pretty
    form puts each item on its own line, and a JSON string never holds a raw line break, so joining
    the lines gives StarRocks' form."""
    if len(args) != 2:
        return None
    value = exp.func("json_extract", *[a.copy() for a in args])
    lines = exp.func("json_pretty", value.copy())
    joined = exp.func("regexp_replace", exp.func("regexp_replace", lines, exp.Literal.string(",\n\\s*"),
                                                 exp.Literal.string(", "), exp.Literal.string("g")),
                      exp.Literal.string("\n\\s*"), exp.Literal.string(""), exp.Literal.string("g"))
    kind = exp.func("json_type", value)
    nested = exp.In(this=kind.copy(), expressions=[exp.Literal.string("OBJECT"), exp.Literal.string("ARRAY")])
    # A whole double prints without its fraction (test_flat_json_with_type: 0.000 is "0").
    number = exp.cast(_json_text(args), exp.DataType.Type.DOUBLE)
    whole = exp.and_(exp.EQ(this=kind.copy(), expression=exp.Literal.string("DOUBLE")),
                     exp.EQ(this=number.copy(), expression=exp.func("trunc", number.copy())),
                     exp.LT(this=exp.func("abs", number.copy()), expression=exp.Literal.number("1e15")))
    return exp.Case(ifs=[exp.If(this=nested, true=joined),
                         exp.If(this=whole, true=exp.cast(exp.cast(number.copy(), exp.DataType.Type.BIGINT),
                                                          exp.DataType.Type.VARCHAR))],
                    default=_json_text(args))


def _json_length(args: list[exp.Expr]) -> exp.Expr | None:
    """json_length(j [, path]): the number of elements of the array or members of the object at the
    path, 1 for any other value (JSON null included), 0 when the path is missing
    (test_flat_json_with_type); NULL when j is NULL."""
    if len(args) not in (1, 2):
        return None
    path = args[1] if len(args) == 2 else exp.Literal.string("$")
    value = exp.func("json_extract", args[0].copy(), path)
    kind = exp.func("json_type", value.copy())
    length = exp.Case(ifs=[
        exp.If(this=exp.Is(this=args[0].copy(), expression=exp.null()), true=exp.null()),
        exp.If(this=exp.Is(this=kind.copy(), expression=exp.null()), true=exp.Literal.number(0)),
        exp.If(this=exp.EQ(this=kind.copy(), expression=exp.Literal.string("ARRAY")),
               true=exp.func("json_array_length", value.copy())),
        exp.If(this=exp.EQ(this=kind, expression=exp.Literal.string("OBJECT")),
               true=exp.func("len", exp.func("json_keys", value.copy())))],
        default=exp.Literal.number(1))
    return exp.cast(length, exp.DataType.Type.INT)


def _two(name: str) -> Rewrite:
    return lambda args: exp.func(name, *args) if len(args) == 2 else None


_INDEX = "__cairn_i"
_ENTRY = "__cairn_z"


def _same_lengths(arrays: list[exp.Expr], message: str, value: exp.Expr) -> exp.Expr:
    """`value`, or the statement fails with `message` when the arrays' lengths differ (NULL arrays
    are not compared), as StarRocks' functions over several arrays do."""
    first = exp.func("len", arrays[0].copy())
    differ = exp.or_(*[exp.NEQ(this=first.copy(), expression=exp.func("len", a.copy())) for a in arrays[1:]])
    failure = exp.func("error", exp.Literal.string(f"Expr evaluate meet error: {message}"))
    return exp.Case(ifs=[exp.If(this=differ, true=failure)], default=value)


def _reads_parameter(function: exp.Lambda) -> bool:
    """Whether the lambda's body reads its parameter (not another lambda's of the same name)."""
    params = {p.name for p in function.expressions}
    for node in function.this.find_all(exp.Identifier):
        parent = node.parent
        if node.name not in params or isinstance(parent, exp.Dot) or (
                isinstance(parent, exp.Column) and parent.table):
            continue
        inner = node.find_ancestor(exp.Lambda)
        while inner is not None and inner is not function and node.name not in {p.name for p in inner.expressions}:
            inner = inner.find_ancestor(exp.Lambda)
        if inner is None or inner is function:
            return True
    return False


def _same_value_each(array: exp.Expr, value: exp.Expr) -> exp.Expr:
    """A list as long as `array` holding `value` at each position (NULL for a NULL array): a lambda
    that ignores its element is evaluated once per row, not once per element (test_array_map_2:
    `array_map(x -> array_length(array_concat(arr_str, [])), arr_largeint)` over 20000 elements)."""
    filled = exp.func("list_resize", exp.Array(expressions=[value.copy()]), exp.func("len", array.copy()), value.copy())
    return exp.Case(ifs=[exp.If(this=exp.Is(this=array.copy(), expression=exp.null()), true=exp.null())], default=filled)


def _array_map(args: list[exp.Expr]) -> exp.Expr | None:
    """array_map(lambda, arr, ...) or array_map(arr, lambda) is DuckDB's list_transform; with several
    arrays the lambda's parameters are their elements at each position (arrays of one length)."""
    lambdas = [a for a in args if isinstance(a, exp.Lambda)]
    if len(lambdas) != 1:
        return None
    function = lambdas[0]
    arrays = [a for a in args if a is not function]
    params = [p.name for p in function.expressions]
    if len(params) != len(arrays) or not arrays:
        return None
    if len(arrays) == 1:
        if not _reads_parameter(function):
            return _same_value_each(arrays[0], function.this)
        return exp.func("list_transform", arrays[0], function)
    # The arrays are zipped, so the lambda reads each one's element from its argument, not the
    # arrays themselves (a lambda may not read a subquery, and indexing a large array per element
    # would copy it, test_array_map_2).
    entry = exp.to_identifier(_ENTRY)
    body = exp.Paren(this=function.this.copy())  # a parent even for a body that is one parameter
    by_name = {name: number for number, name in enumerate(params, 1)}
    for node in list(body.find_all(exp.Identifier)):
        parent = node.parent
        if node.name not in by_name or isinstance(parent, exp.Dot) or (
                isinstance(parent, exp.Column) and parent.table):
            continue  # not a parameter: another name, or a field or a table's column
        target = parent if isinstance(parent, exp.Column) else node
        target.replace(exp.func("struct_extract_at", entry.copy(), exp.Literal.number(by_name[node.name])))
    zipped = exp.func("list_zip", *[a.copy() for a in arrays])
    mapped = exp.func("list_transform", zipped, exp.Lambda(this=body, expressions=[entry]))
    # A NULL array makes the answer NULL (StarRocks' test_array_map_3).
    some_null = exp.or_(*[exp.Is(this=a.copy(), expression=exp.null()) for a in arrays])
    checked = _same_lengths(arrays, "Input array element's size is not equal in array_map().", mapped)
    return exp.Case(ifs=[exp.If(this=some_null, true=exp.null())], default=checked)


def _decimal_spellings_as_decimal(tree: exp.Expr) -> None:
    """CAST(x AS DECIMAL32/64/128(p, s)) is DECIMAL(p, s) in DuckDB."""
    spellings = {exp.DataType.Type.DECIMAL32, exp.DataType.Type.DECIMAL64, exp.DataType.Type.DECIMAL128}
    for node in tree.find_all(exp.DataType):
        if node.this in spellings:
            node.set("this", exp.DataType.Type.DECIMAL)


def _array_generate(args: list[exp.Expr]) -> exp.Expr | None:
    """array_generate([start,] end [, step]): start defaults to 1; without a step the list counts
    down when start > end (StarRocks' test_array_generate: array_generate(9, 1) is [9,...,1])."""
    if len(args) == 1:
        return exp.func("generate_series", exp.Literal.number(1), args[0])
    if len(args) == 2:
        start, end = args
        step = exp.Case(ifs=[exp.If(this=exp.LTE(this=start.copy(), expression=end.copy()),
                                    true=exp.Literal.number(1))], default=exp.Literal.number(-1))
        return exp.func("generate_series", start, end, step)
    if len(args) == 3:
        return exp.func("generate_series", *args)
    return None


def _array_repeat(args: list[exp.Expr]) -> exp.Expr | None:
    """array_repeat(x, n): x n times (none when n < 1)."""
    if len(args) != 2:
        return None
    return exp.func("repeat", exp.Array(expressions=[args[0]]), args[1])


def _array_contains_all(args: list[exp.Expr]) -> exp.Expr | None:
    """array_contains_all(a, b): whether a holds every element of b, a NULL element of b only when a
    holds one too (StarRocks' test_array_contains_all_and_seq); NULL when either is NULL."""
    if len(args) != 2:
        return None
    values, wanted = args
    null_wanted = exp.Not(this=exp.Is(this=exp.func("list_position", wanted.copy(), exp.null()), expression=exp.null()))
    null_held = exp.Not(this=exp.Is(this=exp.func("list_position", values.copy(), exp.null()), expression=exp.null()))
    held = exp.and_(exp.func("list_has_all", values.copy(), wanted.copy()),
                    exp.or_(exp.Not(this=null_wanted), null_held))
    either_null = exp.or_(exp.Is(this=values.copy(), expression=exp.null()), exp.Is(this=wanted.copy(), expression=exp.null()))
    return exp.Case(ifs=[exp.If(this=either_null, true=exp.null())], default=held)


def _array_contains_seq(args: list[exp.Expr]) -> exp.Expr | None:
    """array_contains_seq(a, b): whether b's elements appear in a one after another, in b's order,
    NULL elements matching NULL ones (StarRocks' test_array_contains_all_and_seq: `[null, null, 1, 2]`
    holds `[null, 1]`); an empty b is in every a; NULL when either is NULL."""
    if len(args) != 2:
        return None
    values, wanted = args
    start, offset = exp.to_identifier("__cairn_s"), exp.to_identifier("__cairn_o")
    at = exp.Add(this=start.copy(), expression=exp.Sub(this=offset.copy(), expression=exp.Literal.number(1)))
    same = exp.NullSafeEQ(this=exp.func("list_extract", values.copy(), at),
                          expression=exp.func("list_extract", wanted.copy(), offset.copy()))
    each_same = exp.func("list_bool_and", exp.func(
        "list_transform", exp.func("generate_series", exp.Literal.number(1), exp.func("len", wanted.copy())),
        exp.Lambda(this=same, expressions=[offset])))
    last_start = exp.Add(this=exp.Sub(this=exp.func("len", values.copy()), expression=exp.func("len", wanted.copy())),
                         expression=exp.Literal.number(1))
    found = exp.func("coalesce", exp.func("list_bool_or", exp.func(
        "list_transform", exp.func("generate_series", exp.Literal.number(1), last_start),
        exp.Lambda(this=each_same, expressions=[start]))), exp.false())
    either_null = exp.or_(exp.Is(this=values.copy(), expression=exp.null()), exp.Is(this=wanted.copy(), expression=exp.null()))
    empty = exp.EQ(this=exp.func("len", wanted.copy()), expression=exp.Literal.number(0))
    return exp.Case(ifs=[exp.If(this=either_null, true=exp.null()), exp.If(this=empty, true=exp.true())], default=found)


def _arrays_overlap(args: list[exp.Expr]) -> exp.Expr | None:
    """arrays_overlap(a, b): whether a and b share an element, a NULL element matching a NULL one
    (StarRocks' test_arrays_overlap_constant_columns: `[null]` overlaps `['a', null]`); NULL when
    either is NULL."""
    if len(args) != 2:
        return None
    first, second = args
    shared = exp.or_(exp.func("list_has_any", first.copy(), second.copy()),
                     exp.and_(_has(first, exp.null()), _has(second, exp.null())))
    either_null = exp.or_(exp.Is(this=first.copy(), expression=exp.null()), exp.Is(this=second.copy(), expression=exp.null()))
    return exp.Case(ifs=[exp.If(this=either_null, true=exp.null())], default=shared)


def _map_agg(args: list[exp.Expr]) -> exp.Expr | None:
    """map_agg(k, v): the map of each row's k to its v, rows whose k is NULL left out (StarRocks'
    test_map_agg). A key seen twice fails the statement (DuckDB's maps keep unique keys)."""
    if len(args) != 2:
        return None
    key, value = args
    entry = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier("k"), expression=key.copy()),
                                    exp.PropertyEQ(this=exp.to_identifier("v"), expression=value)])
    # Filtered after aggregating, so a group of only NULL keys is an empty map, not NULL.
    each = exp.to_identifier("__cairn_e")
    keyed = exp.Not(this=exp.Is(this=exp.Dot(this=each.copy(), expression=exp.to_identifier("k")), expression=exp.null()))
    entries = exp.func("list_filter", exp.func("list", entry), exp.Lambda(this=keyed, expressions=[each]))
    return exp.func("map_from_entries", entries)


def _element_at(args: list[exp.Expr]) -> exp.Expr | None:
    """element_at(array, i) is the i-th element, element_at(map, k) the value of key k (NULL when
    absent); DuckDB's element_at works on maps only and answers a list (StarRocks' testMapTopN)."""
    if len(args) != 2:
        return None
    # offset=1: the index is already 1-based, as DuckDB's.
    return exp.Bracket(this=args[0], expressions=[args[1]], offset=1)


def _map_literal_entries(node: exp.Expr) -> list[tuple[exp.Expr, exp.Expr]] | None:
    """The (key, value) entries of a map literal (`map{k: v}` or `map(k, v)`), else None."""
    if isinstance(node, exp.ToMap) and isinstance(node.this, exp.Struct) \
            and all(isinstance(e, exp.PropertyEQ) for e in node.this.expressions):
        return [(e.this, e.expression) for e in node.this.expressions]
    if isinstance(node, exp.VarMap):
        keys, values = node.args.get("keys"), node.args.get("values")
        if isinstance(keys, exp.Array) and isinstance(values, exp.Array) \
                and len(keys.expressions) == len(values.expressions):
            return list(zip(keys.expressions, values.expressions))
    return None


_NULL_MAP_KEY = "key of Map should not be null"


def literal_maps_with_null_keys(tree: exp.Expr, throw: bool) -> None:
    """A map literal with a NULL key, which StarRocks keeps and the engine's maps cannot hold, read
    where its answer needs no map: `map{null: 'a', 2: 'b'}[k]` (or element_at) is the value of the last
    entry whose key is k, NULL keys alike (test_map testMapTopN: `[null]` is 'a'); to_json of it is
    NULL, or with sql_mode ALLOW_THROW_EXCEPTION (`throw`) StarRocks' error (test_json test_to_json).
    Anywhere else it stays, and the statement fails ("Map keys can not be NULL.")."""
    for node in sorted(tree.find_all(exp.ToMap, exp.VarMap), key=depth, reverse=True):
        entries = _map_literal_entries(node)
        if entries is None or not any(isinstance(key, exp.Null) for key, _ in entries):
            continue
        parent = node.parent
        if isinstance(parent, exp.Bracket) and parent.this is node and len(parent.expressions) == 1:
            wanted = parent.expressions[0]
        elif isinstance(parent, exp.Anonymous) and parent.name.lower() == "element_at" \
                and len(parent.expressions) == 2 and parent.expressions[0] is node:
            wanted = parent.expressions[1]
        elif isinstance(parent, exp.Anonymous) and parent.name.lower() == "to_json" and len(parent.expressions) == 1:
            parent.replace(exp.func("error", exp.Literal.string(_NULL_MAP_KEY)) if throw
                           else exp.cast(exp.null(), exp.DataType.Type.JSON))
            continue
        else:
            continue
        parent.replace(exp.Case(ifs=[exp.If(this=exp.NullSafeEQ(this=wanted.copy(), expression=key.copy()),
                                            true=value.copy()) for key, value in reversed(entries)]))


def _md5sum(args: list[exp.Expr]) -> exp.Expr | None:
    """md5sum(a, ...): the MD5 of its arguments' text, concatenated."""
    if not args:
        return None
    return exp.func("md5", exp.func("concat", *[exp.cast(a, exp.DataType.Type.VARCHAR) for a in args]))


def _has(values: exp.Expr, value: exp.Expr) -> exp.Expr:
    return exp.Not(this=exp.Is(this=exp.func("list_position", values.copy(), value), expression=exp.null()))


def _booleans(args: list[exp.Expr]) -> exp.Expr | None:
    """The list of booleans any_match / all_match test: the array itself, or the lambda over it."""
    if len(args) == 1:
        return args[0]
    return _array_map(args)


def _any_match(args: list[exp.Expr]) -> exp.Expr | None:
    """any_match([lambda,] arr): true when an element is true, NULL when none is but one is NULL."""
    values = _booleans(args)
    if values is None:
        return None
    return exp.Case(ifs=[exp.If(this=_has(values, exp.true()), true=exp.true()),
                         exp.If(this=_has(values, exp.null()), true=exp.null())], default=exp.false())


def _all_match(args: list[exp.Expr]) -> exp.Expr | None:
    """all_match([lambda,] arr): false when an element is false, NULL when none is but one is NULL."""
    values = _booleans(args)
    if values is None:
        return None
    return exp.Case(ifs=[exp.If(this=_has(values, exp.false()), true=exp.false()),
                         exp.If(this=_has(values, exp.null()), true=exp.null())], default=exp.true())


def _array_contains_finds_null(tree: exp.Expr) -> None:
    """array_contains(a, v) is 1 when a holds v, NULL elements included (`array_contains([1, null],
    null)` is 1, `array_contains([1], null)` 0, as in StarRocks); NULL only when a is NULL."""
    for node in sorted(tree.find_all(exp.ArrayContains), key=depth, reverse=True):
        values, value = node.this, node.expression
        found = _has(values, value.copy())
        if isinstance(values, exp.Parameter) and node.find_ancestor(exp.Lambda) is None:
            # A user variable's array (a constant, perhaps of a million elements) is searched as a
            # set, once per statement, not scanned once per row (test_array_contains_with_const).
            elements = exp.select(exp.func("unnest", values.copy())).subquery()
            found = exp.Case(ifs=[exp.If(this=exp.Is(this=value.copy(), expression=exp.null()),
                                         true=_has(values, exp.null()))],
                             default=exp.func("coalesce", exp.In(this=value.copy(), query=elements), exp.false()))
        node.replace(exp.Case(ifs=[exp.If(this=exp.Is(this=values.copy(), expression=exp.null()), true=exp.null())],
                              default=found))


def _array_position_is_zero_when_absent(tree: exp.Expr) -> None:
    """array_position(a, v) is 0 when a does not hold v (NULL elements found by a NULL v, as in
    StarRocks' test_array_contains_with_const); NULL only when a is NULL."""
    for node in sorted(tree.find_all(exp.ArrayPosition), key=depth, reverse=True):
        values = node.this
        found = exp.func("coalesce", exp.func("list_position", values.copy(), node.expression.copy()),
                         exp.Literal.number(0))
        node.replace(exp.Case(ifs=[exp.If(this=exp.Is(this=values.copy(), expression=exp.null()), true=exp.null())],
                              default=found))


def _fields_of_parameters(function: exp.Lambda) -> exp.Lambda:
    """`function` with each `p.field` of a parameter p read as struct_extract(p, 'field'): DuckDB
    reads `x.field` as the column x's field when the query has a column named as the parameter."""
    params = {p.name for p in function.expressions}
    for dot in list(function.this.find_all(exp.Dot)):
        if isinstance(dot.this, exp.Identifier) and dot.this.name in params and isinstance(dot.expression, exp.Identifier):
            dot.replace(exp.func("struct_extract", dot.this.copy(), exp.Literal.string(dot.expression.name)))
    return function


def _array_sortby(args: list[exp.Expr]) -> exp.Expr | None:
    """array_sortby(a, keys, ...): a's elements in the order of their keys (NULL keys first, ties
    kept in their order); a NULL list of keys orders nothing (test_array_sortby_1: a NULL second
    list leaves the third to order), so a is as it is when every list of keys is NULL.
    array_sortby(lambda, a) sorts a by the lambda's value for each element."""
    if len(args) == 2 and isinstance(args[0], exp.Lambda):
        args = [args[1], exp.func("list_transform", args[1].copy(), _fields_of_parameters(args[0]))]
    if len(args) < 2:
        return None
    values, key_lists = args[0], args[1:]
    index = exp.to_identifier(_INDEX)
    fields: list[exp.Expr] = []
    for number, keys in enumerate(key_lists):
        key = exp.func("list_extract", keys.copy(), index.copy())
        fields.append(exp.PropertyEQ(this=exp.to_identifier(f"n{number}"),
                                     expression=exp.Not(this=exp.Is(this=key.copy(), expression=exp.null()))))
        fields.append(exp.PropertyEQ(this=exp.to_identifier(f"k{number}"), expression=key))
    fields.append(exp.PropertyEQ(this=exp.to_identifier("i"), expression=index.copy()))
    fields.append(exp.PropertyEQ(this=exp.to_identifier("v"),
                                 expression=exp.func("list_extract", values.copy(), index.copy())))
    positions = exp.func("generate_series", exp.Literal.number(1), exp.func("len", values.copy()))
    entries = exp.func("list_transform", positions, exp.Lambda(this=exp.Struct(expressions=fields), expressions=[index]))
    entry = exp.to_identifier("__cairn_e")
    sorted_values = exp.func("list_transform", exp.func("list_sort", entries),
                             exp.Lambda(this=exp.Dot(this=entry.copy(), expression=exp.to_identifier("v")),
                                        expressions=[entry]))
    checked = _same_lengths([values, *key_lists], "Input arrays' size are not equal in array_sortby.", sorted_values)
    return exp.Case(ifs=[exp.If(this=exp.Is(this=values.copy(), expression=exp.null()), true=values.copy())],
                    default=checked)


_REWRITES: dict[str, Rewrite] = {
    "array_sortby": _array_sortby,
    "any_match": _any_match,
    "all_match": _all_match,
    "array_generate": _array_generate,
    "array_repeat": _array_repeat,
    "array_contains_all": _array_contains_all,
    "array_contains_seq": _array_contains_seq,
    "md5sum": _md5sum,
    "element_at": _element_at,
    "map_agg": _map_agg,
    "json_query": _two("json_extract"),
    "get_json_string": json_string,
    "json_length": _json_length,
    "get_json_str": json_string,
    "get_json_int": _typed_json("BIGINT"),
    "get_json_double": _typed_json("DOUBLE"),
    "get_json_bool": _typed_json("BOOLEAN"),
    "arrays_overlap": _arrays_overlap,
    "array_map": _array_map,
}


def _json_null_is_null(tree: exp.Expr) -> None:
    """`j->'k' IS NULL` is true where the value at the path is JSON null, as in StarRocks
    (test_json_null: `c1->'b' IS NULL` is 1 for `{"b": null}`), while `j->'k'` itself is that JSON
    null (test_flat_json_with_type: `select j1->'e'` prints `null`, not NULL)."""
    for node in list(tree.find_all(exp.JSONExtract)):
        if not isinstance(node.parent, exp.Is):
            continue
        json_null = exp.Cast(this=exp.Literal.string("null"), to=exp.DataType.build("JSON", dialect="duckdb"))
        node.replace(exp.Nullif(this=node.copy(), expression=json_null))


def _array_remove_keeps_nulls(tree: exp.Expr) -> None:
    """array_remove(a, v) drops the elements equal to v and keeps NULL elements (StarRocks'
    test_array_remove_all_type: `array_remove([true, null], true)` is `[null]`)."""
    for node in sorted(tree.find_all(exp.ArrayRemove), key=depth, reverse=True):
        element = exp.to_identifier("__cairn_x")
        keep = exp.NullSafeNEQ(this=element.copy(), expression=node.expression.copy())
        node.replace(exp.func("list_filter", node.this.copy(), exp.Lambda(this=keep, expressions=[element])))


def _array_unique_agg_flattens(tree: exp.Expr) -> None:
    """array_unique_agg(arr) is the distinct elements of the group's arrays (StarRocks'
    testArrayUniqueAgg: ['a', 'a'] and ['a'] give ['a']); NULL for a group of NULL arrays."""
    for node in sorted(tree.find_all(exp.ArrayUniqueAgg), key=depth, reverse=True):
        values = node.this
        arrays = exp.Filter(this=exp.func("list", values.copy()),
                            expression=exp.Where(this=exp.Not(this=exp.Is(this=values.copy(), expression=exp.null()))))
        node.replace(exp.func("list_distinct", exp.func("flatten", arrays)))


def _array_filter_by_flags(tree: exp.Expr) -> None:
    """array_filter(a, flags) keeps a's elements whose flag is true (StarRocks' second form);
    array_filter(lambda, a) is array_filter(a, lambda)."""
    for node in sorted(tree.find_all(exp.ArrayFilter), key=depth, reverse=True):
        values, test = node.this, node.expression
        if isinstance(values, exp.Lambda) and not isinstance(test, exp.Lambda):
            node.set("this", test.copy())
            node.set("expression", values.copy())
            continue
        if isinstance(test, exp.Lambda) or test is None:
            continue
        index = exp.to_identifier(_INDEX)
        flag = exp.func("coalesce", exp.func("list_extract", test.copy(), index.copy()), exp.false())
        kept = exp.func("list_filter", exp.func("generate_series", exp.Literal.number(1), exp.func("len", values.copy())),
                        exp.Lambda(this=flag, expressions=[index.copy()]))
        node.replace(exp.func("list_transform", kept, exp.Lambda(
            this=exp.func("list_extract", values.copy(), index.copy()), expressions=[index.copy()])))


_BOOLEAN_CALLS = frozenset({"any_match", "all_match", "array_contains_seq", "arrays_overlap"})
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)


def _booleans_in_arithmetic_are_numbers(tree: exp.Expr) -> None:
    """A BOOLEAN operand of + - * / % is 1 or 0 in StarRocks (test_array_map_3: `x + any_match(...)`);
    DuckDB has no arithmetic on BOOLEAN."""
    for node in list(tree.find_all(*_ARITHMETIC)):
        for key in ("this", "expression"):
            operand = node.args.get(key)
            inner = operand.unnest() if isinstance(operand, exp.Paren) else operand
            boolean = isinstance(inner, (exp.Predicate, exp.ArrayContains, exp.ArrayContainsAll)) or (
                isinstance(inner, exp.Anonymous) and inner.name.lower() in _BOOLEAN_CALLS)
            if boolean and operand is not None:
                node.set(key, exp.cast(operand.copy(), exp.DataType.Type.TINYINT))


# DuckDB's type names (as typeof prints them) → StarRocks' (as its typeof prints them), in order.
_TYPE_NAMES = [
    (r"DECIMAL\(([1-9]),([0-9]+)\)", r"decimal32(\1, \2)"),
    (r"DECIMAL\((1[0-8]),([0-9]+)\)", r"decimal64(\1, \2)"),
    (r"DECIMAL\(([0-9]+),([0-9]+)\)", r"decimal128(\1, \2)"),
    (r"\bHUGEINT\b", "largeint"), (r"\bINTEGER\b", "int"), (r"\bBLOB\b", "varbinary"),
    (r"\bTIMESTAMP\b", "datetime"), (r'"NULL"', "null_type"),
    *[(rf"\b{name}\b", name.lower())
      for name in ("TINYINT", "SMALLINT", "BIGINT", "FLOAT", "DOUBLE", "BOOLEAN", "VARCHAR", "DATE", "JSON", "TIME")],
    (r"^MAP\((.+), (.+)\)$", r"map<\1,\2>"), (r"^STRUCT\((.*)\)$", r"struct<\1>"),
]
_NESTED_ARRAYS = 3  # how deep `T[][]...` is spelled as array<array<...>>


def _replace_all(text: exp.Expr, pattern: str, replacement: str) -> exp.Expr:
    return exp.RegexpReplace(this=text, expression=exp.Literal.string(pattern),
                             replacement=exp.Literal.string(replacement), modifiers=exp.Literal.string("g"))


def _typeof_in_starrocks_names(tree: exp.Expr) -> None:
    """typeof(x) names x's type as StarRocks does (test_typeof: `int`, `largeint`, `decimal128(19, 2)`,
    `datetime`, `varbinary`, `array<int>`, `map<int,varchar>`, `null_type`), not as DuckDB does."""
    for node in sorted(tree.find_all(exp.Typeof), key=depth, reverse=True):
        value = node.this
        if isinstance(value, exp.Cast) and value.to.is_type(exp.DataType.Type.CHAR):
            # Cairn holds CHAR as VARCHAR; a cast to CHAR is still named so (test_typeof_literal).
            node.replace(exp.Literal.string("char"))
            continue
        name: exp.Expr = node.copy()
        for pattern, replacement in _TYPE_NAMES:
            name = _replace_all(name, pattern, replacement)
        for _ in range(_NESTED_ARRAYS):
            # The innermost first: int[][] → array<int>[] → array<array<int>>.
            name = _replace_all(name, r"^([^\[\]]+)\[\]((\[\])*)$", r"array<\1>\2")
        node.replace(name)


def _split_reads_text(tree: exp.Expr) -> None:
    """split(s, sep) reads a number as its text (test_array_map_2: `split(id, 'd')` of a TINYINT);
    DuckDB splits strings only."""
    for node in tree.find_all(exp.Split):
        value = node.this
        if not (isinstance(value, exp.Literal) and value.is_string):
            node.set("this", exp.cast(value.copy(), exp.DataType.Type.VARCHAR))


_PATH_CALLS = frozenset({"get_json_string", "get_json_str", "get_json_int", "get_json_double", "get_json_bool",
                         "json_query", "json_length", "json_exists"})


def _invalid_json_paths_find_nothing(tree: exp.Expr) -> None:
    """A JSON path literal StarRocks cannot read as a path (`$13`: `$` then neither `.` nor `[`)
    finds nothing there (test_flat_json: NULL values, json_exists 0, json_length 0), where
    DuckDB fails the statement. The path becomes NULL; json_exists of it is false."""
    for node in list(tree.find_all(exp.Anonymous)):
        name = node.name.lower()
        path = node.expressions[1] if len(node.expressions) == 2 else None
        if name not in _PATH_CALLS or not isinstance(path, exp.Literal) or not path.is_string:
            continue
        text = path.name.strip()
        if not (text.startswith("$") and len(text) > 1 and text[1] not in ".["):
            continue
        if name == "json_exists":
            value = node.expressions[0]
            node.replace(exp.Case(ifs=[exp.If(this=exp.Is(this=value.copy(), expression=exp.null()), true=exp.null())],
                                  default=exp.false()))
        else:
            path.replace(exp.cast(exp.null(), exp.DataType.Type.VARCHAR))


def _literal_type(value: exp.Expr) -> str | None:
    """StarRocks' name of a string or integer literal's type (as its messages print it), else None."""
    literal = value.this if isinstance(value, exp.Neg) else value
    if not isinstance(literal, exp.Literal) or isinstance(value, exp.Neg) and literal.is_string:
        return None
    if literal.is_string:
        return "varchar"
    if not literal.name.isdigit():
        return None
    number = -int(literal.name) if isinstance(value, exp.Neg) else int(literal.name)
    for bits, name in ((8, "tinyint(4)"), (16, "smallint(6)"), (32, "int(11)"), (64, "bigint(20)")):
        if -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
            return name
    return "largeint(40)"


_ARRAYS_ONLY = frozenset({"array_contains_seq", "array_contains_all", "arrays_overlap"})


def _refuse_scalars_for_arrays(tree: exp.Expr) -> None:
    """A string or number literal given where an array function takes only arrays is StarRocks'
    analysis error (test_array_contains_all_and_seq: `array_contains_seq(['abc'], 'a')`), where
    DuckDB would read it as a one-element list or fail otherwise."""
    for node in tree.find_all(exp.Anonymous, exp.ArrayContainsAll):
        name = "array_contains_all" if isinstance(node, exp.ArrayContainsAll) else node.name.lower()
        if name not in _ARRAYS_ONLY:
            continue
        arguments = [node.this, node.expression] if isinstance(node, exp.ArrayContainsAll) else node.expressions
        for position, argument in enumerate(arguments, 1):
            kind = _literal_type(argument)
            if kind is not None:
                raise AnalysisError(f"Getting analyzing error{call_span(node, name)}. Detail message: {position}-th input "
                                    f"of {name} should be an array, rather than {kind}.")


def _mixed_array_literals_are_strings(tree: exp.Expr) -> None:
    """An array literal of string and number literals is an ARRAY<VARCHAR>, each number its text, as
    StarRocks types it (test_array_sortby_2: `['a', 'b', 1]`); DuckDB would cast the strings to numbers."""
    for node in tree.find_all(exp.Array):
        elements = [e for e in node.expressions if not isinstance(e, exp.Null)]
        strings = [e for e in elements if isinstance(e, exp.Literal) and e.is_string]
        numbers = [e for e in elements if isinstance(e, exp.Literal) and not e.is_string or isinstance(e, exp.Neg)
                   and isinstance(e.this, exp.Literal) and not e.this.is_string]
        if not strings or not numbers or len(strings) + len(numbers) != len(elements):
            continue
        for number in numbers:
            text = f"-{number.this.name}" if isinstance(number, exp.Neg) else number.name
            number.replace(exp.Literal.string(text))


_ARRAY_OF = re.compile(r"^((?:ARRAY<)+)([A-Z]+)")
# Exact numbers, whose text is the same in StarRocks and DuckDB (a DECIMAL's with all its places).
_INTEGER_ELEMENTS = frozenset({"TINYINT", "SMALLINT", "INT", "BIGINT", "LARGEINT", "DECIMAL"})
_STRING_ELEMENTS = frozenset({"CHAR", "VARCHAR", "STRING"})
_MEETING = (exp.EQ, exp.NEQ, exp.NullSafeEQ, exp.NullSafeNEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
_MEETING_CALLS = frozenset({"list_has_any", "list_has_all"})


def _array_elements(node: exp.Expr, types: ColumnTypes) -> tuple[int, str] | None:
    """How deep an ARRAY column's arrays nest, and their innermost element type; None for anything
    else (or a column whose type is not known here)."""
    if not isinstance(node, exp.Column):
        return None
    found = _ARRAY_OF.match(declared_type(node, types) or "")
    return None if found is None else (found.group(1).count("<"), found.group(2))


def _starrocks_type_text(declared: str) -> str:
    """A declared type as StarRocks' messages print it: lower case, a DECIMAL as DECIMAL32/64/128."""
    def decimal(found: re.Match[str]) -> str:
        precision = int(found.group(1))
        return f"DECIMAL{32 if precision <= 9 else 64 if precision <= 18 else 128}({found.group(1)},{found.group(2)})"
    return re.sub(r"decimal\((\d+),(\d+)\)", decimal, declared.lower())


def _predicate_span(node: exp.Expr) -> str:
    """` from line L, column C to line L2, column C2` over the names a predicate of columns reads
    (empty when their places in the statement's text are not known)."""
    starts = [i.meta["start"] for i in node.find_all(exp.Identifier) if isinstance(i.meta.get("start"), int)]
    text = node.root().meta.get("text")
    if not starts or not isinstance(text, str):
        return ""

    def place(offset: int) -> str:
        return f"line {text.count(chr(10), 0, offset) + 1}, column {offset - text.rfind(chr(10), 0, offset) - 1}"
    # As StarRocks places it: from the first token to the start of the last.
    return f" from {place(min(starts))} to {place(max(starts))}"


def refuse_flattening_flat_arrays(tree: exp.Expr, types: ColumnTypes) -> None:
    """array_flatten of an array whose elements are no arrays is StarRocks' analysis error, placed at
    the call (test_array_flatten: `array_flatten(COLB)` of an ARRAY<INT> column, directly or sliced)."""
    for node in tree.find_all(exp.Flatten):
        value = node.this
        while isinstance(value, exp.ArraySlice):
            value = value.this
        declared = declared_type(value, types) if isinstance(value, exp.Column) else None
        if declared is not None and declared.startswith("ARRAY<") and not declared.startswith("ARRAY<ARRAY<"):
            raise AnalysisError(f"Getting analyzing error{call_span(node, 'array_flatten')}. Detail message: The "
                                "only one input of array_flatten should be an array of arrays, rather than "
                                f"{_starrocks_type_text(declared)}.")


def integer_arrays_meet_string_arrays_as_strings(tree: exp.Expr, types: ColumnTypes) -> None:
    """An array of integers or DECIMALs compared with (or searched in, arrays_overlap) an array of
    strings is read as an array of their texts, the common type StarRocks gives the two
    (test_join_array: `s.s_1 > t.i_1`, test_arrays_overlap: `arrays_overlap(s_1, i_1)`); DuckDB
    refuses to compare them. Arrays nested to different depths compared are StarRocks' analysis
    error. In place."""
    for node in list(tree.find_all(*_MEETING, exp.Anonymous)):
        if isinstance(node, exp.Anonymous):
            if node.name.lower() not in _MEETING_CALLS or len(node.expressions) != 2:
                continue
            sides = list(node.expressions)
        else:
            sides = [node.this, node.expression]
        first, second = _array_elements(sides[0], types), _array_elements(sides[1], types)
        if first is None or second is None:
            continue
        if first[0] != second[0] and not isinstance(node, exp.Anonymous):
            left, right = (_starrocks_type_text(declared_type(side, types) or "") for side in sides)
            raise AnalysisError(f"Getting analyzing error{_predicate_span(node)}. Detail message: Column type "
                                f"{left} does not support binary predicate operation with type {right}.")
        if first[0] != second[0]:
            continue
        elements = {first[1], second[1]}
        if not (elements & _INTEGER_ELEMENTS and elements & _STRING_ELEMENTS):
            continue
        for side, (depth_of, element) in zip(sides, (first, second)):
            if element in _INTEGER_ELEMENTS:
                target = exp.DataType.build("VARCHAR" + "[]" * depth_of, dialect="duckdb")
                side.replace(exp.cast(side.copy(), target))


def apply(tree: exp.Expr) -> None:
    """Rewrite StarRocks' JSON and collection function calls in `tree`, in place."""
    _refuse_scalars_for_arrays(tree)
    _mixed_array_literals_are_strings(tree)
    _invalid_json_paths_find_nothing(tree)
    _split_reads_text(tree)
    _typeof_in_starrocks_names(tree)
    _booleans_in_arithmetic_are_numbers(tree)
    _decimal_spellings_as_decimal(tree)
    _array_remove_keeps_nulls(tree)
    _array_contains_finds_null(tree)
    _array_position_is_zero_when_absent(tree)
    _array_unique_agg_flattens(tree)
    for contains in sorted(tree.find_all(exp.ArrayContainsAll), key=depth, reverse=True):
        found = _array_contains_all([contains.this.copy(), contains.expression.copy()])
        if found is not None:
            contains.replace(found)
    _array_filter_by_flags(tree)
    rewrite_calls(tree, _REWRITES)
    _json_null_is_null(tree)
