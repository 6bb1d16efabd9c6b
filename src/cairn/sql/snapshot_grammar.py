"""Grammar of the cluster-snapshot statements, added to Cairn's extended grammar:

    ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON [STORAGE VOLUME sv] | OFF
    ADMIN CREATE CLUSTER SNAPSHOT name [STORAGE VOLUME sv] [PROPERTIES ("retention" = "7d")]
    ADMIN DROP CLUSTER SNAPSHOT name
    ADMIN VERIFY CLUSTER SNAPSHOT name [DEEP]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cairn.sql import extended
from cairn.sql.extended import Cursor, ExtendedStatement


@dataclass
class SetAutomatedSnapshot(ExtendedStatement):
    enabled: bool
    storage_volume: str | None = None


@dataclass
class CreateClusterSnapshot(ExtendedStatement):
    name: str
    storage_volume: str | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class DropClusterSnapshot(ExtendedStatement):
    name: str


@dataclass
class VerifyClusterSnapshot(ExtendedStatement):
    name: str
    deep: bool = False


def _volume(c: Cursor) -> str | None:
    return c.name() if c.accept("STORAGE", "VOLUME") else None


def _set_automated(c: Cursor) -> ExtendedStatement:
    if c.accept("OFF"):
        return SetAutomatedSnapshot(False)
    c.expect("ON")
    return SetAutomatedSnapshot(True, _volume(c))


def _create(c: Cursor) -> ExtendedStatement:
    name = c.name()
    volume = _volume(c)
    return CreateClusterSnapshot(name, volume, c.properties() if c.accept("PROPERTIES") else {})


extended.register(("ADMIN", "SET", "AUTOMATED", "CLUSTER", "SNAPSHOT"), _set_automated)
extended.register(("ADMIN", "CREATE", "CLUSTER", "SNAPSHOT"), _create)
extended.register(("ADMIN", "DROP", "CLUSTER", "SNAPSHOT"), lambda c: DropClusterSnapshot(c.name()))
extended.register(("ADMIN", "VERIFY", "CLUSTER", "SNAPSHOT"),
                  lambda c: VerifyClusterSnapshot(c.name(), c.accept("DEEP")))
