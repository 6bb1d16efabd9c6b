"""Parsing: sqlglot's StarRocks dialect first, Cairn's own grammar for what sqlglot does not know.

A statement is either a sqlglot expression (queries, DML, most DDL) or one of the statement
models of `cairn.sql.extended` (storage volumes, ADMIN, SHOW PARTITIONS, ...). The sqlglot tree
is kept to execution; SQL strings are never glued together.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection

import sqlglot
from sqlglot import exp
from sqlglot.dialects.starrocks import StarRocks
from sqlglot.errors import ParseError, TokenError
from sqlglot.parsers.starrocks import StarRocksParser
from sqlglot.tokenizer_core import TokenType

from cairn.errors import AnalysisError, SqlSyntaxError
from cairn.sql import extended
from cairn.sql.bracket_hints import without_bracket_hints
from cairn.sql.call_refusals import closing_parenthesis, refuse_call_arguments, refuse_unparsed_calls, token_span
from cairn.sql.refusals import not_supported

DIALECT = "starrocks"

# sqlglot warns when it falls back to a Command; Cairn handles those itself.
logging.getLogger("sqlglot").setLevel(logging.ERROR)



class _StarRocksReader(StarRocks):
    """StarRocks' dialect as Cairn reads it: `PRIMARY KEY (k, ...)` after the column list takes no index
    parameters (sqlglot's would read a following `PARTITION BY` as one); a few functions keep the
    arguments sqlglot's reading would drop."""

    class Parser(StarRocksParser):
        FUNCTIONS = {
            **StarRocksParser.FUNCTIONS,
            # last_day(d, unit): the unit may be a column; sqlglot would read a column's name as the unit.
            "LAST_DAY": lambda args: exp.LastDay(this=args[0]) if len(args) == 1
            else exp.Anonymous(this="last_day", expressions=args),
            # next_day / previous_day check their weekday's spelling (sqlglot's reading guesses one).
            "NEXT_DAY": lambda args: exp.Anonymous(this="next_day", expressions=args),
            "PREVIOUS_DAY": lambda args: exp.Anonymous(this="previous_day", expressions=args),
            # strpos(s, sub, n): the n-th occurrence (sqlglot would read n as a start position, as LOCATE's).
            "STRPOS": lambda args: exp.StrPosition(this=args[0], substr=args[1]) if len(args) == 2
            else exp.Anonymous(this="strpos", expressions=args),
            # date_diff(unit, a, b) whose unit is a column or NULL: sqlglot would read a column's name as the unit.
            "DATE_DIFF": lambda args: StarRocksParser.FUNCTIONS["DATE_DIFF"](args)
            if args and isinstance(args[0], exp.Literal) and args[0].is_string
            else exp.Anonymous(this="date_diff", expressions=args),
        }

        def _parse_join(self, skip_join_token: bool = False, parse_bracket: bool = False,
                        alias_tokens: Collection[TokenType] | None = None) -> exp.Join | None:
            """`a JOIN b` (or `INNER JOIN b`) without ON or USING is a CROSS JOIN in the chain of joins:
            `a RIGHT JOIN b ON .. JOIN c RIGHT JOIN d ON ..` joins c to (a, b) before d (StarRocks'
            test_predicate_move_around). sqlglot would write it as the comma `a, c`, which binds less
            tightly than JOIN and so joins d to c alone."""
            comma = self._curr is not None and self._curr.token_type == TokenType.COMMA
            join: exp.Join | None = super()._parse_join(skip_join_token, parse_bracket, alias_tokens)
            if join is not None and not comma and not join.args.get("on") and not join.args.get("using") \
                    and not join.side and not join.method and join.kind in ("", "INNER"):
                join.set("kind", "CROSS")
            return join

        def _parse_partition_property(self) -> exp.Expr | None | list[exp.Expr]:
            """`PARTITION BY LIST (cols)` or `RANGE (cols)` with no partition list: a table whose
            partitions are all added later (sqlglot requires the list)."""
            start = self._index
            kind = self._match_texts(("LIST", "RANGE")) and self._prev.text.upper()
            if kind and self._match(TokenType.L_PAREN, advance=False):
                columns = self._parse_wrapped_csv(self._parse_assignment)
                if not self._match(TokenType.L_PAREN, advance=False):
                    node = exp.PartitionByListProperty if kind == "LIST" else exp.PartitionByRangeProperty
                    none = [exp.Partition(expressions=[])]  # no partition yet (sqlglot requires the list)
                    return self.expression(node(partition_expressions=columns, create_expressions=none))
            self._retreat(start)
            found: exp.Expr | None | list[exp.Expr] = super()._parse_partition_property()
            return found

        def _parse_partition_range_value(self) -> exp.Expr | None:
            """`PARTITION p VALUES [(lower, ...), (upper, ...))`, a fixed range, besides sqlglot's
            `VALUES LESS THAN (...)`: its PartitionRange holds two Tuples, the bounds."""
            start = self._index
            self._match_text_seq("PARTITION")
            name = self._parse_id_var()
            if not self._match_text_seq("VALUES") or not self._match(TokenType.L_BRACKET):
                self._retreat(start)
                found: exp.Expr | None = super()._parse_partition_range_value()
                return found
            lower = exp.Tuple(expressions=self._parse_wrapped_csv(self._parse_expression))
            if not self._match(TokenType.COMMA):
                self.raise_error("Expecting , between the bounds of the range")
            upper = exp.Tuple(expressions=self._parse_wrapped_csv(self._parse_expression))
            if not self._match(TokenType.R_PAREN):
                self.raise_error("Expecting ) to close the range")
            part_range = self.expression(exp.PartitionRange(this=name, expressions=[lower, upper]))
            partition: exp.Expr = self.expression(exp.Partition(expressions=[part_range]))
            return partition

        def _parse_primary_key(self, wrapped_optional: bool = False, in_props: bool = False,
                               named_primary_key: bool = False) -> exp.PrimaryKeyColumnConstraint | exp.PrimaryKey:
            if in_props and self._match(TokenType.L_PAREN, advance=False):
                key: exp.PrimaryKey = self.expression(
                    exp.PrimaryKey(expressions=self._parse_wrapped_csv(self._parse_primary_key_part)))
                return key
            found: exp.PrimaryKeyColumnConstraint | exp.PrimaryKey = super()._parse_primary_key(
                wrapped_optional, in_props, named_primary_key)
            return found


Statement = exp.Expr | extended.ExtendedStatement
# What sqlglot raises (besides its own errors) on a few malformed inputs.
_SQLGLOT_FAILURES = (AttributeError, IndexError, KeyError, TypeError, ValueError)


def split_statements(sql: str) -> list[str]:
    """Split a script into statement texts on top-level semicolons (quotes respected)."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
    except TokenError as exc:
        raise SqlSyntaxError(f"Getting syntax error. Detail message: {exc}") from None
    texts, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            texts.append(sql[start:token.start])
            start = token.end + 1
    texts.append(sql[start:])
    return [t.strip() for t in texts if t.strip()]


def _syntax_error(exc: ParseError, text: str) -> SqlSyntaxError:
    detail = exc.errors[0] if exc.errors else {}
    line, col = detail.get("line", 1), detail.get("col", 1)
    message = detail.get("description") or str(exc).splitlines()[0]
    near = detail.get("highlight") or ""
    if message == "Invalid expression / Unexpected token" and near:
        # The statement ended before this token: StarRocks names the token where it starts.
        return SqlSyntaxError(f"Getting syntax error at line {line}, column {col - len(near)}. Detail message: "
                              f"Unexpected input '{near}', the most similar input is {{<EOF>, ';'}}.")
    return SqlSyntaxError(f"Getting syntax error at line {line}, column {col}. "
                          f"Detail message: {message}{f' near {near!r}' if near else ''}.")


def _without_insert_label(text: str) -> tuple[str, str | None]:
    """StarRocks' `INSERT INTO t WITH LABEL l ...`: the text without the label clause, and the label.

    sqlglot does not know the clause; it is cut out of the text by token positions (nothing is
    glued in), and the label travels on the parsed Insert's `meta`.
    """
    if not text.lstrip()[:6].upper() == "INSERT":
        return text, None
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        return text, None
    for i in range(1, len(tokens) - 2):
        if (tokens[i].token_type == TokenType.WITH and tokens[i + 1].text.upper() == "LABEL"
                and tokens[i + 2].text.upper() != "AS"):
            label = tokens[i + 2]
            return text[:tokens[i].start] + text[label.end + 1:], label.text
    return text, None


# Tokens that may follow a column type: the end of a nested type, the next column, NULL / NOT NULL, ...
_AFTER_A_TYPE = {TokenType.GT, TokenType.COMMA, TokenType.R_PAREN, TokenType.NULL, TokenType.NOT,
                 TokenType.DEFAULT, TokenType.COMMENT}


def _decimalv2_as_decimal(text: str) -> str:
    """StarRocks' `DECIMALV2(p, s)` type, which sqlglot does not know, spelled `DECIMAL(p, s)`
    (`DECIMALV2` alone is `DECIMAL(27, 9)`).

    Only the type name is replaced, found by token (a name followed by `(` or by what ends a
    type, outside strings)."""
    if "DECIMALV2" not in text.upper():
        return text
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        return text
    for token, following in reversed(list(zip(tokens, tokens[1:]))):
        if token.token_type != TokenType.VAR or token.text.upper() != "DECIMALV2":
            continue
        if following.token_type == TokenType.L_PAREN:
            text = text[:token.start] + "DECIMAL" + text[token.end + 1:]
        elif following.token_type in _AFTER_A_TYPE:  # StarRocks' DECIMALV2 without (p, s) is (27, 9)
            text = text[:token.start] + "DECIMAL(27, 9)" + text[token.end + 1:]
    return text


_HINTS = re.compile(r"(\s*/\*\+(.*?)\*/)+\s*", re.DOTALL)
_ONE_HINT = re.compile(r"/\*\+(.*?)\*/", re.DOTALL)


def _joined_hints(text: str) -> str:
    """`SELECT /*+ set_var(a = 1) */ /*+ set_var(a = 2) */ ...` as one hint comment holding both, in
    their order (sqlglot keeps only the first comment; StarRocks applies each, the last one last).
    The comments are found by token positions (a hint token and the next token), outside strings."""
    if text.count("/*+") < 2:
        return text
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        return text
    for token, following in reversed(list(zip(tokens, tokens[1:]))):
        if token.token_type != TokenType.HINT:
            continue
        span = text[token.start:following.start]
        if not _HINTS.fullmatch(span):
            continue
        bodies = [body.strip() for body in _ONE_HINT.findall(span)]
        if len(bodies) > 1:
            text = text[:token.start] + "/*+ " + ", ".join(bodies) + " */ " + text[following.start:]
    return text


def _refuse_temporary_partitions(text: str) -> None:
    """`INSERT INTO t TEMPORARY PARTITION (tp)` and `SELECT ... FROM t TEMPORARY PARTITION (tp)`, which
    sqlglot cannot read: Cairn's temporary partitions are only replaced in (sql.temp_partitions)."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        return
    for token, following in zip(tokens, tokens[1:]):
        if token.text.upper() == "TEMPORARY" and following.text.upper() == "PARTITION":
            raise not_supported("Loading into or reading a TEMPORARY PARTITION")


def _delete_partitions(text: str) -> str:
    """StarRocks' `DELETE FROM t PARTITION p WHERE ...` and `... PARTITIONS (p1, p2) ...` in the form
    sqlglot reads, `PARTITION (p, ...)` (it would take `PARTITIONS (p1, p2)` for an alias)."""
    if text.lstrip()[:6].upper() != "DELETE":
        return text
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        return text
    for i, token in enumerate(tokens[:-1]):
        word, following = token.text.upper(), tokens[i + 1]
        if token.token_type == TokenType.WHERE:
            break
        if word == "PARTITIONS" and following.token_type == TokenType.L_PAREN:
            return text[:token.start] + "PARTITION" + text[token.end + 1:]
        if word == "PARTITION" and following.token_type != TokenType.L_PAREN:
            name = text[following.start:following.end + 1]
            return text[:following.start] + "(" + name + ")" + text[following.end + 1:]
    return text


def _add_column_lists(text: str) -> str:
    """StarRocks' `ALTER TABLE t ADD COLUMN (c1 T1, c2 T2)` in the form sqlglot reads,
    `ADD COLUMN c1 T1, ADD COLUMN c2 T2`: the parentheses are cut out and each top-level comma inside
    them gets `ADD COLUMN` after it, by token positions (outside strings)."""
    if text.lstrip()[:5].upper() != "ALTER":
        return text
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        return text
    cuts: list[tuple[int, int, str]] = []  # (start, end exclusive, replacement)
    i = 0
    while i < len(tokens) - 2:
        if (tokens[i].text.upper(), tokens[i + 1].text.upper()) == ("ADD", "COLUMN") \
                and tokens[i + 2].token_type == TokenType.L_PAREN:
            depth, j = 0, i + 2
            while j < len(tokens):
                kind = tokens[j].token_type
                depth += 1 if kind == TokenType.L_PAREN else -1 if kind == TokenType.R_PAREN else 0
                if depth == 0:
                    break
                if depth == 1 and kind == TokenType.COMMA:
                    cuts.append((tokens[j].end + 1, tokens[j].end + 1, " ADD COLUMN "))
                j += 1
            if j == len(tokens):
                return text
            cuts.append((tokens[i + 2].start, tokens[i + 2].end + 1, " "))
            cuts.append((tokens[j].start, tokens[j].end + 1, " "))
            i = j
        i += 1
    for start, end, replacement in sorted(cuts, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _refuse_distinct_any_value(statement: exp.Expr, text: str) -> None:
    """`any_value(DISTINCT x)` is a syntax error in StarRocks (test_any_value), at the DISTINCT."""
    if not any(isinstance(node.this, exp.Distinct) for node in statement.find_all(exp.AnyValue)):
        return
    tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    for i in range(len(tokens) - 2):
        if tokens[i].text.upper() == "ANY_VALUE" and tokens[i + 2].token_type == TokenType.DISTINCT:
            line, col = tokens[i + 2].line, tokens[i + 2].col - len(tokens[i + 2].text) + 1
            raise SqlSyntaxError(f"Getting syntax error at line {line}, column {col}. Detail message: "
                                 "Unexpected input 'DISTINCT', the most similar input is {a legal identifier}.")


def _refuse_distinct_count_if(statement: exp.Expr, text: str) -> None:
    """`count_if(DISTINCT x)` is a syntax error in StarRocks (test_count_if), at the parenthesis."""
    if not any(isinstance(node.this, exp.Distinct) for node in statement.find_all(exp.CountIf)):
        return
    tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    for i in range(len(tokens) - 2):
        if tokens[i].text.upper() == "COUNT_IF" and tokens[i + 2].token_type == TokenType.DISTINCT:
            line, col = tokens[i + 1].line, tokens[i + 1].col - len(tokens[i + 1].text)
            raise SqlSyntaxError(f"Getting syntax error at line {line}, column {col}. Detail message: "
                                 "Unexpected input '(', the most similar input is {<EOF>, ';'}.")


def _refuse_aggregate_of_only_an_order(statement: exp.Expr, text: str) -> None:
    """`group_concat(ORDER BY x)` and `array_agg(ORDER BY x)`, no value before the ORDER BY, are a
    syntax error in StarRocks (test_group_concat, test_array_agg), at the parenthesis; after DISTINCT,
    at the ORDER."""
    names = {type(node).__name__ for node in statement.find_all(exp.GroupConcat, exp.ArrayAgg)
             if isinstance(node.this, exp.Order) and (node.this.this is None or isinstance(
                 node.this.this, exp.Distinct) and not node.this.this.expressions)}
    if not names:
        return
    calls = {"GROUP_CONCAT" if name == "GroupConcat" else "ARRAY_AGG" for name in names}
    tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    for i in range(len(tokens) - 3):
        if tokens[i].text.upper() in calls and tokens[i + 2].token_type == TokenType.DISTINCT \
                and tokens[i + 3].token_type == TokenType.ORDER_BY:
            # `group_concat(DISTINCT ORDER BY x)`: StarRocks wants a value where ORDER starts.
            start = tokens[i + 3].start
            raise SqlSyntaxError(f"Getting syntax error at line {tokens[i + 3].line}, column "
                                 f"{start - text.rfind(chr(10), 0, start) - 1}. Detail message: Unexpected input "
                                 f"'{text[start:start + 5]}', the most similar input is {{a legal identifier}}.")
    for i in range(len(tokens) - 2):
        if tokens[i].text.upper() in calls and tokens[i + 2].token_type == TokenType.ORDER_BY:
            line, col = tokens[i + 1].line, tokens[i + 1].col - len(tokens[i + 1].text)
            raise SqlSyntaxError(f"Getting syntax error at line {line}, column {col}. Detail message: "
                                 "Unexpected input '(', the most similar input is {<EOF>, ';'}.")


def _group_concat_position_past_arguments(node: exp.GroupConcat) -> str | None:
    """The first ORDER BY position of `group_concat(a, b ORDER BY n)` past its arguments, or None."""
    order = node.this
    if not isinstance(order, exp.Order):
        return None
    value = order.this.expressions[0] if isinstance(order.this, exp.Distinct) else order.this
    count = len(value.expressions) if isinstance(value, exp.Concat) else 1
    for ordered in order.expressions:
        key, sign = (ordered.this.this, "-") if isinstance(ordered.this, exp.Neg) else (ordered.this, "")
        if isinstance(key, exp.Literal) and not key.is_string and key.name.isdigit() \
                and not 1 <= int(sign + key.name) <= count:
            return sign + key.name
    return None


def _refuse_group_concat_positions_past_arguments(statement: exp.Expr, text: str) -> None:
    """`group_concat(a ORDER BY 2)`: a position past the arguments is StarRocks' syntax error
    (test_group_concat), over the span of the call (its first column to its closing parenthesis)."""
    for node in statement.find_all(exp.GroupConcat):
        position = _group_concat_position_past_arguments(node)
        if position is None:
            continue
        offsets = [c.this.meta["start"] for c in node.find_all(exp.Column)
                   if isinstance(c.this, exp.Identifier) and isinstance(c.this.meta.get("start"), int)]
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
        span = ""
        for i, token in enumerate(tokens):
            if token.text.upper() != "GROUP_CONCAT" or offsets and token.start > min(offsets):
                continue
            j = closing_parenthesis(tokens, i + 1)
            if j is not None and (not offsets or tokens[j].start > max(offsets)):
                span = f" {token_span(token, tokens[j])}"
        raise SqlSyntaxError(f"Getting syntax error{span}. Detail message: ORDER BY position {position} is not in "
                             "group_concat output list.")


def _refuse_group_concat_of_nothing(text: str) -> None:
    """`group_concat()` is StarRocks' analysis error over the call's span (test_group_concat), where
    sqlglot fails to parse it."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        return
    for first, opening, last in zip(tokens, tokens[1:], tokens[2:]):
        if first.text.upper() == "GROUP_CONCAT" and opening.token_type == TokenType.L_PAREN \
                and last.token_type == TokenType.R_PAREN:
            raise AnalysisError(f"Getting analyzing error {token_span(first, last)}. Detail message: group_concat "
                                "should have at least one input.")


def _refuse_group_concat_separator_not_string(statement: exp.Expr, text: str) -> None:
    """`group_concat(x SEPARATOR 1)`: a separator that is a number is StarRocks' analysis error at
    the separator (test_group_concat)."""
    for node in statement.find_all(exp.GroupConcat):
        separator = node.args.get("separator")
        if not isinstance(separator, exp.Literal) or separator.is_string:
            continue
        order = node.this
        value = order.this if isinstance(order, exp.Order) else order
        if isinstance(value, exp.Distinct):
            value = value.expressions[0]
        arguments = value.expressions if isinstance(value, exp.Concat) else [value]
        shown = ", ".join(a.sql(dialect=DIALECT) for a in [*arguments, separator])
        place = ""
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
        for keyword, token in zip(tokens, tokens[1:]):
            if keyword.text.upper() == "SEPARATOR" and token.text == separator.name:
                place = f" at line {token.line}, column {token.col - len(token.text)}"
                break
        raise AnalysisError(f"Getting analyzing error{place}. Detail message: group_concat requires separator to "
                            f"be of getType() STRING: group_concat({shown}).")


def _integer_literal_type(value: int) -> str:
    for name, bits in (("tinyint(4)", 8), ("smallint(6)", 16), ("int(11)", 32), ("bigint(20)", 64)):
        if -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            return name
    return "largeint(40)"


def _field_type(node: exp.Expr) -> str:
    """A literal struct field's type as StarRocks names it in a struct type (`tinyint(4)`, `varchar`)."""
    if isinstance(node, exp.Literal) and not node.is_string and node.name.lstrip("-").isdigit():
        return _integer_literal_type(int(node.name))
    if isinstance(node, exp.Literal) and node.is_string:
        return "varchar"
    return (_nested_type(node) or "boolean").lower()


def _nested_type(node: exp.Expr) -> str | None:
    """The type StarRocks names for an ARRAY, MAP or STRUCT literal (`ARRAY<NULL_TYPE>`,
    `MAP<NULL_TYPE,NULL_TYPE>`, `struct<1 tinyint(4)>`), None for another expression."""
    if isinstance(node, exp.Array):
        inner = next((_field_type(e) for e in node.expressions if not isinstance(e, exp.Null)), "NULL_TYPE")
        return f"ARRAY<{inner.upper() if inner != 'NULL_TYPE' else inner}>"
    if isinstance(node, exp.VarMap):
        keys, values = node.args.get("keys"), node.args.get("values")
        if isinstance(keys, exp.Array) and isinstance(values, exp.Array) and keys.expressions and values.expressions:
            return f"MAP<{_field_type(keys.expressions[0]).upper()},{_field_type(values.expressions[0]).upper()}>"
        return "MAP<NULL_TYPE,NULL_TYPE>"
    if isinstance(node, exp.Anonymous) and node.name.lower() == "named_struct":
        pairs = zip(node.expressions[::2], node.expressions[1::2])
        return "struct<" + ", ".join(f"{key.name} {_field_type(value)}" for key, value in pairs) + ">"
    if isinstance(node, exp.Anonymous) and node.name.lower() in ("row", "struct") or isinstance(node, exp.Struct):
        return "struct<" + ", ".join(f"col{i} {_field_type(v)}" for i, v in enumerate(node.expressions, 1)) + ">"
    return None


def _refuse_nested_map_keys(text: str) -> None:
    """`map(k, v, ...)` whose key is an ARRAY, MAP or STRUCT is StarRocks' analysis error over the
    call's span (test_map testEmptyMap: `map(map(), map())`), where DuckDB would build the map. Each
    call is read on its own from its span; of several, StarRocks names the one it analyzes first:
    the innermost, then the one nested deepest in parentheses (a FROM subquery before the SELECT
    list), then the first."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        return
    found: list[tuple[int, int, int, str]] = []  # (first token, last token, parenthesis depth, key type)
    depth = 0
    for i, token in enumerate(tokens):
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        if token.text.upper() != "MAP" or i + 1 >= len(tokens) or tokens[i + 1].token_type != TokenType.L_PAREN:
            continue
        j = closing_parenthesis(tokens, i + 1)
        if j is None:
            continue
        try:
            call = sqlglot.parse_one(text[token.start:tokens[j].end + 1], read=DIALECT)
        except (ParseError, TokenError, *_SQLGLOT_FAILURES):
            continue
        keys = call.args.get("keys") if isinstance(call, exp.VarMap) else None
        key_types = [_nested_type(k) for k in keys.expressions] if isinstance(keys, exp.Array) else []
        refused = next((k for k in key_types if k is not None), None)
        if refused is not None:
            found.append((i, j, depth, refused))
    innermost = [f for f in found if not any(o is not f and f[0] < o[0] and o[1] <= f[1] for o in found)]
    if not innermost:
        return
    first, last, _, key_type = sorted(innermost, key=lambda f: (-f[2], f[0]))[0]
    raise AnalysisError(f"Getting analyzing error {token_span(tokens[first], tokens[last])}. Detail message: "
                        f"Map key don't supported type: {key_type}.")


def parse_statement(text: str) -> Statement:
    """Parse one statement. Raises SqlSyntaxError with line and column."""
    special = extended.parse(text)
    if special is not None:
        return special
    text, label = _without_insert_label(_delete_partitions(text))
    text = _joined_hints(without_bracket_hints(_add_column_lists(_decimalv2_as_decimal(text))))
    try:
        statement = sqlglot.parse_one(text, read=_StarRocksReader)
    except ParseError as exc:
        _refuse_group_concat_of_nothing(text)
        refuse_unparsed_calls(text)
        _refuse_temporary_partitions(text)
        raise _syntax_error(exc, text) from None
    except TokenError as exc:
        raise SqlSyntaxError(f"Getting syntax error. Detail message: {exc}") from None
    except _SQLGLOT_FAILURES:
        # sqlglot fails this way on a few malformed inputs (e.g. `date_add()`): still a syntax error.
        raise SqlSyntaxError("Getting syntax error. Detail message: the statement cannot be parsed.") from None
    try:
        # Queries run as DuckDB SQL, other statements' parts are shown back: a tree sqlglot cannot
        # generate (`year()`) is refused here rather than failing later.
        statement.sql(dialect="duckdb" if isinstance(statement, (exp.Query, exp.Insert)) else DIALECT)
        if isinstance(statement, exp.Set):  # a SET's constant expression runs as a DuckDB query too
            statement.sql(dialect="duckdb")
    except _SQLGLOT_FAILURES:
        raise SqlSyntaxError("Getting syntax error. Detail message: a function is called with missing or "
                             "wrong arguments.") from None
    if isinstance(statement, exp.Command):
        raise SqlSyntaxError(f"Getting syntax error. Detail message: unsupported statement "
                             f"'{text.split()[0].upper()} {statement.expression or ''}'".strip()[:200] + ".")
    if isinstance(statement, (exp.Query, exp.Insert)):
        refuse_call_arguments(text)
    _refuse_distinct_any_value(statement, text)
    _refuse_distinct_count_if(statement, text)
    _refuse_aggregate_of_only_an_order(statement, text)
    _refuse_group_concat_positions_past_arguments(statement, text)
    _refuse_group_concat_separator_not_string(statement, text)
    if isinstance(statement, (exp.Query, exp.Insert)) and statement.find(exp.VarMap) is not None:
        _refuse_nested_map_keys(text)
    if label is not None:
        statement.meta["label"] = label
    if isinstance(statement, (exp.Alter, exp.Query)):
        statement.meta["text"] = text  # positions in messages point into it (sqlglot keeps token offsets)
    return statement


def parse_script(sql: str) -> list[Statement]:
    """Parse every statement of a script."""
    return [parse_statement(text) for text in split_statements(sql)]
