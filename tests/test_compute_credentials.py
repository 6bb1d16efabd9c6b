"""Compute nodes get narrower object-store credentials than FEs.

An S3 store that enforces IAM policies (a moto server of this module's own, with its IAM checks on)
holds a cluster whose FE has keys for the whole bucket and whose compute nodes are given keys
allowed only `<location>/<cluster id>/data/`. Loads and queries run through a real `cairn cn`
with those keys, and the same keys are refused the cluster's journal by the store itself.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pyarrow.flight as flight
import pymysql
import pytest
from botocore.exceptions import ClientError

from bench.s3_server import command as s3_server_command
from cairn.compute.flight_auth import SendCredential
from cairn.compute.requests import VolumeRef
from cairn.errors import StorageVolumeError
from cairn.storage.volume import StorageVolume, VolumeType
from cn_process import CnProcess, start_cn
from conftest import CLUSTER_CREDENTIAL, S3_REGION, free_port, wait_for_port, wait_until
from fe_process import FeProcess, start_fe

CLUSTER = "c0ffee00-0000-4000-8000-00000000c4ed"
PREFIX = "cairn"
BUCKET = "cairn-compute-credentials"
WARNING = "has no compute credentials"
BUILTIN_WARNING = f"storage volume builtin_storage_volume {WARNING}"


@dataclass(frozen=True)
class Keys:
    access: str
    secret: str


@dataclass(frozen=True)
class IamStore:
    """The moto server enforcing IAM, and the keys of its two principals."""

    endpoint: str
    admin: Keys
    compute: Keys

    def s3(self, keys: Keys) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=keys.access,
                            aws_secret_access_key=keys.secret, region_name=S3_REGION)


def _user(iam: Any, name: str, statements: list[dict]) -> Keys:
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName=f"{name}-policy",
                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Keys(key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="module")
def iam_store() -> Iterator[IamStore]:
    """A moto server of this module's own (IAM checks would refuse the session server's fixed keys):
    principals and bucket are made first, then every request must be signed by a principal allowed it."""
    port = free_port()
    proc = subprocess.Popen(s3_server_command(port),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port)
        setup = {"endpoint_url": endpoint, "region_name": S3_REGION, "aws_access_key_id": "setup",
                 "aws_secret_access_key": "setup"}
        iam = boto3.client("iam", **setup)
        boto3.client("s3", **setup).create_bucket(Bucket=BUCKET)
        admin = _user(iam, "cairn-fe", [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
        compute = _user(iam, "cairn-cn", [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                                           "Resource": f"arn:aws:s3:::{BUCKET}/{PREFIX}/{CLUSTER}/data/*"}])
        request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                         headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.loads(answer.read())["status"] == "ok"
        yield IamStore(endpoint, admin, compute)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Cluster:
    fe: FeProcess
    node: CnProcess

    def run(self, *statements: str) -> list[tuple]:
        with pymysql.connect(host="127.0.0.1", port=self.fe.query_port, user="root", autocommit=True) as conn, \
                conn.cursor() as cursor:
            rows: list[tuple] = []
            for statement in statements:
                cursor.execute(statement)
                rows = list(cursor.fetchall())
            return rows


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, iam_store: IamStore) -> Iterator[Cluster]:
    """An FE on the bucket with the admin's keys, the builtin volume's compute credentials set in
    fe.conf, and one compute node doing all data work (one cluster for the module: tests use their
    own databases)."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    fe = start_fe(tmp_path, {
        "meta_dir": str(tmp_path / "meta"), "cluster_id": CLUSTER, "cluster_credential": CLUSTER_CREDENTIAL,
        "heartbeat_interval_second": "0.5", "embedded_compute_node": "false",
        "lake_compaction_score_selector_min_score": "2", "lake_compaction_interval_seconds": "0.3",
        "run_mode": "shared_data", "cloud_native_storage_type": "S3", "enable_load_volume_from_conf": "true",
        "aws_s3_path": f"{BUCKET}/{PREFIX}", "aws_s3_endpoint": iam_store.endpoint, "aws_s3_region": S3_REGION,
        "aws_s3_access_key": iam_store.admin.access, "aws_s3_secret_key": iam_store.admin.secret,
        "aws_s3_enable_path_style_access": "true",
        "aws_s3_compute_access_key": iam_store.compute.access,
        "aws_s3_compute_secret_key": iam_store.compute.secret})
    node = start_cn(tmp_path)
    started = Cluster(fe, node)
    try:
        started.run(f'ALTER SYSTEM ADD COMPUTE NODE "{node.address}"')
        wait_until(lambda: [r[8] for r in started.run("SHOW COMPUTE NODES")] == ["true"], what="the node alive")
        yield started
    finally:
        node.stop()
        fe.stop()


def _journal_key(iam_store: IamStore) -> str:
    listed = iam_store.s3(iam_store.admin).list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{CLUSTER}/meta/journal/")
    return str(listed["Contents"][0]["Key"])


def _data_keys(iam_store: IamStore) -> list[str]:
    listed = iam_store.s3(iam_store.admin).list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{CLUSTER}/data/")
    return [item["Key"] for item in listed.get("Contents", []) if item["Key"].endswith(".parquet")]


def test_nodes_load_and_query_with_data_only_keys_that_cannot_read_the_journal(
        cluster: Cluster, iam_store: IamStore) -> None:
    cluster.run("CREATE DATABASE d", "CREATE TABLE d.t (a INT, b VARCHAR(8)) DISTRIBUTED BY HASH(a) BUCKETS 2",
                "INSERT INTO d.t VALUES (1, 'x'), (2, 'y'), (3, 'x')")
    assert cluster.run("SELECT b, count(*), sum(a) FROM d.t GROUP BY b ORDER BY b") == [("x", 2, 4), ("y", 1, 2)]
    cluster.run("INSERT INTO d.t VALUES (4, 'y')")
    # Compaction runs on the node too: it reads the rowsets and writes the merged one.
    wait_until(lambda: cluster.node.report()["counters"].get("compactions", 0) > 0, what="a compaction on the node")
    assert cluster.run("SELECT b, count(*), sum(a) FROM d.t GROUP BY b ORDER BY b") == [("x", 2, 4), ("y", 2, 6)]
    counters = cluster.node.report()["counters"]
    assert counters["writes"] >= 2 and counters["scans"] >= 2

    # The narrowing is the store's: the nodes' keys read data, and are refused the journal.
    compute = iam_store.s3(iam_store.compute)
    data = _data_keys(iam_store)
    assert data and compute.get_object(Bucket=BUCKET, Key=data[0])["Body"].read()[:4] == b"PAR1"
    with pytest.raises(ClientError) as denied:
        compute.get_object(Bucket=BUCKET, Key=_journal_key(iam_store))
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as denied:
        compute.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{CLUSTER}/meta/journal/000001/{10**6:020d}", Body=b"{}")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"

    # A request naming the journal is refused by the node before any store sees it.
    request = {"volume": {"name": "builtin_storage_volume", "version": "0" * 32}, "cluster_id": CLUSTER,
               "table": {"id": 2, "name": "t", "columns": [{"name": "a", "type": "INT"}]},
               "rowsets": [{"key": f"{CLUSTER}/meta/journal/000001/{1:020d}"}]}
    client = flight.FlightClient(cluster.node.data_location, middleware=[SendCredential(CLUSTER_CREDENTIAL)])
    with pytest.raises(flight.FlightError, match="ComputeRequestRefusedError"):
        client.do_get(flight.Ticket(json.dumps(request).encode())).read_all()

    # The compute keys are secrets: masked in DESC, sealed in the journal, absent from every log.
    params = cluster.run("DESC STORAGE VOLUME builtin_storage_volume")[0][4]
    assert json.loads(params)["cairn.compute.aws.s3.secret_key"] == "******"
    secrets = [iam_store.compute.secret, iam_store.admin.secret]
    admin = iam_store.s3(iam_store.admin)
    for key in [item["Key"] for item in admin.list_objects_v2(Bucket=BUCKET)["Contents"]]:
        body = admin.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert not any(s.encode() in body for s in secrets), key
    logs = cluster.fe.log.read_text() + cluster.node.log.read_text()
    assert not any(s in logs for s in secrets)
    assert BUILTIN_WARNING not in logs


def test_a_volume_without_compute_credentials_still_works_and_is_warned_about_once(
        cluster: Cluster, iam_store: IamStore) -> None:
    admin = iam_store.admin
    cluster.run(
        f"CREATE STORAGE VOLUME wide TYPE = S3 LOCATIONS = ('s3://{BUCKET}/other') PROPERTIES ("
        f"'aws.s3.region' = '{S3_REGION}', 'aws.s3.endpoint' = '{iam_store.endpoint}', "
        f"'aws.s3.access_key' = '{admin.access}', 'aws.s3.secret_key' = '{admin.secret}', "
        "'aws.s3.enable_path_style_access' = 'true')",
        "CREATE DATABASE w PROPERTIES ('storage_volume' = 'wide')",
        "CREATE TABLE w.t (a INT) DISTRIBUTED BY HASH(a) BUCKETS 1",
        "INSERT INTO w.t VALUES (1)", "INSERT INTO w.t VALUES (2)")
    assert cluster.run("SELECT sum(a) FROM w.t") == [(3,)]
    assert cluster.fe.log.read_text().count("storage volume wide has no compute credentials") == 1

    # Given compute credentials, nodes use those: these are allowed nothing under this location.
    compute = iam_store.compute
    cluster.run("ALTER STORAGE VOLUME wide SET ("
                f"'cairn.compute.aws.s3.access_key' = '{compute.access}', "
                f"'cairn.compute.aws.s3.secret_key' = '{compute.secret}')")
    with pytest.raises(pymysql.MySQLError) as denied:
        cluster.run("INSERT INTO w.t VALUES (3)")
    message = str(denied.value)
    assert "access denied" in message and compute.secret not in message and admin.secret not in message


def test_what_a_node_is_given_of_a_volume() -> None:
    volume = StorageVolume(name="v", type=VolumeType.S3, locations=["s3://bucket/path"], properties={
        "aws.s3.region": S3_REGION, "aws.s3.access_key": "fe-key", "aws.s3.secret_key": "fe-secret",
        "aws.s3.iam_role_arn": "arn:aws:iam::1:role/fe",
        "cairn.compute.aws.s3.access_key": "cn-key", "cairn.compute.aws.s3.secret_key": "cn-secret"})
    volume.validate_definition()
    given = volume.for_compute_nodes()
    assert given.properties == {"aws.s3.region": S3_REGION, "aws.s3.access_key": "cn-key",
                                "aws.s3.secret_key": "cn-secret"}
    assert not volume.gives_nodes_its_own_keys and VolumeRef.of(given) != VolumeRef.of(volume)
    assert volume.public_properties()["cairn.compute.aws.s3.access_key"] == "******"
    plain = volume.model_copy(update={"properties": {k: v for k, v in volume.properties.items()
                                                     if not k.startswith("cairn.compute.")}})
    assert plain.gives_nodes_its_own_keys and plain.for_compute_nodes() == plain
    half = volume.model_copy(update={"properties": {**plain.properties, "cairn.compute.aws.s3.access_key": "k"}})
    with pytest.raises(StorageVolumeError, match="must be given together"):
        half.validate_definition()
    local = StorageVolume(name="l", type=VolumeType.LOCAL, locations=["/tmp/x"])
    assert not local.gives_nodes_its_own_keys and local.for_compute_nodes() == local
