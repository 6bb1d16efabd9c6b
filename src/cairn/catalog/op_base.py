"""Op: the base of every catalog operation, the only way the catalog changes.

Each op is one journal entry's `op`. It carries every id and value it needs (allocated by the
leader before the append), so that replaying the log on any FE reaches exactly the same state.
`apply` must not fail on replay for an op the leader accepted: validation happens before the
append, in the statement handlers. Every concrete op declares `kind` as a Literal and is a member
of `cairn.catalog.ops.CatalogOp`, the union the journal is read with.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from cairn.catalog.model import CatalogState, Database, Table
from cairn.errors import JournalError


class Op(BaseModel):
    """Base of every catalog operation. `apply(state, at)` changes `state`; `at` is the entry's
    commit time, so replay is exact."""

    kind: str

    def apply(self, state: CatalogState, at: float) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The op as a journal entry holds it (its `kind` included)."""
        return self.model_dump(mode="json")


def bump_ids(state: CatalogState, *ids: int) -> None:
    """Move the catalog's next free id past `ids`."""
    state.next_id = max(state.next_id, *(i + 1 for i in ids))


def database_by_id(state: CatalogState, db_id: int) -> Database:
    for db in state.databases.values():
        if db.id == db_id:
            return db
    raise JournalError(f"journal names database id {db_id}, which does not exist")


def table_by_id(state: CatalogState, db_id: int, table_id: int) -> Table:
    for table in database_by_id(state, db_id).tables.values():
        if table.id == table_id:
            return table
    raise JournalError(f"journal names table id {table_id}, which does not exist")
