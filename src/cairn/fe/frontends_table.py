"""The rows SHOW FRONTENDS and `information_schema.frontends` show: one per member FE, with
StarRocks' columns, from the member list (the journal) and what heartbeats said of each member."""

from __future__ import annotations

import time

import pyarrow as pa

from cairn.catalog.model import FrontendNode
from cairn.display import format_time
from cairn.fe.membership import Membership, MemberState
from cairn.fe.peers import FrontendRole

# StarRocks' SHOW FRONTENDS columns, in order, and their types.
SHOW_COLUMNS = ["Name", "IP", "EditLogPort", "HttpPort", "QueryPort", "RpcPort", "Role", "ClusterId", "Join",
                "Alive", "ReplayedJournalId", "LastHeartbeat", "IsHelper", "ErrMsg", "StartTime", "Version"]
SHOW_TYPES = [pa.string(), pa.string(), pa.int64(), pa.int64(), pa.int64(), pa.int64(), pa.string(), pa.string(),
              pa.string(), pa.string(), pa.int64(), pa.string(), pa.string(), pa.string(), pa.string(), pa.string()]
# information_schema.frontends adds each member's replay lag (seconds; NULL when not known).
TABLE_COLUMNS = [*SHOW_COLUMNS, "ReplayLagSeconds"]
TABLE_TYPES = [*SHOW_TYPES, pa.float64()]


def members(membership: Membership) -> list[MemberState]:
    """The members, this FE first when the member list does not hold it (a cluster whose journal
    predates membership lists no FE at all)."""
    found = membership.members()
    if any(m.is_self for m in found):
        return found
    own = membership.own_status()
    node = FrontendNode(host=own.host, edit_log_port=own.edit_log_port, name=own.name,
                        type="observer" if own.role == FrontendRole.OBSERVER else "follower")
    return [MemberState(node, own, time.time(), True, "", True), *found]


def frontend_rows(membership: Membership, cluster_id: str) -> list[tuple[object, ...]]:
    """One TABLE_COLUMNS row per member (SHOW FRONTENDS shows the first 16 columns)."""
    found = members(membership)
    leader = _leader(found)
    return [_row(m, cluster_id, m is leader) for m in found]


def _leader(found: list[MemberState]) -> MemberState | None:
    """The one member shown as LEADER: of the live members whose last heartbeat said they lead, the
    one of the newest (incarnation, epoch). A heartbeat can predate a step-down (an old leader that
    has since learned of a newer epoch or of a restore), so two members may both have said so."""
    claims = [m for m in found if m.alive and m.status is not None and m.status.role == FrontendRole.LEADER]
    return max(claims, key=lambda m: (m.status.incarnation, m.status.epoch) if m.status else (0, 0), default=None)


def _row(member: MemberState, cluster_id: str, leads: bool) -> tuple[object, ...]:
    node, status = member.node, member.status
    lag = status.replay_lag_seconds if status is not None and member.alive else None
    return (node.name or (status.name if status else ""), node.host, node.edit_log_port,
            status.http_port if status else 0, status.query_port if status else 0, status.rpc_port if status else 0,
            FrontendRole.LEADER.value if leads else node.type.upper(), status.cluster_id if status else cluster_id,
            "true", str(member.alive).lower(), status.replayed_journal_id if status else 0,
            format_time(member.last_heartbeat), str(leads).lower(), member.err_msg,
            format_time(status.start_time) if status and member.alive else None, status.version if status else None,
            lag)
