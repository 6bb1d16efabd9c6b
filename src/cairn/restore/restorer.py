"""Restoring a cluster: verify the snapshot, load its image, apply the yaml, open incarnation n+1,
fence incarnation n. The incarnation record (a create-if-absent put) is the commit point: before it
nothing has changed; after it the new incarnation exists and the old one is fenced.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from pathlib import Path

from cairn.catalog.model import CatalogState, ComputeNode, FrontendNode
from cairn.catalog.ops import Superseded, parse_op
from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError
from cairn.journal.cluster import write_cluster_file
from cairn.journal.image import CheckpointImage, make_image, write_image
from cairn.journal.incarnation import Incarnation, create_incarnation, list_incarnations
from cairn.journal.log import AppendConflict, Journal
from cairn.journal.position import JournalPosition
from cairn.journal.signed import Authenticity
from cairn.restore.plan import RestoreError, RestorePlan
from cairn.restore.snapshot_yaml import ClusterSnapshotYaml, RestoreTarget
from cairn.snapshot.verify import check_snapshot_image, verify_snapshot
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore, open_store

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
PHASES = ("verify", "load image", "apply yaml", "open incarnation", "fence old incarnation")


def _data_stores(plan: RestorePlan, state: CatalogState) -> Callable[[str], ObjectStore]:
    opened: dict[str, ObjectStore] = {}

    def store_for(name: str) -> ObjectStore:
        if name not in opened:
            volume = state.storage_volumes.get(name)
            opened[name] = open_store(volume) if volume is not None else plan.snapshot_store
        return opened[name]

    return store_for


def _apply_yaml(state: CatalogState, spec: ClusterSnapshotYaml, config: FeConfig) -> None:
    """Storage volumes from the yaml replace the snapshot's (other bucket, endpoint, credentials).
    `frontends` / `compute_nodes`: absent keeps the snapshot's list, given ([] too) replaces it; the
    restoring FE is a member either way. The new incarnation has no leader until one takes it."""
    added_ms = int(time.time() * 1000)
    if spec.frontends is not None:
        # Named as StarRocks names an FE it adds: `<host>_<edit_log_port>_<ms>`.
        state.frontends = [FrontendNode(**f.model_dump(), name=f"{f.host}_{f.edit_log_port}_{added_ms}")
                           for f in spec.frontends]
    restoring = FrontendNode(host=config.frontend_address, edit_log_port=config.edit_log_port,
                             name=f"{config.frontend_address}_{config.edit_log_port}_{added_ms}")
    # The restoring FE leads the restored cluster, so it is a follower even if the yaml lists it as an observer.
    state.frontends = [f for f in state.frontends if f.address != restoring.address] + [restoring]
    state.leader = state.leader_address = ""
    if spec.compute_nodes is not None:
        state.compute_nodes = [ComputeNode(**c.model_dump()) for c in spec.compute_nodes]
    for entry in spec.storage_volumes or []:
        volume = entry.to_volume()
        volume.validate_definition()
        existing = state.storage_volumes.get(volume.name)
        state.storage_volumes[volume.name] = volume.model_copy(
            update={"id": existing.id if existing else state.next_id, "enabled": True})


def _replay_to(plan: RestorePlan, config: FeConfig, state: CatalogState, target: RestoreTarget,
               trusted: bool) -> int:
    """Point-in-time recovery: apply the snapshot incarnation's entries after J up to the target."""
    window = config.cluster_snapshot_pitr_window_seconds
    if window <= 0:
        raise RestoreError("'cluster_snapshot.restore_to' asks for point-in-time recovery, but "
                           "cluster_snapshot_pitr_window_seconds is 0 (snapshot points only)")
    journal = Journal(plan.meta_store, plan.keys, plan.manifest.incarnation, trusted=trusted)
    limit = None
    if target.time is not None:
        try:
            limit = datetime.datetime.fromisoformat(target.time).timestamp()
        except ValueError:
            raise RestoreError(f"'cluster_snapshot.restore_to.time' '{target.time}' is not a time "
                               "(expected 'YYYY-MM-DD HH:MM:SS')") from None
        if limit < time.time() - window:
            raise RestoreError(f"'cluster_snapshot.restore_to.time' {target.time} is outside the "
                               f"point-in-time window of {window} s (cluster_snapshot_pitr_window_seconds)")
    position = plan.manifest.fe_journal_id
    for entry in journal.read_after(plan.manifest.fe_journal_id, target.journal_id):
        if limit is not None and entry.timestamp > limit:
            break
        if entry.op.get("kind") == "superseded":
            break
        parse_op(entry.op).apply(state, entry.timestamp)
        position = entry.entry_id
    if target.journal_id is not None and position != target.journal_id:
        raise RestoreError(f"'cluster_snapshot.restore_to.journal_id' {target.journal_id} is not in the log of "
                           f"incarnation {plan.manifest.incarnation} (it ends at {position})")
    return position


def restore(plan: RestorePlan, config: FeConfig, spec: ClusterSnapshotYaml, progress: Progress | None = None,
            generation: str | None = None) -> int:
    """Carry out `plan`; return the new incarnation. Raises RestoreError before anything changed.
    `generation` (the DR generation that asked for it) is recorded with the new incarnation."""
    say = progress or (lambda phase: log.info("restore: %s", phase))
    say("verify")
    image_bytes = plan.snapshot_store.get(plan.manifest.image_key)
    image = CheckpointImage.from_bytes(image_bytes, plan.manifest.image_key)
    image.require_readable(plan.manifest.image_key)
    check_snapshot_image(plan.manifest, image)
    state = CatalogState.model_validate(image.catalog)
    _apply_yaml(state, spec, config)
    report = verify_snapshot(plan.snapshot_store, plan.keys, plan.snapshot, _data_stores(plan, state))
    if not report.ok:
        raise RestoreError(f"snapshot '{plan.snapshot}' failed verification: {'; '.join(report.problems[:5])}")
    say("load image")
    position = plan.manifest.fe_journal_id
    target = spec.cluster_snapshot.restore_to if spec.cluster_snapshot else None
    if target is not None and (target.journal_id is not None or target.time is not None):
        position = _replay_to(plan, config, state, target, image.authenticity is Authenticity.AUTHENTIC)
    say("apply yaml")
    state.superseded_by = None
    # The image and the log replayed hold the temporary tables of sessions the restored cluster
    # never had: they are dropped (StarRocks leaves them out of backups), and vacuum removes their data.
    state.drop_temporary_tables()
    say("open incarnation")
    new = plan.new_incarnation
    start = JournalPosition(new, position)
    write_image(plan.meta_store, plan.keys.image(start), make_image(plan.keys.cluster_id, start,
                                                                    state.model_dump(mode="json")))
    record = Incarnation(number=new, cluster_id=plan.keys.cluster_id, created_at=time.time(),
                         restored_from_snapshot=plan.snapshot, restored_from_incarnation=plan.manifest.incarnation,
                         restored_to_entry=position, first_entry_id=position + 1, restore_generation=generation)
    if not create_incarnation(plan.meta_store, plan.keys, record):
        raise RestoreError(f"incarnation {new} of cluster {plan.keys.cluster_id} was just created by another "
                           "restore; run the restore again")
    say("fence old incarnation")
    _fence(plan, new)
    write_cluster_file(Path(config.meta_dir).expanduser().resolve(), plan.keys.cluster_id,
                       plan.meta_store.description)
    log.info("restored cluster %s from snapshot %s at journal id %d as incarnation %d",
             plan.keys.cluster_id, plan.snapshot, position, new)
    return new


def _fence(plan: RestorePlan, new: int) -> None:
    """Append `superseded by new` to every older log not fenced yet (an earlier restore may have
    been cut off before fencing), so an FE still on one fails its next commit."""
    for old in [n for n in list_incarnations(plan.meta_store, plan.keys) if n < new]:
        _fence_one(plan, old, new)


def _fence_one(plan: RestorePlan, old: int, new: int) -> None:
    journal = Journal(plan.meta_store, plan.keys, old)
    for _ in range(20):
        ids = [ClusterKeys.parse_journal_entry(i.key) for i in plan.meta_store.list(plan.keys.journal_prefix(old))]
        last = max((i for i in ids if i is not None), default=0)
        if last and journal.read_after(last - 1)[0].op.get("kind") == "superseded":
            return
        try:
            journal.append(last + 1, 0, Superseded(by=new, reason="cluster restore").to_dict())
            return
        except AppendConflict:
            continue
    raise CairnError(f"could not fence incarnation {old}: its log kept growing")
