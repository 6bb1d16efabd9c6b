"""Catalog: the catalog state plus the lookups statements need, each raising the error a user sees."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

from cairn.catalog.model import CatalogState, Database, Table, is_temporary_key, temporary_key
from cairn.catalog.op_base import Op
from cairn.errors import (
    NoDatabaseSelectedError,
    StorageVolumeError,
    UnknownDatabaseError,
    UnknownTableError,
)
from cairn.storage.volume import StorageVolume


class Catalog:
    """The in-memory catalog of one FE. Only `apply` changes it; readers hold `lock` to see a
    consistent state while they copy what they need."""

    def __init__(self, state: CatalogState) -> None:
        self.state = state
        self.lock = threading.RLock()

    def replace(self, state: CatalogState) -> None:
        """Serve `state` from now on (an FE reloading its catalog from storage)."""
        with self.lock:
            self.state = state

    def apply(self, op: Op, at: float) -> None:
        with self.lock:
            op.apply(self.state, at)

    def allocate_ids(self, count: int) -> range:
        """Ids for new objects; the op that uses them moves `next_id` past them when applied."""
        start = self.state.next_id
        return range(start, start + count)

    def id_source(self) -> Iterator[int]:
        """Unused ids, for an op that does not know in advance how many it needs."""
        return itertools.count(self.state.next_id)

    # -- lookups --------------------------------------------------------------------------

    def database(self, name: str | None) -> Database:
        if not name:
            raise NoDatabaseSelectedError("No database selected")
        db = self.state.databases.get(name)
        if db is None:
            raise UnknownDatabaseError(f"Unknown database '{name}'")
        return db

    def table(self, db_name: str | None, table_name: str, session: str = "") -> tuple[Database, Table]:
        """The table a statement names `table_name`, as `session` sees it: its own temporary table
        of that name first, then the normal table. A name spelling another session's key finds nothing."""
        db = self.database(db_name)
        table = None if is_temporary_key(table_name) else db.tables.get(self.table_key(db, table_name, session))
        if table is None:
            raise UnknownTableError(f"Table '{db.name}.{table_name}' doesn't exist")
        return db, table

    def table_by_key(self, db_name: str | None, key: str) -> tuple[Database, Table]:
        """The table `db.tables` holds under `key` (a table's `catalog_key`: a load or a DDL finding
        the table it resolved before, temporary or not); UnknownTableError when it is gone."""
        db = self.database(db_name)
        table = db.tables.get(key)
        if table is None:
            raise UnknownTableError(f"Table '{db.name}.{key.split(chr(0))[0]}' doesn't exist")
        return db, table

    @staticmethod
    def table_key(db: Database, table_name: str, session: str = "") -> str:
        """The key `db.tables` holds what `session` calls `table_name` under (whether or not it exists)."""
        key = temporary_key(table_name, session) if session else ""
        return key if key in db.tables else table_name

    def storage_volume(self, name: str) -> StorageVolume:
        volume = self.state.storage_volumes.get(name)
        if volume is None:
            raise StorageVolumeError(f"Storage volume '{name}' does not exist")
        return volume

    def database_by_id(self, db_id: int) -> Database | None:
        return next((d for d in self.state.databases.values() if d.id == db_id), None)
