"""StarRocks' bracketed hints: `JOIN [broadcast] t`, `JOIN [skew|t.c(1, 2)] t`, `OVER ([hash] PARTITION BY ...)`,
and the meta scan `FROM t [_META_]`.

They choose how StarRocks distributes a join or a window, never what it answers, so Cairn accepts
the hints StarRocks knows and leaves them out of the text sqlglot reads (cut by token positions,
outside strings; nothing is glued in). A hint StarRocks does not know is refused with its message.
A meta scan answers count, min and max of a table's columns from its statistics, which are the
data's own answers: Cairn reads the data, and accepts `[_META_]` only in such a query.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType

from cairn.errors import AnalysisError

# StarRocks' join hints (its JoinOperator hints) and window hints (its AnalyticExpr hints).
JOIN_HINTS = frozenset({"BROADCAST", "SHUFFLE", "BUCKET", "COLOCATE", "UNREORDER", "SKEW"})
WINDOW_HINTS = frozenset({"SKEWED", "HASH", "SORT"})
# `SELECT count(c), min(c), max(c), ... FROM t [_META_]`: the queries a meta scan answers.
_META_QUERY = re.compile(r"\s*select\s+(?:(?:count|min|max)\s*\(\s*(?:[\w`.]+|\*)?\s*\)\s*,?\s*)+"
                         r"from\s+[\w`.]+\s*\[\s*_META_\s*\]\s*;?\s*", re.IGNORECASE)
# A cross join has no key to shuffle, bucket or colocate by.
_NOT_FOR_CROSS_JOINS = frozenset({"SHUFFLE", "BUCKET", "COLOCATE"})


def _closing(tokens: list[Token], start: int) -> int | None:
    """The index of the `]` that closes the `[` at `start`, or None."""
    depth = 0
    for i in range(start, len(tokens)):
        kind = tokens[i].token_type
        depth += 1 if kind == TokenType.L_BRACKET else -1 if kind == TokenType.R_BRACKET else 0
        if depth == 0:
            return i
    return None


def _check_join_hint(inside: list[Token], cross: bool) -> None:
    """StarRocks' checks of a join hint (its QueryAnalyzer), with its messages; it spells hints in capitals."""
    name = inside[0].text.upper() if inside else ""
    skew = any(t.token_type == TokenType.PIPE for t in inside)
    if name == "SKEW" and not skew:
        raise AnalysisError("Getting analyzing error. Detail message: Skew join values must be specified.")
    if name not in JOIN_HINTS or (len(inside) > 1 and not (skew and name == "SKEW")) or (skew and name != "SKEW"):
        text = " ".join(t.text for t in inside).upper()
        raise AnalysisError(f"Getting analyzing error. Detail message: JOIN hint not recognized: {text}.")
    if cross and name in _NOT_FOR_CROSS_JOINS:
        raise AnalysisError(f"Getting analyzing error. Detail message: CROSS JOIN does not support {name}.")


def _check_window_hint(inside: list[Token]) -> None:
    names = [t for t in inside if t.token_type != TokenType.COMMA]
    if not names or any(t.text.upper() not in WINDOW_HINTS for t in names) or len(names) * 2 - 1 != len(inside):
        text = " ".join(t.text for t in inside).upper()
        raise AnalysisError(f"Getting analyzing error. Detail message: window hint not recognized: {text}.")


def without_bracket_hints(text: str) -> str:
    """`text` without its join and window hints (after checking that StarRocks knows each)."""
    if "[" not in text:
        return text
    try:
        tokens = sqlglot.Dialect.get_or_raise("starrocks").tokenize(text)
    except TokenError:
        return text
    cuts: list[tuple[int, int]] = []
    for i, token in enumerate(tokens):
        if token.token_type != TokenType.L_BRACKET or i == 0:
            continue
        after_join = tokens[i - 1].token_type == TokenType.JOIN
        in_window = i >= 2 and tokens[i - 1].token_type == TokenType.L_PAREN and tokens[i - 2].token_type == TokenType.OVER
        meta = i + 2 < len(tokens) and tokens[i + 1].text.upper() == "_META_" \
            and tokens[i + 2].token_type == TokenType.R_BRACKET
        if meta:
            if not _META_QUERY.fullmatch(text):
                raise AnalysisError("Getting analyzing error. Detail message: [_META_] outside "
                                    "SELECT count / min / max (columns) FROM one table is not supported yet.")
            cuts.append((token.start, tokens[i + 2].end + 1))
            continue
        if not (after_join or in_window):
            continue
        end = _closing(tokens, i)
        if end is None:
            return text
        inside = tokens[i + 1:end]
        if after_join:
            _check_join_hint(inside, cross=i >= 2 and tokens[i - 2].token_type == TokenType.CROSS)
        else:
            _check_window_hint(inside)
        cuts.append((token.start, tokens[end].end + 1))
    for start, end in reversed(cuts):
        text = text[:start] + " " + text[end:]
    return text
