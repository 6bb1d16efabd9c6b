"""The work an FE hands to a compute node, and what comes back (JSON inside Arrow Flight calls).

Requests are typed: which objects to read (keys under the cluster's data prefix, checked here, on
both sides), which columns, typed filter conjuncts and partial aggregates. A node compiles them
into its own query (compute/fragment.py); no request carries SQL text, and no request can name an
object outside `<cluster id>/data/`, so nothing read or written through a node is ever a journal
entry, an image or a marker under `meta/`.

Requests name a storage volume by reference (its name and a version of its definition), never with
its credentials: a node is given a volume's definition once, by a `register_volume` action over the
same authenticated (and, when configured, TLS) channel, keeps it in memory only, and asks for it
again (VolumeNotRegisteredError) when it meets a reference it does not know. The definition a node
gets carries the volume's compute credentials in place of its own keys when it has them
(`StorageVolume.for_compute_nodes`), so the store itself can refuse a node anything but data.
A node answers a request it refuses with ComputeRequestRefusedError.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from cairn.catalog.model import Table
from cairn.lake.manifest import Rowset
from cairn.lake.rowset_writer import WrittenRowset
from cairn.query.pushdown import PartialAggregate, ScanFilter
from cairn.storage.keys import ClusterKeys
from cairn.storage.volume import StorageVolume

# The relation a scan fragment reads: the assigned rowsets, typed as the table declares.
ROWSETS_VIEW = "__rowsets"
# What a write answers: the rowsets it put.
WRITTEN_ROWSETS = TypeAdapter(list[WrittenRowset])

_CLUSTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.=-]+$")
# The one shape of a data file key (ClusterKeys.data_file): db/table/partition/tablet_unique.parquet.
_DATA_FILE = re.compile(r"^\d+/\d+/\d+/\d+_[0-9a-f]{32}\.parquet$")


class RequestRefused(ValueError):
    """A request that names something a node must not touch."""


def check_data_key(cluster_id: str, key: str) -> str:
    """`key` if it lies under the cluster's data prefix (no `..`, no empty or odd segment)."""
    prefix = ClusterKeys(cluster_id).data_prefix
    rest = key[len(prefix):] if key.startswith(prefix) else None
    if not rest or any(part in ("", ".", "..") or not _SEGMENT.match(part) for part in rest.split("/")):
        raise RequestRefused(f"object key outside the cluster's data prefix {prefix!r}: {key!r}")
    return key


def check_data_file_key(cluster_id: str, key: str) -> str:
    """`key` if it has the shape of a data file key of this cluster (what a node may write)."""
    check_data_key(cluster_id, key)
    if not _DATA_FILE.match(key[len(ClusterKeys(cluster_id).data_prefix):]):
        raise RequestRefused(f"not a data file key: {key!r}")
    return key


class VolumeRef(BaseModel):
    """A storage volume as requests name it: its name and a digest of its whole definition, so a
    changed definition (new credentials, a moved location) is a new reference."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str

    @classmethod
    def of(cls, volume: StorageVolume) -> "VolumeRef":
        digest = hashlib.sha256(volume.model_dump_json().encode()).hexdigest()[:32]
        return cls(name=volume.name, version=digest)


class _Request(BaseModel):
    """What every request shares: the volume and cluster it works on, and no field beyond those declared."""

    model_config = ConfigDict(extra="forbid")

    volume: VolumeRef
    cluster_id: str

    @field_validator("cluster_id")
    @classmethod
    def _cluster_id(cls, value: str) -> str:
        if not _CLUSTER_ID.match(value):
            raise RequestRefused(f"not a cluster id: {value!r}")
        return value


class RowsetRef(BaseModel):
    """One object to read, with the checksum the node verifies its cached copy against."""

    model_config = ConfigDict(extra="forbid")

    key: str
    checksum: str | None = None
    deletes: bool = False  # a keyed table's delete rowset (lake/keyed.py)
    schema_version: int = 0  # the table's schema version it was written under (lake/schema_read.py)


class ScanRequest(_Request):
    """Scan some rowsets of one table: project `columns` (None: all), keep the rows that pass every
    filter, and return them, or the partial `aggregate` of them when set."""

    table: Table
    rowsets: list[RowsetRef]
    columns: list[str] | None = None
    filters: list[ScanFilter] = Field(default_factory=list)
    aggregate: PartialAggregate | None = None
    merged: bool = False  # a keyed table's rowsets need no merge (lake/keyed.py `already_merged`)

    @model_validator(mode="after")
    def _names_known(self) -> "ScanRequest":
        for rowset in self.rowsets:
            check_data_key(self.cluster_id, rowset.key)
        known = {c.name for c in self.table.columns}
        named = [*(self.columns or []), *(f.column for f in self.filters)]
        if self.aggregate is not None:
            named += [*self.aggregate.group_by, *(i.column for i in self.aggregate.items if i.column is not None)]
        unknown = sorted(set(named) - known)
        if unknown:
            raise RequestRefused(f"unknown columns of table {self.table.name}: {unknown}")
        return self


class WriteRequest(_Request):
    """Write the streamed rows (already checked and routed) as Parquet rowsets of `table`; the node
    names every object it puts itself (ClusterKeys.data_file)."""

    db_id: int
    table: Table


class CompactRequest(_Request):
    """Merge one tablet's rowsets into one object at `target_key`, a fresh data file key."""

    rowsets: list[Rowset]
    target_key: str
    table: Table | None = None  # a keyed table's rowsets merge by key (lake/keyed.py); None: kept as they are

    @model_validator(mode="after")
    def _keys_in_data(self) -> "CompactRequest":
        for rowset in self.rowsets:
            check_data_key(self.cluster_id, rowset.key)
        check_data_file_key(self.cluster_id, self.target_key)
        return self


# The leader's heartbeat names its engine head (and the node's id), so that a CN's engine worker
# follows the head to whichever FE leads now (the heartbeat carries the cluster credential).
ENGINE_HEAD_HEADER = "X-Cairn-Engine-Head"
ENGINE_NODE_HEADER = "X-Cairn-Engine-Node"


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
