"""The secrets scan: the suite runs with distinctive secret values, and at the end every file the tests
produced (logs, CLI output, stored objects on local volumes), every object left in moto's buckets and
every captured output of a test is searched for them. Any hit fails the run.

`SECRETS` is the one list of values to look for: tests take their secrets from conftest, which takes
them from here. Files that legitimately carry a secret (the configuration a test hands to Cairn) are
named in `SECRET_CARRIERS`; nothing else may hold one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

S3_ACCESS_KEY = "cairn-test-access-Hd40"
S3_SECRET_KEY = "cairn-test-secret-Zq81"
USER_PASSWORD = "cairn-user-pw-Mt62"

# What the tests' FEs and compute nodes share.
CLUSTER_CREDENTIAL = "cairn-test-cluster-credential-Kp27"
SECRETS: list[str] = [S3_ACCESS_KEY, S3_SECRET_KEY, USER_PASSWORD, CLUSTER_CREDENTIAL]

# Input files that carry secrets on purpose: Cairn reads them, it must never write them.
SECRET_CARRIERS = frozenset({"fe.conf", "cn.conf", "cluster_snapshot.yaml", "cs.yaml"})

MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Hit:
    where: str
    excerpt: str


def mask(text: str) -> str:
    """`text` with every secret replaced by its first three characters and a mark."""
    for secret in SECRETS:
        text = text.replace(secret, secret[:3] + "…[SECRET]")
    return text


class ConfValues(dict[str, str]):
    """Configuration values for a test: a dict whose repr masks the secrets it holds, so that a failing
    test's report (which shows its arguments) does not itself print them."""

    def __repr__(self) -> str:
        return mask(super().__repr__())


def find_in(data: bytes, where: str) -> list[Hit]:
    """One hit per secret found in `data`, with a masked excerpt around the first occurrence."""
    hits = []
    for secret in SECRETS:
        at = data.find(secret.encode())
        if at >= 0:
            around = data[max(0, at - 60): at + len(secret) + 60].decode("utf-8", "replace")
            hits.append(Hit(where, mask(around).replace("\n", "\\n")))
    return hits


def scan_tree(root: Path) -> list[Hit]:
    """Search every file under `root` except the secret carriers."""
    hits: list[Hit] = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            if name in SECRET_CARRIERS or path.is_symlink():
                continue
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    continue
                hits.extend(find_in(path.read_bytes(), str(path)))
            except OSError:
                continue
    return hits


def scan_objects(objects: Iterable[tuple[str, bytes]]) -> list[Hit]:
    """Search stored objects given as (address, bytes)."""
    return [hit for address, data in objects for hit in find_in(data, address)]


def moto_objects(client: object) -> Iterable[tuple[str, bytes]]:
    """Every object in every bucket of a boto3 S3 client (read a few at a time: a session leaves thousands)."""
    paginator = client.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    addresses = [(bucket["Name"], item["Key"]) for bucket in client.list_buckets()["Buckets"]  # type: ignore[attr-defined]
                 for page in paginator.paginate(Bucket=bucket["Name"]) for item in page.get("Contents", [])]

    def read(address: tuple[str, str]) -> tuple[str, bytes]:
        bucket, key = address
        return f"s3://{bucket}/{key}", client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[attr-defined]

    with ThreadPoolExecutor(max_workers=4) as pool:
        yield from pool.map(read, addresses)


WORKER_HITS = "secrets_scan_hits"


class SecretsScan:
    """The pytest plugin: collects hits during the session and fails the run if there are any.

    Under pytest-xdist the controller does the scanning and the verdict: it sees every test's report,
    and the workers' temporary directories lie under its own. A worker only sends it the hits found
    in what the controller cannot see, the worker's moto buckets."""

    def __init__(self, config: pytest.Config) -> None:
        self.hits: list[Hit] = []
        self.worker = hasattr(config, "workerinput")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.worker:
            return  # the controller scans this report when the worker hands it over
        for section, text in report.sections:
            self.hits.extend(find_in(text.encode(), f"{report.nodeid} ({section})"))
        if report.longrepr is not None:
            self.hits.extend(find_in(str(report.longrepr).encode(), f"{report.nodeid} (failure report)"))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: object, error: object) -> None:
        """A worker finished: take over the hits it found."""
        output = getattr(node, "workeroutput", {})
        self.hits.extend(Hit(where, excerpt) for where, excerpt in output.get(WORKER_HITS, []))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.worker:
            session.config.workeroutput[WORKER_HITS] = [(hit.where, hit.excerpt) for hit in self.hits]  # type: ignore[attr-defined]
            return
        factory = getattr(session.config, "_tmp_path_factory", None)
        basetemp = getattr(factory, "_basetemp", None) if factory is not None else None
        if basetemp is not None and Path(basetemp).exists():
            self.hits.extend(scan_tree(Path(basetemp)))
        if not self.hits:
            return
        writer = session.config.get_terminal_writer()
        writer.line(f"secrets scan: {len(self.hits)} secret value(s) found where none may be:", red=True)
        for hit in self.hits[:100]:
            writer.line(f"  {hit.where}: …{hit.excerpt}…")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
