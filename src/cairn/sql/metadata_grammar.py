"""Grammar of the metadata SHOW statements, added to Cairn's extended grammar:

    SHOW PROC '<path>'
    SHOW DATA [FROM [db.]table]
    SHOW TABLET FROM [db.]table [PARTITION (p[, ...])]
    SHOW BACKENDS
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.sql import extended
from cairn.sql.extended import Cursor, ExtendedStatement


@dataclass
class ShowProc(ExtendedStatement):
    path: str


@dataclass
class ShowData(ExtendedStatement):
    database: str | None = None
    table: str | None = None


@dataclass
class ShowTablet(ExtendedStatement):
    database: str | None
    table: str
    partitions: list[str] | None = None


@dataclass
class ShowBackends(ExtendedStatement):
    pass


def _show_data(c: Cursor) -> ExtendedStatement:
    if not c.accept("FROM"):
        return ShowData()
    database, table = c.qualified_name()
    return ShowData(database, table)


def _show_tablet(c: Cursor) -> ExtendedStatement:
    c.expect("FROM")
    database, table = c.qualified_name()
    partitions = None
    if c.accept("PARTITION") or c.accept("PARTITIONS"):
        wrapped = c.accept("(")
        partitions = [c.name()]
        while c.accept(","):
            partitions.append(c.name())
        if wrapped:
            c.expect(")")
    return ShowTablet(database, table, partitions)


extended.register(("SHOW", "PROC"), lambda c: ShowProc(c.string()))
extended.register(("SHOW", "DATA"), _show_data)
extended.register(("SHOW", "TABLET"), _show_tablet)
extended.register(("SHOW", "BACKENDS"), lambda c: ShowBackends())
