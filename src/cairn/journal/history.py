"""Where reading a cluster's history from a moment on begins: a checkpoint image, never entry 0.

Vacuum reads the point-in-time window from here, and journal cleanup keeps everything from here on,
so what one reads the other never deletes. Each incarnation is read from its own start: after a
restore, incarnation n+1's log begins at the restored entry + 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.journal.image import ImageInfo
from cairn.journal.incarnation import Incarnation, list_incarnations, read_incarnation
from cairn.journal.position import JournalPosition
from cairn.journal.signed import Authenticity
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore

# What an image must be for history to start from it, or for cleanup to count on it: what start-up loads.
TRUSTED_IMAGES = frozenset({Authenticity.AUTHENTIC, Authenticity.LEGACY})

# Stores may keep modification times in whole seconds: an image counts as written before a moment
# only when it was written at least this much earlier.
CLOCK_MARGIN_SECONDS = 1.0


@dataclass(frozen=True)
class HistoryStart:
    """The catalog at `position` is the image at `image_key`, or the empty catalog when it is None
    (before entry 1 of a new cluster); the history goes on with the log entries after `position`."""

    position: JournalPosition
    image_key: str | None


def incarnations_since(store: ObjectStore, keys: ClusterKeys, since: float) -> list[Incarnation]:
    """The incarnations whose logs may hold entries written at or after `since`, oldest first: the
    newest one, and every one whose successor was created at or after `since`."""
    found: list[Incarnation] = []
    for number in reversed(list_incarnations(store, keys)):
        record = read_incarnation(store, keys, number)
        found.append(record)
        if record.created_at < since:
            break  # every older incarnation was superseded before `since`
    return found[::-1]


def history_start(record: Incarnation, images: list[ImageInfo], since: float) -> HistoryStart:
    """Where to read incarnation `record` from to know every state it had at or after `since`: its
    newest image written before `since` (every entry up to it was committed earlier); else its start
    (the image a restore wrote just before its first entry, or the empty catalog of a new cluster).
    `images` is any listing that includes this incarnation's images, oldest first."""
    mine = [image for image in images if image.position.incarnation == record.number]
    before = [image for image in mine if image.written_at + CLOCK_MARGIN_SECONDS <= since]
    if before:
        return HistoryStart(before[-1].position, before[-1].key)
    start = JournalPosition(record.number, record.first_entry_id - 1)
    if record.first_entry_id == 1:
        return HistoryStart(start, None)
    at_start = next((image for image in mine if image.position == start), None)
    # A restore always writes its start image; the oldest left is the best that remains without it.
    chosen = at_start or (mine[0] if mine else None)
    return HistoryStart(chosen.position, chosen.key) if chosen is not None else HistoryStart(start, None)
