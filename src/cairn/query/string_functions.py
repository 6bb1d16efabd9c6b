"""StarRocks' string functions that DuckDB lacks or names otherwise, rewritten on the sqlglot tree
of a statement before it is generated as DuckDB SQL."""

from __future__ import annotations

from sqlglot import exp

from cairn.errors import AnalysisError
from cairn.query.calls import Rewrite, depth, rewrite_calls


def _is_text(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and node.is_string


def _is_number(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string or isinstance(node, exp.Neg) and _is_number(node.this)


def _field(args: list[exp.Expr]) -> exp.Expr | None:
    """field(x, a, b, ...): the position of the first argument equal to x, 0 when none is (or x is
    NULL). Strings and numbers together compare as numbers (`field('01', '1', 1)` is 1, as in
    StarRocks' test_field; a string that is no number equals nothing)."""
    if len(args) < 2:
        return None
    if any(_is_text(a) for a in args) and any(_is_number(a) for a in args):
        args = [exp.TryCast(this=a, to=exp.DataType.build("DOUBLE")) for a in args]
    value, *candidates = args
    ifs = [exp.If(this=exp.EQ(this=value.copy(), expression=c), true=exp.Literal.number(i))
           for i, c in enumerate(candidates, 1)]
    return exp.Case(ifs=ifs, default=exp.Literal.number(0))


_ENTRY = "__cairn_e"


def _str_to_map(args: list[exp.Expr]) -> exp.Expr | None:
    """str_to_map(s[, delimiter[, map_delimiter]]): s split at `delimiter` (default ',') into entries,
    each split at its first `map_delimiter` (default ':') into key and value (NULL without one)."""
    if not 1 <= len(args) <= 3:
        return None
    text = args[0]
    delimiter = args[1] if len(args) > 1 else exp.Literal.string(",")
    separator = args[2] if len(args) > 2 else exp.Literal.string(":")
    entry = exp.to_identifier(_ENTRY)
    at = exp.func("strpos", entry.copy(), separator.copy())
    key = exp.Case(ifs=[exp.If(this=exp.EQ(this=at.copy(), expression=exp.Literal.number(0)), true=entry.copy())],
                   default=exp.Substring(this=entry.copy(), start=exp.Literal.number(1),
                                         length=exp.Sub(this=at.copy(), expression=exp.Literal.number(1))))
    value = exp.Case(ifs=[exp.If(this=exp.EQ(this=at.copy(), expression=exp.Literal.number(0)), true=exp.null())],
                     default=exp.Substring(this=entry.copy(), start=exp.Add(
                         this=at.copy(), expression=exp.func("length", separator.copy()))))
    pair = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier("k"), expression=key),
                                   exp.PropertyEQ(this=exp.to_identifier("v"), expression=value)])
    entries = exp.func("list_transform", exp.func("string_split", text, delimiter),
                       exp.Lambda(this=pair, expressions=[entry]))
    return exp.func("map_from_entries", entries)


def _substring_index(args: list[exp.Expr]) -> exp.Expr | None:
    """substring_index(s, delimiter, n): s up to its n-th delimiter (n > 0), or after its n-th
    delimiter counted from the end (n < 0); '' for n = 0."""
    if len(args) != 3:
        return None
    text, delimiter, count = args
    parts = exp.func("string_split", text, delimiter.copy())
    first = exp.func("list_slice", parts.copy(), exp.Literal.number(1), count.copy())
    last = exp.func("list_slice", parts.copy(), count.copy(), exp.Literal.number(-1))
    return exp.Case(ifs=[exp.If(this=exp.GT(this=count.copy(), expression=exp.Literal.number(0)),
                                true=exp.func("array_to_string", first, delimiter.copy())),
                         exp.If(this=exp.LT(this=count.copy(), expression=exp.Literal.number(0)),
                                true=exp.func("array_to_string", last, delimiter.copy()))],
                    default=exp.Literal.string(""))


def _url_extract_host(args: list[exp.Expr]) -> exp.Expr | None:
    """url_extract_host(url): the host part of an absolute URL."""
    if len(args) != 1:
        return None
    return exp.RegexpExtract(this=args[0], expression=exp.Literal.string("^[A-Za-z][A-Za-z0-9+.-]*://([^/?#:]*)"),
                             group=exp.Literal.number(1))


def _strpos(args: list[exp.Expr]) -> exp.Expr | None:
    """strpos(s, sub, n): where the n-th occurrence of sub in s starts (n < 0: counted from the
    end), 0 when there is none or n is 0, NULL when an argument is NULL."""
    if len(args) != 3:
        return None
    text, part, instance = args
    at = exp.to_identifier("__cairn_at")
    matches = exp.EQ(this=exp.Substring(this=text.copy(), start=at.copy(), length=exp.func("length", part.copy())),
                     expression=part.copy())
    # An empty sub is found at 1 only (StarRocks' test_strpos: strpos('', '', 1) is 1).
    starts = exp.func("range", exp.Literal.number(1), exp.Add(this=exp.func(
        "greatest", exp.func("length", text.copy()), exp.Literal.number(1)), expression=exp.Literal.number(1)))
    positions = exp.func("list_filter", starts, exp.Lambda(this=matches, expressions=[at]))
    found = exp.func("coalesce", exp.func("list_extract", positions, instance.copy()), exp.Literal.number(0))
    empty = exp.EQ(this=exp.func("length", part.copy()), expression=exp.Literal.number(0))
    position = exp.Case(ifs=[exp.If(this=exp.or_(*[exp.Is(this=a.copy(), expression=exp.null()) for a in args]),
                                    true=exp.null()),
                             exp.If(this=exp.EQ(this=instance.copy(), expression=exp.Literal.number(0)),
                                    true=exp.Literal.number(0)),
                             exp.If(this=empty, true=exp.Literal.number(1))], default=found)
    return exp.cast(position, exp.DataType.Type.INT)


def _pads_with_nothing_by_cutting(tree: exp.Expr) -> None:
    """lpad / rpad with an empty pad string cut the string to the length and never pad (StarRocks'
    test_string_functions: lpad('test', 8, '') is 'test'); DuckDB refuses the empty pad."""
    for node in list(tree.find_all(exp.Pad)):
        fill = node.args.get("fill_pattern")
        if fill is None or isinstance(fill, exp.Literal) and fill.name:
            continue
        empty = exp.EQ(this=fill.copy(), expression=exp.Literal.string(""))
        padded = node.copy()
        padded.set("fill_pattern", exp.Case(ifs=[exp.If(this=empty.copy(), true=exp.Literal.string(" "))],
                                            default=fill.copy()))
        cut = exp.Left(this=node.this.copy(), expression=node.expression.copy())
        node.replace(exp.Case(ifs=[exp.If(this=empty, true=cut)], default=padded))


def _split_part_counts_back_from_the_end(tree: exp.Expr) -> None:
    """split_part(s, d, -n) is the n-th part counted from the end, the delimiter searched for from
    the end (StarRocks' test_string_functions: split_part('abc##567###234', '##', -2) is '567#')."""
    for node in list(tree.find_all(exp.SplitPart)):
        index = node.args.get("part_index")
        if index is None or isinstance(index, exp.Literal):
            continue  # a non-negative number: DuckDB's answer
        text, delimiter = node.this, node.args["delimiter"]
        backwards = exp.func("reverse", exp.SplitPart(
            this=exp.func("reverse", text.copy()), delimiter=exp.func("reverse", delimiter.copy()),
            part_index=exp.Neg(this=exp.Paren(this=index.copy()))))
        node.replace(exp.Case(ifs=[exp.If(this=exp.LT(this=index.copy(), expression=exp.Literal.number(0)),
                                          true=backwards)], default=node.copy()))


def _positions_are_ints(tree: exp.Expr) -> None:
    """strpos / instr / locate answer an INT in StarRocks (DuckDB's strpos a BIGINT)."""
    for node in list(tree.find_all(exp.StrPosition)):
        if isinstance(node.parent, exp.Cast):
            continue
        typed: exp.Expr = exp.cast(node.copy(), exp.DataType.Type.INT)
        if isinstance(node.parent, exp.Select) and node.arg_key == "expressions":
            typed = exp.alias_(typed, node.sql(dialect="starrocks").lower(), quoted=True)
        node.replace(typed)


def _grams(text: exp.Expr, size: int) -> exp.Expr:
    """The list of `text`'s substrings of `size` characters, in order (empty when it is shorter)."""
    at = exp.to_identifier("__cairn_i")
    count = exp.Add(this=exp.Sub(this=exp.func("length", text.copy()), expression=exp.Literal.number(size)),
                    expression=exp.Literal.number(2))
    return exp.func("list_transform", exp.func("range", exp.Literal.number(1), exp.Paren(this=count)),
                    exp.Lambda(this=exp.Substring(this=text.copy(), start=exp.column(at), length=exp.Literal.number(size)),
                               expressions=[at]))


def _ngram_search(folded: bool) -> Rewrite:
    """ngram_search(haystack, needle, n): how many of the needle's n-grams the haystack has (each
    used once), as StarRocks computes it in FLOAT: 1 - unmatched / all (0 when the needle has none).
    The `_case_insensitive` variant compares lower-cased text."""
    name = "ngram_search_case_insensitive" if folded else "ngram_search"

    def build(args: list[exp.Expr]) -> exp.Expr | None:
        if len(args) != 3:
            return None
        haystack, needle, size = args
        if not (isinstance(needle, exp.Literal) and needle.is_string) or not _is_number(size):
            raise AnalysisError(f"Getting analyzing error. Detail message: {name} function 's second parameter and "
                                "third parameter must be constant.")
        n = int(size.sql()) if size.sql().lstrip("-").isdigit() else 0
        if n <= 0:
            raise AnalysisError("Getting analyzing error. Detail message: ngram search's third parameter must be a "
                                "positive number.")
        if folded:
            haystack, needle = exp.Lower(this=haystack), exp.Lower(this=needle)
        gram, other = exp.to_identifier("__cairn_g"), exp.to_identifier("__cairn_x")
        needle_grams, haystack_grams = _grams(needle, n), _grams(haystack, n)

        def occurrences(grams: exp.Expr) -> exp.Expr:
            same = exp.Lambda(this=exp.EQ(this=exp.column(other), expression=exp.column(gram)), expressions=[other])
            return exp.func("len", exp.func("list_filter", grams.copy(), same))

        shared = exp.func("least", occurrences(needle_grams), occurrences(haystack_grams))
        matched = exp.func("list_sum", exp.func("list_transform", exp.func("list_distinct", needle_grams.copy()),
                                                exp.Lambda(this=shared, expressions=[gram])))
        total = exp.func("len", needle_grams.copy())
        single = exp.DataType.Type.FLOAT
        unmatched = exp.Div(this=exp.cast(exp.Sub(this=total.copy(), expression=exp.func("coalesce", matched,
                                                                                          exp.Literal.number(0))), single),
                            expression=exp.cast(total.copy(), single))
        similarity = exp.cast(exp.Sub(this=exp.cast(exp.Literal.number(1), single), expression=unmatched), single)
        answer = exp.Case(ifs=[exp.If(this=exp.EQ(this=total, expression=exp.Literal.number(0)),
                                      true=exp.Literal.number(0))], default=similarity)
        # The FLOAT's value, as a DOUBLE: StarRocks' answer prints as 0.15151512622833252.
        return exp.Case(ifs=[exp.If(this=exp.Is(this=haystack.copy(), expression=exp.null()), true=exp.null())],
                        default=exp.cast(answer, exp.DataType.Type.DOUBLE))
    return build


_REWRITES: dict[str, Rewrite] = {
    "strpos": _strpos,
    "field": _field,
    "str_to_map": _str_to_map,
    "substring_index": _substring_index,
    "ngram_search": _ngram_search(False),
    "ngram_search_case_insensitive": _ngram_search(True),
    "url_extract_host": _url_extract_host,
}


# Calls sqlglot reads as nodes of their own (which DuckDB has no function for): their arguments in order.
_READ_AS_NODES: dict[type[exp.Func], tuple[str, tuple[str, ...]]] = {
    exp.StrToMap: ("str_to_map", ("this", "pair_delim", "key_value_delim")),
    exp.SubstringIndex: ("substring_index", ("this", "delimiter", "count")),
}


def _regexp_count_of_an_invalid_pattern(tree: exp.Expr) -> None:
    """regexp_count(s, pattern) whose pattern is no regular expression: NULL for a pattern read from
    a column, StarRocks' 'Invalid regex expression' error for a literal one (unless s is NULL), as its
    test_regexp_count_invalid answers."""
    for node in sorted(tree.find_all(exp.RegexpCount), key=depth, reverse=True):
        pattern = node.expression
        counted = exp.func("try", node.copy())
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            failure = exp.func("error", exp.Literal.string(f"Invalid regex expression: {pattern.name}"))
            counted = exp.Case(ifs=[exp.If(this=exp.Is(this=node.this.copy(), expression=exp.null()), true=exp.null()),
                                    exp.If(this=exp.Is(this=counted.copy(), expression=exp.null()),
                                           true=exp.cast(failure, exp.DataType.Type.BIGINT))],
                               default=counted)
        node.replace(counted)


_INT_RANGE = range(-2**31, 2**31)


def _substring_positions_are_ints(tree: exp.Expr) -> None:
    """substr / substring take an INT position and length: a literal outside INT's range is
    StarRocks' analyzing error, a value outside it NULL (its test_substr)."""
    for node in list(tree.find_all(exp.Substring)):
        for key in ("start", "length"):
            value = node.args.get(key)
            if value is None:
                continue
            number = value.this if isinstance(value, exp.Neg) else value
            if isinstance(number, exp.Literal) and not number.is_string and number.name.isdigit():
                shown = ("-" if number is not value else "") + number.name
                if int(shown) not in _INT_RANGE:
                    raise AnalysisError(f"Getting analyzing error. Detail message: Cast argument {shown} to int "
                                        "type failed.")
            elif not isinstance(value, exp.Literal):
                node.set(key, exp.TryCast(this=value.copy(), to=exp.DataType.build("INT")))


# Characters whose full Unicode case mapping is more than one character (SpecialCasing.txt, as
# Python's str.upper and str.lower apply it): StarRocks maps them so, DuckDB to one character.
_MULTI_CHARACTER_UPPER = {chr(c): chr(c).upper() for c in range(0x10000)
                          if not 0xD800 <= c < 0xE000 and len(chr(c).upper()) > 1}
_MULTI_CHARACTER_LOWER = {chr(c): chr(c).lower() for c in range(0x10000)
                          if not 0xD800 <= c < 0xE000 and len(chr(c).lower()) > 1}


def _full_case_mapping(tree: exp.Expr) -> None:
    """upper / lower map a character to several where Unicode says so (StarRocks'
    test_lower_upper_utf8: upper('ß') is 'SS', lower('İ') is 'i̇'); DuckDB keeps one character."""
    for node in sorted(tree.find_all(exp.Upper, exp.Lower), key=depth, reverse=True):
        special = _MULTI_CHARACTER_UPPER if isinstance(node, exp.Upper) else _MULTI_CHARACTER_LOWER
        text = node.this
        if isinstance(text, exp.Literal) and text.is_string and not any(c in special for c in text.name):
            continue
        mapped: exp.Expr = text.copy()
        for character, replacement in special.items():
            mapped = exp.func("replace", mapped, exp.Literal.string(character), exp.Literal.string(replacement))
        has_special = exp.func("regexp_matches", text.copy(), exp.Literal.string(
            "[" + "".join(special) + "]"))
        node.replace(exp.Case(ifs=[exp.If(this=has_special, true=type(node)(this=mapped))],
                              default=type(node)(this=text.copy())))


def _regexp_replace_of_nothing_is_nothing(tree: exp.Expr) -> None:
    """`regexp_replace('', pattern, r)` with every argument a literal is '' in StarRocks, which
    folds the constant call so (its test_regex: `regexp_replace('', '', 'xx')` is '', while the
    same values read from a table give 'xx', as DuckDB answers both)."""
    for node in list(tree.find_all(exp.RegexpReplace)):
        arguments = [node.this, node.expression, node.args.get("replacement")]
        if all(isinstance(a, exp.Literal) and a.is_string for a in arguments) and node.this.name == "" \
                and node.args.get("modifiers") is None:
            node.replace(exp.Literal.string(""))


def apply(tree: exp.Expr) -> None:
    """Rewrite StarRocks' string function calls in `tree`, in place."""
    _full_case_mapping(tree)
    _regexp_replace_of_nothing_is_nothing(tree)
    _substring_positions_are_ints(tree)
    _regexp_count_of_an_invalid_pattern(tree)
    for node in list(tree.find_all(*_READ_AS_NODES)):
        name, keys = _READ_AS_NODES[type(node)]
        args = [node.args[k] for k in keys if node.args.get(k) is not None]
        node.replace(exp.Anonymous(this=name, expressions=args))
    _pads_with_nothing_by_cutting(tree)
    _split_part_counts_back_from_the_end(tree)
    _positions_are_ints(tree)
    rewrite_calls(tree, _REWRITES)
