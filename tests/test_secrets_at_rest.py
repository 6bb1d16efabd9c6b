"""Secrets in the catalog are encrypted at rest with a key that is not in the bucket, and the key rotates."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pymysql
import pytest

from cairn import keyring
from cairn.api import load_config
from cairn.cn.local_nodes import start_local_nodes, stop_local_nodes
from cairn.errors import CatalogKeyError
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from cairn.journal.image import CheckpointImage, list_images
from cairn.storage.object_store import ObjectStore
from conftest import S3_REGION, make_bucket, write_conf
from fe_process import start_fe

VOLUME_ACCESS_KEY = "AKIAVOLUMEAT0REST9"
VOLUME_SECRET_KEY = "vol-secret/at+rest=Qx7"


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _texts(store: ObjectStore, prefix: str) -> dict[str, bytes]:
    """Every object under `prefix`, decompressed where it is compressed (images)."""
    found = {}
    for info in store.list(prefix):
        data = store.get(info.key)
        try:
            data = zlib.decompress(data)
        except zlib.error:
            pass
        found[info.key] = data
    return found


def _create_volume(session: Session, moto_endpoint: str, name: str = "vault") -> None:
    bucket = make_bucket(moto_endpoint)
    session.execute(
        f"CREATE STORAGE VOLUME {name} TYPE = S3 LOCATIONS = ('s3://{bucket}/v') PROPERTIES ("
        f"'aws.s3.region' = '{S3_REGION}', 'aws.s3.endpoint' = '{moto_endpoint}', "
        f"'aws.s3.access_key' = '{VOLUME_ACCESS_KEY}', 'aws.s3.secret_key' = '{VOLUME_SECRET_KEY}')")


def test_no_stored_object_holds_a_volume_secret(fe_conf_values: dict[str, str], moto_endpoint: str) -> None:
    values = dict(fe_conf_values, checkpoint_interval_entries="4")
    fe = Frontend.open(load_config(None, **values))
    session = Session(fe)
    _create_volume(session, moto_endpoint)
    session.execute("ALTER STORAGE VOLUME vault SET ('aws.s3.secret_key' = 'rotated-secret-Pz3')")
    session.execute_script("CREATE DATABASE d; CREATE TABLE d.t (x INT) DISTRIBUTED BY HASH(x); "
                           "INSERT INTO d.t VALUES (1); ADMIN CREATE CLUSTER SNAPSHOT s1;")
    session.execute("ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON STORAGE VOLUME builtin_storage_volume")
    fe.snapshots.run_due()
    fe.checkpoint()
    fe.close()
    secrets = [VOLUME_ACCESS_KEY, VOLUME_SECRET_KEY, "rotated-secret-Pz3"]
    if "aws_s3_secret_key" in values:
        secrets += [values["aws_s3_access_key"], values["aws_s3_secret_key"]]
    objects = _texts(fe.meta_store, f"{fe.keys.cluster_id}/meta/")
    kinds = {"journal", "image", "manifest.json"}
    assert all(any(k in key for key in objects) for k in kinds), sorted(objects)
    hits = [(key, s) for key, data in objects.items() for s in secrets if s.encode() in data]
    assert hits == []
    # They are there, sealed, and the FE reads them back.
    again = Frontend.open(load_config(None, **values))
    volume = again.catalog.storage_volume("vault")
    assert volume.properties["aws.s3.secret_key"] == "rotated-secret-Pz3"
    assert volume.properties["aws.s3.access_key"] == VOLUME_ACCESS_KEY
    again.close()


def test_the_catalog_key_rotates(tmp_path: Path, moto_endpoint: str) -> None:
    base = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage")}
    old_key, new_key = _key(), _key()
    fe = Frontend.open(load_config(None, catalog_encryption_key=old_key, **base))
    _create_volume(Session(fe), moto_endpoint)
    fe.checkpoint()
    Session(fe).execute("CREATE DATABASE after_image")
    fe.close()

    with pytest.raises(CatalogKeyError) as missing:  # the new key alone cannot read the old image
        Frontend.open(load_config(None, catalog_encryption_key=new_key, **base))
    assert "catalog_encryption_previous_keys" in str(missing.value)
    assert old_key not in str(missing.value) and new_key not in str(missing.value)

    rotated = Frontend.open(load_config(None, catalog_encryption_key=new_key,
                                        catalog_encryption_previous_keys=f"{_key()},{old_key}", **base))
    assert rotated.catalog.storage_volume("vault").properties["aws.s3.secret_key"] == VOLUME_SECRET_KEY
    assert "after_image" in rotated.catalog.state.databases
    position = rotated.checkpoint()  # re-encrypted with the new key
    rotated.close()
    newest = list_images(rotated.meta_store, rotated.keys, position.incarnation)[-1]
    image = CheckpointImage.model_validate_json(zlib.decompress(rotated.meta_store.get(newest.key)))
    new_id = keyring.CatalogKey.from_text(new_key, "test").key_id
    assert image.key_id == new_id
    assert image.catalog["storage_volumes"]["vault"]["properties"]["aws.s3.secret_key"].startswith(
        f"{keyring.SEALED_PREFIX}{new_id}:")

    # From then on the previous key is not needed.
    alone = Frontend.open(load_config(None, catalog_encryption_key=new_key, **base))
    assert alone.catalog.storage_volume("vault").properties["aws.s3.secret_key"] == VOLUME_SECRET_KEY
    alone.close()


def test_a_malformed_key_is_one_clear_error() -> None:
    with pytest.raises(CatalogKeyError, match="fe.conf 'catalog_encryption_key' is not a catalog key"):
        load_config(None, catalog_encryption_key="too-short")


def test_a_restore_without_the_right_key_fails_with_one_clear_line(tmp_path: Path) -> None:
    values = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage"),
              "catalog_encryption_key": _key()}
    fe = start_fe(tmp_path, values)
    connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root")
    with connection.cursor() as cursor:
        cursor.execute("ADMIN CREATE CLUSTER SNAPSHOT s1")
    connection.close()
    fe.stop(signal.SIGKILL)
    cluster = next(p.name for p in (tmp_path / "storage").iterdir() if p.is_dir())
    (tmp_path / "cluster_snapshot.yaml").write_text(
        f"cluster_snapshot:\n  cluster_snapshot_path: {tmp_path / 'storage'}/{cluster}/meta\n")
    conf = write_conf(tmp_path / "wrong.conf", {**values, "meta_dir": str(tmp_path / "meta2"),
                                                "catalog_encryption_key": _key()})
    log = tmp_path / "restore.log"
    proc = subprocess.Popen([sys.executable, "-m", "cairn.cli.main", "fe", "--conf", str(conf), "--cluster_snapshot"],
                            cwd=tmp_path, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(600):  # the FE reports the failed restore and waits to be stopped
            if "restore failed" in log.read_text() or proc.poll() is not None:
                break
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    output = log.read_text()
    assert proc.returncode == 1, output
    assert "catalog_encryption_key" in output and keyring.KEY_ENV in output
    assert "Traceback" not in output


def test_a_sealed_secret_opens_only_with_its_key_and_unaltered() -> None:
    first = keyring.Keyring(keyring.CatalogKey.from_text(_key(), "test"))
    sealed = first.seal("s3cr\\et'")
    assert "s3cr" not in sealed and first.open(sealed, "x") == "s3cr\\et'"
    assert first.open("clear-legacy-value", "x") == "clear-legacy-value"
    altered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(CatalogKeyError, match="altered"):
        first.open(altered, "image x")
    other = keyring.Keyring(keyring.CatalogKey.from_text(_key(), "test"))
    with pytest.raises(CatalogKeyError, match=f"catalog key {first.current.key_id}.*{keyring.KEY_ENV}"):
        other.open(sealed, "image x")


def test_a_local_compute_node_is_not_given_the_catalog_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = _key()
    monkeypatch.setenv(keyring.KEY_ENV, key)
    nodes = start_local_nodes(1, tmp_path, "cluster-credential-for-test")
    try:
        environ = Path(f"/proc/{nodes[0].process.pid}/environ").read_bytes()
    finally:
        stop_local_nodes(nodes)
    assert b"PATH=" in environ and key.encode() not in environ and keyring.KEY_ENV.encode() not in environ


def test_a_start_without_the_right_key_fails_with_one_clear_error(tmp_path: Path) -> None:
    values = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage"),
              "catalog_encryption_key": _key(), "checkpoint_interval_entries": "1"}
    fe = start_fe(tmp_path, values)
    connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root")
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE d")
    connection.close()
    fe.stop()
    conf = write_conf(tmp_path / "wrong.conf", {**values, "meta_dir": str(tmp_path / "meta2"),
                                                "catalog_encryption_key": _key()})
    done = subprocess.run([sys.executable, "-m", "cairn.cli.main", "fe", "--conf", str(conf)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "catalog_encryption_key" in output and keyring.KEY_ENV in output and "Traceback" not in output
