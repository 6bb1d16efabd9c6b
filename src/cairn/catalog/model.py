"""The catalog's data, as versioned pydantic models (serialized whole into checkpoint images)."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from cairn.errors import UnknownColumnError
from cairn.storage.volume import StorageVolume

CATALOG_FORMAT_VERSION = 1


class FormerColumn(BaseModel):
    """What a column was called and typed in the rowsets written under schema versions before `until`
    (and at or after the previous entry's `until`): ALTER TABLE renamed or modified it at `until`."""

    until: int
    name: str
    type: str


class Column(BaseModel):
    """A column. `type` is the StarRocks type text in canonical form, e.g. VARCHAR(32), DECIMAL(10,2).

    Rowsets are immutable, so a schema change never rewrites them: a rowset written under schema
    version v holds this column if `added_in` <= v, under the name and type it had then (`stored_as`).
    `unique_id` is the column's identity across renames (set from the table's first schema change on).
    """

    name: str
    type: str
    nullable: bool = True
    default: str | None = None  # literal text; None means NULL (or no default for NOT NULL)
    is_key: bool = False
    comment: str = ""
    # AGGREGATE KEY tables: how a value column merges (SUM, MIN, MAX, REPLACE, REPLACE_IF_NOT_NULL).
    aggregate: str | None = None
    # AUTO_INCREMENT (a BIGINT NOT NULL column): a row that leaves it out or NULL gets the table's next id.
    auto_increment: bool = False
    unique_id: int | None = None
    added_in: int = 0  # the schema version that added the column (0: the table had it from the start)
    former: list[FormerColumn] = Field(default_factory=list)  # oldest first

    @model_serializer(mode="wrap")
    def _without_unset_aggregate(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A column of a table of another type, or never altered, is written as before AGGREGATE KEY
        tables and schema changes existed."""
        data: dict[str, Any] = handler(self)
        for name, unset in (("aggregate", None), ("auto_increment", False), ("unique_id", None), ("added_in", 0),
                            ("former", [])):
            if data.get(name, unset) == unset:
                data.pop(name, None)
        return data

    def stored_as(self, schema_version: int) -> tuple[str, str] | None:
        """The column's name and type in a rowset written under `schema_version`, or None when the
        column was added after it (the rowset does not hold it)."""
        if schema_version < self.added_in:
            return None
        for former in self.former:
            if schema_version < former.until:
                return former.name, former.type
        return self.name, self.type


class TableIndex(BaseModel):
    """An index of CREATE TABLE's column list (`INDEX name (columns) USING BITMAP [COMMENT c]`). Bitmap
    indexes only speed up StarRocks' scans; Cairn keeps and shows them, and answers without them."""

    name: str
    columns: list[str]
    using: Literal["BITMAP"] = "BITMAP"
    comment: str = ""


class Partition(BaseModel):
    """A partition and its visible version.

    RANGE partitions cover [lower, upper) (None = MINVALUE / MAXVALUE); LIST partitions hold
    `values` (each a tuple of partition-column values; None, a NULL, only in a partition a load made
    for an expression-partitioned table). Tablets are the hash buckets.
    """

    id: int
    name: str
    lower: list[str] | None = None
    upper: list[str] | None = None
    values: list[list[str | None]] | None = None
    tablet_ids: list[int]
    visible_version: int = 1
    visible_version_time: float = Field(default_factory=time.time)
    manifest_key: str | None = None  # None: the partition is empty at its visible version
    row_count: int = 0
    data_size: int = 0
    compact_version: int = 0  # the newest version a compaction made


class AutoPartition(BaseModel):
    """Expression partitioning (StarRocks' automatic partitions): a row whose partition does not exist
    yet has it created by the load that brings it.

    `date_trunc` / `time_slice`: RANGE partitions of `step` `unit`s (minute, hour, day, month, year, ...)
    of the one DATE or DATETIME partition column; `column`: LIST partitions, one per value (tuple) of
    the partition columns.
    """

    function: Literal["date_trunc", "time_slice", "column"]
    unit: str = ""
    step: int = 1


class PartitionExpression(BaseModel):
    """Partitioning by an expression of a partition column (StarRocks' expression range partitions, e.g.
    `RANGE(from_unixtime(ts))`, and the expressions of expression partitioning, e.g. `PARTITION BY k1,
    date_trunc('day', k2)`): the partitions' bounds or values are values of the expression.

    `sql` is the expression in StarRocks SQL as SHOW CREATE TABLE gives it; `type` the StarRocks type
    of its value (DATETIME, DATE, BIGINT, ...), the type of every bound.
    """

    sql: str
    type: str


# StarRocks keeps the value of each expression a LIST table is partitioned by in a generated column named
# this and its number among the expressions (`__generated_partition_column_0`); no user column may be.
GENERATED_PARTITION_COLUMN = "__generated_partition_column_"


# Separates a temporary table's name from its session in the key `Database.tables` holds it under;
# no table name contains it, so a temporary table never takes a normal table's key.
_TEMPORARY_KEY_MARK = "\x00temporary\x00"


def temporary_key(name: str, session: str) -> str:
    """The key `Database.tables` holds session `session`'s temporary table `name` under."""
    return f"{name}{_TEMPORARY_KEY_MARK}{session}"


def is_temporary_key(name: str) -> bool:
    """Whether `name` has the form of a temporary table's key: never a table name a statement may use."""
    return "\x00" in name


class TemporaryOwner(BaseModel):
    """Who a temporary table belongs to: the session (StarRocks' `session_id()`, a UUID) that made it,
    and the FE that session is connected to. Only that session sees the table; it is dropped when
    the session ends."""

    session: str
    frontend: str


class Table(BaseModel):
    """A table: schema, keys, partitioning and distribution. A temporary table (`temporary` set) is
    held in its database under `temporary_key`, so it shadows a normal table of the same name only
    for its own session."""

    id: int
    name: str
    columns: list[Column]
    keys_type: Literal["DUPLICATE", "PRIMARY", "UNIQUE", "AGGREGATE"] = "DUPLICATE"
    key_columns: list[str] = Field(default_factory=list)
    partition_type: Literal["RANGE", "LIST", "UNPARTITIONED"] = "UNPARTITIONED"
    partition_columns: list[str] = Field(default_factory=list)
    partitions: list[Partition] = Field(default_factory=list)
    # ALTER TABLE ... ADD TEMPORARY PARTITION: partitions no query reads until REPLACE PARTITION swaps
    # them in for partitions of the table.
    temp_partitions: list[Partition] = Field(default_factory=list)
    auto_partition: AutoPartition | None = None  # None: partitions are only made by DDL
    # Partitioning by expressions of the partition columns, one entry per partition column (None: by
    # that column's own value); empty: every partition column by its own values.
    partition_expressions: list[PartitionExpression | None] = Field(default_factory=list)
    distribution_columns: list[str] = Field(default_factory=list)  # empty: RANDOM distribution
    buckets: int = 1
    # CREATE TABLE gave no BUCKETS: StarRocks chooses the count itself and SHOW CREATE TABLE names none.
    auto_buckets: bool = False
    # ORDER BY (...) of CREATE TABLE: each rowset's rows are written in this order. Empty: none was
    # given (rows are written as they come, the key columns being the table's order for StarRocks).
    sort_columns: list[str] = Field(default_factory=list)
    properties: dict[str, str] = Field(default_factory=dict)
    indexes: list[TableIndex] = Field(default_factory=list)
    # The first id the AUTO_INCREMENT column's next allocation gives (catalog state: journalled, so ids
    # never repeat across restarts and restores).
    auto_increment_next: int = 1
    comment: str = ""
    created_at: float = Field(default_factory=time.time)
    # Bumped by every ALTER TABLE that changes the columns; each rowset records the one it was written under.
    schema_version: int = 0
    next_column_id: int = 0  # the unique id the next column added gets
    temporary: TemporaryOwner | None = None

    @property
    def catalog_key(self) -> str:
        """The key its database's `tables` holds it under: its name, or `temporary_key` for a
        temporary table."""
        return self.name if self.temporary is None else temporary_key(self.name, self.temporary.session)

    @model_validator(mode="before")
    @classmethod
    def _one_partition_expression_as_a_list(cls, data: Any) -> Any:
        """A table written when a table had at most one partition expression (`partition_expression`,
        of its one partition column) reads as one with that list of one."""
        if isinstance(data, dict) and "partition_expression" in data:
            data = dict(data)
            single = data.pop("partition_expression")
            if single is not None:
                data["partition_expressions"] = [single]
        return data

    @model_serializer(mode="wrap")
    def _without_unused_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A table never altered, and one without expression partitioning, sort key or temporary partitions,
        is written as before those existed (journal entries, images)."""
        data: dict[str, Any] = handler(self)
        for name in ("schema_version", "next_column_id"):
            if data.get(name) == 0:
                data.pop(name, None)
        if self.auto_partition is None:
            data.pop("auto_partition", None)
        if not self.partition_expressions:
            data.pop("partition_expressions", None)
        if not self.sort_columns:
            data.pop("sort_columns", None)
        if not self.temp_partitions:
            data.pop("temp_partitions", None)
        if self.temporary is None:
            data.pop("temporary", None)
        if not self.auto_buckets:
            data.pop("auto_buckets", None)
        if not self.indexes:
            data.pop("indexes", None)
        if self.auto_increment_next == 1:
            data.pop("auto_increment_next", None)
        return data

    @property
    def auto_increment_column(self) -> Column | None:
        """The table's AUTO_INCREMENT column, if it has one."""
        return next((c for c in self.columns if c.auto_increment), None)

    def column(self, name: str) -> Column | None:
        lowered = name.lower()
        return next((c for c in self.columns if c.name.lower() == lowered), None)

    def column_named(self, name: str) -> Column:
        """The column `name` (any case) that the table is known to have, such as a partition column."""
        column = self.column(name)
        if column is None:
            raise UnknownColumnError(f"Unknown column '{name}' in '{self.name}'")
        return column

    def partition(self, name: str) -> Partition | None:
        return next((p for p in self.partitions if p.name == name), None)

    def temp_partition(self, name: str) -> Partition | None:
        """The temporary partition `name` (any case), as StarRocks looks partition names up."""
        return next((p for p in self.temp_partitions if p.name.lower() == name.lower()), None)

    def partition_key_expressions(self) -> list[PartitionExpression | None]:
        """The expression each partition column is partitioned by (None: the column's own value)."""
        return self.partition_expressions or [None] * len(self.partition_columns)

    def partition_key_names(self) -> list[str]:
        """The partition keys as StarRocks names them (SHOW PARTITIONS): a column's name, or for an
        expression a LIST table is partitioned by, its generated column's."""
        if self.partition_type != "LIST":
            return list(self.partition_columns)
        names: list[str] = []
        generated = 0
        for name, expression in zip(self.partition_columns, self.partition_key_expressions()):
            if expression is None:
                names.append(name)
            else:
                names.append(f"{GENERATED_PARTITION_COLUMN}{generated}")
                generated += 1
        return names

    @property
    def partition_expression(self) -> PartitionExpression | None:
        """The expression of a table partitioned by one expression of its one partition column (RANGE
        partitions by `from_unixtime(ts)`, automatic ones by `date_trunc(...)` of an expression, LIST
        ones by `substring(s, 1, 4)`); None for any other table."""
        return self.partition_expressions[0] if len(self.partition_expressions) == 1 else None

    def partition_key_types(self) -> list[str]:
        """The StarRocks types of a partition's bound values: each partition expression's, or the
        partition column's."""
        return [self.column_named(name).type if expression is None else expression.type
                for name, expression in zip(self.partition_columns, self.partition_key_expressions())]

    def partition_by_id(self, partition_id: int) -> Partition | None:
        return next((p for p in self.partitions if p.id == partition_id), None)


class ViewColumn(BaseModel):
    """A view's column: its name, the StarRocks type its query gave it when the view was made, a comment."""

    name: str
    type: str
    comment: str = ""


class View(BaseModel):
    """A logical view: its query is stored as text and expanded wherever a statement reads the view.

    `definition` is the SELECT in StarRocks SQL; its unqualified tables belong to the view's database.
    `security` NONE: SELECT on the view is enough; INVOKER: the caller also needs SELECT on what it reads.
    """

    id: int
    name: str
    definition: str
    columns: list[ViewColumn]
    explicit_columns: bool = False  # the CREATE VIEW named its columns: they rename the query's
    comment: str = ""
    security: Literal["NONE", "INVOKER"] = "NONE"
    definer: str = ""
    created_at: float = Field(default_factory=time.time)


class Database(BaseModel):
    id: int
    name: str
    storage_volume: str
    tables: dict[str, Table] = Field(default_factory=dict)
    views: dict[str, View] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)

    @model_serializer(mode="wrap")
    def _without_empty_views(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A database without views is written as before views existed (journal entries, images)."""
        data: dict[str, Any] = handler(self)
        if not self.views:
            data.pop("views", None)
        return data


class DroppedObject(BaseModel):
    """Data of a dropped database, table or partition, kept until vacuum may delete it. A dropped
    table keeps its definition too (`db_id`, `table`: what RECOVER TABLE puts back) while it is the
    newest one dropped under its name in its database."""

    kind: Literal["database", "table", "partition"]
    name: str
    storage_volume: str
    prefix: str  # every object under this key prefix belonged to it
    dropped_at: float
    db_id: int | None = None
    table: Table | None = None

    @model_serializer(mode="wrap")
    def _without_definition(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An entry without a definition is written as before RECOVER TABLE existed (journal entries, images)."""
        data: dict[str, Any] = handler(self)
        if self.table is None:
            data.pop("table", None)
            data.pop("db_id", None)
        return data


class Grant(BaseModel):
    """Privileges on `database`.`table`; '*' stands for every database or every table."""

    privileges: list[str]
    database: str = "*"
    table: str = "*"


class UserRecord(BaseModel):
    """A user. `auth_string` is SHA1(SHA1(password)) in hex (mysql_native_password), '' for none."""

    name: str
    host: str = "%"
    auth_string: str = ""
    grants: list[Grant] = Field(default_factory=list)


class SnapshotJob(BaseModel):
    """A cluster snapshot job and, once FINISHED, the snapshot it made (StarRocks' two tables)."""

    job_id: int
    name: str
    type: Literal["AUTOMATED", "MANUAL"]
    storage_volume: str
    storage_path: str
    state: Literal["INITIALIZING", "SNAPSHOTING", "UPLOADING", "FINISHED", "EXPIRED", "DELETED", "ERROR"]
    created_at: float
    finished_at: float | None = None
    fe_journal_id: int | None = None
    detail: str = ""
    error: str = ""
    properties: dict[str, str] = Field(default_factory=dict)


class FrontendNode(BaseModel):
    """A member FE, as `ALTER SYSTEM ADD FOLLOWER|OBSERVER`, a restore or the first leader lists it.
    The leader is a member too (a follower that currently leads)."""

    host: str
    edit_log_port: int = 9010
    type: Literal["follower", "observer"] = "follower"
    # StarRocks' FE name, `<host>_<edit_log_port>_<ms when added>`; empty for members listed before names.
    name: str = ""

    @property
    def address(self) -> str:
        """`host:edit_log_port`: the FE's identity in the membership."""
        return f"{self.host}:{self.edit_log_port}"


class ComputeNode(BaseModel):
    """A compute node, as `ALTER SYSTEM ADD COMPUTE NODE` or a restore lists it."""

    host: str
    heartbeat_service_port: int = 9050
    id: int = 0

    @property
    def address(self) -> str:
        """`host:heartbeat_service_port`, as ALTER SYSTEM names a node."""
        return f"{self.host}:{self.heartbeat_service_port}"


class AutomatedSnapshots(BaseModel):
    """ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON|OFF, and the volume the snapshots go to."""

    enabled: bool = False
    storage_volume: str = ""


class CatalogState(BaseModel):
    """Everything the journal describes. A checkpoint image is this model, serialized."""

    format_version: int = CATALOG_FORMAT_VERSION
    cluster_id: str
    next_id: int = 10001
    # Leadership: the FE that started the newest epoch owns the log.
    epoch: int = 0
    leader: str = ""
    leader_address: str = ""  # host:edit_log_port of `leader`
    superseded_by: int | None = None
    databases: dict[str, Database] = Field(default_factory=dict)
    storage_volumes: dict[str, StorageVolume] = Field(default_factory=dict)
    default_storage_volume: str = ""
    # Load labels per database id, for exactly-once loads: label -> transaction id.
    labels: dict[int, dict[str, int]] = Field(default_factory=dict)
    recycle_bin: list[DroppedObject] = Field(default_factory=list)
    users: dict[str, UserRecord] = Field(default_factory=dict)
    automated_snapshots: AutomatedSnapshots = Field(default_factory=AutomatedSnapshots)
    frontends: list[FrontendNode] = Field(default_factory=list)
    compute_nodes: list[ComputeNode] = Field(default_factory=list)
    snapshot_jobs: dict[int, SnapshotJob] = Field(default_factory=dict)

    def temporary_tables(self) -> list[tuple[Database, Table]]:
        """Every temporary table, of every session, with its database."""
        return [(db, t) for db in self.databases.values() for t in db.tables.values() if t.temporary is not None]

    def drop_temporary_tables(self) -> None:
        """Forget every temporary table: a restored cluster has none of the sessions that made them."""
        for db, table in self.temporary_tables():
            del db.tables[table.catalog_key]
