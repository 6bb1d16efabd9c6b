"""Journal cleanup: delete the log entries and checkpoint images that no reader can need any more.

What stays, per incarnation (entries above a point, images at or above it):
- the newest incarnation: from its second newest image on, so a reader that listed the images just
  before the newest one was written still finds the entries after the one it chose;
- with a point-in-time window: every incarnation's history from where the window starts
  (journal.history, the same point vacuum reads from), and every retained snapshot's log after it;
- always: the last entry of every log (a superseded log's fence), incarnation and epoch records.

A deposed leader that wakes up and creates a deleted entry id again is not trusted for having won
that put: every commit also confirms after its append that no newer epoch exists (journal.epochs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from cairn.journal.history import TRUSTED_IMAGES, history_start, incarnations_since
from cairn.journal.image import CheckpointImage, ImageInfo, list_images
from cairn.journal.incarnation import list_incarnations
from cairn.journal.position import JournalPosition
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore


@dataclass
class JournalCleanupReport:
    """How many log entries and checkpoint images one cleanup deleted (or would delete, on a dry run)."""

    entries: int = 0
    images: int = 0


def kept_from(store: ObjectStore, keys: ClusterKeys, images: list[ImageInfo], window_seconds: float,
              snapshots: list[JournalPosition]) -> dict[int, int]:
    """Per incarnation still needed, the position from which its history must stay: entries after it
    and images at or after it. An incarnation missing from the result is needed by no one."""
    incarnations = list_incarnations(store, keys)
    if not incarnations:
        return {}
    newest = _trusted_newest(store, [image for image in images if image.position.incarnation == incarnations[-1]], 2)
    kept = {incarnations[-1]: newest[0].position.entry_id if len(newest) >= 2 else 0}

    def keep(position: JournalPosition) -> None:
        kept[position.incarnation] = min(kept.get(position.incarnation, position.entry_id), position.entry_id)

    if window_seconds > 0:
        since = time.time() - window_seconds
        for record in incarnations_since(store, keys, since):
            keep(history_start(record, images, since).position)
        for position in snapshots:
            keep(position)
    return kept


def _trusted_newest(store: ObjectStore, images: list[ImageInfo], count: int) -> list[ImageInfo]:
    """The newest `count` of `images` that a starting FE would load (they authenticate), oldest
    first: an image planted by someone else must not decide what is deleted."""
    trusted: list[ImageInfo] = []
    for image in reversed(images):
        if len(trusted) == count:
            break
        if CheckpointImage.from_bytes(store.get(image.key), image.key).authenticity in TRUSTED_IMAGES:
            trusted.insert(0, image)
    return trusted


def clean_journal(store: ObjectStore, keys: ClusterKeys, window_seconds: float, snapshots: list[JournalPosition],
                  dry_run: bool = False) -> JournalCleanupReport:
    """Delete what `kept_from` does not keep. `snapshots` are the journal positions of the retained
    snapshots (and of any being taken). Raises CairnError if storage fails; what was deleted by then
    was not needed."""
    images = list_images(store, keys)
    kept = kept_from(store, keys, images, window_seconds, snapshots)
    report = JournalCleanupReport()
    for incarnation in list_incarnations(store, keys):
        ids = sorted(i for info in store.list(keys.journal_prefix(incarnation))
                     if (i := ClusterKeys.parse_journal_entry(info.key)) is not None)
        point = kept.get(incarnation)
        limit = ids[-1] - 1 if ids else 0  # the last entry always stays
        if point is not None:
            limit = min(limit, point)
        doomed_entries = [keys.journal_entry(incarnation, i) for i in ids if i <= limit]
        doomed_images = [image.key for image in images if image.position.incarnation == incarnation
                         and (point is None or image.position.entry_id < point)]
        report.entries += len(doomed_entries)
        report.images += len(doomed_images)
        if not dry_run:
            store.delete_many(doomed_images)
            store.delete_many(doomed_entries)
    return report
