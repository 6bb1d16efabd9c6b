"""The FE peer service on `edit_log_port`: what the FEs of one cluster ask each other.

- `POST /fe/heartbeat`: the caller's `FrontendStatus` in, this FE's out (both recorded as alive);
- `GET /fe/cluster`: the `ClusterInfo` a starting FE given this one as its helper needs;
- `POST /fe/forward`: a `ForwardRequest` a non-leader forwards, run here as its original user;
- `POST /fe/forward/cancel`: a `ForwardCancel` from the FE that forwarded a statement still running here
  (KILL on that FE, or its client gone): the statement stops;
- `POST /fe/join`: a `JoinRequest` from a starting FE (`cairn fe --join`) that the leader lists as a member;
- `POST /cn/join`: a `ComputeNodeJoinRequest` from a starting compute node (`cairn cn --join`), admitted
  with the cluster credential alone, registered by the leader (a follower forwards it);
- `POST /cn/leave`: the same, to drop the node (the Kubernetes operator, before a scale-in removes its pod);
- `POST /fe/leave`: a `JoinRequest` naming a member FE to drop (the Kubernetes operator, before an FE
  scale-in removes its pod; admitted like `/cn/leave`), what `ALTER SYSTEM DROP FOLLOWER|OBSERVER`
  does, on the leader (a follower forwards it). Refused for the FE that leads, and when the
  followers left alive would be fewer than a quorum of the followers that stay.

Every call must carry the peer token of this FE's cluster (only FEs hold the catalog key it is
derived from) and, when a cluster credential is configured, that credential too: a compute node,
which holds the credential but never the catalog key, is refused. Refusals are logged without what
was presented. With `cluster_tls_cert_file` / `cluster_tls_key_file` the service speaks only TLS.
"""

from __future__ import annotations

import json
import logging
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from cairn.catalog.catalog import Catalog
from cairn.catalog.model import ComputeNode, FrontendNode
from cairn.catalog.node_ops import AddComputeNodes, AddFrontend, DropComputeNodes, DropFrontend
from cairn.catalog.op_base import Op
from cairn.config.cluster_credential import CREDENTIAL_HEADER, matches
from cairn.config.cluster_tls import server_context
from cairn.config.fe_config import FeConfig
from cairn.errors import CairnError, ConfigError, FrontendNodeError, PeerUnavailableError
from cairn.fe.frontend import Frontend
from cairn.fe.peers import (
    PEER_TOKEN_HEADER,
    ClusterInfo,
    ComputeNodeJoinRequest,
    ForwardCancel,
    ForwardCancelResponse,
    ForwardRequest,
    FrontendStatus,
    JoinRequest,
    JoinResponse,
    is_peer_token,
)
from cairn.server.peer_forward import RunningForwards, run_forwarded
from cairn.sql.registry import StatementRegistry

log = logging.getLogger(__name__)
_Model = TypeVar("_Model", bound=BaseModel)

# What a holder of the cluster credential may ask without an FE's peer token: a compute node
# registering itself, and the Kubernetes operator dropping a node or an FE before its pod goes.
CREDENTIAL_ONLY_PATHS = ("/cn/join", "/cn/leave", "/fe/leave")
# A peer request is a status or one statement: a body larger than this is refused unread.
MAX_BODY_BYTES = 256 << 20
# What is read (and dropped) of a refused caller's body: a peer's heartbeat fits many times over.
UNADMITTED_BODY_BYTES = 1 << 20
# Bounds on a caller that is slow to finish its TLS handshake or send its request.
REQUEST_SECONDS = 30.0

REFUSED = "Access denied: the FE peer service serves only the FEs of its cluster; the call {why}"


class _PeerHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A caller that hung up or failed its TLS handshake: one line, not a traceback on stderr.
        log.warning("FE peer call from %s failed: %s", client_address[0], sys.exc_info()[1] or "no reason given",
                    exc_info=log.isEnabledFor(logging.DEBUG))


def peer_tls_context(config: FeConfig) -> ssl.SSLContext | None:
    """The TLS context the peer service serves with, None without TLS; ConfigError when the
    certificate or key is missing or unreadable (checked before the FE opens its cluster)."""
    if not config.peer_tls:
        return None
    return server_context(config.cluster_tls_cert_file, config.cluster_tls_key_file)


class PeerService:
    """A threaded HTTP(S) server on the FE's peer port; one thread per call, stopped by `close`."""

    def __init__(self, frontend: Frontend, statements: StatementRegistry, host: str, port: int) -> None:
        cluster_id = frontend.keys.cluster_id
        credential = frontend.config.credential
        tls = peer_tls_context(frontend.config)
        forwards = self.forwards = RunningForwards()

        class Handler(BaseHTTPRequestHandler):
            timeout = REQUEST_SECONDS

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug("peer %s", format % args)

            def setup(self) -> None:
                super().setup()
                if isinstance(self.connection, ssl.SSLSocket):
                    self.connection.do_handshake()

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    self.close_connection = True  # the caller is gone; nothing to tell it

            def _answer(self, model: BaseModel) -> None:
                self._send(200, model.model_dump_json().encode())

            def _fail(self, status: int, message: str) -> None:
                self._send(status, json.dumps({"status": "FAILED", "msg": message}).encode())

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # http.server's own refusals (a bad request line, an unknown method).
                if code == 501:
                    code, message = 405, f"Method {self.command} is not allowed here"
                self._fail(code, message or self.responses.get(code, ("Error",))[0])

            def _body_length(self) -> int | None:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    return None
                return length if 0 <= length <= MAX_BODY_BYTES else None

            def _discard_body(self, limit: int = MAX_BODY_BYTES) -> None:
                """Read what the caller sends (up to `limit` bytes) before refusing it, so that it
                reads the refusal rather than a reset connection."""
                left = min(self._body_length() or 0, limit)
                try:
                    while left > 0 and (chunk := self.rfile.read(min(left, 1 << 16))):
                        left -= len(chunk)
                except OSError:
                    return

            def _admitted(self) -> bool:
                """True when the call proves it comes from an FE of this cluster (or, for
                `/cn/join`, from a holder of the cluster credential); otherwise the refusal is
                answered (and logged, never with what was presented)."""
                token = self.headers.get(PEER_TOKEN_HEADER)
                if self.command == "POST" and self.path in CREDENTIAL_ONLY_PATHS and not token:
                    presented = self.headers.get(CREDENTIAL_HEADER)
                    if credential is None:
                        why = "registers a compute node, which needs a cluster credential and this FE has none"
                    elif not matches(credential, presented):
                        why = "carries a wrong value for the cluster credential" if presented \
                            else "does not carry the cluster credential"
                    else:
                        return True
                elif not is_peer_token(cluster_id, token):
                    why = "carries a wrong FE peer token" if token else "carries no FE peer token"
                elif credential is not None and not matches(credential, self.headers.get(CREDENTIAL_HEADER)):
                    presented = self.headers.get(CREDENTIAL_HEADER)
                    why = "carries a wrong value for the cluster credential" if presented \
                        else "does not carry the cluster credential"
                else:
                    return True
                log.warning("refused an FE peer call %s %s from %s: it %s", self.command, self.path.split("?")[0],
                            self.client_address[0], why)
                self._discard_body(UNADMITTED_BODY_BYTES)
                self._fail(401, REFUSED.format(why=why))
                return False

            def _read(self, model: type[_Model]) -> _Model | None:
                length = self._body_length()
                if length is None:
                    self.close_connection = True
                    self._fail(413, f"The request body may be at most {MAX_BODY_BYTES} bytes, with a Content-Length")
                    return None
                try:
                    return model.model_validate_json(self.rfile.read(length))
                except ValidationError as exc:
                    self._fail(400, f"Malformed {model.__name__}: {exc.error_count()} invalid field(s)")
                    return None

            def _join(self, request: JoinRequest) -> None:
                """List the FE at host:edit_log_port as a member, on the leader only (409 elsewhere)."""
                if not frontend.is_leader:
                    leader = frontend.catalog.state.leader_address or "unknown"
                    self._fail(409, f"This FE is not the leader (the leader is {leader}); send the join to the leader")
                    return
                address = f"{request.host}:{request.edit_log_port}"

                def build(catalog: Catalog) -> AddFrontend | None:
                    if any(n.address == address for n in catalog.state.frontends):
                        return None
                    name = f"{request.host}_{request.edit_log_port}_{int(time.time() * 1000)}"
                    return AddFrontend(node=FrontendNode(host=request.host, edit_log_port=request.edit_log_port,
                                                         type=request.type, name=name))

                try:
                    added = frontend.commit_if(build) is not None
                except CairnError as exc:
                    self._fail(503, f"Could not add {address}: {exc}")
                    return
                if added:
                    log.info("added FE %s as a %s at its own request", address, request.type)
                self._answer(JoinResponse(added=added, leader_address=frontend.address))

            def _leave(self, request: JoinRequest) -> None:
                """Drop the member FE at host:edit_log_port: on the leader, or forwarded to it."""
                if not frontend.is_leader:
                    leader = frontend.catalog.state.leader_address
                    if not leader:
                        self._fail(503, "No leader is known yet; try again")
                        return
                    try:
                        self._answer(frontend.peer_client.leave_frontend(leader, request))
                    except PeerUnavailableError as exc:
                        self._fail(503, exc.message)
                    return
                address = f"{request.host}:{request.edit_log_port}"
                if address in {frontend.address, frontend.catalog.state.leader_address}:
                    self._fail(409, "can not drop current master node.")
                    return

                def build(catalog: Catalog) -> DropFrontend | None:
                    if not any(n.address == address for n in catalog.state.frontends):
                        return None
                    staying = [m for m in frontend.membership.members()
                               if m.node.address != address and m.node.type == "follower"]
                    alive = sum(1 for m in staying if m.alive)
                    if alive < len(staying) // 2 + 1:
                        raise FrontendNodeError(
                            f"dropping {address} would leave {alive} of the {len(staying)} followers that stay "
                            "alive, fewer than a quorum")
                    return DropFrontend(address=address)

                try:
                    dropped = frontend.commit_if(build) is not None
                except CairnError as exc:
                    self._fail(503, f"Could not drop FE {address}: {exc}")
                    return
                if dropped:
                    log.info("dropped FE %s at the request of a holder of the cluster credential", address)
                self._answer(JoinResponse(added=dropped, leader_address=frontend.address))

            def _compute_node_membership(self, request: ComputeNodeJoinRequest, leave: bool) -> None:
                """Register a compute node (or drop it, `leave`: before its pod goes on a scale-in):
                on the leader, or forwarded to it by a follower. `added` answers whether anything changed."""
                if not frontend.is_leader:
                    leader = frontend.catalog.state.leader_address
                    if not leader:
                        self._fail(503, "No leader is known yet; try again")
                        return
                    client = frontend.peer_client
                    try:
                        self._answer(client.leave_compute_node(leader, request) if leave
                                     else client.join_compute_node(leader, request))
                    except PeerUnavailableError as exc:
                        self._fail(503, exc.message)
                    return
                address = request.address

                def build(catalog: Catalog) -> Op | None:
                    known = any(n.address == address for n in catalog.state.compute_nodes)
                    if leave:
                        return DropComputeNodes(addresses=[address]) if known else None
                    if known:
                        return None
                    (node_id,) = catalog.allocate_ids(1)
                    return AddComputeNodes(nodes=[ComputeNode(host=request.host, id=node_id,
                                                              heartbeat_service_port=request.heartbeat_service_port)])

                try:
                    changed = frontend.commit_if(build) is not None
                except CairnError as exc:
                    self._fail(503, f"Could not {'drop' if leave else 'add'} compute node {address}: {exc}")
                    return
                if changed:
                    log.info("%s compute node %s at its own request", "dropped" if leave else "added", address)
                    frontend.compute_nodes.heartbeat_all()
                node_id = next((n.id for n in frontend.catalog.state.compute_nodes if n.address == address), None)
                engine = None if leave else frontend.engine_host.address
                self._answer(JoinResponse(added=changed, leader_address=frontend.address,
                                          node_id=node_id, engine_address=engine))

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                if not self._admitted():
                    return
                if self.path != "/fe/cluster":
                    self._fail(404, "Not Found")
                    return
                with frontend.catalog.lock:
                    state = frontend.catalog.state
                    info = ClusterInfo(cluster_id=cluster_id, incarnation=frontend.position.incarnation,
                                       leader_address=state.leader_address,
                                       members=[node.address for node in state.frontends])
                self._answer(info)

            def do_POST(self) -> None:  # noqa: N802
                if not self._admitted():
                    return
                if self.path == "/fe/heartbeat":
                    status = self._read(FrontendStatus)
                    if status is not None:
                        frontend.membership.record(status)
                        self._answer(frontend.own_status())
                elif self.path == "/fe/join":
                    join = self._read(JoinRequest)
                    if join is not None:
                        self._join(join)
                elif self.path == "/fe/leave":
                    leave = self._read(JoinRequest)
                    if leave is not None:
                        self._leave(leave)
                elif self.path in ("/cn/join", "/cn/leave"):
                    node = self._read(ComputeNodeJoinRequest)
                    if node is not None:
                        self._compute_node_membership(node, leave=self.path == "/cn/leave")
                elif self.path == "/fe/forward":
                    request = self._read(ForwardRequest)
                    if request is not None:
                        self._answer(run_forwarded(frontend, statements, request, forwards))
                elif self.path == "/fe/forward/cancel":
                    cancel = self._read(ForwardCancel)
                    if cancel is not None:
                        self._answer(ForwardCancelResponse(running=forwards.cancel(cancel)))
                else:
                    self._discard_body()
                    self._fail(404, "Not Found")

        try:
            self.server = _PeerHttpServer((host, port), Handler)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} (edit_log_port): {exc.strerror or exc}") from None
        if tls is not None:
            # The handshake runs in the call's own thread (`setup`), so a slow caller stalls no other.
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
        self.thread = threading.Thread(target=self.server.serve_forever, name="fe-peer", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
