"""Grammar of the node statements, added to Cairn's extended grammar:

    ALTER SYSTEM ADD COMPUTE NODE "host:heartbeat_port"[, "host:heartbeat_port" ...]
    ALTER SYSTEM DROP COMPUTE NODE "host:heartbeat_port"[, ...]
    SHOW COMPUTE NODES
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.sql import extended
from cairn.sql.extended import Cursor, ExtendedStatement


@dataclass
class AddComputeNodeStatement(ExtendedStatement):
    addresses: list[str]


@dataclass
class DropComputeNodeStatement(ExtendedStatement):
    addresses: list[str]


@dataclass
class ShowComputeNodes(ExtendedStatement):
    pass


def _addresses(c: Cursor) -> list[str]:
    found = [c.string()]
    while c.accept(","):
        found.append(c.string())
    return found


extended.register(("ALTER", "SYSTEM", "ADD", "COMPUTE", "NODE"), lambda c: AddComputeNodeStatement(_addresses(c)))
extended.register(("ALTER", "SYSTEM", "DROP", "COMPUTE", "NODE"), lambda c: DropComputeNodeStatement(_addresses(c)))
extended.register(("SHOW", "COMPUTE", "NODES"), lambda c: ShowComputeNodes())
