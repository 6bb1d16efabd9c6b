"""A bounded local disk cache of objects, keyed by store and object key.

Objects are immutable (DESIGN invariant 1), so a cached copy can never be stale: no invalidation
exists or is needed. What can go wrong is the local disk, so a copy is checked against the
checksum its manifest records each time it is handed out, and fetched again when it does not
match. A copy is written to a temporary name and renamed, so a crash never leaves a half-written
file under a real name. Least recently used files are evicted past the capacity, except files a
running statement holds.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cairn.errors import StorageError
from cairn.storage.checksum import checksum_bytes, checksum_file
from cairn.storage.object_store import IO_CONCURRENCY, ObjectStore


@dataclass(frozen=True)
class CacheStats:
    """What the cache did since it started, and how full it is."""

    hits: int
    misses: int
    evictions: int
    corrupt_refetches: int
    used_bytes: int
    capacity_bytes: int | None
    files: int


class ObjectCache:
    """Local copies of remote objects under `root`, at most `capacity_bytes` of them (None: no limit)."""

    def __init__(self, root: Path, capacity_bytes: int | None = None) -> None:
        self.root = root
        self.capacity_bytes = capacity_bytes
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self.corrupt_refetches = 0
        self._sizes: OrderedDict[Path, int] = OrderedDict()  # least recently used first
        self._used = 0  # sum of _sizes, kept as it changes so eviction checks stay O(1)
        self._held: Counter[Path] = Counter()
        self._lock = threading.Lock()
        self._rebuild()
        self._evict()  # the node may have restarted with a smaller capacity

    def _rebuild(self) -> None:
        """Index the files a previous run left (a restarted node keeps its warm cache)."""
        if not self.root.exists():
            return
        found = []
        for path in self.root.glob("*/*"):
            if path.name.startswith("."):
                path.unlink(missing_ok=True)  # a fetch cut off by a crash
            elif path.is_file():
                stat = path.stat()
                found.append((stat.st_mtime_ns, path, stat.st_size))
        for _, path, size in sorted(found):
            self._index(path, size)

    def _index(self, path: Path, size: int) -> None:
        """Record `path` as the most recently used file. Caller holds the lock (or is __init__)."""
        self._used += size - self._sizes.get(path, 0)
        self._sizes[path] = size
        self._sizes.move_to_end(path)

    def _forget(self, path: Path) -> None:
        """Drop `path` from the index (not from disk). Caller holds the lock."""
        self._used -= self._sizes.pop(path, 0)

    def path_for(self, store: ObjectStore, key: str) -> Path:
        """Where the copy of `key` from `store` lives (whether or not it is cached)."""
        digest = hashlib.sha256(f"{store.description}/{key}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}.{key.rsplit('.', 1)[-1]}"

    def stats(self) -> CacheStats:
        """Counters since start-up, and the bytes and files cached now."""
        with self._lock:
            return CacheStats(self.hits, self.misses, self.evictions, self.corrupt_refetches,
                              self._used, self.capacity_bytes, len(self._sizes))

    def fetch_all(self, store: ObjectStore, keys: list[str], checksums: Sequence[str | None] | None = None) -> list[Path]:
        """Local paths of `keys`, fetching the ones not cached (or corrupt) concurrently, each once.

        Each returned file is held against eviction until `release(store, keys)`. With `checksums`
        (aligned with `keys`), a cached copy that does not match is fetched again, and a fetched
        object that does not match raises StorageError naming the key (nothing is cached then).
        """
        expected = dict(zip(keys, checksums)) if checksums else {}
        paths = {key: self.path_for(store, key) for key in dict.fromkeys(keys)}
        with self._lock:
            self._held.update(paths[key] for key in keys)
            present = {key for key, path in paths.items() if path in self._sizes}
            for key in present:
                self._sizes.move_to_end(paths[key])
        try:
            missing = [key for key in paths if key not in present or not self._intact(paths[key], expected.get(key))]
            with self._lock:
                self.hits += len(paths) - len(missing)
                self.misses += len(missing)
            if missing:
                with ThreadPoolExecutor(max_workers=min(IO_CONCURRENCY, len(missing))) as pool:
                    list(pool.map(lambda key: self._fetch(store, key, paths[key], expected.get(key)), missing))
        except BaseException:
            self.release(store, keys)
            raise
        self._evict()
        return [paths[key] for key in keys]

    def _intact(self, path: Path, checksum: str | None) -> bool:
        """True if the cached copy is still there and matches `checksum`. Otherwise forget it,
        and delete it when corrupt (so a failed refetch cannot leave it behind); the caller fetches again."""
        try:
            checked = path.stat()
            if checksum is None or checksum_file(path) == checksum:
                os.utime(path)  # so a restarted cache rebuilds the same least-recently-used order
                return True
        except FileNotFoundError:
            with self._lock:
                self._forget(path)
            return False
        with self._lock:
            # Another thread may have found it corrupt first and renamed a good copy over it:
            # only the copy that was checked is counted and deleted.
            if _same_file(path, checked):
                self._forget(path)
                path.unlink(missing_ok=True)
                self.corrupt_refetches += 1
        return False

    def _fetch(self, store: ObjectStore, key: str, target: Path, checksum: str | None) -> None:
        data = store.get(key)
        if checksum is not None and checksum_bytes(data) != checksum:
            raise StorageError(f"object '{key}' on {store.description} does not match its checksum "
                               f"(expected {checksum}): the stored copy is corrupt")
        target.parent.mkdir(parents=True, exist_ok=True)
        # A unique temporary name: two threads fetching the same key each rename a whole copy.
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        try:
            temporary.write_bytes(data)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)  # only left when writing failed (disk full)
        with self._lock:
            self._index(target, len(data))

    def release(self, store: ObjectStore, keys: list[str]) -> None:
        """Let files handed out by `fetch_all` be evicted again: one release per hold. Releasing
        a key that is not held does nothing."""
        with self._lock:
            for key in keys:
                path = self.path_for(store, key)
                self._held[path] -= 1
                if self._held[path] <= 0:
                    del self._held[path]
        self._evict()

    def _evict(self) -> None:
        if self.capacity_bytes is None:
            return
        with self._lock:
            if self._used <= self.capacity_bytes:
                return
            for path in list(self._sizes):
                if self._used <= self.capacity_bytes:
                    break
                if self._held[path] > 0:
                    continue
                self._forget(path)
                path.unlink(missing_ok=True)
                self.evictions += 1

    def clear(self) -> None:
        """Delete every file no statement holds (a cold cache, e.g. for a benchmark)."""
        with self._lock:
            for path in [p for p in self._sizes if self._held[p] <= 0]:
                self._forget(path)
                path.unlink(missing_ok=True)


def _same_file(path: Path, seen: os.stat_result) -> bool:
    """True if `path` is still the file `seen` describes (not replaced by a rename since)."""
    try:
        now = path.stat()
    except FileNotFoundError:
        return False
    return (now.st_ino, now.st_mtime_ns, now.st_size) == (seen.st_ino, seen.st_mtime_ns, seen.st_size)
