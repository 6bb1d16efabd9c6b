"""The FE peer service on `edit_log_port`, against a real `cairn fe` process: only the FEs of its
cluster (holding the catalog key, and the cluster credential when one is configured) are served;
heartbeats, cluster info and forwarded statements answer their typed models; a forwarded statement
runs as its original user; a forward whose answer is lost is reported as of unknown outcome."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn import keyring
from cairn.errors import CommitOutcomeUnknownError, PeerUnavailableError
from cairn.fe.frontend import Frontend
from cairn.fe.peer_client import PeerClient
from cairn.fe.peers import PEER_TOKEN_HEADER, ForwardRequest, FrontendRole, FrontendStatus, peer_token
from cairn.journal.cluster import read_cluster_file
from cairn.server.peer_forward import RunningForwards, run_forwarded
from cairn.sql.forwarding import result_of
from cairn.sql.statements import standard_statements
from conftest import CLUSTER_CREDENTIAL, USER_PASSWORD, free_port
from fe_process import FeProcess, run_sql, start_local_fe
from tls_certs import self_signed


@pytest.fixture(scope="module")
def fe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeProcess]:
    process = start_local_fe(tmp_path_factory.mktemp("fe"), cluster_credential=CLUSTER_CREDENTIAL)
    yield process
    process.stop()


def _cluster_id(fe: FeProcess) -> str:
    cluster_id = read_cluster_file(fe.log.parent / "meta")
    assert cluster_id is not None
    return cluster_id


@pytest.fixture(scope="module")
def client(fe: FeProcess) -> PeerClient:
    return PeerClient(_cluster_id(fe), CLUSTER_CREDENTIAL, timeout=30)


def _status(cluster_id: str) -> FrontendStatus:
    """What a follower starting beside the FE under test would say of itself."""
    return FrontendStatus(name="127.0.0.1_19010_1", host="127.0.0.1", edit_log_port=19010, http_port=18030,
                          query_port=19030, rpc_port=19020, role=FrontendRole.FOLLOWER, cluster_id=cluster_id,
                          incarnation=1, epoch=0, replayed_journal_id=0, start_time=time.time(), version="test",
                          ready=False)


def _raw(fe: FeProcess, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", fe.edit_log_port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Content-Length": str(len(body)), **headers})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_heartbeat_answers_the_fe_s_own_status(fe: FeProcess, client: PeerClient) -> None:
    answer = client.heartbeat(fe.peer_address, _status(client.cluster_id))
    assert answer.role == FrontendRole.LEADER
    assert answer.cluster_id == client.cluster_id
    assert (answer.host, answer.edit_log_port, answer.query_port, answer.http_port, answer.rpc_port) == \
        ("127.0.0.1", fe.edit_log_port, fe.query_port, fe.http_port, fe.rpc_port)
    assert answer.address == fe.peer_address and answer.ready


def test_cluster_info_names_the_cluster(fe: FeProcess, client: PeerClient) -> None:
    info = client.cluster_info(fe.peer_address)
    assert info.cluster_id == client.cluster_id
    assert info.incarnation == 1


def test_calls_without_a_valid_peer_token_are_refused(fe: FeProcess, client: PeerClient,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    body = _status(client.cluster_id).model_dump_json().encode()
    credential = {"authorization": f"Bearer {CLUSTER_CREDENTIAL}"}
    # What a compute node holds (the cluster credential) without the catalog key is not enough.
    for headers in (credential, {**credential, PEER_TOKEN_HEADER: "abc.0123"},
                    {**credential, PEER_TOKEN_HEADER: "garbage"}):
        for method, path in (("POST", "/fe/heartbeat"), ("GET", "/fe/cluster"), ("POST", "/fe/forward"),
                             ("POST", "/fe/forward/cancel")):
            status, answer = _raw(fe, method, path, headers, body if method == "POST" else b"")
            assert status == 401 and "Access denied" in answer["msg"], answer
    # A token made with another catalog key (another cluster's FE, or a stolen MAC of nothing).
    other = keyring.Keyring(keyring.CatalogKey.from_text(keyring.new_key_text(), "test"))
    monkeypatch.setattr(keyring, "_installed", other)
    status, answer = _raw(fe, "GET", "/fe/cluster", {**credential, PEER_TOKEN_HEADER: peer_token(client.cluster_id)})
    assert status == 401, answer
    with pytest.raises(PeerUnavailableError, match=f"FE at {fe.peer_address} refused") as refused:
        client.heartbeat(fe.peer_address, _status(client.cluster_id))
    assert peer_token(client.cluster_id) not in str(refused.value)


def test_the_cluster_credential_is_required_too(fe: FeProcess, client: PeerClient) -> None:
    token = {PEER_TOKEN_HEADER: peer_token(client.cluster_id)}
    for headers in (token, {**token, "authorization": "Bearer not-the-cluster-credential"}):
        status, answer = _raw(fe, "GET", "/fe/cluster", headers)
        assert status == 401 and "cluster credential" in answer["msg"], answer
    with pytest.raises(PeerUnavailableError, match="refused"):
        PeerClient(client.cluster_id, None).cluster_info(fe.peer_address)
    status, answer = _raw(fe, "GET", "/fe/cluster", {**token, "authorization": f"Bearer {CLUSTER_CREDENTIAL}"})
    assert status == 200 and answer["cluster_id"] == client.cluster_id


def test_forwarded_writes_run_as_root_and_answer_the_journal_position(fe: FeProcess, client: PeerClient) -> None:
    def forward(sql: str, database: str | None = None) -> int:
        answer = client.forward(fe.peer_address, ForwardRequest(user="root", host="127.0.0.1", database=database,
                                                                sql=sql))
        assert answer.error_code is None, answer
        assert answer.incarnation == 1
        return answer.journal_id

    created = forward("CREATE DATABASE forwarded")
    forward("CREATE TABLE t (a INT, b VARCHAR(8)) DISTRIBUTED BY HASH(a) BUCKETS 1", database="forwarded")
    inserted = client.forward(fe.peer_address, ForwardRequest(user="root", host="127.0.0.1", database="forwarded",
                                                              sql="INSERT INTO t VALUES (1, 'x'), (2, 'y')"))
    assert inserted.error_code is None and inserted.affected_rows == 2
    assert inserted.journal_id > created
    assert run_sql(fe, "SELECT a, b FROM forwarded.t ORDER BY a") == [(1, "x"), (2, "y")]
    selected = client.forward(fe.peer_address, ForwardRequest(user="root", host="127.0.0.1", database="forwarded",
                                                              sql="SELECT sum(a) AS total FROM t"))
    assert result_of(selected).rows() == [(3,)]
    two = client.forward(fe.peer_address, ForwardRequest(user="root", host="127.0.0.1", database=None,
                                                         sql="CREATE DATABASE x1; CREATE DATABASE x2"))
    assert two.error_code == 1064 and "exactly one statement" in (two.error_message or "")
    assert {"x1", "x2"}.isdisjoint(row[0] for row in run_sql(fe, "SHOW DATABASES"))


def test_a_forwarded_statement_is_authorized_as_its_original_user(fe: FeProcess, client: PeerClient) -> None:
    run_sql(fe, "CREATE DATABASE IF NOT EXISTS guarded",
            "CREATE TABLE IF NOT EXISTS guarded.t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1",
            f"CREATE USER reader IDENTIFIED BY '{USER_PASSWORD}'", "GRANT SELECT ON guarded.t TO reader")
    answer = client.forward(fe.peer_address, ForwardRequest(user="reader", host="127.0.0.1", database="guarded",
                                                            sql="INSERT INTO t VALUES (1)"))
    assert answer.error_code == 1142 and answer.error_sqlstate == "42000", answer
    assert answer.error_type == "PrivilegeError" and "INSERT" in (answer.error_message or "")
    assert run_sql(fe, "SELECT count(*) FROM guarded.t") == [(0,)]
    # Secrets in a forwarded statement are masked in its error, as for a MySQL client.
    answer = client.forward(fe.peer_address, ForwardRequest(
        user="reader", host="127.0.0.1", database=None, sql=f"CREATE USER other IDENTIFIED BY '{USER_PASSWORD}'"))
    assert answer.error_code is not None and USER_PASSWORD not in (answer.error_message or "")


def _hang_up_after_reading() -> tuple[int, threading.Thread]:
    """A listener that reads one request completely, then closes without answering (an FE killed
    while it ran the statement)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(30)

    def serve() -> None:
        with listener, listener.accept()[0] as connection:
            connection.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            while len(body) < length:
                body += connection.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


def test_a_forward_whose_answer_is_lost_has_an_unknown_outcome(client: PeerClient) -> None:
    port, server = _hang_up_after_reading()
    request = ForwardRequest(user="root", host="127.0.0.1", database=None, sql="CREATE DATABASE maybe")
    with pytest.raises(CommitOutcomeUnknownError, match=f"leader at 127.0.0.1:{port}, which did not answer.*may or"):
        client.forward(f"127.0.0.1:{port}", request)
    server.join(timeout=30)
    nobody = f"127.0.0.1:{free_port()}"
    with pytest.raises(PeerUnavailableError, match=f"FE at {nobody} cannot be reached"):
        client.forward(nobody, request)
    with pytest.raises(PeerUnavailableError, match=f"FE at {nobody} cannot be reached"):
        client.heartbeat(nobody, _status(client.cluster_id))


def test_the_peer_token_never_reaches_the_log(fe: FeProcess, client: PeerClient) -> None:
    _raw(fe, "GET", "/fe/cluster", {PEER_TOKEN_HEADER: peer_token(client.cluster_id) + "0"})
    log = fe.log.read_text()
    assert "refused an FE peer call GET /fe/cluster" in log
    token = peer_token(client.cluster_id)
    assert token.partition(".")[2] not in log and CLUSTER_CREDENTIAL not in log


def test_the_peer_service_speaks_tls_when_configured(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    fe = start_local_fe(tmp_path, cluster_tls_cert_file=str(cert_file), cluster_tls_key_file=str(key_file))
    try:
        cluster_id = _cluster_id(fe)
        answer = PeerClient(cluster_id, None, tls_ca_file=str(cert_file)).heartbeat(fe.peer_address,
                                                                                     _status(cluster_id))
        assert answer.role == FrontendRole.LEADER
        with pytest.raises(PeerUnavailableError):
            PeerClient(cluster_id, None).cluster_info(fe.peer_address)
        assert run_sql(fe, "SELECT 1") == [(1,)]
    finally:
        fe.stop()


def test_a_follower_answers_a_forward_with_not_leader(local_frontend: Frontend) -> None:
    local_frontend.committer.is_leader = False
    local_frontend.committer.not_leader_reason = "This FE is no longer the leader: epoch 2 was taken"
    answer = run_forwarded(local_frontend, standard_statements(),
                           ForwardRequest(user="root", host="127.0.0.1", database=None, sql="CREATE DATABASE d"),
                           RunningForwards())
    assert answer.error_type == "NotLeaderError" and answer.error_code == 1105
    assert answer.error_message == "This FE is no longer the leader: epoch 2 was taken"
    assert answer.journal_id == local_frontend.position.entry_id
    assert "d" not in local_frontend.catalog.state.databases
