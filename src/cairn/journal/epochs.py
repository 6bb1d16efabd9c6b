"""Epoch records: `meta/epochs/<incarnation>.<epoch>`, one per leadership, written once, never deleted.

Journal cleanup deletes old entries, and a deleted id can be created again, so winning a
create-if-absent append no longer proves on its own that the writer still leads. A new leader
claims an epoch above every record before it appends its `epoch_start` entry, and every commit
confirms after its append that no record above its own exists (one listing request) before it is
acknowledged. A leader
deposed while paused across a cleanup therefore finds its successor's record and steps down. The
first leader of a restored incarnation writes a record above every epoch of the older ones.
"""

from __future__ import annotations

import time
from typing import ClassVar

from cairn.errors import CairnError, JournalError, ObjectExistsError
from cairn.formats import VersionedModel
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore


class EpochRecord(VersionedModel):
    """Who took the log of `incarnation` at `epoch`, and when."""

    KIND: ClassVar[str] = "epoch record"
    ERROR: ClassVar[type[CairnError]] = JournalError

    incarnation: int
    epoch: int
    leader: str
    created_at: float


# Claims race only between FEs starting at once; each lost claim is followed by a fresh listing.
CLAIM_ATTEMPTS = 20


def claim_next_epoch(store: ObjectStore, keys: ClusterKeys, incarnation: int, at_least: int, leader: str) -> int:
    """Claim an epoch of `incarnation` above every epoch claimed so far (and at least `at_least`) with
    a create-if-absent put, and return it. Being above every record matters: a leader steps down when
    it finds a record above its own, so a record left by an FE that crashed before its `epoch_start`
    must never sit above the leader that follows. Raises JournalError if other FEs keep claiming."""
    for _ in range(CLAIM_ATTEMPTS):
        claimed = [found[1] for info in store.list(keys.epochs_prefix, offset=keys.epoch(incarnation, 0))
                   if (found := ClusterKeys.parse_epoch(info.key)) is not None and found[0] == incarnation]
        epoch = max(at_least, max(claimed, default=0) + 1)
        record = EpochRecord(incarnation=incarnation, epoch=epoch, leader=leader, created_at=time.time())
        key = keys.epoch(incarnation, epoch)
        try:
            store.put_if_absent(key, record.to_bytes())
        except ObjectExistsError:
            continue
        except CairnError:
            if EpochRecord.from_bytes(store.get(key), key) != record:  # a put that may have landed: look
                continue
        return epoch
    raise JournalError(f"could not claim an epoch of incarnation {incarnation}: other FEs kept claiming")


def newer_epoch(store: ObjectStore, keys: ClusterKeys, incarnation: int, epoch: int) -> tuple[int, int] | None:
    """The (incarnation, epoch) of a record above this one, or None when this epoch is still the newest.
    One listing request that starts after this epoch's own key."""
    own = (incarnation, epoch)
    for info in store.list(keys.epochs_prefix, offset=keys.epoch(incarnation, epoch)):
        found = ClusterKeys.parse_epoch(info.key)
        if found is not None and found > own:  # not every store honours the offset
            return found
    return None
