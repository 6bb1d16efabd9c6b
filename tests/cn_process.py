"""Running real `cairn cn` processes on loopback ports for compute-node tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from conftest import CLUSTER_CREDENTIAL, free_port, wait_for_port, write_conf
from fe_process import CAIRN


@dataclass
class CnProcess:
    """A started compute node: its ports, process, conf and log."""

    proc: subprocess.Popen
    heartbeat_port: int
    webserver_port: int
    conf: Path
    log: Path
    root: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.heartbeat_port}"

    @property
    def data_location(self) -> str:
        """Where its Arrow Flight data service listens."""
        values = dict(line.split(" = ", 1) for line in self.conf.read_text().splitlines() if " = " in line)
        return f"grpc://127.0.0.1:{values['thrift_port']}"

    def report(self) -> dict:
        """What the node answers to a heartbeat (cache figures, counters, running work)."""
        request = urllib.request.Request(f"http://{self.address}/heartbeat",
                                         headers={"Authorization": f"Bearer {CLUSTER_CREDENTIAL}"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read())

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def start_cn(workdir: Path, values: dict[str, str] | None = None, name: str = "cn",
             ports: tuple[int, int, int] | None = None, args: list[str] | None = None) -> CnProcess:
    """Write cn.conf (fresh ports unless `ports` = heartbeat, thrift, webserver), start `cairn cn`
    (with `args`), wait."""
    heartbeat, thrift, web = ports or (free_port(), free_port(), free_port())
    root = workdir / name
    root.mkdir(parents=True, exist_ok=True)
    conf = write_conf(root / "cn.conf", {
        "heartbeat_service_port": str(heartbeat), "thrift_port": str(thrift), "webserver_port": str(web),
        "brpc_port": str(free_port()), "storage_root_path": str(root / "storage"),
        "cluster_credential": CLUSTER_CREDENTIAL, **(values or {})})
    log = root / "cn.log"
    proc = subprocess.Popen([*CAIRN, "cn", "--conf", str(conf), *(args or [])], stdout=log.open("a"), stderr=subprocess.STDOUT,
                            cwd=root)
    try:
        wait_for_port(heartbeat, timeout=60)
        wait_for_port(thrift, timeout=30)
    except TimeoutError:
        proc.kill()
        raise AssertionError(f"CN did not start:\n{log.read_text()}") from None
    return CnProcess(proc, heartbeat, web, conf, log, root)


def restart_cn(old: CnProcess, workdir: Path, name: str) -> CnProcess:
    """Start a node again on the same ports and storage root (as after a crash)."""
    values = dict(line.split(" = ", 1) for line in old.conf.read_text().splitlines() if " = " in line)
    thrift = int(values["thrift_port"])
    return start_cn(workdir, values, name, ports=(old.heartbeat_port, thrift, old.webserver_port))
