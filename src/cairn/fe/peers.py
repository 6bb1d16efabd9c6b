"""What FEs of one cluster tell each other over the FE peer service (on `edit_log_port`).

Every FE heartbeats every other member FE with its `FrontendStatus` and gets the peer's back: that
is how followers learn that the leader is alive, and how `SHOW FRONTENDS` knows each FE's role,
ports and replay position. A follower forwards writes to the leader as a `ForwardRequest`.

Only FEs hold the catalog key, so a call proves its caller is an FE of this cluster with a token
derived from that key (`peer_token`); compute nodes hold the cluster credential but never the
catalog key, so they can neither heartbeat nor forward statements.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from cairn import keyring

# The header a peer token travels in.
PEER_TOKEN_HEADER = "x-cairn-fe-token"


class FrontendRole(StrEnum):
    """StarRocks' FE roles. A FOLLOWER may become LEADER; an OBSERVER never leads."""

    LEADER = "LEADER"
    FOLLOWER = "FOLLOWER"
    OBSERVER = "OBSERVER"


class FrontendStatus(BaseModel):
    """What an FE says of itself in a heartbeat."""

    name: str
    host: str
    edit_log_port: int
    http_port: int
    query_port: int
    rpc_port: int
    role: FrontendRole
    cluster_id: str
    incarnation: int
    # The epoch this FE leads (when LEADER) or the newest it has replayed.
    epoch: int
    replayed_journal_id: int
    start_time: float
    version: str
    # Serving reads with replay caught up to within the bound (`/api/health` "ready").
    ready: bool
    # Seconds since it last saw the end of the journal (0 while it leads).
    replay_lag_seconds: float = 0.0
    err_msg: str = ""
    # The distributed engine's head this FE runs (the leader's, with the engine on): followers
    # connect to it to run their queries on the same workers.
    engine_address: str | None = None

    @property
    def address(self) -> str:
        """`host:edit_log_port`: the FE's identity in the cluster's membership."""
        return f"{self.host}:{self.edit_log_port}"


class ClusterInfo(BaseModel):
    """What an FE answers a starting FE given it as `--helper`."""

    cluster_id: str
    incarnation: int
    leader_address: str
    members: list[str]  # host:edit_log_port of every follower and observer, the leader included


class JoinRequest(BaseModel):
    """A starting FE asks the leader to list it as a member (`cairn fe --join`, what Kubernetes pods
    do instead of a person typing ALTER SYSTEM ADD FOLLOWER)."""

    host: str
    edit_log_port: int
    type: Literal["follower", "observer"] = "follower"


class ComputeNodeJoinRequest(BaseModel):
    """A starting compute node asks to be registered (`cairn cn --join`). It proves itself with the
    cluster credential alone: a compute node never holds the catalog key."""

    host: str
    heartbeat_service_port: int

    @property
    def address(self) -> str:
        """`host:heartbeat_service_port`, the node's identity in the catalog."""
        return f"{self.host}:{self.heartbeat_service_port}"


class JoinResponse(BaseModel):
    """The leader's answer: `added` False when the FE was already a member. To a compute node's
    join, also its CN id and, when the distributed engine is on, the address of the engine's head
    for the node's worker to join (over this authenticated channel only)."""

    added: bool
    leader_address: str
    node_id: int | None = None
    engine_address: str | None = None


class ForwardRequest(BaseModel):
    """A write sent to a non-leader, forwarded to the leader to run as its original user."""

    user: str
    host: str
    database: str | None
    variables: dict[str, Any] = Field(default_factory=dict)
    sql: str
    # Names the statement while it runs on the leader, so that the forwarding FE can cancel it
    # (KILL, or its client gone); empty when it cannot be cancelled there.
    forward_id: str = ""
    # The original session and its FE: the statement sees that session's temporary tables.
    session_id: str = ""
    session_frontend: str = ""


class ForwardCancel(BaseModel):
    """Stop the forwarded statement `forward_id` on the leader; it fails with `message` (the
    forwarding FE's own words, naming its client's connection)."""

    forward_id: str
    message: str


class ForwardCancelResponse(BaseModel):
    """Whether the statement was running on the leader when the cancel came (if not, it is stopped
    as soon as it starts, or it had finished)."""

    running: bool


class ForwardResponse(BaseModel):
    """The leader's answer to a forwarded statement. `error_*` set when it failed; `result_ipc` is an
    Arrow IPC stream (base64) for a statement that returns rows. `journal_id` is the leader's
    position after the statement: the forwarding FE replays up to it before it answers its client,
    so that a session reads its own writes."""

    journal_id: int
    incarnation: int
    affected_rows: int = 0
    message: str = ""
    warnings: list[str] = Field(default_factory=list)
    result_ipc: str | None = None
    error_code: int | None = None
    error_sqlstate: str | None = None
    error_message: str | None = None
    # The error's class (`NotLeaderError`, `CommitOutcomeUnknownError`, ...): what the forwarding FE
    # acts on, since a MySQL code such as 1105 is shared by many errors.
    error_type: str | None = None


def _payload(cluster_id: str) -> bytes:
    return b"cairn fe peer:" + cluster_id.encode()


def peer_token(cluster_id: str) -> str:
    """The token an FE of `cluster_id` sends on every peer call: `<key id>.<HMAC>` of the cluster id
    under the catalog key."""
    key_id, mac = keyring.current().mac(_payload(cluster_id))
    return f"{key_id}.{mac}"


def is_peer_token(cluster_id: str, presented: str | None) -> bool:
    """True when `presented` proves its sender holds a catalog key this FE holds (current or previous)."""
    if not presented or "." not in presented:
        return False
    key_id, _, mac = presented.partition(".")
    return keyring.current().check_mac(key_id, mac, _payload(cluster_id))
