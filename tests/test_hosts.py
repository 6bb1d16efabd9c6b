"""`CAIRN_HOSTS`: host names resolved from a map handed to every process, then by the system.

An FE and a compute node bound to their own loopback addresses under names only the map knows (as
Kubernetes pods are known by `<pod>.<headless service>`): a second FE joins the first through its
name, forwarded statements reach the leader by name, the compute node registers itself through an
FE's name (`--join`), and the FE heartbeats and queries it by its name.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from cairn.config.hosts import HOSTS_ENV, HOSTS_FILE_ENV, create_connection, hosts_map, resolve_host, urlopen
from cairn.errors import ConfigError
from conftest import CLUSTER_CREDENTIAL, free_port, wait_until, write_conf
from fe_process import CAIRN


def test_names_in_the_map_resolve_to_its_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOSTS_ENV, json.dumps({"sr-fe-0.sr-fe-search": "127.0.0.10", "Svc.NS.svc.cluster.local.":
                                              "127.0.0.11"}))
    assert resolve_host("sr-fe-0.sr-fe-search") == "127.0.0.10"
    assert resolve_host("SR-FE-0.sr-fe-search.") == "127.0.0.10"
    assert resolve_host("svc.ns.svc.cluster.local") == "127.0.0.11"
    # Names the map does not hold, and addresses, are the system resolver's.
    assert resolve_host("localhost") == "localhost"
    assert resolve_host("127.0.0.1") == "127.0.0.1"


def test_without_the_variable_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOSTS_ENV, raising=False)
    assert hosts_map() == {}
    assert resolve_host("localhost") == "localhost"


def test_the_hosts_file_is_read_again_when_it_changes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.json"
    hosts.write_text(json.dumps({"a.svc": "127.0.0.20"}))
    monkeypatch.setenv(HOSTS_ENV, json.dumps({"a.svc": "127.0.0.30", "b.svc": "127.0.0.31"}))
    monkeypatch.setenv(HOSTS_FILE_ENV, str(hosts))
    assert (resolve_host("a.svc"), resolve_host("b.svc"), resolve_host("c.svc")) == ("127.0.0.20", "127.0.0.31",
                                                                                    "c.svc")
    # Replaced as a writer would (a new file renamed over the old): a name that appeared later.
    (tmp_path / "next.json").write_text(json.dumps({"a.svc": "127.0.0.20", "c.svc": "127.0.0.21"}))
    (tmp_path / "next.json").rename(hosts)
    assert resolve_host("c.svc") == "127.0.0.21"
    hosts.unlink()
    with pytest.raises(ConfigError, match=HOSTS_FILE_ENV):
        resolve_host("a.svc")


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"a": 1}'])
def test_a_malformed_map_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(HOSTS_ENV, text)
    with pytest.raises(ConfigError, match=HOSTS_ENV):
        resolve_host("x")


def test_connections_go_to_the_mapped_address(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.12", 0))
        server.listen()
        port = server.getsockname()[1]
        monkeypatch.setenv(HOSTS_ENV, json.dumps({"db.example.invalid": "127.0.0.12"}))
        with create_connection(("db.example.invalid", port), timeout=5) as sock:
            assert sock.getpeername() == ("127.0.0.12", port)


def test_urlopen_resolves_the_url_host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "hello").write_text("hi")
    port = free_port()
    proc = subprocess.Popen(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.13"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _listening("127.0.0.13", port), 30, "the HTTP server")
        monkeypatch.setenv(HOSTS_ENV, json.dumps({"web.example.invalid": "127.0.0.13"}))
        with urlopen(f"http://web.example.invalid:{port}/hello", timeout=5) as answer:
            assert answer.read() == b"hi"
    finally:
        proc.kill()
        proc.wait()


# -- FEs and a compute node known by names only the map holds ------------------------------------

FE_A, FE_B, CN_A = "fe-a.fe-search", "fe-b.fe-search.default.svc.cluster.local", "cn-a.cn-search"
HOSTS = {FE_A: "127.0.0.11", FE_B: "127.0.0.12", CN_A: "127.0.0.13"}


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


class Named:
    """A `cairn fe` / `cairn cn` process started with CAIRN_HOSTS, bound under a name."""

    def __init__(self, workdir: Path, role: str, values: dict[str, str], port: int, args: list[str]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        conf = write_conf(workdir / f"{role}.conf", values)
        self.log = workdir / f"{role}.log"
        env = {**os.environ, HOSTS_ENV: json.dumps(HOSTS)}
        self.proc = subprocess.Popen([*CAIRN, role, "--conf", str(conf), *args], stdout=self.log.open("w"),
                                     stderr=subprocess.STDOUT, cwd=workdir, env=env)
        address = HOSTS[values.get("frontend_address") or values["host"]]
        deadline = time.monotonic() + 60
        while not _listening(address, port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"{role} did not start on {address}:{port}:\n{self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


def _sql(address: str, port: int, statement: str) -> list[tuple]:
    connection = pymysql.connect(host=address, port=port, user="root", autocommit=True, read_timeout=60)
    with connection, connection.cursor() as cursor:
        cursor.execute(statement)
        return list(cursor.fetchall())


@pytest.fixture
def started() -> Iterator[list[Named]]:
    processes: list[Named] = []
    yield processes
    for process in processes:
        process.stop()


def test_fes_and_a_compute_node_find_each_other_by_mapped_names(tmp_path: Path, started: list[Named]) -> None:
    ports = {"query_port": free_port(), "http_port": free_port(), "edit_log_port": free_port(),
             "rpc_port": free_port()}
    shared = {"local_storage_path": str(tmp_path / "storage"), "cluster_credential": CLUSTER_CREDENTIAL,
              "heartbeat_interval_second": "0.5", "heartbeat_retry_times": "1", **{k: str(v) for k, v in
                                                                                  ports.items()}}
    query, edit_log = ports["query_port"], ports["edit_log_port"]
    started.append(Named(tmp_path / "a", "fe", {**shared, "frontend_address": FE_A,
                                                "meta_dir": str(tmp_path / "a" / "meta")}, query, []))
    # The same ports on another address: each "pod" keeps the standard ports.
    _sql("127.0.0.11", query, f'ALTER SYSTEM ADD FOLLOWER "{FE_B}:{edit_log}"')
    started.append(Named(tmp_path / "b", "fe", {**shared, "frontend_address": FE_B,
                                                "meta_dir": str(tmp_path / "b" / "meta")}, query,
                         ["--helper", f"{FE_A}:{edit_log}"]))
    # The follower forwards a write to the leader it knows by name.
    _sql("127.0.0.12", query, "CREATE DATABASE d")
    _sql("127.0.0.12", query, "CREATE TABLE d.t (k INT, v STRING) DISTRIBUTED BY HASH(k) BUCKETS 2")
    _sql("127.0.0.12", query, "INSERT INTO d.t VALUES (1, 'one'), (2, 'two')")

    def frontends_alive() -> bool:
        rows = _sql("127.0.0.12", query, "SHOW FRONTENDS")
        return sorted(r[1] for r in rows) == sorted([FE_A, FE_B]) and all(str(r[9]) == "true" for r in rows)

    wait_until(frontends_alive, 60, "both FEs alive, listed by their names")

    heartbeat, thrift, web = free_port(), free_port(), free_port()
    started.append(Named(tmp_path / "cn", "cn", {
        "host": CN_A, "heartbeat_service_port": str(heartbeat), "thrift_port": str(thrift),
        "webserver_port": str(web), "brpc_port": str(free_port()), "storage_root_path": str(tmp_path / "cn"),
        "cluster_credential": CLUSTER_CREDENTIAL}, heartbeat, ["--join", f"{FE_B}:{edit_log}"]))
    # The node registers itself through the follower, which forwards to the leader, by names only.
    wait_until(lambda: [(r[1], r[8]) for r in _sql("127.0.0.11", query, "SHOW COMPUTE NODES")] == [(CN_A, "true")],
               60, "the compute node alive")
    # The scan runs on the node, reached by its name through the Flight client.
    assert sorted(_sql("127.0.0.11", query, "SELECT k, v FROM d.t")) == [(1, "one"), (2, "two")]
    request = urllib.request.Request(f"http://127.0.0.13:{heartbeat}/heartbeat",
                                     headers={"Authorization": f"Bearer {CLUSTER_CREDENTIAL}"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert json.loads(answer.read())["counters"].get("scans", 0) > 0
