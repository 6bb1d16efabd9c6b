"""Cluster-snapshot statements, with StarRocks' preconditions."""

from __future__ import annotations

import pyarrow as pa

from cairn.catalog.catalog import Catalog
from cairn.catalog.snapshot_ops import SetAutomatedSnapshots
from cairn.errors import AnalysisError, StorageVolumeError
from cairn.fe.frontend import Frontend
from cairn.query.context import QueryContext
from cairn.snapshot.job import SnapshotError, retention_seconds
from cairn.snapshot.verify import verify_snapshot
from cairn.sql import volumes
from cairn.sql.registry import StatementRegistry, cluster_admin
from cairn.sql.result import ResultSet
from cairn.sql.snapshot_grammar import (
    CreateClusterSnapshot,
    DropClusterSnapshot,
    SetAutomatedSnapshot,
    VerifyClusterSnapshot,
)
from cairn.storage.volume import BUILTIN_VOLUME


def _require_shared_data(fe: Frontend) -> None:
    if fe.config.run_mode != "shared_data":
        raise SnapshotError("Cluster snapshots are only supported in shared-data mode (run_mode = shared_data)")


def set_automated(query: QueryContext, fe: Frontend, statement: SetAutomatedSnapshot) -> ResultSet:
    _require_shared_data(fe)
    jobs = fe.snapshots

    def build(catalog: Catalog) -> SetAutomatedSnapshots:
        settings = catalog.state.automated_snapshots
        if statement.enabled:
            if settings.enabled:
                raise SnapshotError("Automated cluster snapshot has already been turned on; turn it off first")
            volume = statement.storage_volume or BUILTIN_VOLUME
            catalog.storage_volume(volume)
            return SetAutomatedSnapshots(enabled=True, storage_volume=volume)
        if not settings.enabled:
            raise SnapshotError("Automated cluster snapshot has not been turned on")
        return SetAutomatedSnapshots(enabled=False)

    fe.commit(build)
    if not statement.enabled:
        for job in jobs.retained(fe.catalog):
            if job.type == "AUTOMATED":
                jobs.retire(job)
    return ResultSet.ok()


def create_snapshot(query: QueryContext, fe: Frontend, statement: CreateClusterSnapshot) -> ResultSet:
    _require_shared_data(fe)
    if "retention" in statement.properties:
        retention_seconds(statement.properties["retention"])
    unknown = sorted(set(statement.properties) - {"retention"})
    if unknown:
        raise AnalysisError(f"Unknown cluster snapshot property '{unknown[0]}'")
    volume = statement.storage_volume or fe.catalog.state.default_storage_volume
    job = fe.snapshots.take(statement.name, "MANUAL", volume, statement.properties)
    if job.state != "FINISHED":
        raise SnapshotError(f"Cluster snapshot '{statement.name}' failed: {job.error}")
    return ResultSet.ok()


def drop_snapshot(query: QueryContext, fe: Frontend, statement: DropClusterSnapshot) -> ResultSet:
    jobs = fe.snapshots
    job = next((j for j in jobs.retained(fe.catalog) if j.name == statement.name), None)
    if job is None:
        raise SnapshotError(f"Cluster snapshot '{statement.name}' does not exist")
    jobs.retire(job)
    return ResultSet.ok()


def verify(query: QueryContext, fe: Frontend, statement: VerifyClusterSnapshot) -> ResultSet:
    job = next((j for j in fe.snapshots.retained(fe.catalog) if j.name == statement.name), None)
    if job is None:
        raise SnapshotError(f"Cluster snapshot '{statement.name}' does not exist")
    report = verify_snapshot(fe.store_for(job.storage_volume), fe.keys, job.name, fe.store_for,
                             deep=statement.deep)
    rows = [(job.name, "DEEP" if statement.deep else "SHALLOW", "OK" if report.ok else "FAILED",
             report.objects_checked, report.tables_checked, "; ".join(report.problems))]
    types = [pa.string(), pa.string(), pa.string(), pa.int64(), pa.int64(), pa.string()]
    return ResultSet.from_rows(["Snapshot", "Mode", "Result", "ObjectsChecked", "TablesChecked", "Problems"], rows,
                               types)


def _volume_holds_snapshots(catalog: Catalog, name: str) -> None:
    holding = [j.name for j in catalog.state.snapshot_jobs.values() if j.state == "FINISHED" and j.storage_volume == name]
    if holding or (catalog.state.automated_snapshots.enabled and catalog.state.automated_snapshots.storage_volume == name):
        raise StorageVolumeError(f"Storage volume '{name}' holds cluster snapshots ({', '.join(holding) or 'automated'}) "
                                 "and cannot be dropped")


volumes.VOLUME_DROP_CHECKS.append(_volume_holds_snapshots)


def register(statements: StatementRegistry) -> None:
    """Add this module's statements, each with the privileges it needs."""
    statements.add(SetAutomatedSnapshot, set_automated, needs=cluster_admin, writes=True)
    statements.add(CreateClusterSnapshot, create_snapshot, needs=cluster_admin, writes=True)
    statements.add(DropClusterSnapshot, drop_snapshot, needs=cluster_admin, writes=True)
    statements.add(VerifyClusterSnapshot, verify, needs=cluster_admin)
