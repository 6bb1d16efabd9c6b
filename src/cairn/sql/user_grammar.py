"""Grammar of the user and privilege statements (CREATE/ALTER/DROP USER, SET PASSWORD, GRANT,
REVOKE, SHOW GRANTS), added to Cairn's extended grammar."""

from __future__ import annotations

from dataclasses import dataclass

from cairn.sql import extended
from cairn.sql.extended import Cursor, ExtendedStatement

PRIVILEGES = ("SELECT", "INSERT", "ALTER", "DROP", "CREATE", "ALL", "OPERATE")
# StarRocks' system privileges, granted ON SYSTEM (kept as a grant on *.*): OPERATE lets a user
# kill other users' queries and see their connections (KILL, SHOW PROCESSLIST).
SYSTEM_PRIVILEGES = ("OPERATE",)


@dataclass
class CreateUserStatement(ExtendedStatement):
    name: str
    password: str = ""
    if_not_exists: bool = False


@dataclass
class AlterUserStatement(ExtendedStatement):
    name: str
    password: str


@dataclass
class DropUserStatement(ExtendedStatement):
    name: str
    if_exists: bool = False


@dataclass
class SetPasswordStatement(ExtendedStatement):
    name: str | None
    password: str


@dataclass
class GrantStatement(ExtendedStatement):
    privileges: list[str]
    database: str
    table: str
    user: str
    revoke: bool = False


@dataclass
class ShowGrantsStatement(ExtendedStatement):
    user: str | None = None


def _user(c: Cursor) -> str:
    """`'name'@'host'`, `name@host` or `name`: the name (hosts are accepted, '%' is assumed)."""
    name = c.string() if c.peek() and c.tokens[c.pos].token_type.name == "STRING" else c.name()
    if c.accept("@"):
        c.value()
    return name


def _password(c: Cursor) -> str:
    c.expect("IDENTIFIED")
    c.expect("BY")
    return c.string()


def _create_user(c: Cursor) -> ExtendedStatement:
    if_not_exists = c.accept("IF", "NOT", "EXISTS")
    name = _user(c)
    password = _password(c) if c.peek() == "IDENTIFIED" else ""
    return CreateUserStatement(name, password, if_not_exists)


def _alter_user(c: Cursor) -> ExtendedStatement:
    name = _user(c)
    return AlterUserStatement(name, _password(c))


def _drop_user(c: Cursor) -> ExtendedStatement:
    if_exists = c.accept("IF", "EXISTS")
    return DropUserStatement(_user(c), if_exists)


def _set_password(c: Cursor) -> ExtendedStatement:
    name = _user(c) if c.accept("FOR") else None
    c.expect("=")
    if c.accept("PASSWORD"):
        c.expect("(")
        password = c.string()
        c.expect(")")
    else:
        password = c.string()
    return SetPasswordStatement(name, password)


def _privileges(c: Cursor) -> list[str]:
    found = []
    while True:
        word = c.peek()
        if word not in PRIVILEGES:
            c.fail("a privilege (" + ", ".join(PRIVILEGES) + ")")
        c.pos += 1
        c.accept("PRIVILEGES")
        found.append(word)
        if not c.accept(","):
            return found


def _target(c: Cursor) -> tuple[str, str]:
    c.expect("ON")
    # ON TABLE t / ON VIEW v names one in the current database ('' until the grant runs); a view
    # is granted on as a table is. Without the keyword, a lone name is a database.
    object_named = bool(c.accept("TABLE") or c.accept("VIEW"))
    database = "*" if c.accept("*") else c.name()
    if not c.accept("."):
        return ("", database) if object_named and database != "*" else (database, "*")
    table = "*" if c.accept("*") else c.name()
    return database, table


def _grant(c: Cursor, revoke: bool) -> ExtendedStatement:
    privileges = _privileges(c)
    if any(p in SYSTEM_PRIVILEGES for p in privileges):
        if any(p not in SYSTEM_PRIVILEGES for p in privileges):
            c.fail("system privileges (" + ", ".join(SYSTEM_PRIVILEGES) + ") alone, ON SYSTEM")
        c.expect("ON")
        c.expect("SYSTEM")
        database, table = "*", "*"
    else:
        database, table = _target(c)
    c.expect("FROM" if revoke else "TO")
    c.accept("USER")
    return GrantStatement(privileges, database, table, _user(c), revoke)


def _show_grants(c: Cursor) -> ExtendedStatement:
    return ShowGrantsStatement(_user(c) if c.accept("FOR") else None)


for words, parser in {
    ("CREATE", "USER"): _create_user,
    ("ALTER", "USER"): _alter_user,
    ("DROP", "USER"): _drop_user,
    ("SET", "PASSWORD"): _set_password,
    ("GRANT",): lambda c: _grant(c, revoke=False),
    ("REVOKE",): lambda c: _grant(c, revoke=True),
    ("SHOW", "GRANTS"): _show_grants,
}.items():
    extended.register(words, parser)
