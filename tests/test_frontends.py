"""FE membership as a user sees it: ALTER SYSTEM ADD / DROP FOLLOWER | OBSERVER with StarRocks'
messages, SHOW FRONTENDS, `/api/health` and `/api/leader`, the role gauges in `/metrics`, and Stream
Load redirected (307) from an FE that does not lead to the one that does."""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

import cairn.api
from cairn.errors import FrontendNodeError, PrivilegeError
from cairn.fe.frontend import Frontend
from cairn.fe.peers import FrontendRole, FrontendStatus
from cairn.server.http_server import HttpFrontDoor
from cairn.server.session import Session
from cairn.fe.frontends_table import SHOW_COLUMNS
from conftest import USER_PASSWORD, free_port
from fe_process import FeProcess

CSV = b"1,ann\n2,bob\n"


def _open(tmp_path: Path, name: str, **conf: Any) -> Frontend:
    return cairn.api.open_frontend(local_storage_path=tmp_path / name / "storage", meta_dir=tmp_path / name / "meta",
                                   **conf)


@pytest.fixture
def fe(tmp_path: Path) -> Iterator[Frontend]:
    # A leader timeout no test reaches: a follower made by hand must not elect itself meanwhile.
    frontend = _open(tmp_path, "fe", http_port=free_port(), edit_log_port=free_port(),
                     bdbje_heartbeat_timeout_second=3600)
    yield frontend
    frontend.close()


@pytest.fixture
def http_port(fe: Frontend) -> Iterator[int]:
    """An HTTP front door on `fe`'s http_port."""
    door = HttpFrontDoor(fe, "127.0.0.1", fe.config.http_port)
    door.start()
    yield fe.config.http_port
    door.close()


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
    assert {a: n.type for a, n in members.items()} == {
        fe.address: "follower", "10.0.0.2:9010": "follower", "10.0.0.3:9011": "observer"}  # the leader lists itself
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
    assert [n.address for n in fe.catalog.state.frontends] == [fe.address]
    session.execute('ALTER SYSTEM ADD OBSERVER "10.0.0.2:9010"')  # a dropped FE may come back, as another type
    assert [(n.address, n.type) for n in fe.catalog.state.frontends] == [
        (fe.address, "follower"), ("10.0.0.2:9010", "observer")]

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
    (own,) = _shown(session)  # the FE itself, the one member
    host, port = fe.address.split(":")
    assert own == {
        "Name": fe.membership.node(fe.address).name, "IP": host, "EditLogPort": int(port), "HttpPort": fe.config.http_port,
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

    # A heartbeat that predates a step-down: the member said it leads an older epoch. One LEADER is shown.
    fe.membership.record(FrontendStatus(
        name="x", host="10.0.0.2", edit_log_port=9010, http_port=8130, query_port=9130, rpc_port=9120,
        role=FrontendRole.LEADER, cluster_id=fe.keys.cluster_id, incarnation=fe.position.incarnation,
        epoch=fe.catalog.state.epoch - 1, replayed_journal_id=7, start_time=time.time() - 60, version="9.9",
        ready=True))
    assert {r["IP"]: (r["Role"], r["IsHelper"]) for r in _shown(session)} == {
        host: ("LEADER", "true"), "10.0.0.2": ("FOLLOWER", "false"), "10.0.0.3": ("OBSERVER", "false")}


def _get(port: int, path: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            body = answer.read().decode()
            return answer.status, json.loads(body) if path.startswith("/api") else body
    except urllib.error.HTTPError as failed:
        return failed.code, json.load(failed)


def _follow(fe: Frontend, leader: Frontend | None) -> None:
    """Make `fe` a follower of `leader`: not leading, the journal naming the leader's address, a
    heartbeat heard from it."""
    fe.committer.is_leader = False
    fe.leadership.start_following()
    if leader is not None:
        fe.catalog.state.leader_address = leader.address
        fe.membership.record(leader.own_status())


def test_health_leader_and_metrics_on_a_leader_and_a_follower(fe: Frontend, http_port: int,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    status, health = _get(http_port, "/api/health")
    assert status == 200 and health == {
        "status": "OK", "msg": "", "role": "LEADER", "is_leader": True, "ready": True,
        "replayed_journal_id": fe.position.entry_id, "replay_lag_seconds": 0.0, "leader": fe.address}
    assert _get(http_port, "/api/leader")[0] == 200
    metrics = _get(http_port, "/metrics")[1]
    for line in ('cairn_fe_role{role="LEADER"} 1.0', 'cairn_fe_role{role="FOLLOWER"} 0.0',
                 'cairn_fe_role{role="OBSERVER"} 0.0', "cairn_fe_replay_lag_seconds 0.0",
                 f"cairn_fe_replayed_journal_id {float(fe.position.entry_id)}"):
        assert line in metrics.splitlines(), line

    _follow(fe, None)
    monkeypatch.setattr(fe, "replay_lag_seconds", lambda: 60.0)  # replay stalled past the bound: not ready
    status, health = _get(http_port, "/api/health")
    assert status == 503 and (health["status"], health["ready"], health["role"], health["is_leader"],
                              health["replay_lag_seconds"]) == ("FAILED", False, "FOLLOWER", False, 60.0)
    assert "replay" in health["msg"] and "meta_delay_toleration_second" in health["msg"]
    assert _get(http_port, "/api/leader")[0] == 503

    monkeypatch.setattr(fe, "replay_lag_seconds", lambda: 2.5)  # a follower within the bound
    status, health = _get(http_port, "/api/health")
    assert status == 200 and (health["ready"], health["replay_lag_seconds"]) == (True, 2.5)
    leader_status, leader = _get(http_port, "/api/leader")
    assert leader_status == 503 and leader["is_leader"] is False and leader["role"] == "FOLLOWER"
    metrics = _get(http_port, "/metrics")[1]
    assert 'cairn_fe_role{role="FOLLOWER"} 1.0' in metrics and "cairn_fe_replay_lag_seconds 2.5" in metrics


def _put(port: int, path: str, body: bytes, expect: bool, credentials: str = "root:") -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(), "label": "l1",
               "column_separator": ","}
    if expect:
        headers["Expect"] = "100-continue"
    connection.request("PUT", path, body=body, headers=headers)
    return connection.getresponse()


def test_stream_load_on_a_follower_is_redirected_to_the_leader(tmp_path: Path, fe: Frontend, http_port: int) -> None:
    leader = _open(tmp_path, "leader", http_port=free_port(), edit_log_port=free_port())
    door = HttpFrontDoor(leader, "127.0.0.1", leader.config.http_port)
    door.start()
    try:
        Session(leader).execute_script("CREATE DATABASE db; CREATE TABLE db.t (id INT, name VARCHAR(5)) "
                                       "DISTRIBUTED BY HASH(id) BUCKETS 1")
        _follow(fe, None)
        answer = _put(http_port, "/api/db/t/_stream_load", CSV, expect=True)
        refused = json.loads(answer.read())
        assert answer.status == 503 and refused["Status"] == "Fail" and "No leader FE is known" in refused["Message"]

        _follow(fe, leader)
        for expect in (True, False):
            answer = _put(http_port, "/api/db/t/_stream_load?timeout=60", CSV, expect=expect)
            assert answer.status == 307
            assert answer.getheader("Location") == \
                f"http://127.0.0.1:{leader.config.http_port}/api/db/t/_stream_load?timeout=60"
        assert _put(http_port, "/api/db/t/_stream_load", CSV, expect=True, credentials="root:wrong").status == 401
        if shutil.which("curl") is not None:
            data = tmp_path / "data.csv"
            data.write_bytes(CSV)
            done = subprocess.run(
                ["curl", "-sS", "--location-trusted", "-u", "root:", "-H", "label:via_follower", "-H",
                 "column_separator:,", "-T", str(data), "-XPUT", f"http://127.0.0.1:{http_port}/api/db/t/_stream_load"],
                capture_output=True, timeout=60)
            assert done.returncode == 0, done.stderr
            loaded = json.loads(done.stdout)
            assert (loaded["Status"], loaded["NumberLoadedRows"], loaded["Label"]) == ("Success", 2, "via_follower")
            assert Session(leader).execute("SELECT id, name FROM db.t ORDER BY id").rows() == [(1, "ann"), (2, "bob")]
    finally:
        door.close()
        leader.close()


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


def test_information_schema_frontends_shows_roles_and_replay_lag(fe: Frontend) -> None:
    session = Session(fe)
    session.execute('ALTER SYSTEM ADD FOLLOWER "10.0.0.2:9010"')
    fe.membership.record(FrontendStatus(
        name="x", host="10.0.0.2", edit_log_port=9010, http_port=8130, query_port=9130, rpc_port=9120,
        role=FrontendRole.FOLLOWER, cluster_id=fe.keys.cluster_id, incarnation=1, epoch=1, replayed_journal_id=7,
        start_time=time.time() - 60, version="9.9", ready=True, replay_lag_seconds=1.5))
    rows = session.execute("SELECT IP, EditLogPort, Role, Alive, ReplayLagSeconds FROM information_schema.frontends "
                           "ORDER BY IP").rows()
    host, port = fe.address.split(":")
    assert rows == [("10.0.0.2", 9010, "FOLLOWER", "true", 1.5), (host, int(port), "LEADER", "true", 0.0)]
    session.execute(f"CREATE USER plain IDENTIFIED BY '{USER_PASSWORD}'")
    assert Session(fe, user="plain").execute("SELECT count(*) FROM information_schema.frontends").rows() == [(0,)]
