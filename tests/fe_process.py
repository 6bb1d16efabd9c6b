"""Running a real `cairn fe` process on loopback ports for protocol tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import pymysql

from conftest import free_port, wait_for_port, write_conf

CAIRN = [sys.executable, "-m", "cairn.cli.main"]


@dataclass
class FeProcess:
    """A started FE: its ports, its process and where its log goes."""

    proc: subprocess.Popen
    query_port: int
    http_port: int
    log: Path
    edit_log_port: int = 0
    rpc_port: int = 0

    @property
    def peer_address(self) -> str:
        """`127.0.0.1:edit_log_port`: where its FE peer service listens."""
        return f"127.0.0.1:{self.edit_log_port}"

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        return self.proc.wait(timeout=30)


def start_fe(workdir: Path, values: dict[str, str], extra_args: list[str] | None = None) -> FeProcess:
    """Write fe.conf with `values` plus fresh ports (edit_log_port and rpc_port unless `values` names
    them), start `cairn fe --conf`, wait until it listens."""
    query_port, http_port = free_port(), free_port()
    edit_log_port = int(values.get("edit_log_port") or free_port())
    rpc_port = int(values.get("rpc_port") or free_port())
    conf = write_conf(workdir / "fe.conf", {**values, "query_port": str(query_port), "http_port": str(http_port),
                                           "edit_log_port": str(edit_log_port), "rpc_port": str(rpc_port)})
    log = workdir / f"fe-{query_port}.log"
    proc = subprocess.Popen([*CAIRN, "fe", "--conf", str(conf), *(extra_args or [])], stdout=log.open("w"),
                            stderr=subprocess.STDOUT, cwd=workdir)
    try:
        wait_for_port(query_port, timeout=60)
    except TimeoutError:
        proc.kill()
        raise AssertionError(f"FE did not start:\n{log.read_text()}") from None
    return FeProcess(proc, query_port, http_port, log, edit_log_port, rpc_port)


def start_local_fe(workdir: Path, **extra: str) -> FeProcess:
    """`start_fe` on a fresh cluster whose volume is a local directory under `workdir`."""
    return start_fe(workdir, {"meta_dir": str(workdir / "meta"), "local_storage_path": str(workdir / "storage"),
                              **extra})


@pytest.fixture(scope="module", name="fe")
def module_fe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeProcess]:
    """One local-volume FE shared by a test module (import `module_fe` to use it as `fe`)."""
    process = start_local_fe(tmp_path_factory.mktemp("fe"))
    yield process
    process.stop()


def run_sql(fe: FeProcess, *statements: str) -> list[tuple]:
    """Run `statements` as root over the MySQL protocol; the last one's rows."""
    connection = pymysql.connect(host="127.0.0.1", port=fe.query_port, user="root", autocommit=True,
                                 connect_timeout=10, read_timeout=60)
    rows: list[tuple] = []
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
                rows = list(cursor.fetchall())
    finally:
        connection.close()
    return rows
