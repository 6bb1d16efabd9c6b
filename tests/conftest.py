"""Shared fixtures: every storage-touching test runs on a local directory and on moto's S3 server."""

from __future__ import annotations

import itertools
import os
import random
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from bench.s3_server import command as s3_server_command
import cairn.api
import cairn.secrets
from cairn.api import load_config
from cairn.config.fe_config import FeConfig
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from secrets_scan import (
    CLUSTER_CREDENTIAL,
    S3_ACCESS_KEY,
    S3_SECRET_KEY,
    SECRETS,
    USER_PASSWORD,
    ConfValues,
    SecretsScan,
    moto_objects,
    scan_objects,
)

S3_REGION = "us-east-1"
__all__ = ["CLUSTER_CREDENTIAL", "S3_ACCESS_KEY", "S3_SECRET_KEY", "SECRETS", "USER_PASSWORD"]


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SecretsScan(config), "secrets_scan")


@pytest.fixture(autouse=True)
def _secrets_registered_per_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets a test registers (a fuzzer's random `aws_s3_secret_key = key`, say) are masked in
    that test's texts only, not in every later test's messages."""
    monkeypatch.setattr(cairn.secrets, "_secrets", set(cairn.secrets._secrets))


def _port_block() -> range:
    """This test process's own block of ports, below the kernel's ephemeral range (32768 and up), so
    that neither another test worker nor an outgoing connection's local port can take a port between
    the moment a test picks it and the moment its server binds it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = 10000 + (index % 5) * 4000
    return range(start, start + 4000)


_PORTS = _port_block()
_next_port = itertools.count(random.randrange(len(_PORTS)))


def free_port() -> int:
    """A port of this process's block that nothing listens on now, never handed out twice in a row."""
    for _ in range(len(_PORTS)):
        port = _PORTS[next(_next_port) % len(_PORTS)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {_PORTS}")


def wait_until(condition: Callable[[], object], timeout: float = 60.0, what: str = "the condition") -> None:
    """Poll `condition` until it is true; fail the test if it is still false after `timeout` seconds
    (a bound for a loaded machine, never a measure of speed)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout:.0f} s")
        time.sleep(0.05)


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture(scope="session")
def moto_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """A real S3 HTTP endpoint: moto's server on loopback, for the whole test session. At the end,
    every object the tests stored in it goes through the secrets scan."""
    port = free_port()
    proc = subprocess.Popen(s3_server_command(port),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
        request.config.pluginmanager.get_plugin("secrets_scan").hits.extend(
            scan_objects(moto_objects(s3_client(f"http://127.0.0.1:{port}"))))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_ACCESS_KEY,
                        aws_secret_access_key=S3_SECRET_KEY, region_name=S3_REGION)


def make_bucket(endpoint: str) -> str:
    name = f"cairn-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def volume_kind(request: pytest.FixtureRequest) -> str:
    """Runs the test once per storage backend."""
    return request.param


@pytest.fixture
def fe_conf_values(tmp_path: Path, volume_kind: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The fe.conf keys of a fresh cluster on the chosen backend (meta_dir under tmp_path)."""
    return cluster_conf_values(tmp_path, volume_kind, request)


def cluster_conf_values(root: Path, volume_kind: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The fe.conf keys of a fresh cluster on `volume_kind` ("local" or "s3", a new moto bucket),
    with its meta_dir and local storage under `root`."""
    values = ConfValues({"meta_dir": str(root / "meta"), "local_storage_path": str(root / "storage"),
                         "cluster_credential": CLUSTER_CREDENTIAL})
    if volume_kind == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = make_bucket(endpoint)
        values.update({
            "run_mode": "shared_data", "cloud_native_storage_type": "S3",
            "enable_load_volume_from_conf": "true", "aws_s3_path": f"{bucket}/data",
            "aws_s3_endpoint": endpoint, "aws_s3_region": S3_REGION,
            "aws_s3_access_key": S3_ACCESS_KEY, "aws_s3_secret_key": S3_SECRET_KEY,
        })
    return values


@pytest.fixture
def fe_config(fe_conf_values: dict[str, str]) -> FeConfig:
    return load_config(None, **fe_conf_values)


@pytest.fixture
def frontend(fe_config: FeConfig) -> Iterator[Frontend]:
    fe = Frontend.open(fe_config)
    yield fe
    fe.close()


@pytest.fixture
def local_frontend(tmp_path: Path) -> Iterator[Frontend]:
    """An in-process FE on a local directory volume only (for tests of SQL, not of storage)."""
    fe = cairn.api.open_frontend(local_storage_path=tmp_path / "storage", meta_dir=tmp_path / "meta")
    yield fe
    fe.close()


@pytest.fixture
def session(frontend: Frontend) -> Session:
    return Session(frontend)


def write_conf(path: Path, values: dict[str, str]) -> Path:
    """Write an fe.conf file from key/value pairs."""
    path.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    return path


@pytest.fixture
def local_fe_process(tmp_path: Path) -> Iterator[Any]:
    """A real `cairn fe` process on a local-directory volume under tmp_path (a FeProcess)."""
    from fe_process import start_fe  # fe_process imports this module's helpers

    fe = start_fe(tmp_path, {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage")})
    yield fe
    fe.stop()
