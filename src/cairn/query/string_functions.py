"""StarRocks' string functions that DuckDB lacks or names otherwise, rewritten on the sqlglot tree
of a statement before it is generated as DuckDB SQL."""

from __future__ import annotations

from sqlglot import exp

from cairn.query.calls import Rewrite, rewrite_calls


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


_REWRITES: dict[str, Rewrite] = {
    "field": _field,
    "str_to_map": _str_to_map,
    "substring_index": _substring_index,
    "url_extract_host": _url_extract_host,
}


# Calls sqlglot reads as nodes of their own (which DuckDB has no function for): their arguments in order.
_READ_AS_NODES: dict[type[exp.Func], tuple[str, tuple[str, ...]]] = {
    exp.StrToMap: ("str_to_map", ("this", "pair_delim", "key_value_delim")),
    exp.SubstringIndex: ("substring_index", ("this", "delimiter", "count")),
}


def apply(tree: exp.Expr) -> None:
    """Rewrite StarRocks' string function calls in `tree`, in place."""
    for node in list(tree.find_all(*_READ_AS_NODES)):
        name, keys = _READ_AS_NODES[type(node)]
        args = [node.args[k] for k in keys if node.args.get(k) is not None]
        node.replace(exp.Anonymous(this=name, expressions=args))
    rewrite_calls(tree, _REWRITES)
