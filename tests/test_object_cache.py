"""The object cache: bounded (LRU), never evicting what a statement holds, and never handing out a
corrupt copy."""

from __future__ import annotations

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
def store(moto_endpoint: str) -> ObjectStore:
    bucket = make_bucket(moto_endpoint)
    return open_store(StorageVolume(name="v", type=VolumeType.S3, locations=[f"s3://{bucket}/c"], properties={
        "aws.s3.endpoint": moto_endpoint, "aws.s3.region": S3_REGION, "aws.s3.access_key": S3_ACCESS_KEY,
        "aws.s3.secret_key": S3_SECRET_KEY, "aws.s3.enable_path_style_access": "true"}))


def put(store: ObjectStore, count: int, size: int = 1000) -> dict[str, bytes]:
    objects = {f"o/{i}.parquet": bytes([i % 251]) * size for i in range(count)}
    for key, data in objects.items():
        store.put_if_absent(key, data)
    return objects


def test_least_recently_used_files_go_first_and_capacity_holds(store: ObjectStore, tmp_path: Path) -> None:
    objects = put(store, 5)
    cache = ObjectCache(tmp_path, capacity_bytes=3000)
    keys = list(objects)
    for key in [*keys[:3], keys[0], keys[3]]:  # reading keys[0] again makes keys[1] the oldest
        cache.fetch_all(store, [key])
        cache.release(store, [key])
    assert not cache.path_for(store, keys[1]).exists()  # the least recently used went
    assert all(cache.path_for(store, k).exists() for k in (keys[0], keys[2], keys[3]))
    stats = cache.stats()
    assert (stats.used_bytes, stats.files, stats.evictions) == (3000, 3, 1)


def test_held_files_survive_pressure_and_go_after_release(store: ObjectStore, tmp_path: Path) -> None:
    objects = put(store, 4)
    keys = list(objects)
    cache = ObjectCache(tmp_path, capacity_bytes=1000)
    held = cache.fetch_all(store, keys[:3])
    assert all(p.exists() for p in held) and cache.stats().used_bytes == 3000  # over capacity while held
    assert [p.read_bytes() for p in held] == [objects[k] for k in keys[:3]]
    cache.release(store, keys[:3])
    assert cache.stats().used_bytes <= 1000


def test_a_restarted_cache_keeps_its_files_and_drops_half_written_ones(store: ObjectStore, tmp_path: Path) -> None:
    objects = put(store, 2)
    keys = list(objects)
    first = ObjectCache(tmp_path, capacity_bytes=10_000)
    path = first.fetch_all(store, keys)[0]
    leftover = path.with_name(f".{path.name}.partial")
    leftover.write_bytes(b"cut off")
    again = ObjectCache(tmp_path, capacity_bytes=10_000)
    assert not leftover.exists()
    again.fetch_all(store, keys)
    assert (again.stats().hits, again.stats().misses) == (2, 0)


def test_a_corrupt_cached_copy_is_fetched_again(store: ObjectStore, tmp_path: Path) -> None:
    objects = put(store, 1)
    key = next(iter(objects))
    cache = ObjectCache(tmp_path)
    checksum = [checksum_bytes(objects[key])]
    path = cache.fetch_all(store, [key], checksum)[0]
    cache.release(store, [key])
    path.write_bytes(b"garbage" + objects[key][7:])
    assert cache.fetch_all(store, [key], checksum)[0].read_bytes() == objects[key]
    assert cache.stats().corrupt_refetches == 1
    assert cache.fetch_all(store, [key])[0].read_bytes() == objects[key]


def test_a_corrupt_stored_object_is_an_error_and_is_not_cached(store: ObjectStore, tmp_path: Path) -> None:
    objects = put(store, 1)
    key = next(iter(objects))
    cache = ObjectCache(tmp_path)
    with pytest.raises(StorageError, match="does not match its checksum"):
        cache.fetch_all(store, [key], ["crc32:00000000"])
    assert not cache.path_for(store, key).exists() and cache.stats().files == 0


def test_concurrent_fetches_of_the_same_objects_all_get_the_right_bytes(store: ObjectStore, tmp_path: Path) -> None:
    objects = put(store, 8, size=50_000)
    cache = ObjectCache(tmp_path, capacity_bytes=200_000)
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
