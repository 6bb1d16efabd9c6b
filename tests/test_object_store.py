"""One contract suite for every storage backend: a local directory and S3 (moto on loopback), each
opened directly and through the fault injector with no fault firing (it must be transparent);
then the injected faults themselves, each surfacing as the typed error a real outage would give."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cairn.errors import ConfigError, ObjectExistsError, ObjectNotFoundError, StorageError, StorageUnavailableError
from cairn.storage.fault_injection import ENV_VAR, FaultInjector, FaultKind, FaultPlan, FaultRule, Op
from cairn.storage.object_store import ObjectStore, open_store
from cairn.storage.volume import StorageVolume, VolumeType
from conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, make_bucket

StoreOpener = Callable[[FaultPlan | None], ObjectStore]

# Every kind of fault present, none firing (probability 0), and a small real latency on every call:
# a store opened with it must behave exactly like one opened without.
SILENT_PLAN = FaultPlan(seed=11, latency_seconds=(0.0, 0.002), rules=[
    *(FaultRule(kind=kind, probability=0.0) for kind in FaultKind if kind is not FaultKind.LATENCY),
    FaultRule(kind=FaultKind.LATENCY, probability=1.0)])


def _volume(volume_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> StorageVolume:
    if volume_kind == "local":
        return StorageVolume(name="v", type=VolumeType.LOCAL, locations=[str(tmp_path / "volume")])
    endpoint = request.getfixturevalue("moto_endpoint")
    return StorageVolume(name="v", type=VolumeType.S3, locations=[f"s3://{make_bucket(endpoint)}/prefix"],
                         properties={"aws.s3.endpoint": endpoint, "aws.s3.region": S3_REGION,
                                     "aws.s3.access_key": S3_ACCESS_KEY, "aws.s3.secret_key": S3_SECRET_KEY})


@pytest.fixture
def open_volume(volume_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreOpener:
    """Opens the test's volume, with the given fault plan (or none)."""
    volume = _volume(volume_kind, tmp_path, request)
    return lambda plan: open_store(volume, faults=FaultInjector(plan) if plan else None)


@pytest.fixture(params=["direct", "silent_faults"])
def store(open_volume: StoreOpener, request: pytest.FixtureRequest) -> Iterator[ObjectStore]:
    yield open_volume(SILENT_PLAN if request.param == "silent_faults" else None)


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


# -- injected faults --------------------------------------------------------------------------


def _always(kind: FaultKind, **rule: object) -> FaultPlan:
    return FaultPlan(seed=3, timeout_seconds=0.01, rules=[FaultRule(kind=kind, probability=1.0, **rule)])


@pytest.mark.parametrize(("kind", "error"), [(FaultKind.ERROR, StorageUnavailableError),
                                             (FaultKind.TIMEOUT, StorageUnavailableError),
                                             (FaultKind.PERMANENT, StorageError)])
def test_failed_calls_raise_typed_errors_and_change_nothing(open_volume: StoreOpener, kind: FaultKind,
                                                             error: type[Exception]) -> None:
    clean = open_volume(None)
    clean.put_if_absent("kept", b"k")
    faulty = open_volume(_always(kind))
    calls: list[Callable[[], object]] = [
        lambda: faulty.put_if_absent("new", b"n"), lambda: faulty.get("kept"), lambda: faulty.head("kept"),
        lambda: faulty.exists("kept"), lambda: list(faulty.list("")), lambda: faulty.list_folders(""),
        lambda: faulty.delete("kept"), lambda: faulty.get_many(["kept", "kept"])]
    for call in calls:
        with pytest.raises(error) as caught:
            call()
        assert "injected fault" in str(caught.value)
        if kind is FaultKind.PERMANENT:
            assert not isinstance(caught.value, StorageUnavailableError)
    assert clean.head("new") is None
    assert clean.get("kept") == b"k"
    assert faulty.faults is not None and faulty.faults.injected[kind] >= len(calls)


def test_lost_acknowledgement_lands_the_put_and_reports_failure(open_volume: StoreOpener, tmp_path: Path) -> None:
    faulty = open_volume(_always(FaultKind.LOST_ACK))
    with pytest.raises(StorageUnavailableError):
        faulty.put_if_absent("journal/0001", b"entry")
    source = tmp_path / "f.bin"
    source.write_bytes(b"file")
    with pytest.raises(StorageUnavailableError):
        faulty.put_file_if_absent("data/f.bin", source)
    # Reads are untouched: the writer can learn what happened by reading.
    assert faulty.get("journal/0001") == b"entry"
    assert faulty.get("data/f.bin") == b"file"
    # A retry of the same create-if-absent put finds the object it wrote.
    with pytest.raises(ObjectExistsError):
        open_volume(None).put_if_absent("journal/0001", b"entry")


def test_partial_listing_breaks_off_with_an_error(open_volume: StoreOpener) -> None:
    clean = open_volume(None)
    keys = [f"log/{n:04d}" for n in range(10)]
    for key in keys:
        clean.put_if_absent(key, b"x")
    faulty = open_volume(_always(FaultKind.PARTIAL_LIST))
    seen: list[str] = []
    with pytest.raises(StorageUnavailableError, match="after"):
        for info in faulty.list("log/"):
            seen.append(info.key)
    assert len(seen) < len(keys) and set(seen) <= set(keys)
    assert sorted(i.key for i in clean.list("log/")) == keys


def test_rules_are_limited_to_operations_keys_and_hit_counts(open_volume: StoreOpener) -> None:
    plan = FaultPlan(seed=5, rules=[FaultRule(kind=FaultKind.ERROR, probability=1.0, ops=[Op.PUT],
                                              key_prefix="meta/", max_hits=2)])
    faulty = open_volume(plan)
    faulty.put_if_absent("data/a", b"a")  # another prefix: untouched
    for _ in range(2):
        with pytest.raises(StorageUnavailableError):
            faulty.put_if_absent("meta/j", b"j")
    assert faulty.get("data/a") == b"a"  # another operation: untouched
    faulty.put_if_absent("meta/j", b"j")  # the rule has used its two hits
    assert faulty.get("meta/j") == b"j"


def test_the_same_seed_injects_the_same_faults(open_volume: StoreOpener) -> None:
    def outcomes(seed: int) -> list[str]:
        plan = FaultPlan(seed=seed, rules=[FaultRule(kind=FaultKind.ERROR, probability=0.5)])
        faulty = open_volume(plan)
        result = []
        for n in range(40):
            try:
                faulty.head(f"k{n % 7}")
                result.append("ok")
            except StorageUnavailableError:
                result.append("error")
        return result

    first = outcomes(1)
    assert outcomes(1) == first
    assert outcomes(2) != first
    assert 5 < first.count("error") < 35


def test_short_form_and_json_plans() -> None:
    plan = FaultPlan.parse("seed=7,error=0.25,lost_ack=0.5,latency=0.01:0.2,ops=put+get,only=meta/")
    assert plan.seed == 7 and plan.latency_seconds == (0.01, 0.2)
    kinds = {rule.kind: rule for rule in plan.rules}
    assert kinds[FaultKind.ERROR].probability == 0.25 and kinds[FaultKind.LOST_ACK].probability == 0.5
    assert kinds[FaultKind.ERROR].ops == [Op.PUT, Op.GET] and kinds[FaultKind.ERROR].key_prefix == "meta/"
    assert FaultPlan.parse(plan.model_dump_json()) == plan
    for bad in ["error=2", "bogus=1", "seed=x", '{"rules": [{"kind": "melt", "probability": 1}]}']:
        with pytest.raises(ConfigError, match=ENV_VAR):
            FaultPlan.parse(bad)


def test_a_real_process_reads_its_faults_from_the_environment(tmp_path: Path) -> None:
    script = (
        "from cairn.storage.object_store import open_store\n"
        "from cairn.storage.volume import StorageVolume, VolumeType\n"
        "from cairn.errors import StorageUnavailableError\n"
        f"store = open_store(StorageVolume(name='v', type=VolumeType.LOCAL, locations=[{str(tmp_path)!r}]))\n"
        "try:\n    store.put_if_absent('meta/x', b'x')\nexcept StorageUnavailableError as exc:\n    print(exc)\n"
        "store.put_if_absent('data/y', b'y')\n"
    )
    env = {**os.environ, ENV_VAR: "seed=1,error=1,ops=put,only=meta/"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "injected fault" in result.stdout
    assert not (tmp_path / "meta" / "x").exists() and (tmp_path / "data" / "y").read_bytes() == b"y"
