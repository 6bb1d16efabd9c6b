"""Incarnations: each restore opens a new one, with its own log (DESIGN: restore)."""

from __future__ import annotations

import json
import logging
import time

from pydantic import BaseModel, ValidationError

from cairn.errors import JournalError, ObjectExistsError
from cairn.journal.entry import JournalEntry
from cairn.journal.image import load_newest_image
from cairn.journal.signed import Authenticity
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore

log = logging.getLogger(__name__)


class Incarnation(BaseModel):
    """`meta/incarnations/<n>.json`: when incarnation n began and what it was restored from."""

    format_version: int = 1
    number: int
    cluster_id: str
    created_at: float
    restored_from_snapshot: str | None = None
    restored_from_incarnation: int | None = None
    restored_to_entry: int | None = None
    # The disaster-recovery generation that asked for this restore (RESTORE_CLUSTER_GENERATION, as the
    # Kubernetes operator sets it): a restore runs once per generation.
    restore_generation: str | None = None
    # The first entry id of this incarnation's log (ids continue from the restored point).
    first_entry_id: int = 1


def list_incarnations(store: ObjectStore, keys: ClusterKeys) -> list[int]:
    numbers = [ClusterKeys.parse_incarnation(i.key) for i in store.list(keys.incarnations_prefix)]
    return sorted(n for n in numbers if n is not None)


def read_incarnation(store: ObjectStore, keys: ClusterKeys, number: int) -> Incarnation:
    key = keys.incarnation(number)
    try:
        return Incarnation.model_validate(json.loads(store.get(key)))
    except (ValueError, ValidationError) as exc:
        raise JournalError(f"incarnation record {key} is not valid: {str(exc).splitlines()[0]}") from None


def create_incarnation(store: ObjectStore, keys: ClusterKeys, incarnation: Incarnation) -> bool:
    """Write the record with a create-if-absent put; False when that number is already taken."""
    try:
        store.put_if_absent(keys.incarnation(incarnation.number), incarnation.model_dump_json().encode())
    except ObjectExistsError:
        return False
    return True


def new_cluster_incarnation(cluster_id: str) -> Incarnation:
    return Incarnation(number=1, cluster_id=cluster_id, created_at=time.time())


def _written_by_an_fe(store: ObjectStore, keys: ClusterKeys, number: int) -> Authenticity | None:
    """What proves that FEs wrote incarnation `number`: its first journal entry or, when that is
    missing or under a key no longer held, its newest checkpoint image. None: nothing proves it."""
    try:
        record = read_incarnation(store, keys, number)
        key = keys.journal_entry(number, record.first_entry_id)
        if store.exists(key):
            entry: JournalEntry = JournalEntry.from_bytes(store.get(key), key)
            if entry.authenticity is Authenticity.AUTHENTIC and entry.incarnation == number:
                return Authenticity.AUTHENTIC
            if entry.authenticity is Authenticity.LEGACY:
                return Authenticity.LEGACY
        image = load_newest_image(store, keys, number)
    except JournalError:
        return None
    return image.authenticity if image is not None and image.incarnation == number else None


def choose_incarnation(store: ObjectStore, keys: ClusterKeys) -> int:
    """The incarnation an FE serves: the newest one its own objects prove FEs wrote (an
    authenticated first entry or image); failing that, the newest from before objects were
    authenticated; failing that (a new cluster that has written nothing yet), the newest record.
    A record nothing proves, newer than the chosen one, was written by someone else: it is reported
    and passed over. Raises JournalError when the cluster has no record, CatalogKeyError when its
    images are under a key this FE does not hold."""
    numbers = list_incarnations(store, keys)
    if not numbers:
        raise JournalError(f"cluster {keys.cluster_id} has no incarnation record")
    proofs = {n: _written_by_an_fe(store, keys, n) for n in reversed(numbers)}
    for wanted in (Authenticity.AUTHENTIC, Authenticity.LEGACY):
        chosen = next((n for n, proof in proofs.items() if proof is wanted), None)
        if chosen is not None:
            for n in numbers:
                if n > chosen:
                    log.error("incarnation record %s is not proven by anything FEs wrote: passing over it",
                              keys.incarnation(n))
            return chosen
    return numbers[-1]
