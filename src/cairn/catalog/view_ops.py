"""Catalog operations on logical views (CREATE [OR REPLACE] / ALTER / DROP VIEW)."""

from __future__ import annotations

from typing import Literal

from cairn.catalog.model import CatalogState, View
from cairn.catalog.op_base import Op, bump_ids, database_by_id
from cairn.errors import JournalError


class PutView(Op):
    """Create a view, or replace the definition of the view with the same id (OR REPLACE, ALTER VIEW)."""

    kind: Literal["put_view"] = "put_view"
    db_id: int
    view: View

    def apply(self, state: CatalogState, at: float) -> None:
        db = database_by_id(state, self.db_id)
        db.views[self.view.name] = self.view
        bump_ids(state, self.view.id)


class DropView(Op):
    kind: Literal["drop_view"] = "drop_view"
    db_id: int
    view_id: int

    def apply(self, state: CatalogState, at: float) -> None:
        db = database_by_id(state, self.db_id)
        name = next((v.name for v in db.views.values() if v.id == self.view_id), None)
        if name is None:
            raise JournalError(f"journal names view id {self.view_id}, which does not exist")
        del db.views[name]
