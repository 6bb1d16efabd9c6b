"""A compute node attacked over the network: real `cairn cn` processes on loopback.

Without the cluster credential every call is refused; with it, a node still accepts only typed
requests whose object keys lie under the cluster's data prefix, so it cannot be made to run SQL,
read a host file or write a journal entry. With TLS configured, FE and node speak nothing else.
A storage failure while a node writes is reported as
the storage error it is, not as a failed node.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.flight as flight
import pymysql
import pytest

from cairn.compute.flight_auth import SendCredential
from cairn.compute.requests import VolumeRef
from cairn.storage.volume import StorageVolume, VolumeType
from cn_process import CnProcess, start_cn
from conftest import CLUSTER_CREDENTIAL, S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, make_bucket
from fe_process import start_fe
from tls_certs import self_signed

CLUSTER = "3f1c2a9e-0000-4000-8000-00000000c1a5"
DATA_KEY = f"{CLUSTER}/data/1/2/3/4_{'a' * 32}.parquet"
TABLE = {"id": 2, "name": "t", "columns": [{"name": "a", "type": "INT"}]}


@pytest.fixture
def node(tmp_path: Path) -> Iterator[CnProcess]:
    started = start_cn(tmp_path)
    yield started
    started.stop()


def _definition(tmp_path: Path) -> StorageVolume:
    return StorageVolume(name="v", type=VolumeType.LOCAL, locations=[str(tmp_path / "volume")],
                         properties={"enabled": "true"})


def _volume(tmp_path: Path) -> dict:
    """The volume reference requests carry (the node learns the definition by `register_volume`)."""
    return VolumeRef.of(_definition(tmp_path)).model_dump()


def _register(client: flight.FlightClient, tmp_path: Path) -> None:
    list(client.do_action(flight.Action("register_volume", _definition(tmp_path).model_dump_json().encode())))


def _scan(tmp_path: Path, **changes: object) -> bytes:
    request = {"volume": _volume(tmp_path), "cluster_id": CLUSTER, "table": TABLE,
               "rowsets": [{"key": DATA_KEY}], **changes}
    return json.dumps(request).encode()


def _client(node: CnProcess, credential: str | None = CLUSTER_CREDENTIAL) -> flight.FlightClient:
    middleware = [SendCredential(credential)] if credential is not None else []
    client = flight.FlightClient(node.data_location, middleware=middleware)
    if credential == CLUSTER_CREDENTIAL:
        _register(client, node.root.parent)
    return client


def _every_call(client: flight.FlightClient, tmp_path: Path) -> list[tuple[str, object]]:
    """What each kind of call answers: the error it raised, or what it returned."""
    results: list[tuple[str, object]] = []
    calls = {
        "do_get": lambda: client.do_get(flight.Ticket(_scan(tmp_path))).read_all(),
        "do_put": lambda: _put(client, json.dumps({"volume": _volume(tmp_path), "cluster_id": CLUSTER, "db_id": 1,
                                                   "table": TABLE}).encode()),
        "compact": lambda: list(client.do_action(flight.Action("compact", b"{}"))),
        "clear_cache": lambda: list(client.do_action(flight.Action("clear_cache", b""))),
        "list_actions": lambda: list(client.list_actions()),
        "register_volume": lambda: _register(client, tmp_path),
    }
    for name, call in calls.items():
        try:
            results.append((name, call()))
        except flight.FlightError as exc:
            results.append((name, exc))
    return results


def _put(client: flight.FlightClient, command: bytes) -> bytes:
    writer, answers = client.do_put(flight.FlightDescriptor.for_command(command), pa.schema([("a", pa.int32())]))
    writer.write_table(pa.table({"a": pa.array([1], pa.int32())}))
    writer.done_writing()
    try:
        return answers.read().to_pybytes()
    finally:
        writer.close()


def _http(node: CnProcess, path: str, port: int, credential: str | None) -> int:
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_every_call_without_the_credential_is_refused(node: CnProcess, tmp_path: Path) -> None:
    wrong = "not-the-cluster-credential-Xy93"
    for credential in (None, wrong):
        for name, result in _every_call(_client(node, credential), tmp_path):
            assert isinstance(result, flight.FlightUnauthenticatedError), (credential, name, result)
            assert "cluster credential" in str(result)
    assert _http(node, "/heartbeat", node.heartbeat_port, None) == 401
    assert _http(node, "/heartbeat", node.heartbeat_port, wrong) == 401
    assert _http(node, "/metrics", node.webserver_port, None) == 401
    assert _http(node, "/heartbeat", node.heartbeat_port, CLUSTER_CREDENTIAL) == 200
    assert _http(node, "/metrics", node.webserver_port, CLUSTER_CREDENTIAL) == 200
    assert _http(node, "/api/health", node.webserver_port, None) == 200
    log = node.log.read_text()
    assert "refused a Flight" in log and "refused an HTTP request" in log
    assert wrong not in log and CLUSTER_CREDENTIAL not in log
    # With the credential the same calls get through (and fail or succeed on their merits).
    answers = dict(_every_call(_client(node), tmp_path))
    assert not any(isinstance(a, flight.FlightUnauthenticatedError) for a in answers.values())
    assert answers["clear_cache"] and answers["list_actions"]


@pytest.mark.parametrize("attack", [
    {"sql": "SELECT * FROM read_text('/etc/passwd')"},
    {"columns_sql": "content FROM read_text('/etc/passwd') --"},
    {"rowsets": [{"key": "/etc/passwd"}]},
    {"rowsets": [{"key": f"{CLUSTER}/data/../../../../../../etc/passwd"}]},
    {"rowsets": [{"key": f"{CLUSTER}/meta/journal/000001/{1:020d}"}]},
    {"cluster_id": "../../etc"},
    {"filters": [{"column": "a", "op": "=", "values": [{"kind": "number", "text": "1 OR true"}]}]},
    {"filters": [{"column": "a", "op": "= 1 OR 1 =", "values": [{"kind": "number", "text": "1"}]}]},
    {"filters": [{"column": "no_such_column", "op": "IS NULL"}]},
    {"aggregate": {"group_by": [], "items": [{"function": "read_text", "column": "a", "alias": "__p0"}]}},
], ids=["sql", "sql-in-columns", "host-path", "dot-dot", "journal", "cluster-id", "literal", "operator",
        "unknown-column", "function"])
def test_a_scan_with_sql_or_a_key_outside_the_data_prefix_is_refused(node: CnProcess, tmp_path: Path,
                                                                     attack: dict) -> None:
    with pytest.raises(flight.FlightError) as refused:
        _client(node).do_get(flight.Ticket(_scan(tmp_path, **attack))).read_all()
    text = str(refused.value)
    assert "refused the request" in text and "ComputeRequestRefusedError" in text
    assert "root:" not in text


def test_names_in_a_request_are_never_run_as_sql(node: CnProcess, tmp_path: Path) -> None:
    """A column name is quoted by construction: it can only ever name a column."""
    (tmp_path / "volume" / CLUSTER / "data" / "1" / "2" / "3").mkdir(parents=True)
    pa.parquet.write_table(pa.table({"a": [1]}), tmp_path / "volume" / DATA_KEY)
    evil = "a\" FROM read_text('/etc/passwd') --"
    table = {**TABLE, "columns": [{"name": evil, "type": "INT"}]}
    with pytest.raises(flight.FlightError) as failed:
        _client(node).do_get(flight.Ticket(_scan(tmp_path, table=table))).read_all()
    assert "root:" not in str(failed.value)
    assert _client(node).do_get(flight.Ticket(_scan(tmp_path))).read_all().to_pydict() == {"a": [1]}


def test_no_journal_entry_or_marker_can_be_written_through_a_node(node: CnProcess, tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    journal_key = f"{CLUSTER}/meta/journal/000001/{5:020d}"
    compactions = [
        {"target_key": journal_key, "rowsets": []},
        {"target_key": f"{CLUSTER}/data/../meta/journal/000001/{5:020d}", "rowsets": []},
        {"target_key": f"{CLUSTER}/data/1/2/3/SNAPSHOT_DONE", "rowsets": []},
        {"target_key": f"{CLUSTER}/data/1/2/3/4_{'b' * 32}.parquet",
         "rowsets": [{"key": journal_key, "rows": 1, "size": 1}]},
    ]
    for body in compactions:
        request = {"volume": _volume(tmp_path), "cluster_id": CLUSTER, **body}
        with pytest.raises(flight.FlightError, match="refused the request"):
            list(_client(node).do_action(flight.Action("compact", json.dumps(request).encode())))
    for cluster_id in (f"{CLUSTER}/meta/journal", "..", f"{CLUSTER}/../x"):
        command = json.dumps({"volume": _volume(tmp_path), "cluster_id": cluster_id, "db_id": 1,
                              "table": TABLE}).encode()
        with pytest.raises(flight.FlightError, match="refused the request"):
            _put(_client(node), command)
    written = [p for p in volume.rglob("*") if p.is_file()] if volume.exists() else []
    assert written == []


def test_a_storage_failure_during_insert_is_reported_as_the_storage_error(tmp_path: Path,
                                                                           moto_endpoint: str) -> None:
    fe = start_fe(tmp_path, {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage"),
                             "cluster_credential": CLUSTER_CREDENTIAL, "heartbeat_interval_second": "0.5"})
    node = start_cn(tmp_path)
    bucket = make_bucket(moto_endpoint)
    try:
        with pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True) as conn, \
                conn.cursor() as cursor:
            cursor.execute(f'ALTER SYSTEM ADD COMPUTE NODE "{node.address}"')
            cursor.execute(
                f"CREATE STORAGE VOLUME gone TYPE = S3 LOCATIONS = ('s3://{bucket}/cairn') PROPERTIES ("
                f"'aws.s3.region' = '{S3_REGION}', 'aws.s3.endpoint' = '{moto_endpoint}', "
                f"'aws.s3.access_key' = '{S3_ACCESS_KEY}', 'aws.s3.secret_key' = '{S3_SECRET_KEY}', "
                "'aws.s3.enable_path_style_access' = 'true')")
            cursor.execute("CREATE DATABASE d PROPERTIES ('storage_volume' = 'gone')")
            cursor.execute("CREATE TABLE d.t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1")
            cursor.execute("INSERT INTO d.t VALUES (1)")
            s3 = boto3.client("s3", endpoint_url=moto_endpoint, aws_access_key_id=S3_ACCESS_KEY,
                              aws_secret_access_key=S3_SECRET_KEY, region_name=S3_REGION)
            for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
            s3.delete_bucket(Bucket=bucket)
            with pytest.raises(pymysql.MySQLError) as failed:
                cursor.execute("INSERT INTO d.t VALUES (2)")
            message = str(failed.value)
            assert "ompute node" not in message, message
            assert bucket in message, message
            assert S3_SECRET_KEY not in message and CLUSTER_CREDENTIAL not in message
            # The node is still taken as healthy: nothing of its own failed.
            cursor.execute("SHOW COMPUTE NODES")
            assert [row[8] for row in cursor.fetchall()] == ["true"]
    finally:
        node.stop()
        fe.stop()


def test_fe_and_node_speak_tls_when_configured(tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    fe = start_fe(tmp_path, {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage"),
                             "cluster_credential": CLUSTER_CREDENTIAL, "heartbeat_interval_second": "0.5",
                             "cluster_tls_ca_file": str(cert_file), "embedded_compute_node": "false"})
    node = start_cn(tmp_path, {"cluster_tls_cert_file": str(cert_file), "cluster_tls_key_file": str(key_file)})
    try:
        with pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True) as conn, \
                conn.cursor() as cursor:
            cursor.execute(f'ALTER SYSTEM ADD COMPUTE NODE "{node.address}"')
            cursor.execute("CREATE DATABASE d")
            cursor.execute("CREATE TABLE d.t (a INT, b VARCHAR(8)) DISTRIBUTED BY HASH(a) BUCKETS 2")
            cursor.execute("INSERT INTO d.t VALUES (1, 'x'), (2, 'y'), (3, 'x')")
            cursor.execute("SELECT b, count(*), sum(a) FROM d.t WHERE a >= 1 GROUP BY b ORDER BY b")
            assert cursor.fetchall() == (("x", 2, 4), ("y", 1, 2))
            cursor.execute("SHOW COMPUTE NODES")
            assert [row[8] for row in cursor.fetchall()] == ["true"]
        plain = flight.FlightClient(node.data_location, middleware=[SendCredential(CLUSTER_CREDENTIAL)])
        with pytest.raises(flight.FlightError):
            list(plain.list_actions(options=flight.FlightCallOptions(timeout=10)))
        secure = flight.FlightClient(node.data_location.replace("grpc://", "grpc+tls://"),
                                     tls_root_certs=cert_file.read_bytes(),
                                     middleware=[SendCredential(CLUSTER_CREDENTIAL)])
        assert list(secure.list_actions())
        context = ssl.create_default_context(cafile=str(cert_file))
        with urllib.request.urlopen(f"https://127.0.0.1:{node.webserver_port}/api/health", timeout=10,
                                    context=context) as answer:
            assert answer.status == 200
        request = urllib.request.Request(f"https://{node.address}/heartbeat",
                                         headers={"Authorization": f"Bearer {CLUSTER_CREDENTIAL}"})
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            assert json.loads(answer.read())["counters"]["scans"] >= 1
    finally:
        node.stop()
        fe.stop()
    assert PLAINTEXT_WARNING not in fe.log.read_text()


PLAINTEXT_WARNING = "the cluster credential crosses the network unencrypted"


def test_an_fe_without_tls_warns_once_that_the_credential_travels_in_clear(tmp_path: Path) -> None:
    fe = start_fe(tmp_path, {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage"),
                             "cluster_credential": CLUSTER_CREDENTIAL})
    fe.stop()
    log = fe.log.read_text()
    assert log.count(PLAINTEXT_WARNING) == 1 and "cluster_tls_ca_file" in log, log
    assert CLUSTER_CREDENTIAL not in log


def test_requests_name_volumes_by_reference_and_a_node_learns_them_once(node: CnProcess, tmp_path: Path) -> None:
    secret = "volume-secret-in-definition-Qa71"
    s3 = StorageVolume(name="s3v", type=VolumeType.S3, locations=["s3://bucket/path"],
                       properties={"enabled": "true", "aws.s3.region": S3_REGION, "aws.s3.access_key": "AKIAQ",
                                   "aws.s3.secret_key": secret})
    ref = VolumeRef.of(s3)
    assert secret not in ref.model_dump_json()
    assert VolumeRef.of(s3.model_copy(update={"properties": {**s3.properties, "aws.s3.secret_key": "other"}})) != ref
    client = flight.FlightClient(node.data_location, middleware=[SendCredential(CLUSTER_CREDENTIAL)])
    unknown = _scan(tmp_path, volume=ref.model_dump())
    with pytest.raises(flight.FlightError, match="VolumeNotRegisteredError"):
        client.do_get(flight.Ticket(unknown)).read_all()
    answer = list(client.do_action(flight.Action("register_volume", s3.model_dump_json().encode())))
    assert VolumeRef.model_validate_json(answer[0].body.to_pybytes()) == ref
    assert secret not in node.log.read_text()
