"""FE membership as a user sees it: ALTER SYSTEM ADD / DROP FOLLOWER | OBSERVER with StarRocks'
messages, and SHOW FRONTENDS."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

import cairn.api
from cairn.errors import FrontendNodeError, PrivilegeError
from cairn.fe.frontend import Frontend
from cairn.fe.peers import FrontendRole, FrontendStatus
from cairn.server.session import Session
from cairn.sql.frontends import SHOW_COLUMNS
from conftest import USER_PASSWORD, free_port
from fe_process import FeProcess

def _open(tmp_path: Path, name: str, **conf: Any) -> Frontend:
    return cairn.api.open_frontend(local_storage_path=tmp_path / name / "storage", meta_dir=tmp_path / name / "meta",
                                   **conf)


@pytest.fixture
def fe(tmp_path: Path) -> Iterator[Frontend]:
    frontend = _open(tmp_path, "fe", http_port=free_port(), edit_log_port=free_port())
    yield frontend
    frontend.close()


def _shown(session: Session) -> list[dict[str, Any]]:
    result = session.execute("SHOW FRONTENDS")
    assert result.columns == SHOW_COLUMNS
    return [dict(zip(SHOW_COLUMNS, row)) for row in result.rows()]


def _refused(session: Session, sql: str) -> str:
    with pytest.raises(FrontendNodeError) as caught:
        session.execute(sql)
    assert caught.value.mysql_code == 1105
    return str(caught.value)


def test_add_and_drop_followers_and_observers_with_starrocks_messages(fe: Frontend) -> None:
    session = Session(fe)
    session.execute('ALTER SYSTEM ADD FOLLOWER "10.0.0.2:9010"')
    session.execute('alter system add observer "10.0.0.3:9011"')
    members = {n.address: n for n in fe.catalog.state.frontends}
    assert {a: n.type for a, n in members.items()} == {"10.0.0.2:9010": "follower", "10.0.0.3:9011": "observer"}
    assert members["10.0.0.2:9010"].name.startswith("10.0.0.2_9010_")
    assert int(members["10.0.0.2:9010"].name.rsplit("_", 1)[1]) > 1_600_000_000_000  # ms when added

    assert _refused(session, 'ALTER SYSTEM ADD OBSERVER "10.0.0.2:9010"') == \
        "FE with the same host: 10.0.0.2:9010 already exists"
    assert _refused(session, f'ALTER SYSTEM ADD FOLLOWER "{fe.address}"') == \
        f"FE with the same host: {fe.address} already exists"
    assert _refused(session, 'ALTER SYSTEM DROP OBSERVER "10.0.0.2:9010"') == "OBSERVER does not exist[10.0.0.2:9010]"
    assert _refused(session, 'ALTER SYSTEM DROP FOLLOWER "10.0.0.3:9011"') == "FOLLOWER does not exist[10.0.0.3:9011]"
    assert _refused(session, 'ALTER SYSTEM DROP FOLLOWER "10.0.0.9:9010"') == "frontend does not exist[10.0.0.9:9010]"
    assert _refused(session, f'ALTER SYSTEM DROP FOLLOWER "{fe.address}"') == "can not drop current master node."
    assert "host:edit_log_port" in _refused(session, 'ALTER SYSTEM ADD FOLLOWER "10.0.0.2"')

    session.execute('ALTER SYSTEM DROP FOLLOWER "10.0.0.2:9010"')
    session.execute('ALTER SYSTEM DROP OBSERVER "10.0.0.3:9011"')
    assert fe.catalog.state.frontends == []
    session.execute('ALTER SYSTEM ADD OBSERVER "10.0.0.2:9010"')  # a dropped FE may come back, as another type
    assert [(n.address, n.type) for n in fe.catalog.state.frontends] == [("10.0.0.2:9010", "observer")]

    # The leader the journal names cannot be dropped from any FE, whichever type it was added as.
    fe.catalog.state.leader_address = "10.0.0.2:9010"
    assert _refused(session, 'ALTER SYSTEM DROP OBSERVER "10.0.0.2:9010"') == "can not drop current master node."

    session.execute(f"CREATE USER plain IDENTIFIED BY '{USER_PASSWORD}'")
    for sql in ('ALTER SYSTEM ADD FOLLOWER "10.0.0.4:9010"', 'ALTER SYSTEM DROP OBSERVER "10.0.0.2:9010"',
                "SHOW FRONTENDS"):
        with pytest.raises(PrivilegeError):
            Session(fe, user="plain").execute(sql)


def test_show_frontends_lists_this_fe_and_what_heartbeats_said_of_the_members(fe: Frontend) -> None:
    session = Session(fe)
    (own,) = _shown(session)  # no member list yet: the FE itself
    host, port = fe.address.split(":")
    assert own == {
        "Name": fe.name, "IP": host, "EditLogPort": int(port), "HttpPort": fe.config.http_port,
        "QueryPort": fe.config.query_port, "RpcPort": fe.config.rpc_port, "Role": "LEADER",
        "ClusterId": fe.keys.cluster_id, "Join": "true", "Alive": "true", "ReplayedJournalId": fe.position.entry_id,
        "LastHeartbeat": own["LastHeartbeat"], "IsHelper": "true", "ErrMsg": "", "StartTime": own["StartTime"],
        "Version": cairn.__version__}
    assert time.strptime(own["StartTime"], "%Y-%m-%d %H:%M:%S") <= time.strptime(own["LastHeartbeat"],
                                                                                 "%Y-%m-%d %H:%M:%S")

    session.execute('ALTER SYSTEM ADD FOLLOWER "10.0.0.2:9010"')
    session.execute('ALTER SYSTEM ADD OBSERVER "10.0.0.3:9010"')
    fe.membership.record(FrontendStatus(
        name="x", host="10.0.0.2", edit_log_port=9010, http_port=8130, query_port=9130, rpc_port=9120,
        role=FrontendRole.FOLLOWER, cluster_id=fe.keys.cluster_id, incarnation=1, epoch=1, replayed_journal_id=7,
        start_time=time.time() - 60, version="9.9", ready=True))
    fe.membership.record_failure("10.0.0.3:9010", "connection refused")
    rows = {r["IP"]: r for r in _shown(session)}
    assert rows[host]["Role"] == "LEADER"
    follower, observer = rows["10.0.0.2"], rows["10.0.0.3"]
    assert (follower["Role"], follower["Alive"], follower["HttpPort"], follower["QueryPort"], follower["RpcPort"],
            follower["ReplayedJournalId"], follower["Version"], follower["IsHelper"], follower["Join"]) == \
        ("FOLLOWER", "true", 8130, 9130, 9120, 7, "9.9", "false", "true")
    assert follower["Name"].startswith("10.0.0.2_9010_") and follower["StartTime"] and follower["LastHeartbeat"]
    assert (observer["Role"], observer["Alive"], observer["ErrMsg"], observer["LastHeartbeat"],
            observer["StartTime"], observer["Version"], observer["HttpPort"]) == \
        ("OBSERVER", "false", "connection refused", None, None, None, 0)


@pytest.mark.skipif(shutil.which("mysql") is None, reason="the mysql client is installed by scripts/install")
def test_show_frontends_and_errors_over_the_mysql_protocol(local_fe_process: FeProcess) -> None:
    done = subprocess.run(["mysql", "-h127.0.0.1", f"-P{local_fe_process.query_port}", "-uroot", "--batch", "-e",
                           'ALTER SYSTEM ADD OBSERVER "10.0.0.3:9010"; SHOW FRONTENDS'],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    header, *rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert header == SHOW_COLUMNS
    by_role = {row[6]: row for row in rows}
    assert set(by_role) == {"LEADER", "OBSERVER"}
    assert by_role["LEADER"][3] == str(local_fe_process.http_port)
    assert by_role["LEADER"][4] == str(local_fe_process.query_port)
    assert by_role["OBSERVER"][1:3] == ["10.0.0.3", "9010"] and by_role["OBSERVER"][9] == "false"
    connection = pymysql.connect(host="127.0.0.1", port=local_fe_process.query_port, user="root", autocommit=True)
    with connection.cursor() as cursor:
        with pytest.raises(pymysql.MySQLError) as caught:
            cursor.execute('ALTER SYSTEM DROP FOLLOWER "10.0.0.3:9010"')
        assert caught.value.args == (1105, "FOLLOWER does not exist[10.0.0.3:9010]")
        cursor.execute('ALTER SYSTEM DROP OBSERVER "10.0.0.3:9010"')
        cursor.execute("SHOW FRONTENDS")
        assert [row[6] for row in cursor.fetchall()] == ["LEADER"]
    connection.close()
