"""Storage-volume SQL: lifecycle on both backends, secrets never shown, bad definitions refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairn.errors import SqlSyntaxError, StorageVolumeError
from cairn.server.session import Session
from conftest import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, free_port, make_bucket


def s3_volume_sql(name: str, endpoint: str, bucket: str, secret: str = S3_SECRET_KEY) -> str:
    return (f"CREATE STORAGE VOLUME {name} TYPE = S3 LOCATIONS = ('s3://{bucket}/cairn') COMMENT 'mine' "
            f"PROPERTIES ('aws.s3.region' = '{S3_REGION}', 'aws.s3.endpoint' = '{endpoint}', "
            f"'aws.s3.access_key' = '{S3_ACCESS_KEY}', 'aws.s3.secret_key' = '{secret}', "
            "'aws.s3.enable_path_style_access' = 'true')")


def test_s3_volume_lifecycle_and_secrets(session: Session, moto_endpoint: str) -> None:
    bucket = make_bucket(moto_endpoint)
    session.execute(s3_volume_sql("remote", moto_endpoint, bucket))
    assert ("remote",) in session.execute("SHOW STORAGE VOLUMES").rows()
    desc = session.execute("DESC STORAGE VOLUME remote").rows()[0]
    assert desc[:4] == ("remote", "S3", "false", f"s3://{bucket}/cairn")
    params = json.loads(desc[4])
    assert params["aws.s3.secret_key"] == "******" and params["aws.s3.access_key"] == "******"
    assert S3_SECRET_KEY not in repr(session.execute("DESC STORAGE VOLUME remote").rows())
    session.execute("CREATE DATABASE remote_db PROPERTIES ('storage_volume' = 'remote')")
    session.execute("CREATE TABLE remote_db.t (a INT, b VARCHAR(5)) DISTRIBUTED BY HASH(a) BUCKETS 2")
    session.execute("INSERT INTO remote_db.t VALUES (1, 'x'), (2, 'y')")
    assert session.execute("SELECT sum(a) FROM remote_db.t").rows() == [(3,)]
    store = session.frontend.store_for("remote")
    assert any(i.key.endswith(".parquet") for i in store.list(session.frontend.keys.data_prefix))
    with pytest.raises(StorageVolumeError, match="remote_db"):
        session.execute("DROP STORAGE VOLUME remote")
    session.execute("DROP DATABASE remote_db")
    session.execute("SET remote AS DEFAULT STORAGE VOLUME")
    with pytest.raises(StorageVolumeError, match="default"):
        session.execute("DROP STORAGE VOLUME remote")
    session.execute("SET builtin_storage_volume AS DEFAULT STORAGE VOLUME")
    session.execute("DROP STORAGE VOLUME remote")
    assert ("remote",) not in session.execute("SHOW STORAGE VOLUMES").rows()


def test_local_volume_and_alter(session: Session, tmp_path: Path) -> None:
    session.execute(f"CREATE STORAGE VOLUME disk TYPE = LOCAL LOCATIONS = ('{tmp_path / 'disk'}')")
    session.execute("ALTER STORAGE VOLUME disk SET (\"enabled\" = \"false\")")
    assert session.execute("DESC STORAGE VOLUME disk").rows()[0][5] == "false"
    with pytest.raises(StorageVolumeError, match="disabled"):
        session.execute("SET disk AS DEFAULT STORAGE VOLUME")
    session.execute("CREATE STORAGE VOLUME IF NOT EXISTS disk TYPE = LOCAL LOCATIONS = ('/elsewhere')")
    assert session.execute("DESC STORAGE VOLUME disk").rows()[0][3] == str(tmp_path / "disk")


@pytest.mark.parametrize("sql, message", [
    ("CREATE STORAGE VOLUME v TYPE = S3 LOCATIONS = ('/not/s3') PROPERTIES ('aws.s3.region' = 'x')", "s3://"),
    ("CREATE STORAGE VOLUME v TYPE = S3 LOCATIONS = ('s3://b/p') PROPERTIES ('aws.s3.regoin' = 'x')",
     "aws.s3.regoin"),
    ("CREATE STORAGE VOLUME v TYPE = S3 LOCATIONS = ('s3://b/p') PROPERTIES ('aws.s3.region' = 'x', "
     "'aws.s3.access_key' = 'k')", "together"),
    ("CREATE STORAGE VOLUME v TYPE = HDFS LOCATIONS = ('hdfs://x')", "HDFS"),
    ("DROP STORAGE VOLUME nope", "does not exist"),
    ("DESC STORAGE VOLUME nope", "does not exist"),
])
def test_bad_volume_definitions(session: Session, sql: str, message: str) -> None:
    position = session.frontend.position
    with pytest.raises(StorageVolumeError, match=message):
        session.execute(sql)
    assert session.frontend.position == position


def test_unreachable_endpoint_is_refused_without_leaking_the_secret(session: Session) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    secret = "very-secret-value-42"
    position = session.frontend.position
    with pytest.raises(StorageVolumeError) as caught:
        session.execute(s3_volume_sql("dead", endpoint, "bucket", secret=secret))
    assert "dead" in str(caught.value) and secret not in str(caught.value)
    assert session.frontend.position == position


def test_volume_statement_syntax_errors(session: Session) -> None:
    with pytest.raises(SqlSyntaxError, match="LOCATIONS"):
        session.execute("CREATE STORAGE VOLUME v TYPE = S3")
