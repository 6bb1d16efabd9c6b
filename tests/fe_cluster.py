"""Several real `cairn fe` processes of one cluster on 127.0.0.1: the first leads, the others join
with --helper after ALTER SYSTEM ADD FOLLOWER|OBSERVER. Each FE keeps its directory and
edit_log_port (its identity) across restarts."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from conftest import (
    CLUSTER_CREDENTIAL,
    S3_ACCESS_KEY,
    S3_REGION,
    S3_SECRET_KEY,
    free_port,
    make_bucket,
    wait_until,
)
from fe_process import FeProcess, run_sql, start_fe


def s3_values(moto_endpoint: str, **extra: str) -> dict[str, str]:
    """fe.conf keys of FEs sharing a fresh bucket on moto's S3 (a 3 s leader timeout), plus `extra`."""
    bucket = make_bucket(moto_endpoint)
    return {"run_mode": "shared_data", "cloud_native_storage_type": "S3", "enable_load_volume_from_conf": "true",
            "aws_s3_path": f"{bucket}/data", "aws_s3_endpoint": moto_endpoint, "aws_s3_region": S3_REGION,
            "aws_s3_access_key": S3_ACCESS_KEY, "aws_s3_secret_key": S3_SECRET_KEY,
            "cluster_credential": CLUSTER_CREDENTIAL, "bdbje_heartbeat_timeout_second": "3", **extra}


@dataclass
class ClusterFe:
    """One FE of the cluster: where it lives, its identity, and its process while it runs."""

    workdir: Path
    edit_log_port: int
    process: FeProcess | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.edit_log_port}"

    @property
    def running(self) -> FeProcess:
        assert self.process is not None, f"FE {self.address} is not running"
        return self.process


@dataclass
class FeCluster:
    """FEs sharing the storage volume of `values` (fe.conf keys without ports or meta_dir)."""

    root: Path
    values: dict[str, str]
    fes: list[ClusterFe] = field(default_factory=list)

    def new_fe(self) -> ClusterFe:
        fe = ClusterFe(self.root / f"fe{len(self.fes)}", free_port())
        fe.workdir.mkdir(parents=True, exist_ok=True)
        self.fes.append(fe)
        return fe

    def start(self, fe: ClusterFe, helper: ClusterFe | None = None, extra: dict[str, str] | None = None,
              args: list[str] | None = None) -> None:
        """Start `fe` with its own meta_dir and edit_log_port; `--helper` when `helper` is given, then `args`."""
        values = {**self.values, "meta_dir": str(fe.workdir / "meta"), "edit_log_port": str(fe.edit_log_port),
                  **(extra or {})}
        helper_args = ["--helper", helper.address] if helper is not None else []
        fe.process = start_fe(fe.workdir, values, [*helper_args, *(args or [])])

    def add(self, via: ClusterFe, kind: str = "FOLLOWER") -> ClusterFe:
        """A new FE, added on the FE `via` (forwarded to the leader if need be) and started with it as helper."""
        fe = self.new_fe()
        self.sql(via, f'ALTER SYSTEM ADD {kind} "{fe.address}"')
        self.start(fe, helper=via)
        return fe

    def kill(self, fe: ClusterFe, sig: int = signal.SIGKILL) -> None:
        fe.running.stop(sig)
        fe.process = None

    def stop(self) -> None:
        for fe in self.fes:
            if fe.process is not None:
                if fe.process.proc.poll() is None:
                    fe.process.proc.send_signal(signal.SIGCONT)
                fe.process.stop(signal.SIGKILL)
                fe.process = None

    def connect(self, fe: ClusterFe) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=fe.running.query_port, user="root", autocommit=True,
                               connect_timeout=10, read_timeout=60)

    def sql(self, fe: ClusterFe, *statements: str) -> list[tuple]:
        """Run `statements` on `fe` as root; the last one's rows."""
        return run_sql(fe.running, *statements)

    def sql_or_none(self, fe: ClusterFe, statement: str) -> list[tuple] | None:
        """`sql`, or None when the statement fails (for polling while replay catches up)."""
        try:
            return self.sql(fe, statement)
        except pymysql.MySQLError:
            return None

    def frontends(self, fe: ClusterFe) -> dict[str, dict[str, object]]:
        """SHOW FRONTENDS on `fe`, by address."""
        connection = self.connect(fe)
        try:
            with connection.cursor(pymysql.cursors.DictCursor) as cursor:
                cursor.execute("SHOW FRONTENDS")
                return {f"{r['IP']}:{r['EditLogPort']}": r for r in cursor.fetchall()}
        finally:
            connection.close()

    def leader(self, among: list[ClusterFe] | None = None, timeout: float = 60.0) -> ClusterFe:
        """The running FE that says it leads (waiting until one does)."""
        found: list[ClusterFe] = []

        def one_leads() -> bool:
            found.clear()
            for fe in among or self.fes:
                if fe.process is None or fe.process.proc.poll() is not None:
                    continue
                try:
                    rows = self.frontends(fe)
                except pymysql.MySQLError:
                    continue
                if rows.get(fe.address, {}).get("Role") == "LEADER":
                    found.append(fe)
            return len(found) == 1

        wait_until(one_leads, timeout=timeout, what="one FE to lead")
        return found[0]
