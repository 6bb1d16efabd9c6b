"""An FE pointed at storage it cannot use fails at once, with one clear error and no secret in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from bench.s3_server import command as s3_server_command
from cairn.api import load_config
from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from conftest import free_port, wait_for_port

WRONG_SECRET = "wrong-secret-do-not-print-7"
# An FE on storage it cannot use must say so at once, not after minutes of retries.
FAIL_FAST_SECONDS = 15


@pytest.fixture(scope="module")
def authenticating_s3() -> Iterator[tuple[str, str, str, str]]:
    """A moto S3 server that checks signatures: (endpoint, bucket, access key, secret key)."""
    port = free_port()
    # The first four requests (creating the IAM user, policy, key and bucket) pass unauthenticated.
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4")
    proc = subprocess.Popen(s3_server_command(port), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client("iam", endpoint_url=endpoint, aws_access_key_id="setup", aws_secret_access_key="setup",
                           region_name="us-east-1")
        iam.create_user(UserName="cairn")
        iam.put_user_policy(UserName="cairn", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="cairn")["AccessKey"]
        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key["AccessKeyId"],
                     aws_secret_access_key=key["SecretAccessKey"], region_name="us-east-1").create_bucket(Bucket="locked")
        yield endpoint, "locked", key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def s3_values(tmp_path: Path, endpoint: str, bucket: str, access: str, secret: str) -> dict[str, str]:
    return {"meta_dir": str(tmp_path / "meta"), "run_mode": "shared_data", "cloud_native_storage_type": "S3",
            "enable_load_volume_from_conf": "true", "aws_s3_path": f"{bucket}/data", "aws_s3_endpoint": endpoint,
            "aws_s3_region": "us-east-1", "aws_s3_access_key": access, "aws_s3_secret_key": secret}


def test_right_credentials_work(tmp_path: Path, authenticating_s3: tuple[str, str, str, str]) -> None:
    fe = Frontend.open(load_config(None, **s3_values(tmp_path, *authenticating_s3)))
    assert fe.is_leader
    fe.close()


def _open_fails(values: dict[str, str]) -> tuple[CairnError, float]:
    """Open an FE that must fail; return its error and how long failing took."""
    started = time.monotonic()
    with pytest.raises(CairnError) as caught:
        Frontend.open(load_config(None, **values))
    return caught.value, time.monotonic() - started


def test_wrong_credentials(tmp_path: Path, authenticating_s3: tuple[str, str, str, str]) -> None:
    endpoint, bucket, access, _ = authenticating_s3
    error, took = _open_fails(s3_values(tmp_path, endpoint, bucket, access, WRONG_SECRET))
    assert "access denied" in str(error) and "credentials" in str(error) and endpoint in str(error)
    assert WRONG_SECRET not in str(error) and WRONG_SECRET not in repr(error.__cause__)
    assert took < FAIL_FAST_SECONDS


def test_unreachable_endpoint(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    error, took = _open_fails(s3_values(tmp_path, endpoint, "bucket", "key", WRONG_SECRET))
    assert "unreachable" in str(error) and endpoint in str(error)
    assert WRONG_SECRET not in str(error)
    assert took < FAIL_FAST_SECONDS


def test_missing_bucket(tmp_path: Path, moto_endpoint: str) -> None:
    error, took = _open_fails(s3_values(tmp_path, moto_endpoint, "no-such-bucket", "key", WRONG_SECRET))
    assert "bucket does not exist" in str(error) and "no-such-bucket" in str(error)
    assert WRONG_SECRET not in str(error)
    assert took < FAIL_FAST_SECONDS


def test_cli_prints_one_line_without_the_secret(tmp_path: Path, authenticating_s3: tuple[str, str, str, str]) -> None:
    endpoint, bucket, access, _ = authenticating_s3
    conf = tmp_path / "fe.conf"
    values = s3_values(tmp_path, endpoint, bucket, access, WRONG_SECRET)
    conf.write_text("JAVA_OPTS = \"-Xmx8192m\"\n" + "".join(f"{k} = {v}\n" for k, v in values.items()))
    done = subprocess.run([sys.executable, "-m", "cairn.cli.main", "fe", "--conf", str(conf)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "error:" in done.stderr and "credentials" in done.stderr
    assert WRONG_SECRET not in done.stderr + done.stdout
    assert "JAVA_OPTS" in done.stderr  # reported once as ignored, never fatal
