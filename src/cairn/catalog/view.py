"""CatalogView: the read side of the catalog, as services and statements see it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

from cairn.catalog.model import CatalogState, Database, Table
from cairn.storage.volume import StorageVolume


class CatalogView(Protocol):
    """The FE's catalog without `apply`: only a commit changes it. Hold `lock` while copying what
    must be seen consistently; every lookup raises the error a user sees."""

    state: CatalogState
    lock: threading.RLock

    def allocate_ids(self, count: int) -> range:
        """Ids for new objects; the op that uses them moves `next_id` past them when applied."""
        ...

    def id_source(self) -> Iterator[int]:
        """Unused ids, for an op that does not know in advance how many it needs."""
        ...

    def database(self, name: str | None) -> Database:
        """The database `name`; NoDatabaseSelectedError / UnknownDatabaseError otherwise."""
        ...

    def table(self, db_name: str | None, table_name: str, session: str = "") -> tuple[Database, Table]:
        """The table and its database, as `session` sees it (its own temporary table of that name
        first); UnknownTableError when absent."""
        ...

    def table_by_key(self, db_name: str | None, key: str) -> tuple[Database, Table]:
        """The table its database holds under `key` (a table's `catalog_key`); UnknownTableError when gone."""
        ...

    def storage_volume(self, name: str) -> StorageVolume:
        """The volume `name`; StorageVolumeError when absent."""
        ...

    def database_by_id(self, db_id: int) -> Database | None:
        """The live database with this id, if any."""
        ...
