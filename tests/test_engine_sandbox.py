"""The engine cannot reach the filesystem: every DuckDB database Cairn runs work on is sandboxed.

Attacked twice: on the FE's engine directly (so the defence does not depend on the SQL layer
refusing the statement first), and over MySQL as root and as a user with no grants.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pymysql
import pytest

from cairn.fe.frontend import Frontend
from conftest import CLUSTER_CREDENTIAL, S3_SECRET_KEY, write_conf
from fe_process import FeProcess, start_fe

CONF_SECRET = "conf-file-secret-Wm55"


def _attacks(tmp_path: Path, journal: Path | None) -> list[str]:
    conf = write_conf(tmp_path / "fe.conf", {"aws_s3_secret_key": CONF_SECRET})
    outside = tmp_path / "outside"
    attacks = [
        "SELECT * FROM read_text('/etc/passwd')",
        f"SELECT * FROM read_text('{conf}')",
        f"SELECT * FROM read_csv('{conf}')",
        "SELECT * FROM glob('/etc/*')",
        f"COPY (SELECT 1) TO '{outside}.csv'",
        f"ATTACH '{outside}.db' AS stolen",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT * FROM read_parquet('https://127.0.0.1:1/x.parquet')",
    ]
    if journal is not None:
        attacks.append(f"SELECT * FROM read_blob('{journal}')")
    return attacks


def _journal(frontend: Frontend) -> Path | None:
    """The journal's first entry as a file, on a local volume (None on S3)."""
    return frontend.meta_store.local_path(frontend.keys.journal_entry(frontend.journal.incarnation, 1))


def test_the_engine_reaches_no_file_cairn_did_not_hand_it(frontend: Frontend, tmp_path: Path) -> None:
    journal = _journal(frontend)
    assert journal is None or journal.exists()
    con = frontend.duckdb.cursor()
    try:
        for attack in _attacks(tmp_path, journal):
            with pytest.raises(duckdb.Error) as refused:
                con.execute(attack).fetchall()
            text = str(refused.value)
            assert "disabled" in text or "locked" in text, (attack, text)
            assert "root:" not in text and CONF_SECRET not in text and S3_SECRET_KEY not in text
        for loosen in ("SET enable_external_access = true", "SET allowed_directories = ['/']",
                       "SET lock_configuration = false", "RESET enable_external_access"):
            with pytest.raises(duckdb.Error, match="locked"):
                con.execute(loosen)
        assert not (tmp_path / "outside.csv").exists() and not (tmp_path / "outside.db").exists()
        # Cairn's own work still runs: the engine still reads and writes where Cairn sends it.
        assert con.execute("SELECT 41 + 1").fetchall() == [(42,)]
    finally:
        con.close()


@pytest.fixture
def fe(tmp_path: Path, fe_conf_values: dict[str, str]) -> Iterator[FeProcess]:
    started = start_fe(tmp_path, fe_conf_values)
    with pymysql.connect(host="127.0.0.1", port=started.query_port, user="root", autocommit=True) as conn, \
            conn.cursor() as cursor:
        cursor.execute("CREATE USER nobody IDENTIFIED BY 'pw-nobody-1'")
        cursor.execute("CREATE DATABASE d")
        cursor.execute("CREATE TABLE d.t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1")
        cursor.execute("INSERT INTO d.t VALUES (1), (2)")
    yield started
    started.stop()


@pytest.mark.parametrize("user,password", [("root", ""), ("nobody", "pw-nobody-1")])
def test_sql_users_reach_no_host_file_over_mysql(fe: FeProcess, tmp_path: Path, user: str, password: str) -> None:
    with pymysql.connect(host="127.0.0.1", port=fe.query_port, user=user, password=password,
                         autocommit=True) as conn, conn.cursor() as cursor:
        for attack in _attacks(tmp_path, None):
            with pytest.raises(pymysql.MySQLError) as refused:
                cursor.execute(attack)
                cursor.fetchall()
            text = str(refused.value)
            assert "root:" not in text and CONF_SECRET not in text and S3_SECRET_KEY not in text, (attack, text)
            assert CLUSTER_CREDENTIAL not in text and "Traceback" not in text
        assert not (tmp_path / "outside.csv").exists() and not (tmp_path / "outside.db").exists()
