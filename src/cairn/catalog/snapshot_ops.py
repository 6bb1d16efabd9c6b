"""Catalog operations of cluster snapshots: the automated setting and each job's progress."""

from __future__ import annotations

from typing import Literal

from cairn.catalog.model import CatalogState, SnapshotJob
from cairn.catalog.op_base import Op


class SetAutomatedSnapshots(Op):
    kind: Literal["set_automated_snapshots"] = "set_automated_snapshots"
    enabled: bool
    storage_volume: str = ""

    def apply(self, state: CatalogState, at: float) -> None:
        state.automated_snapshots.enabled = self.enabled
        state.automated_snapshots.storage_volume = self.storage_volume


class PutSnapshotJob(Op):
    """A job's new state (the whole record, so replay needs nothing else)."""

    kind: Literal["put_snapshot_job"] = "put_snapshot_job"
    job: SnapshotJob

    def apply(self, state: CatalogState, at: float) -> None:
        state.snapshot_jobs[self.job.job_id] = self.job
        state.next_id = max(state.next_id, self.job.job_id + 1)
