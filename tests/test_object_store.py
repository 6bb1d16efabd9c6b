"""One contract suite for every storage backend: a local directory and S3 (moto on loopback)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.errors import ObjectExistsError, ObjectNotFoundError
from cairn.storage.object_store import ObjectStore, open_store
from cairn.storage.volume import StorageVolume, VolumeType
from conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, make_bucket


@pytest.fixture
def store(volume_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ObjectStore]:
    if volume_kind == "local":
        volume = StorageVolume(name="v", type=VolumeType.LOCAL, locations=[str(tmp_path / "volume")])
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        volume = StorageVolume(name="v", type=VolumeType.S3, locations=[f"s3://{make_bucket(endpoint)}/prefix"],
                               properties={"aws.s3.endpoint": endpoint, "aws.s3.region": S3_REGION,
                                           "aws.s3.access_key": S3_ACCESS_KEY, "aws.s3.secret_key": S3_SECRET_KEY})
    yield open_store(volume)


def test_create_if_absent_and_read_back(store: ObjectStore) -> None:
    store.put_if_absent("a/b/one", b"first")
    with pytest.raises(ObjectExistsError):
        store.put_if_absent("a/b/one", b"second")
    assert store.get("a/b/one") == b"first"
    info = store.head("a/b/one")
    assert info is not None and info.size == 5


def test_missing_objects(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.get("nope")
    assert store.head("nope") is None
    assert not store.exists("nope")
    store.delete("nope")
    assert list(store.list("nothing/")) == []
    assert store.list_folders("nothing") == []


def test_listing_folders_and_offsets(store: ObjectStore) -> None:
    for key in ["log/0001", "log/0002", "log/0003", "other/x", "top"]:
        store.put_if_absent(key, key.encode())
    assert sorted(i.key for i in store.list("log/")) == ["log/0001", "log/0002", "log/0003"]
    assert sorted(i.key for i in store.list("log/", offset="log/0001")) == ["log/0002", "log/0003"]
    assert store.list_folders("") == ["log", "other"]
    assert store.get_many(["log/0003", "top"]) == [b"log/0003", b"top"]


def test_put_file_and_delete(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"x" * 100_000)
    store.put_file_if_absent("files/data.bin", source)
    with pytest.raises(ObjectExistsError):
        store.put_file_if_absent("files/data.bin", source)
    assert store.get("files/data.bin") == source.read_bytes()
    store.delete("files/data.bin")
    assert store.head("files/data.bin") is None


def test_concurrent_creators_have_exactly_one_winner(store: ObjectStore) -> None:
    winners: list[int] = []
    barrier = threading.Barrier(8)

    def race(number: int) -> None:
        barrier.wait()
        try:
            store.put_if_absent("contended", str(number).encode())
        except ObjectExistsError:
            return
        winners.append(number)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(winners) == 1
    assert store.get("contended") == str(winners[0]).encode()
