"""PartitionManifest: the complete list of rowsets that make up one version of one partition."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from cairn.formats import VersionedModel
from cairn.storage.object_store import ObjectStore


class ColumnStats(BaseModel):
    """Min and max (as text) and NULL count of one column in one rowset."""

    min: str | None = None
    max: str | None = None
    null_count: int = 0


class Rowset(BaseModel):
    """One immutable Parquet object of a tablet."""

    key: str
    rows: int
    size: int
    checksum: str
    stats: dict[str, ColumnStats] = Field(default_factory=dict)
    # A delete rowset of a keyed table: it holds the keys a DELETE removed (lake/keyed.py).
    deletes: bool = False
    # A keyed table's rowset that holds each key at most once (a folded load, a compaction).
    unique_keys: bool = False
    # The table's schema version when the rowset was written (catalog.model.Column.stored_as maps it).
    schema_version: int = 0

    @model_serializer(mode="wrap")
    def _without_first_schema(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A rowset of a never-altered table is written as before schema changes existed."""
        data: dict[str, Any] = handler(self)
        if data.get("schema_version") == 0:
            data.pop("schema_version", None)
        return data


class PartitionManifest(VersionedModel):
    """Version `version` of a partition: for each tablet id, its rowsets. Complete, not a delta."""

    KIND: ClassVar[str] = "partition manifest"

    table_id: int
    partition_id: int
    version: int
    tablets: dict[int, list[Rowset]] = Field(default_factory=dict)

    def rowsets(self) -> Iterator[Rowset]:
        for rowsets in self.tablets.values():
            yield from rowsets

    @property
    def row_count(self) -> int:
        return sum(r.rows for r in self.rowsets())

    @property
    def data_size(self) -> int:
        return sum(r.size for r in self.rowsets())


class ManifestCache:
    """Parsed manifests by key. Manifests are immutable objects, so a cached one is never stale."""

    def __init__(self, capacity: int = 65536) -> None:
        self._items: OrderedDict[str, PartitionManifest] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def cached(self, key: str) -> PartitionManifest | None:
        """The manifest at `key` if it is cached, without any I/O."""
        with self._lock:
            return self._items.get(key)

    def get_many(self, store: ObjectStore, keys: list[str]) -> list[PartitionManifest]:
        """The manifests at `keys`, fetching the missing ones concurrently in one batch."""
        found: dict[str, PartitionManifest] = {}
        with self._lock:
            for key in keys:
                if key in self._items:
                    found[key] = self._items[key]
                    self._items.move_to_end(key)
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            for data, key in zip(store.get_many(missing), missing):
                found[key] = PartitionManifest.from_bytes(data, key)
            with self._lock:
                for key in missing:
                    self._items[key] = found[key]
                while len(self._items) > self._capacity:
                    self._items.popitem(last=False)
        return [found[k] for k in keys]


MANIFESTS = ManifestCache()
