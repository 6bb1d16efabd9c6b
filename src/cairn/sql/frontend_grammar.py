"""Grammar of the FE membership statements, added to Cairn's extended grammar:

    ALTER SYSTEM ADD FOLLOWER "host:edit_log_port"
    ALTER SYSTEM ADD OBSERVER "host:edit_log_port"
    ALTER SYSTEM DROP FOLLOWER "host:edit_log_port"
    ALTER SYSTEM DROP OBSERVER "host:edit_log_port"
    SHOW FRONTENDS
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cairn.sql import extended

FrontendType = Literal["follower", "observer"]


@dataclass
class AddFrontendStatement(extended.ExtendedStatement):
    type: FrontendType
    address: str


@dataclass
class DropFrontendStatement(extended.ExtendedStatement):
    type: FrontendType
    address: str


@dataclass
class ShowFrontends(extended.ExtendedStatement):
    pass


extended.register(("ALTER", "SYSTEM", "ADD", "FOLLOWER"), lambda c: AddFrontendStatement("follower", c.string()))
extended.register(("ALTER", "SYSTEM", "ADD", "OBSERVER"), lambda c: AddFrontendStatement("observer", c.string()))
extended.register(("ALTER", "SYSTEM", "DROP", "FOLLOWER"), lambda c: DropFrontendStatement("follower", c.string()))
extended.register(("ALTER", "SYSTEM", "DROP", "OBSERVER"), lambda c: DropFrontendStatement("observer", c.string()))
extended.register(("SHOW", "FRONTENDS"), lambda c: ShowFrontends())
