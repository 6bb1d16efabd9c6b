"""Store resolution: from a storage volume's name to the ObjectStore that reaches it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from cairn.storage.object_store import ObjectStore, open_store
from cairn.storage.volume import StorageVolume


class StoreResolver(Protocol):
    """Returns the ObjectStore of a storage volume the catalog knows."""

    def __call__(self, volume_name: str) -> ObjectStore:
        """Raises StorageVolumeError when no volume has that name."""
        ...


class VolumeStores:
    """The stores of the catalog's volumes, opened once and reopened when a volume's definition
    changes. The volume holding the cluster's metadata reuses the store already open on it."""

    def __init__(self, lookup: Callable[[str], StorageVolume], meta_volume: StorageVolume,
                 meta_store: ObjectStore) -> None:
        self._lookup = lookup
        self._meta_volume = meta_volume
        self._meta_store = meta_store
        self._stores: dict[str, tuple[str, ObjectStore]] = {}
        self._lock = threading.Lock()

    def __call__(self, volume_name: str) -> ObjectStore:
        volume = self._lookup(volume_name)
        fingerprint = volume.model_dump_json()
        with self._lock:
            cached = self._stores.get(volume_name)
            if cached is None or cached[0] != fingerprint:
                same_as_meta = volume == self._meta_volume.model_copy(update={"id": volume.id})
                cached = (fingerprint, self._meta_store if same_as_meta else open_store(volume))
                self._stores[volume_name] = cached
            return cached[1]
