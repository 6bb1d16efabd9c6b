"""The object cache: bounded (LRU), never evicting what a statement holds, and never handing out a
corrupt copy."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from cairn.errors import StorageError
from cairn.storage.checksum import checksum_bytes
from cairn.storage.object_cache import ObjectCache
from cairn.storage.object_store import ObjectStore, open_store
from cairn.storage.volume import StorageVolume, VolumeType
from conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, make_bucket


@pytest.fixture
def store(volume_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> ObjectStore:
    """A local directory or S3 on moto: the cache must not care which."""
    if volume_kind == "local":
        return open_store(StorageVolume(name="v", type=VolumeType.LOCAL, locations=[str(tmp_path / "volume")]))
    endpoint = request.getfixturevalue("moto_endpoint")
    bucket = make_bucket(endpoint)
    return open_store(StorageVolume(name="v", type=VolumeType.S3, locations=[f"s3://{bucket}/c"], properties={
        "aws.s3.endpoint": endpoint, "aws.s3.region": S3_REGION, "aws.s3.access_key": S3_ACCESS_KEY,
        "aws.s3.secret_key": S3_SECRET_KEY, "aws.s3.enable_path_style_access": "true"}))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The cache's directory, apart from the local volume's."""
    return tmp_path / "cache"


def put(store: ObjectStore, count: int, size: int = 1000) -> dict[str, bytes]:
    objects = {f"o/{i}.parquet": bytes([i % 251]) * size for i in range(count)}
    for key, data in objects.items():
        store.put_if_absent(key, data)
    return objects


def test_least_recently_used_files_go_first_and_capacity_holds(store: ObjectStore, root: Path) -> None:
    objects = put(store, 5)
    cache = ObjectCache(root, capacity_bytes=3000)
    keys = list(objects)
    for key in [*keys[:3], keys[0], keys[3]]:  # reading keys[0] again makes keys[1] the oldest
        cache.fetch_all(store, [key])
        cache.release(store, [key])
    assert not cache.path_for(store, keys[1]).exists()  # the least recently used went
    assert all(cache.path_for(store, k).exists() for k in (keys[0], keys[2], keys[3]))
    stats = cache.stats()
    assert (stats.used_bytes, stats.files, stats.evictions) == (3000, 3, 1)


def test_held_files_survive_pressure_and_go_after_release(store: ObjectStore, root: Path) -> None:
    objects = put(store, 4)
    keys = list(objects)
    cache = ObjectCache(root, capacity_bytes=1000)
    held = cache.fetch_all(store, keys[:3])
    assert all(p.exists() for p in held) and cache.stats().used_bytes == 3000  # over capacity while held
    assert [p.read_bytes() for p in held] == [objects[k] for k in keys[:3]]
    cache.release(store, keys[:3])
    assert cache.stats().used_bytes <= 1000


def test_a_restarted_cache_keeps_its_files_and_drops_half_written_ones(store: ObjectStore, root: Path) -> None:
    objects = put(store, 2)
    keys = list(objects)
    first = ObjectCache(root, capacity_bytes=10_000)
    path = first.fetch_all(store, keys)[0]
    leftover = path.with_name(f".{path.name}.partial")
    leftover.write_bytes(b"cut off")
    again = ObjectCache(root, capacity_bytes=10_000)
    assert not leftover.exists()
    again.fetch_all(store, keys)
    assert (again.stats().hits, again.stats().misses) == (2, 0)


def test_a_corrupt_cached_copy_is_fetched_again(store: ObjectStore, root: Path) -> None:
    objects = put(store, 1)
    key = next(iter(objects))
    cache = ObjectCache(root)
    checksum = [checksum_bytes(objects[key])]
    path = cache.fetch_all(store, [key], checksum)[0]
    cache.release(store, [key])
    path.write_bytes(b"garbage" + objects[key][7:])
    assert cache.fetch_all(store, [key], checksum)[0].read_bytes() == objects[key]
    assert cache.stats().corrupt_refetches == 1
    assert cache.fetch_all(store, [key])[0].read_bytes() == objects[key]


def test_a_corrupt_stored_object_is_an_error_and_is_not_cached(store: ObjectStore, root: Path) -> None:
    objects = put(store, 1)
    key = next(iter(objects))
    cache = ObjectCache(root)
    with pytest.raises(StorageError, match=f"'{key}'.*does not match its checksum"):
        cache.fetch_all(store, [key], ["crc32:00000000"])
    assert not cache.path_for(store, key).exists() and cache.stats().files == 0
    cache.fetch_all(store, [key])  # cached unchecked; a mismatching copy found later is not kept either
    cache.release(store, [key])
    with pytest.raises(StorageError):
        cache.fetch_all(store, [key], ["crc32:00000000"])
    assert not cache.path_for(store, key).exists() and cache.stats().files == 0


def test_concurrent_fetches_of_the_same_objects_all_get_the_right_bytes(store: ObjectStore, root: Path) -> None:
    objects = put(store, 8, size=50_000)
    cache = ObjectCache(root, capacity_bytes=200_000)
    keys = list(objects)
    checksums = [checksum_bytes(objects[k]) for k in keys]
    wrong: list[str] = []

    def reader(offset: int) -> None:
        for round_ in range(10):
            chosen = [keys[(offset + round_ + i) % len(keys)] for i in range(3)]
            paths = cache.fetch_all(store, chosen, [checksums[keys.index(k)] for k in chosen])
            wrong.extend(k for k, p in zip(chosen, paths) if p.read_bytes() != objects[k])
            cache.release(store, chosen)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not wrong
    assert cache.stats().used_bytes <= 200_000


def test_a_file_held_twice_needs_two_releases(store: ObjectStore, root: Path) -> None:
    objects = put(store, 2)
    first, second = objects
    cache = ObjectCache(root, capacity_bytes=1000)
    cache.fetch_all(store, [first])
    cache.fetch_all(store, [first])
    cache.release(store, [first])
    cache.fetch_all(store, [second])  # pressure: `first` is still held once
    assert cache.path_for(store, first).exists()
    cache.release(store, [first])
    cache.release(store, [second])
    assert not cache.path_for(store, first).exists() and cache.stats().evictions == 1


def test_releasing_keys_never_fetched_is_harmless(store: ObjectStore, root: Path) -> None:
    objects = put(store, 2)
    held, other = objects
    cache = ObjectCache(root, capacity_bytes=1000)
    cache.fetch_all(store, [held])
    cache.release(store, ["never/fetched.parquet", other])
    cache.fetch_all(store, [other])
    assert cache.path_for(store, held).exists()  # its one hold was not taken away
    assert cache.stats().used_bytes == 2000


def test_a_key_listed_twice_is_fetched_once(store: ObjectStore, root: Path) -> None:
    objects = put(store, 1)
    key = next(iter(objects))
    cache = ObjectCache(root)
    paths = cache.fetch_all(store, [key, key])
    assert paths[0] == paths[1] and paths[0].read_bytes() == objects[key]
    stats = cache.stats()
    assert (stats.misses, stats.files, stats.used_bytes) == (1, 1, 1000)


def test_a_restart_with_a_smaller_capacity_keeps_the_most_recently_used(store: ObjectStore, root: Path) -> None:
    objects = put(store, 3)
    keys = list(objects)
    first = ObjectCache(root)
    paths = first.fetch_all(store, keys)
    first.release(store, keys)
    for second, path in enumerate(paths, start=1):  # as if fetched one second apart, keys[0] first
        os.utime(path, ns=(second * 10**9, second * 10**9))
    first.fetch_all(store, [keys[0]])  # a hit makes keys[0] the most recently used, on disk too
    first.release(store, [keys[0]])
    assert paths[0].stat().st_mtime_ns > paths[2].stat().st_mtime_ns
    again = ObjectCache(root, capacity_bytes=2000)
    assert not paths[1].exists() and paths[0].exists() and paths[2].exists()
    assert (again.stats().used_bytes, again.stats().files, again.stats().evictions) == (2000, 2, 1)


def test_clear_keeps_held_files(store: ObjectStore, root: Path) -> None:
    objects = put(store, 2)
    held, free = objects
    cache = ObjectCache(root)
    cache.fetch_all(store, [held, free])
    cache.release(store, [free])
    cache.clear()
    assert cache.path_for(store, held).read_bytes() == objects[held]
    assert not cache.path_for(store, free).exists() and cache.stats().files == 1


def test_a_cached_file_deleted_from_disk_is_fetched_again(store: ObjectStore, root: Path) -> None:
    objects = put(store, 1)
    key = next(iter(objects))
    cache = ObjectCache(root)
    cache.fetch_all(store, [key])[0].unlink()
    cache.release(store, [key])
    assert cache.fetch_all(store, [key])[0].read_bytes() == objects[key]
    assert (cache.stats().misses, cache.stats().corrupt_refetches) == (2, 0)
