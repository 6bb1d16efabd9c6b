"""A local Cairn for the SQL cases: `cairn up` on loopback ports, over a fresh data directory; or, with
`engine`, `cairn fe` with the distributed engine on and one `cairn cn --join` hosting its worker."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pymysql


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The cluster credential an engine run's FE and CN share (given in their environment, never a file).
CREDENTIAL_ENV = "CAIRN_CLUSTER_CREDENTIAL"


def _conf(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    return path


class LocalCairn:
    """One `cairn up` process (embedded engine, local directory volume); restartable on a fresh directory.
    With `engine`, a `cairn fe` whose distributed engine is on and one `cairn cn` whose worker has joined
    it, on the same kind of volume: every SELECT the engine verifies runs there."""

    def __init__(self, start_timeout: float = 120.0, engine: bool = False) -> None:
        self.start_timeout = start_timeout
        self.engine = engine
        self.root = Path(tempfile.mkdtemp(prefix="cairn-sqltest-run-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.cn: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.http_port = 0
        self.starts = 0

    @property
    def log(self) -> Path:
        """The current process's output."""
        return self.root / f"cairn-{self.starts}.log"

    def start(self) -> None:
        """Start `cairn up` (or, with `engine`, the FE and its CN) on a fresh data directory and wait
        until it answers a query (and the CN's engine worker has joined)."""
        self.stop()
        self.starts += 1
        data = self.root / f"data-{self.starts}"
        self.port, self.http_port, edit_log_port = _free_port(), _free_port(), _free_port()
        if not self.engine:
            command = ["up", "--data-dir", str(data), "--port", str(self.port), "--http-port", str(self.http_port),
                       "--edit-log-port", str(edit_log_port)]
            self.proc = self._spawn(command, self.log, os.environ)
        else:
            data.mkdir()
            env = {**os.environ, CREDENTIAL_ENV: secrets.token_hex(16)}
            conf = _conf(data / "fe.conf", {
                "meta_dir": str(data / "meta"), "local_storage_path": str(data / "storage"),
                "query_port": str(self.port), "http_port": str(self.http_port), "edit_log_port": str(edit_log_port),
                "rpc_port": str(_free_port()), "cairn_distributed_engine": "true", "heartbeat_interval_second": "1"})
            self.proc = self._spawn(["fe", "--conf", str(conf)], self.log, env)
        self._wait(self.alive, "cairn did not answer")
        if self.engine:
            cn_log = self.root / f"cn-{self.starts}.log"
            conf = _conf(data / "cn.conf", {
                "heartbeat_service_port": str(_free_port()), "thrift_port": str(_free_port()),
                "webserver_port": str(_free_port()), "brpc_port": str(_free_port()),
                "storage_root_path": str(data / "cn"), "cairn_distributed_engine": "true", "cairn_engine_cpus": "1",
                "cairn_engine_object_store_size": "256M"})
            self.cn = self._spawn(["cn", "--conf", str(conf), "--join", f"127.0.0.1:{edit_log_port}"], cn_log, env)
            self._wait(lambda: "distributed engine worker joined" in cn_log.read_text(errors="replace"),
                       "the CN's engine worker did not join")

    def _spawn(self, command: list[str], log: Path, env: os._Environ[str] | dict[str, str]) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen([sys.executable, "-m", "cairn.cli.main", *command], stdout=out,
                                    stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True, env=env)

    def _wait(self, ready: Any, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if any(proc is not None and proc.poll() is not None for proc in (self.proc, self.cn)):
                raise RuntimeError(f"a cairn process exited (see {self.root}): "
                                   f"{self.log.read_text(errors='replace')[-2000:]}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} within {self.start_timeout:g} s")

    def engine_answers(self) -> float:
        """How many queries the distributed engine has answered (`cairn_distributed_queries_total`)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=10) as answer:
            found = re.search(r"^cairn_distributed_queries_total (\S+)$", answer.read().decode(), re.M)
        return float(found.group(1)) if found else 0.0

    def connect(self, timeout: float) -> Any:
        """A root connection whose reads give up after `timeout` seconds."""
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True,
                               connect_timeout=10, read_timeout=timeout, write_timeout=timeout,
                               client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)

    def alive(self) -> bool:
        """Whether the process runs and answers `SELECT 1`."""
        if self.proc is None or self.proc.poll() is not None or (self.cn is not None and self.cn.poll() is not None):
            return False
        try:
            connection = self.connect(10)
        except pymysql.Error:
            return False
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchall()
            return True
        except pymysql.Error:
            return False
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop the processes (each one's whole process group), the CN first."""
        for proc in (self.cn, self.proc):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=20)
        self.proc = self.cn = None

    def close(self) -> None:
        """Stop and remove every data directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
