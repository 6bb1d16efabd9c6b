"""`cairn cn --join`: a starting compute node registers itself through an FE's peer service
(`POST /cn/join` on edit_log_port), proving itself with the cluster credential, as StarRocks' CN
image does in its entrypoint with `ALTER SYSTEM ADD COMPUTE NODE`. It retries in the background
until an FE answers: the FEs may start after it, or be restoring."""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Callable

from pydantic import BaseModel

from cairn.config.cluster_credential import CREDENTIAL_HEADER, header_value
from cairn.config.cn_config import CnConfig
from cairn.config.hosts import HostsHTTPConnection
from cairn.fe.peers import ComputeNodeJoinRequest, JoinResponse

log = logging.getLogger(__name__)

REQUEST_SECONDS = 10.0
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 15.0


def register_once(fe_address: str, request: ComputeNodeJoinRequest, credential: str,
                  leave: bool = False) -> JoinResponse:
    """One attempt (to drop the node instead, `leave`); OSError or ValueError when the FE is
    unreachable or refuses."""
    return post_with_credential(fe_address, "/cn/leave" if leave else "/cn/join", request, credential)


def post_with_credential(fe_address: str, path: str, request: BaseModel, credential: str) -> JoinResponse:
    """POST `request` to `path` of the FE peer service at `fe_address` (host:edit_log_port), proven
    with the cluster credential alone (`/cn/join`, `/cn/leave`, `/fe/leave`); OSError or ValueError
    when the FE is unreachable or refuses."""
    host, _, port = fe_address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--join {fe_address!r} is not host:edit_log_port")
    body = request.model_dump_json().encode()
    connection = HostsHTTPConnection(host, int(port), timeout=REQUEST_SECONDS)
    try:
        connection.request("POST", path, body=body, headers={
            "Content-Type": "application/json", "Content-Length": str(len(body)),
            CREDENTIAL_HEADER: header_value(credential)})
        response = connection.getresponse()
        data = response.read()
    except http.client.HTTPException as exc:
        raise OSError(str(exc) or type(exc).__name__) from None
    finally:
        connection.close()
    if response.status != 200:
        raise ValueError(f"HTTP {response.status}: {data[:300].decode(errors='replace')}")
    return JoinResponse.model_validate_json(data)


def register_in_background(config: CnConfig, fe_address: str, stop: threading.Event,
                           on_registered: Callable[[JoinResponse], None] | None = None) -> threading.Thread:
    """Keep trying to register this node through the FE at `fe_address` until it is registered or
    `stop`; then `on_registered` gets the leader's answer."""
    credential = config.credential
    request = ComputeNodeJoinRequest(host=config.host, heartbeat_service_port=config.heartbeat_service_port)

    def run() -> None:
        if credential is None:
            log.error("cannot register through %s: no cluster credential is configured", fe_address)
            return
        pause = FIRST_RETRY_SECONDS
        while not stop.is_set():
            try:
                answer = register_once(fe_address, request, credential)
            except (OSError, ValueError) as exc:
                log.warning("registering compute node %s through %s failed (%s); retrying in %.0f s",
                            request.address, fe_address, exc, pause)
                stop.wait(pause)
                pause = min(pause * 2, MAX_RETRY_SECONDS)
                continue
            log.info("compute node %s %s by the leader %s", request.address,
                     "registered" if answer.added else "already registered", answer.leader_address)
            if on_registered is not None:
                on_registered(answer)
            return

    thread = threading.Thread(target=run, name="cn-register", daemon=True)
    thread.start()
    return thread
