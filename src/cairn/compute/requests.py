"""The work an FE hands to a compute node, and what comes back (JSON inside Arrow Flight calls).

Requests carry the storage volume's definition, secrets included: the node needs them to read and
write, and registers them for redaction so its logs and errors never show them.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, TypeAdapter

from cairn.catalog.model import Table
from cairn.lake.manifest import Rowset
from cairn.lake.rowset_writer import WrittenRowset
from cairn.storage.volume import StorageVolume

# The view a scan fragment's SQL reads: the assigned rowsets, typed as the table declares.
ROWSETS_VIEW = "__rowsets"
# What a write answers: the rowsets it put.
WRITTEN_ROWSETS = TypeAdapter(list[WrittenRowset])


class RowsetRef(BaseModel):
    """One object to read, with the checksum the node verifies its cached copy against."""

    key: str
    checksum: str | None = None


class ScanRequest(BaseModel):
    """Scan some tablets of one table: `sql` runs over ROWSETS_VIEW and its rows stream back."""

    volume: StorageVolume
    table_name: str
    rowsets: list[RowsetRef]
    columns_sql: str
    sql: str


class WriteRequest(BaseModel):
    """Write the streamed rows (already checked and routed) as Parquet rowsets of `table`."""

    volume: StorageVolume
    cluster_id: str
    db_id: int
    table: Table


class CompactRequest(BaseModel):
    """Merge one tablet's rowsets into one object at `target_key`."""

    volume: StorageVolume
    rowsets: list[Rowset]
    target_key: str


class NodeReport(BaseModel):
    """What a compute node answers to a heartbeat."""

    thrift_port: int
    webserver_port: int
    heartbeat_service_port: int
    brpc_port: int
    start_time: float
    version: str
    cpu_cores: int
    running: int = 0
    cache_used_bytes: int = 0
    cache_capacity_bytes: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    counters: dict[str, int] = Field(default_factory=dict)


class RemoteError(BaseModel):
    """An error raised on a compute node, carried back so the FE raises the same kind."""

    kind: str  # "duckdb" or "cairn"
    name: str
    message: str
