"""Grammar of EXPLAIN, added to Cairn's extended grammar:

    EXPLAIN [LOGICAL | VERBOSE | COSTS | ANALYZE] <statement>
    DESC | DESCRIBE (LOGICAL | VERBOSE | COSTS | ANALYZE) <statement>

(`DESC <query>` with no level is sqlglot's Describe; `sql/show.py` hands it to EXPLAIN.) The
statement explained is parsed as it would be run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cairn.query.explain import Level
from cairn.sql import extended
from cairn.sql.extended import Cursor, ExtendedStatement
from cairn.sql.parser import Statement, parse_statement

LEVELS: tuple[Level, ...] = ("LOGICAL", "VERBOSE", "COSTS", "ANALYZE")


@dataclass
class ExplainStatement(ExtendedStatement):
    level: Level
    statement: Statement


def _explain(level: Level) -> Callable[[Cursor], ExtendedStatement]:
    def parser(c: Cursor) -> ExtendedStatement:
        chosen = level
        if chosen == "NORMAL":
            chosen = next((word for word in LEVELS if c.accept(word)), "NORMAL")
        if c.pos >= len(c.tokens):
            c.fail("a statement to explain")
        rest = c.text[c.tokens[c.pos].start:]
        c.pos = len(c.tokens)
        return ExplainStatement(chosen, parse_statement(rest))

    return parser


extended.register(("EXPLAIN",), _explain("NORMAL"))
for _word in ("DESC", "DESCRIBE"):
    for _level in LEVELS:
        extended.register((_word, _level), _explain(_level))
