"""The client side of the FE peer service (`server/peer_server.py`): heartbeats, cluster info and
forwarded statements, sent to another FE of this cluster at `host:edit_log_port`.

Every call carries this cluster's peer token and, when configured, the cluster credential; over TLS
when `cluster_tls_ca_file` is set. One connection per call, every socket operation bounded by a
timeout. A peer that cannot be reached or refuses the call raises `PeerUnavailableError`; a
forwarded statement whose answer never came raises `CommitOutcomeUnknownError`, since the leader
may have applied it.
"""

from __future__ import annotations

import http.client
import json
import ssl
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from cairn.config.cluster_credential import CREDENTIAL_HEADER, header_value
from cairn.config.cluster_tls import client_context
from cairn.config.hosts import HostsHTTPConnection, HostsHTTPSConnection
from cairn.errors import CommitOutcomeUnknownError, PeerUnavailableError
from cairn.fe.peers import (
    PEER_TOKEN_HEADER,
    ClusterInfo,
    ComputeNodeJoinRequest,
    ForwardCancel,
    ForwardCancelResponse,
    ForwardRequest,
    ForwardResponse,
    FrontendStatus,
    JoinRequest,
    JoinResponse,
    peer_token,
)

_Model = TypeVar("_Model", bound=BaseModel)

DEFAULT_TIMEOUT_SECONDS = 5.0

OUTCOME_UNKNOWN = ("The statement was forwarded to the leader at {address}, which did not answer ({why}): it may "
                   "or may not have been applied. Check before running it again.")


class PeerClient:
    """Calls other FEs of cluster `cluster_id`. Thread-safe: it holds no connection between calls."""

    def __init__(self, cluster_id: str, credential: str | None, tls_ca_file: str = "",
                 timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.cluster_id = cluster_id
        self.timeout = timeout
        self._credential = credential
        self._context = client_context(tls_ca_file) if tls_ca_file else None

    def heartbeat(self, address: str, mine: FrontendStatus, timeout: float | None = None) -> FrontendStatus:
        """Send this FE's status to the FE at `address`; its status back (within `timeout` seconds,
        else the client's own timeout)."""
        return self._call(address, "POST", "/fe/heartbeat", mine, FrontendStatus,
                          self.timeout if timeout is None else timeout, forwarded=False)

    def cluster_info(self, address: str) -> ClusterInfo:
        """What the FE at `address` knows of the cluster: its id, incarnation, leader and members."""
        return self._call(address, "GET", "/fe/cluster", None, ClusterInfo, self.timeout, forwarded=False)

    def join(self, address: str, request: JoinRequest) -> JoinResponse:
        """Ask the leader at `address` to list the FE `request` names as a member."""
        return self._call(address, "POST", "/fe/join", request, JoinResponse, self.timeout, forwarded=False)

    def join_compute_node(self, address: str, request: ComputeNodeJoinRequest) -> JoinResponse:
        """Register the compute node `request` names on the leader at `address` (forwarded by a follower)."""
        return self._call(address, "POST", "/cn/join", request, JoinResponse, self.timeout, forwarded=False)

    def leave_compute_node(self, address: str, request: ComputeNodeJoinRequest) -> JoinResponse:
        """Drop the compute node `request` names, on the leader at `address`."""
        return self._call(address, "POST", "/cn/leave", request, JoinResponse, self.timeout, forwarded=False)

    def leave_frontend(self, address: str, request: JoinRequest) -> JoinResponse:
        """Drop the FE `request` names from the membership, on the leader at `address`."""
        return self._call(address, "POST", "/fe/leave", request, JoinResponse, self.timeout, forwarded=False)

    def forward(self, address: str, request: ForwardRequest, timeout: float | None = None) -> ForwardResponse:
        """Run `request` on the leader at `address`. A statement that failed there is an answer (its
        `error_*` fields); a call that never reached it raises PeerUnavailableError; one whose
        answer was lost raises CommitOutcomeUnknownError."""
        return self._call(address, "POST", "/fe/forward", request, ForwardResponse,
                          self.timeout if timeout is None else timeout, forwarded=True)

    def cancel_forward(self, address: str, cancel: ForwardCancel) -> ForwardCancelResponse:
        """Stop a statement this FE forwarded to the leader at `address` (see `ForwardCancel`)."""
        return self._call(address, "POST", "/fe/forward/cancel", cancel, ForwardCancelResponse, self.timeout,
                          forwarded=False)

    def _connection(self, address: str, timeout: float) -> http.client.HTTPConnection:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise PeerUnavailableError(f"The FE address {address!r} is not host:edit_log_port")
        if self._context is not None:
            return HostsHTTPSConnection(host, int(port), timeout=timeout, context=self._context)
        return HostsHTTPConnection(host, int(port), timeout=timeout)

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {PEER_TOKEN_HEADER: peer_token(self.cluster_id), "Content-Type": "application/json",
                   "Content-Length": str(len(body))}
        if self._credential is not None:
            headers[CREDENTIAL_HEADER] = header_value(self._credential)
        return headers

    def _call(self, address: str, method: str, path: str, body: BaseModel | None, answer: type[_Model],
              timeout: float, forwarded: bool) -> _Model:
        payload = body.model_dump_json().encode() if body is not None else b""
        connection = self._connection(address, timeout)
        try:
            try:
                connection.connect()
            except (OSError, http.client.HTTPException) as exc:
                raise PeerUnavailableError(f"The FE at {address} cannot be reached: {_why(exc)}") from None
            # From here on the peer may have received the request.
            try:
                connection.request(method, path, body=payload, headers=self._headers(payload))
                response = connection.getresponse()
                status, data = response.status, response.read()
            except (OSError, http.client.HTTPException) as exc:
                if forwarded:
                    raise CommitOutcomeUnknownError(OUTCOME_UNKNOWN.format(address=address, why=_why(exc))) from None
                raise PeerUnavailableError(f"The FE at {address} did not answer: {_why(exc)}") from None
        finally:
            connection.close()
        if status == 200:
            try:
                return answer.model_validate_json(data)
            except ValidationError:
                why = f"a malformed {answer.__name__}"
                if forwarded:
                    raise CommitOutcomeUnknownError(OUTCOME_UNKNOWN.format(address=address, why=why)) from None
                raise PeerUnavailableError(f"The FE at {address} answered {why}") from None
        if forwarded and status >= 500:
            raise CommitOutcomeUnknownError(OUTCOME_UNKNOWN.format(address=address, why=f"HTTP {status}"))
        raise PeerUnavailableError(f"The FE at {address} refused the call (HTTP {status}): {_message(data)}")


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    return str(exc) or type(exc).__name__


def _message(data: bytes) -> str:
    """The `msg` of a peer service's JSON refusal (it never quotes what the caller presented)."""
    try:
        parsed = json.loads(data)
    except ValueError:
        return "no explanation"
    return str(parsed.get("msg", "no explanation")) if isinstance(parsed, dict) else "no explanation"
