"""Incarnations: each restore opens a new one, with its own log (DESIGN: restore)."""

from __future__ import annotations

import json
import time

from pydantic import BaseModel, ValidationError

from cairn.errors import JournalError, ObjectExistsError
from cairn.storage.keys import ClusterKeys
from cairn.storage.object_store import ObjectStore


class Incarnation(BaseModel):
    """`meta/incarnations/<n>.json`: when incarnation n began and what it was restored from."""

    format_version: int = 1
    number: int
    cluster_id: str
    created_at: float
    restored_from_snapshot: str | None = None
    restored_from_incarnation: int | None = None
    restored_to_entry: int | None = None
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
