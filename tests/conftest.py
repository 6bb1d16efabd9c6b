"""Shared fixtures: every storage-touching test runs on a local directory and on moto's S3 server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from cairn.api import load_config
from cairn.config.fe_config import FeConfig
from cairn.fe.frontend import Frontend
from cairn.fe.session import Session

S3_ACCESS_KEY = "cairn-test-access"
S3_SECRET_KEY = "cairn-test-secret-Zq81"
S3_REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real S3 HTTP endpoint: moto's server on loopback, for the whole test session."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def make_bucket(endpoint: str) -> str:
    name = f"cairn-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_ACCESS_KEY,
                          aws_secret_access_key=S3_SECRET_KEY, region_name=S3_REGION)
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture(params=["local", "s3"])
def volume_kind(request: pytest.FixtureRequest) -> str:
    """Runs the test once per storage backend."""
    return request.param


@pytest.fixture
def fe_conf_values(tmp_path: Path, volume_kind: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The fe.conf keys of a fresh cluster on the chosen backend (meta_dir under tmp_path)."""
    values = {"meta_dir": str(tmp_path / "meta"), "local_storage_path": str(tmp_path / "storage")}
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
def session(frontend: Frontend) -> Session:
    return Session(frontend)


def write_conf(path: Path, values: dict[str, str]) -> Path:
    """Write an fe.conf file from key/value pairs."""
    path.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    return path
