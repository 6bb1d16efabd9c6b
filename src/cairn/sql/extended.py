"""Statements sqlglot does not parse: Cairn's own small grammar over sqlglot's tokenizer.

Each statement is a dataclass deriving from ExtendedStatement. `parse(text)` returns one, or None
when the text is not one of these statements (then sqlglot parses it). A statement is recognised
by its leading words (`GRAMMAR`), so ordinary queries cost one dictionary look-up here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlglot
from sqlglot.tokenizer_core import Token, TokenType

from cairn.errors import SqlSyntaxError

MAXVALUE = "MAXVALUE"


@dataclass
class ExtendedStatement:
    """Base of the statements parsed here."""


@dataclass
class CreateStorageVolumeStatement(ExtendedStatement):
    name: str
    type: str
    locations: list[str]
    comment: str = ""
    properties: dict[str, str] = field(default_factory=dict)
    if_not_exists: bool = False


@dataclass
class AlterStorageVolumeStatement(ExtendedStatement):
    name: str
    properties: dict[str, str] = field(default_factory=dict)
    comment: str | None = None


@dataclass
class DropStorageVolumeStatement(ExtendedStatement):
    name: str
    if_exists: bool = False


@dataclass
class ShowStorageVolumes(ExtendedStatement):
    like: str | None = None


@dataclass
class DescStorageVolume(ExtendedStatement):
    name: str


@dataclass
class SetDefaultStorageVolume(ExtendedStatement):
    name: str


@dataclass
class ShowPartitions(ExtendedStatement):
    """SHOW [TEMPORARY] PARTITIONS FROM t [ORDER BY column [ASC|DESC], ...] [LIMIT [offset,] count]."""

    database: str | None
    table: str
    temporary: bool = False  # SHOW TEMPORARY PARTITIONS
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (column title, descending)
    limit: int | None = None
    offset: int = 0


@dataclass
class RecoverTableStatement(ExtendedStatement):
    """RECOVER TABLE [db.]t: the table dropped last under that name, back from the recycle bin."""

    database: str | None
    table: str


@dataclass
class ShowTemporaryTables(ExtendedStatement):
    """SHOW TEMPORARY TABLES [FROM db]: the session's own temporary tables."""

    database: str | None


@dataclass
class AddPartition(ExtendedStatement):
    database: str | None
    table: str
    partition: str
    less_than: list[str] | None = None
    values_in: list[list[str]] | None = None
    if_not_exists: bool = False
    fixed_range: tuple[list[str], list[str]] | None = None  # VALUES [(lower), (upper))
    temporary: bool = False  # ADD TEMPORARY PARTITION


@dataclass
class AddPartitionBatch(ExtendedStatement):
    """ALTER TABLE t ADD PARTITIONS START (start) END (end) EVERY (INTERVAL step unit | step)."""

    database: str | None
    table: str
    start: str
    end: str
    step: str
    unit: str | None  # None: EVERY (step), a number range


@dataclass
class DropPartitionStatement(ExtendedStatement):
    database: str | None
    table: str
    partition: str
    if_exists: bool = False
    temporary: bool = False  # DROP TEMPORARY PARTITION


@dataclass
class ReplacePartitionsStatement(ExtendedStatement):
    """ALTER TABLE t REPLACE PARTITION (p, ...) WITH TEMPORARY PARTITION (tp, ...) [PROPERTIES (...)]."""

    database: str | None
    table: str
    partitions: list[str]
    temp_partitions: list[str]
    properties: dict[str, str]


@dataclass
class TruncatePartitionsStatement(ExtendedStatement):
    """ALTER TABLE t TRUNCATE PARTITION p[, ...]: TRUNCATE TABLE t PARTITION (p, ...) spelled as StarRocks also takes it."""

    database: str | None
    table: str
    partitions: list[str]


@dataclass
class RenamePartitionStatement(ExtendedStatement):
    database: str | None
    table: str
    partition: str
    new_name: str


@dataclass
class AlterDatabaseRename(ExtendedStatement):
    """ALTER DATABASE db RENAME new_name."""

    database: str
    new_name: str


@dataclass
class CompactTable(ExtendedStatement):
    """ALTER TABLE t [BASE | CUMULATIVE] COMPACT [p | (p1, p2, ...)]: merge the table's (or those
    partitions') rowsets now. `partitions` None: all of them."""

    database: str | None
    table: str
    partitions: list[str] | None


@dataclass
class AdminSetFrontendConfig(ExtendedStatement):
    key: str
    value: str


def _tokens(text: str) -> list[Token]:
    dialect = sqlglot.Dialect.get_or_raise("starrocks")
    tokens = [t for t in dialect.tokenize(text) if t.token_type != TokenType.SEMICOLON]
    # The tokenizer keeps the rest of a "command" statement (ADMIN ..., VACUUM ...) as one string:
    # split it too, as often as it happens.
    if len(tokens) == 2 and tokens[0].token_type == TokenType.COMMAND and tokens[1].token_type == TokenType.STRING:
        return [tokens[0], *_tokens(tokens[1].text)]
    return tokens


@dataclass
class AdminVacuum(ExtendedStatement):
    dry_run: bool = False


class Cursor:
    """Walks the tokens of one statement; `expect` raises SqlSyntaxError naming what was wanted."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = _tokens(text)
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos].text.upper() if self.pos < len(self.tokens) else ""

    def accept(self, *words: str) -> bool:
        """Consume `words` if they come next (case-insensitive)."""
        end = self.pos + len(words)
        if end <= len(self.tokens) and all(t.text.upper() == w for t, w in zip(self.tokens[self.pos:end], words)):
            self.pos = end
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            self.fail(" ".join(words))

    def fail(self, wanted: str) -> None:
        if self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            raise SqlSyntaxError(f"Getting syntax error at line {token.line}, column {token.col}. "
                                 f"Detail message: expected {wanted}, got '{token.text}'.")
        raise SqlSyntaxError(f"Getting syntax error. Detail message: expected {wanted} at the end of the statement.")

    def _next(self, wanted: str, kinds: set[TokenType] | None = None) -> Token:
        if self.pos >= len(self.tokens) or (kinds is not None and self.tokens[self.pos].token_type not in kinds):
            self.fail(wanted)
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def name(self) -> str:
        """An identifier (quoted or not) or a keyword used as a name."""
        token = self._next("a name")
        if token.token_type in {TokenType.STRING, TokenType.NUMBER, TokenType.L_PAREN, TokenType.R_PAREN,
                                TokenType.COMMA, TokenType.EQ, TokenType.DOT}:
            self.pos -= 1
            self.fail("a name")
        return token.text

    def qualified_name(self) -> tuple[str | None, str]:
        first = self.name()
        if self.accept("."):
            return first, self.name()
        return None, first

    def string(self) -> str:
        return self._next("a quoted string", {TokenType.STRING, TokenType.IDENTIFIER}).text

    def value(self) -> str:
        """A literal: quoted string, number (with sign) or MAXVALUE."""
        negative = self.accept("-")
        token = self._next("a value", {TokenType.STRING, TokenType.NUMBER, TokenType.VAR, TokenType.IDENTIFIER})
        return f"-{token.text}" if negative else token.text

    def value_list(self) -> list[str]:
        self.expect("(")
        values = [self.value()]
        while self.accept(","):
            values.append(self.value())
        self.expect(")")
        return values

    def properties(self) -> dict[str, str]:
        """`("k" = "v", ...)`."""
        self.expect("(")
        found: dict[str, str] = {}
        while True:
            key = self.string()
            self.expect("=")
            found[key] = self.string()
            if not self.accept(","):
                break
        self.expect(")")
        return found

    def end(self) -> None:
        if self.pos != len(self.tokens):
            self.fail("the end of the statement")


def _create_storage_volume(c: Cursor) -> ExtendedStatement:
    if_not_exists = c.accept("IF", "NOT", "EXISTS")
    name = c.name()
    c.expect("TYPE")
    c.expect("=")
    kind = c.name().upper()
    c.expect("LOCATIONS")
    c.expect("=")
    locations = c.value_list()
    comment = c.string() if c.accept("COMMENT") else ""
    properties = c.properties() if c.accept("PROPERTIES") else {}
    return CreateStorageVolumeStatement(name, kind, locations, comment, properties, if_not_exists)


def _alter_storage_volume(c: Cursor) -> ExtendedStatement:
    name = c.name()
    c.expect("SET")
    statement = AlterStorageVolumeStatement(name)
    while True:
        if c.accept("COMMENT"):
            c.expect("=")
            statement.comment = c.string()
        else:
            statement.properties.update(c.properties())
        if not c.accept(","):
            return statement


def _drop_storage_volume(c: Cursor) -> ExtendedStatement:
    if_exists = c.accept("IF", "EXISTS")
    return DropStorageVolumeStatement(c.name(), if_exists)


def _show_storage_volumes(c: Cursor) -> ExtendedStatement:
    return ShowStorageVolumes(c.string() if c.accept("LIKE") else None)


def _set_default_volume(c: Cursor) -> ExtendedStatement:
    name = c.name()
    c.expect("AS", "DEFAULT", "STORAGE", "VOLUME")
    return SetDefaultStorageVolume(name)


def _count(c: Cursor) -> int:
    """A whole number of rows (LIMIT's count or offset)."""
    token = c._next("a number", {TokenType.NUMBER})
    if not token.text.isdigit():
        c.pos -= 1
        c.fail("a number")
    return int(token.text)


def _show_partitions(c: Cursor, temporary: bool = False) -> ExtendedStatement:
    if not c.accept("FROM"):
        c.expect("IN")
    database, table = c.qualified_name()
    statement = ShowPartitions(database, table, temporary=temporary)
    if c.accept("ORDER BY"):  # one token to sqlglot
        while True:
            title = c.name()
            descending = c.accept("DESC")
            if not descending:
                c.accept("ASC")
            statement.order_by.append((title, descending))
            if not c.accept(","):
                break
    if c.accept("LIMIT"):
        statement.limit = _count(c)
        if c.accept(","):
            statement.offset, statement.limit = statement.limit, _count(c)
        elif c.accept("OFFSET"):
            statement.offset = _count(c)
    return statement


def _names(c: Cursor) -> list[str]:
    """`(a, b, ...)` or a single name."""
    wrapped = c.accept("(")
    names = [c.name()]
    while wrapped and c.accept(","):
        names.append(c.name())
    if wrapped:
        c.expect(")")
    return names


def _add_partition(c: Cursor, database: str | None, table: str, temporary: bool) -> ExtendedStatement:
    if_not_exists = c.accept("IF", "NOT", "EXISTS")
    partition = c.name()
    c.expect("VALUES")
    if c.accept("LESS", "THAN"):
        if c.accept("MAXVALUE"):
            bound = [MAXVALUE]
        else:
            bound = c.value_list()
        return AddPartition(database, table, partition, less_than=bound, if_not_exists=if_not_exists,
                            temporary=temporary)
    if c.accept("["):
        lower = c.value_list()
        c.expect(",")
        upper = c.value_list()
        c.expect(")")
        return AddPartition(database, table, partition, fixed_range=(lower, upper), if_not_exists=if_not_exists,
                            temporary=temporary)
    c.expect("IN")
    c.expect("(")
    rows: list[list[str]] = []
    while True:
        rows.append(c.value_list() if c.peek() == "(" else [c.value()])
        if not c.accept(","):
            break
    c.expect(")")
    return AddPartition(database, table, partition, values_in=rows, if_not_exists=if_not_exists, temporary=temporary)


def _alter_table(c: Cursor) -> ExtendedStatement:
    database, table = c.qualified_name()
    if c.accept("COMPACT") or c.accept("BASE", "COMPACT") or c.accept("CUMULATIVE", "COMPACT"):
        return CompactTable(database, table, _names(c) if c.pos < len(c.tokens) else None)
    if c.accept("ADD", "PARTITION"):
        return _add_partition(c, database, table, temporary=False)
    if c.accept("ADD", "TEMPORARY", "PARTITION"):
        return _add_partition(c, database, table, temporary=True)
    if c.accept("DROP", "TEMPORARY", "PARTITION"):
        if_exists = c.accept("IF", "EXISTS")
        name = c.name()
        c.accept("FORCE")
        return DropPartitionStatement(database, table, name, if_exists, temporary=True)
    if c.accept("REPLACE", "PARTITION"):
        replaced = _names(c)
        c.expect("WITH", "TEMPORARY", "PARTITION")
        incoming = _names(c)
        properties = c.properties() if c.accept("PROPERTIES") else {}
        return ReplacePartitionsStatement(database, table, replaced, incoming, properties)
    if c.accept("ADD", "PARTITIONS"):
        c.expect("START")
        start = c.value_list()
        c.expect("END")
        end = c.value_list()
        c.expect("EVERY")
        c.expect("(")
        unit = None
        if c.accept("INTERVAL"):
            step = c.value()
            unit = c.name()
        else:
            step = c.value()
        c.expect(")")
        if len(start) != 1 or len(end) != 1:
            c.fail("one START and one END value")
        return AddPartitionBatch(database, table, start[0], end[0], step, unit)
    if c.accept("DROP", "PARTITION"):
        if_exists = c.accept("IF", "EXISTS")
        name = c.name()
        # FORCE skips StarRocks' recycle bin; Cairn cannot recover a dropped partition either way.
        c.accept("FORCE")
        return DropPartitionStatement(database, table, name, if_exists)
    if c.accept("RENAME", "PARTITION"):
        old = c.name()
        return RenamePartitionStatement(database, table, old, c.name())
    if c.accept("TRUNCATE", "PARTITION") or c.accept("TRUNCATE", "PARTITIONS"):
        wrapped = c.accept("(")
        names = [c.name()]
        while c.accept(","):
            names.append(c.name())
        if wrapped:
            c.expect(")")
        return TruncatePartitionsStatement(database, table, names)
    c.fail("ADD [TEMPORARY] PARTITION[S], DROP [TEMPORARY] PARTITION, REPLACE PARTITION, RENAME PARTITION or "
           "TRUNCATE PARTITION")
    raise AssertionError("unreachable")


def _admin_set_frontend_config(c: Cursor) -> ExtendedStatement:
    values = c.properties()
    if len(values) != 1:
        raise SqlSyntaxError("ADMIN SET FRONTEND CONFIG takes exactly one (\"key\" = \"value\") pair")
    key, value = next(iter(values.items()))
    return AdminSetFrontendConfig(key, value)


def _alter_database(c: Cursor) -> ExtendedStatement:
    name = c.name()
    if not c.accept("RENAME"):
        c.fail("RENAME (the one ALTER DATABASE Cairn has)")
    return AlterDatabaseRename(name, c.name())


# Leading words -> parser of the rest. Longer prefixes are tried first.
GRAMMAR: dict[tuple[str, ...], Callable[[Cursor], ExtendedStatement]] = {
    ("CREATE", "STORAGE", "VOLUME"): _create_storage_volume,
    ("ALTER", "STORAGE", "VOLUME"): _alter_storage_volume,
    ("DROP", "STORAGE", "VOLUME"): _drop_storage_volume,
    ("SHOW", "STORAGE", "VOLUMES"): _show_storage_volumes,
    ("DESC", "STORAGE", "VOLUME"): lambda c: DescStorageVolume(c.name()),
    ("DESCRIBE", "STORAGE", "VOLUME"): lambda c: DescStorageVolume(c.name()),
    ("SHOW", "PARTITIONS"): _show_partitions,
    ("SHOW", "TEMPORARY", "PARTITIONS"): lambda c: _show_partitions(c, temporary=True),
    ("SHOW", "TEMPORARY", "TABLES"): lambda c: ShowTemporaryTables(c.name() if c.accept("FROM") or c.accept("IN")
                                                                   else None),
    ("ADMIN", "SET", "FRONTEND", "CONFIG"): _admin_set_frontend_config,
    ("ADMIN", "VACUUM"): lambda c: AdminVacuum(c.accept("DRY", "RUN")),
    ("RECOVER", "TABLE"): lambda c: RecoverTableStatement(*c.qualified_name()),
    ("ALTER", "DATABASE"): _alter_database,
}
# Statements recognised by their first word and one that follows later (SET x AS DEFAULT ...).
_FIRST_WORDS = {words[0] for words in GRAMMAR} | {"SET", "ALTER"}


def register(words: tuple[str, ...], parser: Callable[[Cursor], ExtendedStatement]) -> None:
    """Add a statement to the grammar (used by subsystems such as cluster snapshots)."""
    GRAMMAR[words] = parser
    _FIRST_WORDS.add(words[0])


def parse(text: str) -> ExtendedStatement | None:
    """Parse `text` if it is one of Cairn's own statements, else return None."""
    first = text.lstrip().split(None, 1)[0].upper() if text.strip() else ""
    if first not in _FIRST_WORDS:
        return None
    cursor = Cursor(text)
    for words in sorted(GRAMMAR, key=len, reverse=True):
        if cursor.accept(*words):
            statement = GRAMMAR[words](cursor)
            cursor.end()
            return statement
    if first == "SET" and " AS DEFAULT STORAGE VOLUME" in " ".join(text.upper().split()):
        cursor.expect("SET")
        statement = _set_default_volume(cursor)
        cursor.end()
        return statement
    if first == "ALTER" and cursor.accept("ALTER", "TABLE"):
        upper = " ".join(text.upper().split())
        if any(f" {words} " in upper for words in ("ADD PARTITION", "ADD PARTITIONS", "DROP PARTITION", "RENAME PARTITION",
                                                   "ADD TEMPORARY PARTITION", "DROP TEMPORARY PARTITION",
                                                   "REPLACE PARTITION",
                                                   "TRUNCATE PARTITION", "TRUNCATE PARTITIONS")) \
                or re.search(r"^ALTER TABLE \S+ (BASE |CUMULATIVE )?COMPACT( |$)", upper.rstrip(" ;")):
            statement = _alter_table(cursor)
            cursor.end()
            return statement
    return None
