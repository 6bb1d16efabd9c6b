"""Catalog operations: the only way the catalog changes. Each is one journal entry's `op`.

An op carries every id and value it needs (allocated by the leader before the append), so that
replaying the log on any FE reaches exactly the same state. `apply` must not fail on replay for
an op the leader accepted: validation happens before the append, in the statement handlers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from cairn.catalog.model import CatalogState, Database, DroppedObject, Partition, Table
from cairn.errors import JournalError
from cairn.storage.volume import StorageVolume

OPS: dict[str, type["Op"]] = {}


class Op(BaseModel):
    """Base of every catalog operation. Subclasses set `kind` and implement `apply`.

    `apply(state, at)` changes `state`; `at` is the entry's commit time, so replay is exact.
    """

    kind: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            OPS[cls.kind] = cls

    def apply(self, state: CatalogState, at: float) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.model_dump(mode="json")}


def parse_op(data: dict[str, Any]) -> Op:
    """Rebuild an op from its journal form; JournalError for an unknown kind."""
    kind = data.get("kind")
    cls = OPS.get(kind or "")
    if cls is None:
        raise JournalError(f"unknown journal operation '{kind}'")
    return cls.model_validate({k: v for k, v in data.items() if k != "kind"})


def _bump_ids(state: CatalogState, *ids: int) -> None:
    state.next_id = max(state.next_id, *(i + 1 for i in ids))


def _database(state: CatalogState, db_id: int) -> Database:
    for db in state.databases.values():
        if db.id == db_id:
            return db
    raise JournalError(f"journal names database id {db_id}, which does not exist")


def _table(state: CatalogState, db_id: int, table_id: int) -> Table:
    for table in _database(state, db_id).tables.values():
        if table.id == table_id:
            return table
    raise JournalError(f"journal names table id {table_id}, which does not exist")


# --- leadership -----------------------------------------------------------------------------


class EpochStart(Op):
    """A new leader takes the log: every later entry belongs to its epoch."""

    kind = "epoch_start"
    epoch: int
    leader: str

    def apply(self, state: CatalogState, at: float) -> None:
        state.epoch = self.epoch
        state.leader = self.leader


class Superseded(Op):
    """The last entry of an incarnation's log: a restore opened incarnation `by`."""

    kind = "superseded"
    by: int
    reason: str = ""

    def apply(self, state: CatalogState, at: float) -> None:
        state.superseded_by = self.by


# --- storage volumes ------------------------------------------------------------------------


class CreateStorageVolume(Op):
    kind = "create_storage_volume"
    volume: StorageVolume

    def apply(self, state: CatalogState, at: float) -> None:
        state.storage_volumes[self.volume.name] = self.volume
        _bump_ids(state, self.volume.id)
        if not state.default_storage_volume:
            state.default_storage_volume = self.volume.name


class AlterStorageVolume(Op):
    kind = "alter_storage_volume"
    name: str
    properties: dict[str, str] = {}
    comment: str | None = None
    enabled: bool | None = None

    def apply(self, state: CatalogState, at: float) -> None:
        volume = state.storage_volumes[self.name]
        volume.properties.update(self.properties)
        if self.comment is not None:
            volume.comment = self.comment
        if self.enabled is not None:
            volume.enabled = self.enabled


class DropStorageVolume(Op):
    kind = "drop_storage_volume"
    name: str

    def apply(self, state: CatalogState, at: float) -> None:
        state.storage_volumes.pop(self.name, None)


class SetDefaultStorageVolume(Op):
    kind = "set_default_storage_volume"
    name: str

    def apply(self, state: CatalogState, at: float) -> None:
        state.default_storage_volume = self.name


# --- databases and tables -------------------------------------------------------------------


class CreateDatabase(Op):
    kind = "create_database"
    database: Database

    def apply(self, state: CatalogState, at: float) -> None:
        state.databases[self.database.name] = self.database
        _bump_ids(state, self.database.id)


class DropDatabase(Op):
    kind = "drop_database"
    db_id: int
    data_prefix: str

    def apply(self, state: CatalogState, at: float) -> None:
        db = _database(state, self.db_id)
        del state.databases[db.name]
        state.labels.pop(db.id, None)
        state.recycle_bin.append(DroppedObject(kind="database", name=db.name, storage_volume=db.storage_volume,
                                               prefix=self.data_prefix, dropped_at=at))


class CreateTable(Op):
    kind = "create_table"
    db_id: int
    table: Table

    def apply(self, state: CatalogState, at: float) -> None:
        _database(state, self.db_id).tables[self.table.name] = self.table
        ids = [self.table.id] + [p.id for p in self.table.partitions]
        ids += [t for p in self.table.partitions for t in p.tablet_ids]
        _bump_ids(state, *ids)


class DropTable(Op):
    kind = "drop_table"
    db_id: int
    table_id: int
    data_prefix: str

    def apply(self, state: CatalogState, at: float) -> None:
        db = _database(state, self.db_id)
        table = _table(state, self.db_id, self.table_id)
        del db.tables[table.name]
        state.recycle_bin.append(DroppedObject(kind="table", name=f"{db.name}.{table.name}",
                                               storage_volume=db.storage_volume, prefix=self.data_prefix,
                                               dropped_at=at))


class AddPartitions(Op):
    kind = "add_partitions"
    db_id: int
    table_id: int
    partitions: list[Partition]

    def apply(self, state: CatalogState, at: float) -> None:
        table = _table(state, self.db_id, self.table_id)
        table.partitions.extend(self.partitions)
        if table.partition_type == "RANGE":
            table.partitions.sort(key=lambda p: (p.lower is not None, p.lower or []))
        _bump_ids(state, *[p.id for p in self.partitions], *[t for p in self.partitions for t in p.tablet_ids])


class DropPartition(Op):
    kind = "drop_partition"
    db_id: int
    table_id: int
    partition_id: int
    data_prefix: str

    def apply(self, state: CatalogState, at: float) -> None:
        db = _database(state, self.db_id)
        table = _table(state, self.db_id, self.table_id)
        partition = table.partition_by_id(self.partition_id)
        if partition is None:
            raise JournalError(f"journal names partition id {self.partition_id}, which does not exist")
        table.partitions.remove(partition)
        state.recycle_bin.append(DroppedObject(kind="partition", name=f"{db.name}.{table.name}.{partition.name}",
                                               storage_volume=db.storage_volume, prefix=self.data_prefix,
                                               dropped_at=at))


class PartitionVersion(BaseModel):
    """A partition's new visible version, as one commit publishes it."""

    partition_id: int
    version: int
    manifest_key: str | None
    row_count: int
    data_size: int
    compaction: bool = False  # the version only merges rowsets: same rows, fewer objects


class CommitVersions(Op):
    """Make new partition versions visible: the commit point of a load, truncate or compaction."""

    kind = "commit_versions"
    db_id: int
    table_id: int
    txn_id: int
    label: str | None = None
    versions: list[PartitionVersion]

    def apply(self, state: CatalogState, at: float) -> None:
        table = _table(state, self.db_id, self.table_id)
        for change in self.versions:
            partition = table.partition_by_id(change.partition_id)
            if partition is None:
                raise JournalError(f"commit {self.txn_id} names partition id {change.partition_id}, "
                                   "which does not exist")
            partition.visible_version = change.version
            partition.visible_version_time = at
            partition.manifest_key = change.manifest_key
            partition.row_count = change.row_count
            partition.data_size = change.data_size
            if change.compaction:
                partition.compact_version = change.version
        if self.label:
            state.labels.setdefault(self.db_id, {})[self.label] = self.txn_id
        _bump_ids(state, self.txn_id)


# Ops defined in other modules register themselves when imported; import them here so that
# replaying a journal always knows every kind.
from cairn.catalog import node_ops, snapshot_ops, user_ops  # noqa: E402,F401
