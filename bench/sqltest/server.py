"""A local Cairn for the SQL cases: `cairn up` on loopback ports, over a fresh data directory."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pymysql


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalCairn:
    """One `cairn up` process (embedded engine, local directory volume); restartable on a fresh directory."""

    def __init__(self, start_timeout: float = 120.0) -> None:
        self.start_timeout = start_timeout
        self.root = Path(tempfile.mkdtemp(prefix="cairn-sqltest-run-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0

    @property
    def log(self) -> Path:
        """The current process's output."""
        return self.root / f"cairn-{self.starts}.log"

    def start(self) -> None:
        """Start `cairn up` on a fresh data directory and wait until it answers a query."""
        self.stop()
        self.starts += 1
        data = self.root / f"data-{self.starts}"
        self.port = _free_port()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cairn.cli.main", "up", "--data-dir", str(data), "--port", str(self.port),
                 "--http-port", str(_free_port()), "--edit-log-port", str(_free_port())], stdout=out, stderr=subprocess.STDOUT, cwd=self.root,
                start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cairn up exited: {self.log.read_text(errors='replace')[-2000:]}")
            if self.alive():
                return
            time.sleep(0.2)
        raise RuntimeError(f"cairn up did not answer within {self.start_timeout:g} s")

    def connect(self, timeout: float) -> Any:
        """A root connection whose reads give up after `timeout` seconds."""
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True,
                               connect_timeout=10, read_timeout=timeout, write_timeout=timeout,
                               client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)

    def alive(self) -> bool:
        """Whether the process runs and answers `SELECT 1`."""
        if self.proc is None or self.proc.poll() is not None:
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
        """Stop the process (its whole process group)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)
        self.proc = None

    def close(self) -> None:
        """Stop and remove every data directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
