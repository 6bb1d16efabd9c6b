"""Compute nodes that `cairn up --cn N` runs beside its FE, as child processes on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cairn import keyring
from cairn.config.cluster_credential import CREDENTIAL_ENV
from cairn.errors import ConfigError

START_SECONDS = 60.0


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def is_listening(port: int) -> bool:
    """True when something accepts connections on the loopback port."""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class LocalNode:
    """One child compute node: its process and the address the FE registers."""

    process: subprocess.Popen[bytes]
    heartbeat_port: int
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.heartbeat_port}"


def start_local_nodes(count: int, data_dir: Path, credential: str) -> list[LocalNode]:
    """Start `count` compute nodes (each with its cache under data_dir/cn<i>) and wait until they serve.
    They receive the cluster credential in their environment (never in a file)."""
    nodes = []
    try:
        for index in range(count):
            root = data_dir / f"cn{index}"
            root.mkdir(parents=True, exist_ok=True)
            heartbeat, thrift, web, brpc = (free_port() for _ in range(4))
            conf = root / "cn.conf"
            conf.write_text(f"heartbeat_service_port = {heartbeat}\nthrift_port = {thrift}\n"
                            f"webserver_port = {web}\nbrpc_port = {brpc}\nstorage_root_path = {root / 'storage'}\n")
            log = root / "cn.log"
            process = subprocess.Popen([sys.executable, "-m", "cairn.cli.main", "cn", "--conf", str(conf)],
                                       stdout=log.open("a"), stderr=subprocess.STDOUT,
                                       env={**keyring.environment_without_keys(), CREDENTIAL_ENV: credential})
            nodes.append(LocalNode(process, heartbeat, log))
            deadline = time.monotonic() + START_SECONDS
            while not (is_listening(heartbeat) and is_listening(thrift)):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ConfigError(f"compute node {index} did not start; see {log}")
                time.sleep(0.1)
    except BaseException:
        stop_local_nodes(nodes)
        raise
    return nodes


def stop_local_nodes(nodes: list[LocalNode]) -> None:
    for node in nodes:
        if node.process.poll() is None:
            node.process.terminate()
    for node in nodes:
        try:
            node.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.process.kill()
