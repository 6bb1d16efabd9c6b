"""A local disk cache of objects, keyed by object key.

Objects are immutable (DESIGN invariant 1), so a cached copy can never be stale: no invalidation
exists or is needed. A copy is written to a temporary name and renamed, so a crash never leaves a
half-written file under a real name.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cairn.storage.object_store import IO_CONCURRENCY, ObjectStore


class ObjectCache:
    """Local copies of remote objects under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits = 0
        self.misses = 0

    def path_for(self, store: ObjectStore, key: str) -> Path:
        digest = hashlib.sha256(f"{store.description}/{key}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.{key.rsplit('.', 1)[-1]}"

    def fetch_all(self, store: ObjectStore, keys: list[str]) -> list[Path]:
        """Local paths of `keys`, fetching the ones not cached yet concurrently (each key once)."""
        paths = {key: self.path_for(store, key) for key in dict.fromkeys(keys)}
        missing = [key for key, path in paths.items() if not path.exists()]
        self.hits += len(paths) - len(missing)
        self.misses += len(missing)

        def fetch(key: str) -> None:
            target = paths[key]
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
            temporary.write_bytes(store.get(key))
            os.replace(temporary, target)

        if missing:
            with ThreadPoolExecutor(max_workers=min(IO_CONCURRENCY, len(missing))) as pool:
                list(pool.map(fetch, missing))
        return [paths[key] for key in keys]
