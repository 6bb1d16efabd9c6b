"""Catalog operations on leadership, storage volumes, databases, tables, partitions and versions."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer

from cairn.catalog.model import CatalogState, Column, Database, DroppedObject, Partition, Table, TableIndex
from cairn.catalog.op_base import Op, bump_ids, database_by_id, table_by_id
from cairn.errors import JournalError
from cairn.storage.volume import StorageVolume

# --- leadership -----------------------------------------------------------------------------


class EpochStart(Op):
    """A new leader takes the log: every later entry belongs to its epoch."""

    kind: Literal["epoch_start"] = "epoch_start"
    epoch: int
    leader: str
    # The leader's host:edit_log_port, where followers heartbeat it and forward writes.
    address: str = ""

    def apply(self, state: CatalogState, at: float) -> None:
        state.epoch = self.epoch
        state.leader = self.leader
        state.leader_address = self.address


class Superseded(Op):
    """The last entry of an incarnation's log: a restore opened incarnation `by`."""

    kind: Literal["superseded"] = "superseded"
    by: int
    reason: str = ""

    def apply(self, state: CatalogState, at: float) -> None:
        state.superseded_by = self.by


class VoidSlot(Op):
    """Stands, in memory only, for a journal object that did not authenticate: replay skips it.
    Never written: the leader appends after it instead."""

    kind: Literal["void_slot"] = "void_slot"
    reason: str

    def apply(self, state: CatalogState, at: float) -> None:
        """A forged or unreadable slot changes nothing."""


# --- storage volumes ------------------------------------------------------------------------


class CreateStorageVolume(Op):
    kind: Literal["create_storage_volume"] = "create_storage_volume"
    volume: StorageVolume

    def apply(self, state: CatalogState, at: float) -> None:
        state.storage_volumes[self.volume.name] = self.volume
        bump_ids(state, self.volume.id)
        if not state.default_storage_volume:
            state.default_storage_volume = self.volume.name


class AlterStorageVolume(Op):
    kind: Literal["alter_storage_volume"] = "alter_storage_volume"
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
    kind: Literal["drop_storage_volume"] = "drop_storage_volume"
    name: str

    def apply(self, state: CatalogState, at: float) -> None:
        state.storage_volumes.pop(self.name, None)


class SetDefaultStorageVolume(Op):
    kind: Literal["set_default_storage_volume"] = "set_default_storage_volume"
    name: str

    def apply(self, state: CatalogState, at: float) -> None:
        state.default_storage_volume = self.name


# --- databases and tables -------------------------------------------------------------------


class CreateDatabase(Op):
    kind: Literal["create_database"] = "create_database"
    database: Database

    def apply(self, state: CatalogState, at: float) -> None:
        state.databases[self.database.name] = self.database
        bump_ids(state, self.database.id)


class DropDatabase(Op):
    kind: Literal["drop_database"] = "drop_database"
    db_id: int
    data_prefix: str

    def apply(self, state: CatalogState, at: float) -> None:
        db = database_by_id(state, self.db_id)
        del state.databases[db.name]
        state.labels.pop(db.id, None)
        state.recycle_bin.append(DroppedObject(kind="database", name=db.name, storage_volume=db.storage_volume,
                                               prefix=self.data_prefix, dropped_at=at))


class RenameDatabase(Op):
    """ALTER DATABASE db RENAME new_name. Its tables, data and privileges granted on it follow it (the
    data is kept under the database's id, grants are moved to the new name)."""

    kind: Literal["rename_database"] = "rename_database"
    db_id: int
    name: str

    def apply(self, state: CatalogState, at: float) -> None:
        db = database_by_id(state, self.db_id)
        del state.databases[db.name]
        for user in state.users.values():
            for grant in user.grants:
                if grant.database == db.name:
                    grant.database = self.name
        db.name = self.name
        state.databases[self.name] = db


class CreateTable(Op):
    kind: Literal["create_table"] = "create_table"
    db_id: int
    table: Table

    def apply(self, state: CatalogState, at: float) -> None:
        database_by_id(state, self.db_id).tables[self.table.catalog_key] = self.table
        ids = [self.table.id] + [p.id for p in self.table.partitions]
        ids += [t for p in self.table.partitions for t in p.tablet_ids]
        bump_ids(state, *ids)


class DropTable(Op):
    """DROP TABLE. The table goes to the recycle bin with its definition (RECOVER TABLE), except a
    temporary table and DROP TABLE ... FORCE: those are never recovered, and vacuum removes their
    data after the grace period."""

    kind: Literal["drop_table"] = "drop_table"
    db_id: int
    table_id: int
    data_prefix: str
    force: bool = False

    @model_serializer(mode="wrap")
    def _without_force(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A drop without FORCE is written as before FORCE existed."""
        data: dict[str, Any] = handler(self)
        if not self.force:
            data.pop("force", None)
        return data

    def apply(self, state: CatalogState, at: float) -> None:
        db = database_by_id(state, self.db_id)
        table = table_by_id(state, self.db_id, self.table_id)
        del db.tables[table.catalog_key]
        if table.temporary is not None or self.force:
            return
        name = f"{db.name}.{table.name}"
        for older in state.recycle_bin:
            if older.kind == "table" and older.db_id == db.id and older.table is not None \
                    and older.table.name == table.name:
                older.table = older.db_id = None  # only the newest of a name is recovered
        state.recycle_bin.append(DroppedObject(kind="table", name=name, storage_volume=db.storage_volume,
                                               prefix=self.data_prefix, dropped_at=at, db_id=db.id,
                                               table=table))


class RecoverTable(Op):
    """RECOVER TABLE: the table dropped last under its name comes back from the recycle bin, with the
    versions it had (vacuum kept its data: its prefix is protected while it is in the bin)."""

    kind: Literal["recover_table"] = "recover_table"
    db_id: int
    table_id: int

    def apply(self, state: CatalogState, at: float) -> None:
        db = database_by_id(state, self.db_id)
        found = next((d for d in state.recycle_bin if d.kind == "table" and d.db_id == self.db_id
                      and d.table is not None and d.table.id == self.table_id), None)
        if found is None or found.table is None:
            raise JournalError(f"journal recovers table id {self.table_id}, which is not in the recycle bin")
        state.recycle_bin.remove(found)
        db.tables[found.table.catalog_key] = found.table


class AlterTableSchema(Op):
    """ALTER TABLE's column changes: the table's new schema version. Rowsets are not rewritten; each
    is read through the schema version it was written under (lake/schema_read.py)."""

    kind: Literal["alter_table_schema"] = "alter_table_schema"
    db_id: int
    table_id: int
    schema_version: int
    next_column_id: int
    columns: list[Column]
    key_columns: list[str]
    partition_columns: list[str]
    distribution_columns: list[str]
    properties: dict[str, str]
    comment: str | None = None  # ALTER TABLE t COMMENT = '...'; None: unchanged
    sort_columns: list[str] | None = None  # the sort key after a column rename; None: unchanged (older entries)
    indexes: list[TableIndex] | None = None  # the indexes after a column rename or drop; None: unchanged

    def apply(self, state: CatalogState, at: float) -> None:
        table = table_by_id(state, self.db_id, self.table_id)
        table.schema_version, table.next_column_id = self.schema_version, self.next_column_id
        if self.comment is not None:
            table.comment = self.comment
        table.columns = [c.model_copy(deep=True) for c in self.columns]
        table.key_columns, table.partition_columns = list(self.key_columns), list(self.partition_columns)
        table.distribution_columns, table.properties = list(self.distribution_columns), dict(self.properties)
        if self.sort_columns is not None:
            table.sort_columns = list(self.sort_columns)
        if self.indexes is not None:
            table.indexes = [i.model_copy(deep=True) for i in self.indexes]


class RenameTable(Op):
    """ALTER TABLE t RENAME new_name. Privileges granted on the table follow it (StarRocks grants on
    the table itself, not on its name)."""

    kind: Literal["rename_table"] = "rename_table"
    db_id: int
    table_id: int
    name: str

    def apply(self, state: CatalogState, at: float) -> None:
        db = database_by_id(state, self.db_id)
        table = table_by_id(state, self.db_id, self.table_id)
        del db.tables[table.name]
        for user in state.users.values():
            for grant in user.grants:
                if grant.database == db.name and grant.table == table.name:
                    grant.table = self.name
        table.name = self.name
        db.tables[self.name] = table


class RenamePartition(Op):
    """ALTER TABLE t RENAME PARTITION p new_name."""

    kind: Literal["rename_partition"] = "rename_partition"
    db_id: int
    table_id: int
    partition_id: int
    name: str

    def apply(self, state: CatalogState, at: float) -> None:
        partition = table_by_id(state, self.db_id, self.table_id).partition_by_id(self.partition_id)
        if partition is None:
            raise JournalError(f"journal names partition id {self.partition_id}, which does not exist")
        partition.name = self.name


class AddPartitions(Op):
    kind: Literal["add_partitions"] = "add_partitions"
    db_id: int
    table_id: int
    partitions: list[Partition]
    temporary: bool = False  # ADD TEMPORARY PARTITION: into the table's temporary partitions

    def apply(self, state: CatalogState, at: float) -> None:
        table = table_by_id(state, self.db_id, self.table_id)
        if self.temporary:
            table.temp_partitions.extend(self.partitions)
        else:
            table.partitions.extend(self.partitions)
        if table.partition_type == "RANGE":
            table.partitions.sort(key=lambda p: (p.lower is not None, p.lower or []))
        bump_ids(state, *[p.id for p in self.partitions], *[t for p in self.partitions for t in p.tablet_ids])


class DropPartition(Op):
    kind: Literal["drop_partition"] = "drop_partition"
    db_id: int
    table_id: int
    partition_id: int
    data_prefix: str
    temporary: bool = False  # DROP TEMPORARY PARTITION

    def apply(self, state: CatalogState, at: float) -> None:
        db = database_by_id(state, self.db_id)
        table = table_by_id(state, self.db_id, self.table_id)
        held = table.temp_partitions if self.temporary else table.partitions
        partition = next((p for p in held if p.id == self.partition_id), None)
        if partition is None:
            raise JournalError(f"journal names partition id {self.partition_id}, which does not exist")
        held.remove(partition)
        state.recycle_bin.append(DroppedObject(kind="partition", name=f"{db.name}.{table.name}.{partition.name}",
                                               storage_volume=db.storage_volume, prefix=self.data_prefix,
                                               dropped_at=at))


class ReplacePartitions(Op):
    """ALTER TABLE ... REPLACE PARTITION (p, ...) WITH TEMPORARY PARTITION (tp, ...): in one entry the
    partitions leave the table (their data to the recycle bin) and the temporary ones take their place,
    under the replaced partitions' names when `rename` says so (StarRocks' use_temp_partition_name=false
    with as many of each)."""

    kind: Literal["replace_partitions"] = "replace_partitions"
    db_id: int
    table_id: int
    partition_ids: list[int]
    temp_ids: list[int]
    data_prefixes: list[str]  # of each replaced partition
    rename: bool

    def apply(self, state: CatalogState, at: float) -> None:
        db = database_by_id(state, self.db_id)
        table = table_by_id(state, self.db_id, self.table_id)
        replaced = [p for p in table.partitions if p.id in self.partition_ids]
        incoming = [next((p for p in table.temp_partitions if p.id == i), None) for i in self.temp_ids]
        if len(replaced) != len(self.partition_ids) or any(p is None for p in incoming):
            raise JournalError(f"journal replaces partitions {self.partition_ids} of table {table.name} with "
                               f"temporary partitions {self.temp_ids}, which do not all exist")
        by_id = {p.id: p for p in replaced}
        for index, partition_id in enumerate(self.partition_ids):
            old = by_id[partition_id]
            table.partitions.remove(old)
            state.recycle_bin.append(DroppedObject(kind="partition", name=f"{db.name}.{table.name}.{old.name}",
                                                   storage_volume=db.storage_volume,
                                                   prefix=self.data_prefixes[index], dropped_at=at))
        for index, partition in enumerate(p for p in incoming if p is not None):
            table.temp_partitions.remove(partition)
            if self.rename:
                partition.name = by_id[self.partition_ids[index]].name
            table.partitions.append(partition)
        if table.partition_type == "RANGE":
            table.partitions.sort(key=lambda p: (p.lower is not None, p.lower or []))


class PartitionVersion(BaseModel):
    """A partition's new visible version, as one commit publishes it."""

    partition_id: int
    version: int
    manifest_key: str | None
    row_count: int
    data_size: int
    compaction: bool = False  # the version only merges rowsets: same rows, fewer objects


class AllocateAutoIncrement(Op):
    """Ids `first` .. `first + count - 1` of a table's AUTO_INCREMENT column, taken by a load before it
    writes its rows (a load that fails leaves a gap, as in StarRocks)."""

    kind: Literal["allocate_auto_increment"] = "allocate_auto_increment"
    db_id: int
    table_id: int
    first: int
    count: int

    def apply(self, state: CatalogState, at: float) -> None:
        table = table_by_id(state, self.db_id, self.table_id)
        table.auto_increment_next = max(table.auto_increment_next, self.first + self.count)


class CommitVersions(Op):
    """Make new partition versions visible: the commit point of a load, truncate or compaction."""

    kind: Literal["commit_versions"] = "commit_versions"
    db_id: int
    table_id: int
    txn_id: int
    label: str | None = None
    versions: list[PartitionVersion]

    def apply(self, state: CatalogState, at: float) -> None:
        table = table_by_id(state, self.db_id, self.table_id)
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
        bump_ids(state, self.txn_id)
