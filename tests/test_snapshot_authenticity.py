"""A snapshot's manifest and image are authenticated: an altered, forged or swapped one is never restored.

Legacy snapshots (written before manifests were signed) still restore: tests/test_legacy_bucket.py.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cairn.api import load_config
from cairn.errors import CairnError, CatalogKeyError
from cairn.fe.frontend import Frontend
from cairn.restore.plan import plan_restore
from cairn.restore.restorer import restore
from cairn.restore.snapshot_yaml import read_snapshot_yaml
from cairn.server.session import Session
from cairn.storage.keys import SNAPSHOT_IMAGE, SNAPSHOT_MANIFEST


def _altered_manifest(data: bytes) -> bytes:
    """The signed manifest with its journal id moved, MAC kept: what an attacker can do without the key."""
    body = json.loads(data)
    body["fe_journal_id"] += 1
    return json.dumps(body).encode()


def _legacy_manifest(data: bytes) -> bytes:
    """The manifest rewritten in the unsigned format of older Cairns."""
    body = json.loads(data)
    body.update(format_version=1)
    body.pop("key_id")
    body.pop("mac")
    return json.dumps(body).encode()


def _unknown_key_manifest(data: bytes) -> bytes:
    body = json.loads(data)
    body["key_id"] = "0123456789abcdef"
    return json.dumps(body).encode()


def _legacy_image(data: bytes) -> bytes:
    """The snapshot's image rewritten in the unsigned format, with a user granted everything."""
    body = json.loads(zlib.decompress(data))
    body.update(format_version=1)
    body.pop("key_id")
    body.pop("mac")
    body["catalog"]["storage_volumes"] = {}
    return zlib.compress(json.dumps(body).encode())


CASES: list[tuple[str, str, Callable[[bytes], bytes], type[CairnError], str]] = [
    ("altered manifest", SNAPSHOT_MANIFEST, _altered_manifest, CairnError, "manifest .* does not authenticate"),
    ("legacy manifest", SNAPSHOT_MANIFEST, _legacy_manifest, CairnError, "manifest is unsigned .* was replaced"),
    ("unknown key", SNAPSHOT_MANIFEST, _unknown_key_manifest, CatalogKeyError,
     "catalog key 0123456789abcdef, which this FE does not hold"),
    ("legacy image", SNAPSHOT_IMAGE, _legacy_image, CairnError, "is not authenticated but its manifest is"),
]


@pytest.mark.parametrize("case, name, change, error, message", CASES, ids=[c[0] for c in CASES])
def test_a_tampered_snapshot_is_refused_by_restore_and_verify(
        tmp_path: Path, case: str, name: str, change: Callable[[bytes], bytes], error: type[CairnError],
        message: str) -> None:
    values: dict[str, Any] = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage")}
    fe = Frontend.open(load_config(None, **values))
    session = Session(fe)
    session.execute_script("CREATE DATABASE shop; CREATE TABLE shop.t (x INT) DISTRIBUTED BY HASH(x); "
                           "INSERT INTO shop.t VALUES (1); ADMIN CREATE CLUSTER SNAPSHOT s1;")
    assert session.execute("ADMIN VERIFY CLUSTER SNAPSHOT s1").rows()[0][2] == "OK"
    key = fe.keys.snapshot_object("s1", name)
    tampered = change(fe.meta_store.get(key))
    fe.meta_store.delete(key)
    fe.meta_store.put_if_absent(key, tampered)
    report = session.execute("ADMIN VERIFY CLUSTER SNAPSHOT s1").rows()[0]
    assert report[2] != "OK" and "0123456789abcdef" in str(report) if case == "unknown key" else \
        report[2] != "OK"
    before = sorted(i.key for i in fe.meta_store.list(""))
    (tmp_path / "cs.yaml").write_text(
        f"cluster_snapshot:\n  cluster_snapshot_path: {values['local_storage_path']}/{fe.keys.cluster_id}"
        "/meta/image/s1\n")
    config = load_config(None, **dict(values, meta_dir=str(tmp_path / "other-meta")))
    spec = read_snapshot_yaml(tmp_path / "cs.yaml")
    with pytest.raises(error, match=message):
        restore(plan_restore(config, spec), config, spec)
    assert sorted(i.key for i in fe.meta_store.list("")) == before, "a refused restore changes nothing"
    fe.close()


def test_a_signed_snapshot_restores(tmp_path: Path) -> None:
    values: dict[str, Any] = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage")}
    fe = Frontend.open(load_config(None, **values))
    Session(fe).execute_script("CREATE DATABASE shop; CREATE TABLE shop.t (x INT) DISTRIBUTED BY HASH(x); "
                               "INSERT INTO shop.t VALUES (1); ADMIN CREATE CLUSTER SNAPSHOT s1;")
    manifest = json.loads(fe.meta_store.get(fe.keys.snapshot_object("s1", SNAPSHOT_MANIFEST)))
    assert manifest["format_version"] == 2 and manifest["mac"]
    (tmp_path / "cs.yaml").write_text(
        f"cluster_snapshot:\n  cluster_snapshot_path: {values['local_storage_path']}/{fe.keys.cluster_id}"
        "/meta/image/s1\n")
    config = load_config(None, **dict(values, meta_dir=str(tmp_path / "other-meta")))
    spec = read_snapshot_yaml(tmp_path / "cs.yaml")
    assert restore(plan_restore(config, spec), config, spec) == 2
    fe.close()
    new = Frontend.open(config)
    assert Session(new).execute("SELECT x FROM shop.t").rows() == [(1,)]
    new.close()
