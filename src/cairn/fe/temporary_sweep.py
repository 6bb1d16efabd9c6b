"""The leader's sweep of temporary tables whose FE is gone.

A session drops its temporary tables when it ends (`Session.drop_temporary_tables`). When its FE
stops first (a crash, a restart, being dropped from the cluster), nothing does: the leader drops the
temporary tables of every FE process that no longer runs. An FE process is known by its name, which
is new at every start (`Frontend.name`); a table's owner is judged gone only when every member FE
answered heartbeats within the timeout and none of them runs under the owner's name, so an FE that
is merely slow to answer never loses its sessions' tables.
"""

from __future__ import annotations

import logging

from cairn.catalog.catalog import Catalog
from cairn.catalog.committer import Committer
from cairn.catalog.model import CatalogState
from cairn.catalog.ops import DropTable
from cairn.fe.membership import Membership
from cairn.storage.keys import ClusterKeys

log = logging.getLogger(__name__)

# How often the leader looks for temporary tables whose FE is gone.
SWEEP_SECONDS = 10.0


def running_frontends(membership: Membership, own_name: str) -> set[str] | None:
    """The names of the FE processes running now (this one's included); None when some member did
    not answer heartbeats within the timeout (then no other FE's tables can be judged)."""
    names = {own_name}
    for state in membership.members():
        if state.is_self:
            continue
        if not state.alive or state.status is None:
            return None
        names.add(state.status.name)
    return names


def orphaned(state: CatalogState, running: set[str]) -> list[tuple[int, int]]:
    """(database id, table id) of every temporary table whose FE process is not in `running`."""
    return [(db.id, t.id) for db, t in state.temporary_tables()
            if t.temporary is not None and t.temporary.frontend not in running]


def sweep(committer: Committer, catalog: Catalog, membership: Membership, keys: ClusterKeys,
          own_name: str) -> int:
    """Drop the temporary tables of FE processes that no longer run (on the leader only); how many."""
    if not committer.is_leader:
        return 0
    running = running_frontends(membership, own_name)
    if running is None:
        return 0
    with catalog.lock:
        found = orphaned(catalog.state, running)
    dropped = 0
    for db_id, table_id in found:
        def build(current: Catalog, db_id: int = db_id, table_id: int = table_id) -> DropTable | None:
            if (db_id, table_id) not in orphaned(current.state, running):
                return None  # dropped meanwhile, by its session or by DROP DATABASE
            return DropTable(db_id=db_id, table_id=table_id, data_prefix=keys.table_prefix(db_id, table_id))

        if committer.commit_if(build) is not None:
            dropped += 1
    if dropped:
        log.info("dropped %d temporary table(s) of FE processes that no longer run", dropped)
    return dropped
