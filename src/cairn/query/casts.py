"""CASTs that StarRocks computes otherwise than DuckDB, where the value's stored type decides.

A JSON value cast to an ARRAY, MAP or STRUCT is converted as StarRocks converts it (its test_cast's
test_cast_json_to_struct and test_cast_json_to_map): a JSON array fills a STRUCT's fields by position,
an object by name; a value of another shape than the target's is NULL, as is a scalar that does not
convert. A STRUCT built with named_struct and cast to a STRUCT fills the target's fields by position
(test_struct: `cast(named_struct('1', 1, '2', 2, '3', 3) as STRUCT<a double, b string, c BIGINT>)`),
where DuckDB matches fields by name.

StarRocks casts a FLOAT or DOUBLE to an integer type by dropping the fraction (`cast(0.9 as int)` is
0, `cast(-0.9 as int)` 0), and a value outside the integer type's range is NULL (its test_cast's
test_cast_floating_to_intergal: `cast(9223372036854775807.0 as bigint)` is NULL). DuckDB rounds to
the nearest integer and fails the statement when the value is out of range. Which columns are
floating is read from the bound tables' column types, as `result_types` reads them.
"""

from __future__ import annotations

from sqlglot import exp

from cairn.errors import AnalysisError
from cairn.query.calls import depth
from cairn.query.result_types import ColumnTypes, column_type_of, declared_type
from cairn.query.type_functions import json_string

_FLOATING = frozenset({"FLOAT", "DOUBLE"})
_INTEGERS = (exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT,
             exp.DataType.Type.BIGINT, exp.DataType.Type.INT128)


def _is_floating(node: exp.Expr, types: ColumnTypes) -> bool:
    if isinstance(node, (exp.Paren, exp.Neg)):
        return _is_floating(node.this, types)
    if isinstance(node, exp.Column):
        return column_type_of(node, types) in _FLOATING
    if isinstance(node, exp.Cast):
        return node.to.this in (exp.DataType.Type.FLOAT, exp.DataType.Type.DOUBLE)
    return False


def floating_to_integer_casts_truncate(tree: exp.Expr, types: ColumnTypes) -> None:
    """Make each CAST of a FLOAT or DOUBLE column to an integer type drop the fraction, and be NULL
    out of the type's range, as StarRocks computes it (in place)."""
    for cast in sorted(tree.find_all(exp.Cast), key=depth, reverse=True):
        if type(cast) is exp.Cast and cast.to.this in _INTEGERS and _is_floating(cast.this, types):
            cast.replace(exp.TryCast(this=exp.func("trunc", cast.this.copy()), to=cast.to.copy()))


_NESTED = (exp.DataType.Type.ARRAY, exp.DataType.Type.MAP, exp.DataType.Type.STRUCT)
_TEXT = (exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR, exp.DataType.Type.TEXT)
_JSON_VALUES = (exp.ParseJSON, exp.JSONObject, exp.JSONArray, exp.JSONExtract)


def _is_json(node: exp.Expr, types: ColumnTypes) -> bool:
    """Whether `node` is certainly a JSON value: a JSON column (read directly or through subqueries),
    a cast to JSON, or a function that builds or extracts JSON."""
    if isinstance(node, exp.Paren):
        return _is_json(node.this, types)
    if isinstance(node, exp.Column):
        return declared_type(node, types) == "JSON"
    if isinstance(node, (exp.Cast, exp.TryCast)):
        return node.to.is_type(exp.DataType.Type.JSON)
    return isinstance(node, _JSON_VALUES)


def _json_type_is(value: exp.Expr, kind: str) -> exp.Expr:
    return exp.EQ(this=exp.func("json_type", value.copy()), expression=exp.Literal.string(kind))


def _extract(value: exp.Expr, path: str) -> exp.Expr:
    """json_extract(value, path) as a call: DuckDB's `->` form does not bind as a lambda's list."""
    return exp.Anonymous(this="json_extract", expressions=[value.copy(), exp.Literal.string(path)])


def _from_json(value: exp.Expr, to: exp.DataType, level: int) -> exp.Expr:
    """`value` (JSON) converted to `to` as StarRocks casts JSON; `level` names the lambda parameters
    of nested conversions apart."""
    if to.is_type(exp.DataType.Type.JSON):
        return value
    if to.this == exp.DataType.Type.ARRAY and len(to.expressions) == 1:
        element = exp.to_identifier(f"__cairn_j{level}")
        elements = exp.func("list_transform", exp.cast(value.copy(), exp.DataType.build("JSON[]", dialect="duckdb")),
                            exp.Lambda(this=_from_json(element, to.expressions[0], level + 1), expressions=[element]))
        return exp.Case(ifs=[exp.If(this=_json_type_is(value, "ARRAY"), true=elements)])
    if to.this == exp.DataType.Type.MAP and len(to.expressions) == 2:
        key_type, value_type = to.expressions
        key, item = exp.to_identifier(f"__cairn_k{level}"), exp.to_identifier(f"__cairn_v{level}")
        keys = exp.func("list_transform", exp.func("json_keys", value.copy()),
                        exp.Lambda(this=exp.TryCast(this=key.copy(), to=key_type.copy()), expressions=[key]))
        items = exp.func("list_transform", _extract(value, "$.*"),
                         exp.Lambda(this=_from_json(item, value_type, level + 1), expressions=[item]))
        return exp.Case(ifs=[exp.If(this=_json_type_is(value, "OBJECT"), true=exp.func("map", keys, items))])
    if to.this == exp.DataType.Type.STRUCT:
        fields = [(f.name, f.args["kind"]) for f in to.expressions if isinstance(f, exp.ColumnDef)]

        def struct(path: list[str]) -> exp.Struct:
            return exp.Struct(expressions=[
                exp.PropertyEQ(this=exp.to_identifier(name, quoted=True),
                               expression=_from_json(_extract(value, at), kind, level + 1))
                for (name, kind), at in zip(fields, path)])
        by_position = struct([f"$[{i}]" for i in range(len(fields))])
        # A field's name is one key of the object, whatever characters it holds.
        by_name = struct(['$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"' for name, _ in fields])
        return exp.Case(ifs=[exp.If(this=_json_type_is(value, "ARRAY"), true=by_position),
                             exp.If(this=_json_type_is(value, "OBJECT"), true=by_name)])
    if to.this in _TEXT:
        text = json_string([value.copy(), exp.Literal.string("$")])
        return exp.TryCast(this=text, to=to.copy())
    return exp.TryCast(this=value.copy(), to=to.copy())


def _named_struct_fields(node: exp.Expr) -> list[exp.Expr] | None:
    """The field values of a STRUCT built with its fields' names (named_struct), else None."""
    if isinstance(node, exp.Struct) and node.expressions and all(
            isinstance(e, exp.PropertyEQ) for e in node.expressions):
        return [e.expression for e in node.expressions]
    return None


def nested_casts_by_shape(tree: exp.Expr, types: ColumnTypes) -> None:
    """Make each CAST of a JSON value to an ARRAY, MAP or STRUCT, and of a named STRUCT to a STRUCT,
    convert as StarRocks does (in place; the module's docstring). A named STRUCT of another number of
    fields than the target's is refused, as StarRocks refuses the cast."""
    for cast in sorted(tree.find_all(exp.Cast), key=depth, reverse=True):
        to, value = cast.to, cast.this
        if to.this not in _NESTED:
            continue
        if _is_json(value, types):
            cast.replace(_from_json(value.copy(), to, 0))
            continue
        values = _named_struct_fields(value)
        if values is None or to.this != exp.DataType.Type.STRUCT:
            continue
        fields = [f for f in to.expressions if isinstance(f, exp.ColumnDef)]
        if len(fields) != len(values):
            built = ", ".join(f"'{e.name}', {e.expression.sql('starrocks')}" for e in value.expressions)
            raise AnalysisError(f"Getting analyzing error. Detail message: Cannot cast 'named_struct({built})' "
                                f"to {to.sql('starrocks').lower()}.")
        cast.replace(exp.Struct(expressions=[
            exp.PropertyEQ(this=exp.to_identifier(f.name, quoted=True),
                           expression=type(cast)(this=v.copy(), to=f.args["kind"].copy()))
            for f, v in zip(fields, values)]))
