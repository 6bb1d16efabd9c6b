"""Taking, expiring and dropping cluster snapshots (DESIGN: cluster snapshots).

A snapshot is written as `image`, then `manifest.json`, then `SNAPSHOT_DONE` — the marker is the
commit point on storage; the FINISHED job entry is the commit point in the journal. A folder
without its marker is incomplete: it is never listed as FINISHED and is removed.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Literal, Protocol

from prometheus_client import Counter, Histogram

from cairn.catalog.committer import Committer
from cairn.catalog.model import CatalogState, SnapshotJob
from cairn.catalog.snapshot_ops import PutSnapshotJob
from cairn.catalog.view import CatalogView
from cairn.config.fe_config import FeConfig
from cairn.errors import AnalysisError, CairnError, CatalogKeyError, ObjectExistsError, ObjectNotFoundError
from cairn.journal.image import CheckpointImage
from cairn.snapshot.contents import snapshot_contents
from cairn.snapshot.listing import ABORTED_MARKER, AUTOMATED_PREFIX, marks_complete
from cairn.snapshot.manifest import SnapshotManifest, SnapshotManifestError, SnapshotVolume
from cairn.snapshot.verify import trusted_manifest
from cairn.storage.checksum import checksum_bytes
from cairn.storage.keys import SNAPSHOT_DONE, SNAPSHOT_IMAGE, SNAPSHOT_MANIFEST, ClusterKeys
from cairn.storage.resolver import StoreResolver

log = logging.getLogger(__name__)

TERMINAL = {"FINISHED", "EXPIRED", "DELETED", "ERROR"}
IN_FLIGHT = {"INITIALIZING", "SNAPSHOTING", "UPLOADING"}
INTERRUPTED = "Snapshot job has been failed because of FE restart or leader change"


class SnapshotError(CairnError):
    """A snapshot statement cannot run (StarRocks' preconditions and messages)."""


_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def retention_seconds(text: str) -> int:
    """'7d', '12h', '30m' or '45s' in seconds; AnalysisError otherwise."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise AnalysisError(f"Invalid retention '{text}': expected a number followed by s, m, h or d")
    return int(match.group(1)) * _SECONDS[match.group(2)]


class SnapshotMetrics(Protocol):
    """What snapshot jobs measure."""

    snapshot_seconds: Histogram
    snapshot_failures: Counter


class SnapshotJobs:
    """Runs the snapshot jobs of one FE; one job at a time."""

    def __init__(self, committer: Committer, catalog: CatalogView, stores: StoreResolver, keys: ClusterKeys,
                 config: FeConfig, metrics: SnapshotMetrics) -> None:
        self.committer = committer
        self.catalog = catalog
        self.stores = stores
        self.keys = keys
        self.config = config
        self.metrics = metrics
        self._lock = threading.Lock()
        # The catalog a running job captured: vacuum keeps its versions until the manifest exists.
        self.capturing: CatalogState | None = None

    # -- the job ------------------------------------------------------------------------------

    def _put(self, job: SnapshotJob, **changes: object) -> SnapshotJob:
        job = job.model_copy(update=changes)
        self.committer.commit(lambda _catalog: PutSnapshotJob(job=job))
        return job

    def take(self, name: str | None, kind: Literal["AUTOMATED", "MANUAL"], volume_name: str, properties: dict[str, str] | None = None
             ) -> SnapshotJob:
        """Take a snapshot now and return its finished (or failed) job. Raises SnapshotError when a
        snapshot of that name exists or the volume is unknown."""
        with self._lock:
            volume = self.catalog.storage_volume(volume_name)
            name = name or f"{AUTOMATED_PREFIX}{int(time.time() * 1000)}"
            if any(j.name == name and j.state not in {"ERROR", "DELETED"}
                   for j in self.catalog.state.snapshot_jobs.values()):
                raise SnapshotError(f"Cluster snapshot '{name}' already exists")
            path = f"{volume.location.rstrip('/')}/{self.keys.snapshot_dir(name)}"
            job = SnapshotJob(job_id=self.catalog.allocate_ids(1)[0], name=name, type=kind,
                              storage_volume=volume_name, storage_path=path, state="INITIALIZING",
                              created_at=time.time(), properties=properties or {})
            job = self._put(job)
            started = time.perf_counter()
            try:
                job = self._put(job, state="SNAPSHOTING")
                image = self.committer.capture_image(while_locked=self._hold)
                job = self._put(job, state="UPLOADING", fe_journal_id=image.entry_id)
                captured = self.capturing
                assert captured is not None, "capture_image calls _hold while the catalog is locked"
                self._upload(job, image, captured)
                job = self._put(job, state="FINISHED", finished_at=time.time())
                self.metrics.snapshot_seconds.observe(time.perf_counter() - started)
            except CairnError as exc:
                log.error("cluster snapshot %s failed: %s", name, exc)
                self.metrics.snapshot_failures.inc()
                job = self._put(job, state="ERROR", finished_at=time.time(), error=str(exc))
                self.remove_folder(job)
                return job
            finally:
                self.capturing = None
        log.info("cluster snapshot %s finished at journal id %s", name, job.fe_journal_id)
        if kind == "AUTOMATED":
            self.expire_automated()
        return job

    def _hold(self, image: CheckpointImage) -> None:
        self.capturing = CatalogState.model_validate(image.catalog)

    def _upload(self, job: SnapshotJob, image: CheckpointImage, state: CatalogState) -> None:
        store = self.stores(job.storage_volume)
        keys = self.keys
        objects, tables = snapshot_contents(state, self.stores)
        image_bytes = image.model_copy(update={"signed_manifest": True}).to_bytes()
        image_key = keys.snapshot_object(job.name, SNAPSHOT_IMAGE)
        store.put_if_absent(image_key, image_bytes)
        manifest = SnapshotManifest(
            name=job.name, type=job.type, cluster_id=keys.cluster_id, incarnation=image.incarnation,
            fe_journal_id=image.entry_id, created_at=job.created_at, image_key=image_key,
            image_size=len(image_bytes), image_checksum=checksum_bytes(image_bytes),
            storage_volumes=[SnapshotVolume.of(v) for v in state.storage_volumes.values()],
            objects=objects, tables=tables, properties=job.properties)
        store.put_if_absent(keys.snapshot_object(job.name, SNAPSHOT_MANIFEST), manifest.to_bytes())
        try:
            store.put_if_absent(keys.snapshot_object(job.name, SNAPSHOT_DONE), b"")
        except ObjectExistsError:
            self.remove_folder(job)  # what this FE put after the abort; the aborted marker stays
            raise SnapshotError(f"Cluster snapshot '{job.name}' was settled by a newer leader while this FE "
                                "uploaded it: this FE no longer leads") from None

    # -- retention and removal ------------------------------------------------------------------

    def remove_folder(self, job: SnapshotJob) -> None:
        """Delete the objects of a snapshot's folder (its marker first, so it is never half-listed).
        An aborted job's marker stays: it keeps a deposed leader from completing the folder later."""
        try:
            store = self.stores(job.storage_volume)
            prefix = self.keys.snapshot_dir(job.name)
            infos = list(store.list(prefix))
            done = [i.key for i in infos if i.key.endswith(SNAPSHOT_DONE)]
            store.delete_many([i.key for i in infos if i.key in done and marks_complete(i)])
            store.delete_many([i.key for i in infos if i.key not in done])
        except CairnError as exc:
            log.warning("could not remove the folder of snapshot %s: %s", job.name, exc)

    def retire(self, job: SnapshotJob) -> None:
        """FINISHED → EXPIRED → (objects removed) → DELETED."""
        job = self._put(job, state="EXPIRED")
        self.remove_folder(job)
        self._put(job, state="DELETED")

    def expire_automated(self) -> None:
        """Keep the newest `automated_cluster_snapshot_retention_count` automated snapshots."""
        keep = self.config.automated_cluster_snapshot_retention_count
        finished = sorted((j for j in self.catalog.state.snapshot_jobs.values()
                           if j.type == "AUTOMATED" and j.state == "FINISHED"), key=lambda j: j.created_at)
        for job in finished[:-keep] if len(finished) > keep else []:
            self.retire(job)

    def recover_interrupted(self) -> None:
        """Settle jobs a crash, restart or restore cut off. A job whose marker made it to storage did
        finish (its snapshot is complete): it becomes FINISHED. Any other becomes ERROR and its
        incomplete folder is removed. A FINISHED job whose marker is gone (a restore brought back a
        catalog from before the snapshot was retired) becomes DELETED: it is never listed again."""
        for job in list(self.catalog.state.snapshot_jobs.values()):
            if job.state == "FINISHED" and not marks_complete(self.stores(job.storage_volume).head(
                    self.keys.snapshot_object(job.name, SNAPSHOT_DONE))):
                log.warning("cluster snapshot %s is gone from storage (retired after the restored point): "
                            "it is no longer listed", job.name)
                self._put(job, state="DELETED")
                continue
            if job.state in IN_FLIGHT:
                self._settle_interrupted(job)
            elif job.state == "EXPIRED":
                self.remove_folder(job)
                self._put(job, state="DELETED")

    def settle_cut_off(self) -> None:
        """Settle the jobs in flight while this FE takes none (so they are a previous leader's): the
        leader settles them when it takes the lead, and again here when that failed (the store did not
        answer then), so that no job stays in flight for ever."""
        if not self._lock.acquire(blocking=False):
            return  # a job of this FE's is running
        try:
            for job in list(self.catalog.state.snapshot_jobs.values()):
                if job.state in IN_FLIGHT and self.committer.is_leader:
                    self._settle_interrupted(job)
        finally:
            self._lock.release()

    def _settle_interrupted(self, job: SnapshotJob) -> None:
        """FINISHED when its uploader completed the folder; otherwise abort it (the aborted marker
        keeps that uploader, if it still runs, from completing it later) and fail it. A completed
        folder counts only when its manifest is trusted and at the journal id the job recorded: one
        that is not (forged, or copied from another snapshot) is failed and removed, and the aborted
        marker put in its place."""
        store = self.stores(job.storage_volume)
        done_key = self.keys.snapshot_object(job.name, SNAPSHOT_DONE)
        try:
            store.put_if_absent(done_key, ABORTED_MARKER)
        except ObjectExistsError:
            if marks_complete(store.head(done_key)):
                try:
                    manifest = trusted_manifest(store, self.keys, job.name)
                    if job.fe_journal_id is not None and manifest.fe_journal_id != job.fe_journal_id:
                        raise SnapshotManifestError(
                            f"its manifest is at journal id {manifest.fe_journal_id}, the job captured "
                            f"{job.fe_journal_id}")
                except (SnapshotManifestError, CatalogKeyError, ObjectNotFoundError) as exc:
                    log.warning("cluster snapshot %s is not taken as finished: %s", job.name, exc)
                    self._fail_untrusted(job, f"{INTERRUPTED}; its manifest is not trusted: {exc}")
                    return
                self._put(job, state="FINISHED", fe_journal_id=manifest.fe_journal_id,
                          finished_at=job.finished_at or time.time())
                return
        failed = self._put(job, state="ERROR", finished_at=time.time(), error=INTERRUPTED)
        self.remove_folder(failed)

    def _fail_untrusted(self, job: SnapshotJob, error: str) -> None:
        """Fail a job whose folder looks complete but whose manifest is not trusted: remove the folder,
        then put the aborted marker, so that its uploader (if it still runs) cannot complete it."""
        failed = self._put(job, state="ERROR", finished_at=time.time(), error=error)
        self.remove_folder(failed)
        try:
            self.stores(job.storage_volume).put_if_absent(self.keys.snapshot_object(job.name, SNAPSHOT_DONE),
                                                          ABORTED_MARKER)
        except ObjectExistsError:
            log.warning("cluster snapshot %s: its folder was completed again while it was removed", job.name)

    def expire_manual(self) -> None:
        """Retire manual snapshots whose `retention` property has run out."""
        now = time.time()
        for job in self.retained(self.catalog):
            retention = job.properties.get("retention")
            if job.type == "MANUAL" and retention and now - job.created_at >= retention_seconds(retention):
                self.retire(job)

    def retained(self, catalog: CatalogView) -> list[SnapshotJob]:
        """Finished snapshots, newest first."""
        return sorted((j for j in catalog.state.snapshot_jobs.values() if j.state == "FINISHED"),
                      key=lambda j: j.created_at, reverse=True)

    # -- the schedule ---------------------------------------------------------------------------

    def due(self) -> bool:
        """True when automated snapshots are on and the newest one is older than the interval."""
        settings = self.catalog.state.automated_snapshots
        if not settings.enabled or not self.committer.is_leader:
            return False
        automated = [j.created_at for j in self.catalog.state.snapshot_jobs.values()
                     if j.type == "AUTOMATED" and j.state != "ERROR"]
        interval = self.config.automated_cluster_snapshot_interval_seconds
        return not automated or time.time() - max(automated) >= interval

    def run_due(self) -> None:
        """The scheduler's tick: expire what ran out, then take an automated snapshot if one is due."""
        if not self.committer.is_leader:
            return
        self.settle_cut_off()
        self.expire_manual()
        if self.due():
            volume = self.catalog.state.automated_snapshots.storage_volume
            self.take(None, "AUTOMATED", volume)
