"""The cluster a chaos run attacks: moto's S3 server, one `cairn fe` and `cairn cn` processes, all on
127.0.0.1, each of which can be killed with SIGKILL and started again on the same ports and disks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pymysql

from bench.s3_server import command as s3_server_command
from cairn.config.cluster_credential import new_credential
from cairn.storage.fault_injection import ENV_VAR

CAIRN = [sys.executable, "-m", "cairn.cli.main"]
# Moto takes any credentials; AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY choose them (the tests pass
# their distinctive ones, so that the secrets scan covers the chaos run).
ACCESS_KEY = os.environ.get("AWS_ACCESS_KEY_ID", "chaos-access")
SECRET_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "chaos-secret-Vb27")
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 120.0) -> None:
    """Wait until something listens on `port`; raise RuntimeError if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def write_conf(path: Path, values: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    return path


@dataclass
class Node:
    """One process of the cluster: how to start it, and the running process if any."""

    name: str
    command: list[str]
    workdir: Path
    port: int
    proc: subprocess.Popen | None = None
    starts: int = 0

    def start(self, faults: str = "", extra_args: tuple[str, ...] = ()) -> None:
        env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
        if faults:
            env[ENV_VAR] = faults
        log = (self.workdir / f"{self.name}.log").open("a")
        log.write(f"--- start {self.starts} faults={faults or 'none'} {' '.join(extra_args)}\n")
        log.flush()
        self.proc = subprocess.Popen([*self.command, *extra_args], stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.workdir, env=env)
        self.starts += 1
        wait_for_port(self.port, self.proc)

    def kill(self) -> None:
        """SIGKILL the process (a crash: no shutdown code runs)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


@dataclass
class Cluster:
    """Moto S3, an FE and `cn_count` compute nodes under `root`."""

    root: Path
    cn_count: int = 2
    fe_conf_extra: dict[str, str] = field(default_factory=dict)
    moto: subprocess.Popen | None = None
    fe: Node | None = None
    cns: list[Node] = field(default_factory=list)
    endpoint: str = ""
    bucket: str = ""
    fe_http_port: int = 0
    # What the FE and its compute nodes share (config/cluster_credential.py).
    # CAIRN_CLUSTER_CREDENTIAL chooses it (the tests pass their distinctive one to the secrets scan).
    credential: str = field(default_factory=lambda: os.environ.get("CAIRN_CLUSTER_CREDENTIAL") or new_credential())

    def start_storage(self) -> None:
        port = free_port()
        self.moto = subprocess.Popen(s3_server_command(port),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, self.moto)
        self.endpoint = f"http://127.0.0.1:{port}"
        self.bucket = f"chaos-{uuid.uuid4().hex[:10]}"
        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                     aws_secret_access_key=SECRET_KEY, region_name=REGION).create_bucket(Bucket=self.bucket)

    @property
    def fe_values(self) -> dict[str, str]:
        return {"meta_dir": str(self.root / "fe" / "meta"), "enable_load_volume_from_conf": "true",
                "aws_s3_path": f"{self.bucket}/data", "aws_s3_endpoint": self.endpoint,
                "aws_s3_region": REGION, "aws_s3_access_key": ACCESS_KEY, "aws_s3_secret_key": SECRET_KEY,
                "cluster_credential": self.credential, **self.fe_conf_extra}

    def create_nodes(self) -> None:
        query, http = free_port(), free_port()
        conf = write_conf(self.root / "fe" / "fe.conf",
                          {**self.fe_values, "query_port": str(query), "http_port": str(http),
                           "edit_log_port": str(free_port()), "rpc_port": str(free_port())})
        self.fe = Node("fe", [*CAIRN, "fe", "--conf", str(conf)], conf.parent, query)
        self.fe_http_port = http
        self.create_cns()

    def create_cns(self) -> None:
        """`cn_count` compute nodes, each with its own ports and storage under `root`."""
        for number in range(self.cn_count):
            heartbeat = free_port()
            workdir = self.root / f"cn{number}"
            conf = write_conf(workdir / "cn.conf", {
                "heartbeat_service_port": str(heartbeat), "thrift_port": str(free_port()),
                "webserver_port": str(free_port()), "brpc_port": str(free_port()),
                "storage_root_path": str(workdir / "storage"), "cluster_credential": self.credential})
            self.cns.append(Node(f"cn{number}", [*CAIRN, "cn", "--conf", str(conf)], workdir, heartbeat))

    def connect(self, timeout: float = 60.0) -> pymysql.connections.Connection:
        """A root connection to the FE, retried while it starts (raise the last error after `timeout`)."""
        assert self.fe is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                return pymysql.connect(host="127.0.0.1", port=self.fe.port, user="root", autocommit=True,
                                       connect_timeout=10, read_timeout=120, write_timeout=60)
            except pymysql.MySQLError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def cluster_id(self) -> str:
        return str(json.loads((Path(self.fe_values["meta_dir"]) / "cluster.json").read_text())["cluster_id"])

    def stop(self) -> None:
        for node in [*self.cns, *([self.fe] if self.fe else [])]:
            node.stop()
        if self.moto is not None:
            self.moto.terminate()
            self.moto.wait(timeout=30)


def report_violations_and_logs(violations: list[str], status: int, root: Path, keep: bool,
                               workdir_given: bool) -> None:
    """The end of a chaos run's summary: its violations, then where its logs are, or (a clean run
    nobody asked to keep) remove them."""
    for violation in violations[:50]:
        print(f"  violation: {violation}", flush=True)
    if status == 0 and not keep and not workdir_given:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"  logs: {root}", flush=True)
