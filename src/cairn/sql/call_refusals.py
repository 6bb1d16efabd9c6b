"""Function calls StarRocks' analyzer refuses for their arguments, with its message over the call's
span in the statement (`from line L, column C to line L, column C`: the call's name to its closing
parenthesis, columns counted from 0), read from the statement's text before it runs."""

from __future__ import annotations

from collections.abc import Iterator

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from cairn.errors import AnalysisError

DIALECT = "starrocks"


def _calls(text: str, names: frozenset[str]) -> Iterator[tuple[Token, Token, str]]:
    """Each call of a function in `names` in `text`: its name's token, its closing parenthesis and
    the call's own text."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    except TokenError:
        return
    for i, token in enumerate(tokens[:-1]):
        if token.text.lower() not in names or tokens[i + 1].token_type != TokenType.L_PAREN:
            continue
        j = closing_parenthesis(tokens, i + 1)
        if j is not None:
            yield token, tokens[j], text[token.start:tokens[j].end + 1]


def closing_parenthesis(tokens: list[Token], opening: int) -> int | None:
    """The index of the parenthesis closing the one at `opening`, or None when the text ends first."""
    depth = 0
    for j in range(opening, len(tokens)):
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(tokens[j].token_type, 0)
        if depth == 0:
            return j
    return None


def token_span(first: Token, last: Token) -> str:
    """StarRocks' position of the text from `first` to `last`: "from line L, column C to line L, column C"."""
    return f"from line {first.line}, column {first.col - len(first.text)} to line {last.line}, column {last.col - 1}"


def _refused(first: Token, last: Token, message: str) -> AnalysisError:
    return AnalysisError(f"Getting analyzing error {token_span(first, last)}. Detail message: {message}")


def _arguments(call: str) -> list[exp.Expr] | None:
    """The arguments of one call read on its own; None when it does not parse so."""
    try:
        node = sqlglot.parse_one(call, read=DIALECT)
    except (ParseError, TokenError):
        return None
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    return [value for value in node.args.values() if isinstance(value, exp.Expr)]


def _is_integer(node: exp.Expr) -> bool:
    value = node.this if isinstance(node, exp.Neg) else node
    return isinstance(value, exp.Literal) and value.name.isdigit()


# Expressions whose type is a number or a date whatever they read.
_NOT_TEXT = (exp.Date, exp.TsOrDsToDate, exp.Timestamp, exp.Boolean)


def _is_not_text(node: exp.Expr) -> bool:
    """Whether `node` is no string whatever the tables hold: a number or a date (a cast to one)."""
    value = node.this if isinstance(node, exp.Neg) else node
    if isinstance(value, exp.Literal):
        return not value.is_string
    if isinstance(value, exp.Cast):
        return not value.to.is_type(*exp.DataType.TEXT_TYPES)
    return isinstance(value, _NOT_TEXT)


_NGRAM_SEARCH = frozenset({"ngram_search", "ngram_search_case_insensitive"})


def refuse_call_arguments(text: str) -> None:
    """Raise StarRocks' analysis error for a call whose arguments it refuses (test_ngram_search:
    a haystack or needle that is no string, a needle or gram size that is not a constant; test_time_slice: `date_slice(t, interval 3.2
    year)`)."""
    lowered = text.lower()
    if "ngram_search" in lowered:
        for first, last, call in _calls(text, _NGRAM_SEARCH):
            arguments = _arguments(call)
            if arguments is None or len(arguments) != 3:
                continue
            haystack, needle, size = arguments
            if _is_not_text(haystack) or _is_not_text(needle):
                raise _refused(first, last, f"{first.text.lower()} function 's first parameter and second "
                                            "parameter must be string type.")
            if not (isinstance(needle, exp.Literal) and needle.is_string) or not _is_integer(size):
                raise _refused(first, last, f"{first.text.lower()} function 's second parameter and third "
                                            "parameter must be constant.")
    if "date_slice" in lowered:
        for first, last, call in _calls(text, frozenset({"date_slice"})):
            arguments = _arguments(call)
            interval = arguments[1] if arguments is not None and len(arguments) > 1 else None
            if isinstance(interval, exp.Interval) and isinstance(interval.this, exp.Literal) \
                    and not interval.this.name.lstrip("-").isdigit():
                raise _refused(first, last, "date_slice requires second parameter must be a constant interval.")


def refuse_unparsed_calls(text: str) -> None:
    """Raise StarRocks' analysis error for a call sqlglot cannot parse because it lacks an argument
    StarRocks has no signature without (test_translate: `translate('abc', 'ab')`); the arguments'
    types are named when they are string literals, otherwise the syntax error stands."""
    if "translate" not in text.lower():
        return
    for first, last, call in _calls(text, frozenset({"translate"})):
        try:
            node = sqlglot.parse_one(f"f{call[len(first.text):]}", read=DIALECT)
        except (ParseError, TokenError):
            continue
        arguments = node.expressions if isinstance(node, exp.Anonymous) else []
        if len(arguments) != 3 and all(isinstance(a, exp.Literal) and a.is_string for a in arguments):
            shown = ", ".join("varchar" for _ in arguments)
            raise _refused(first, last, f"No matching function with signature: translate({shown}).")
