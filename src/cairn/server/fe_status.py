"""What the HTTP port says of this FE's place in its cluster: `/api/health` (role and readiness, on
every FE), `/api/leader` (200 only on the leader), and where a write sent to a non-leader goes.

StarRocks' `/api/health` answers backend counts; Cairn's answers what a readiness probe and a load
balancer need: is this FE serving reads within `meta_delay_toleration_second` of the journal's end,
and is it the one that takes writes.
"""

from __future__ import annotations

import json
import math
from typing import Any

from cairn.fe.frontend import Frontend


def _number(value: float) -> float | None:
    """JSON has no infinity: an unknown lag is null."""
    return value if math.isfinite(value) else None


def _status(frontend: Frontend) -> dict[str, Any]:
    lag = frontend.replay_lag_seconds()
    return {"role": frontend.own_status().role.value, "is_leader": frontend.is_leader, "ready": frontend.ready,
            "replayed_journal_id": frontend.position.entry_id, "replay_lag_seconds": _number(lag),
            "leader": frontend.address if frontend.is_leader else frontend.catalog.state.leader_address}


def _not_ready_reason(frontend: Frontend) -> str:
    if frontend.leadership.excluded:
        return frontend.leadership.excluded
    if frontend.not_leader_reason:
        return frontend.not_leader_reason
    lag = frontend.replay_lag_seconds()
    behind = f"{lag:.1f} s" if math.isfinite(lag) else "an unknown time"
    return (f"This FE's replay is {behind} behind the journal "
            f"(meta_delay_toleration_second = {frontend.config.meta_delay_toleration_second:g})")


def health(frontend: Frontend) -> tuple[int, bytes]:
    """`/api/health`: 200 while this FE is ready, else 503; the same JSON either way."""
    ready = frontend.ready
    body = {"status": "OK" if ready else "FAILED", "msg": "" if ready else _not_ready_reason(frontend),
            **_status(frontend)}
    return (200 if ready else 503), json.dumps(body).encode()


def leader(frontend: Frontend) -> tuple[int, bytes]:
    """`/api/leader`: 200 on the FE that leads (where writes go), 503 on every other."""
    leads = frontend.is_leader
    body = {"status": "OK" if leads else "FAILED",
            "msg": "" if leads else frontend.not_leader_reason or "This FE is not the leader", **_status(frontend)}
    return (200 if leads else 503), json.dumps(body).encode()


def leader_location(frontend: Frontend, path: str) -> str | None:
    """`http://<leader host>:<leader http_port><path>` as StarRocks redirects a Stream Load sent to a
    non-leader; None when the leader is unknown or has not been heard from within the heartbeat timeout."""
    address = frontend.catalog.state.leader_address
    status = frontend.membership.heard(address) if address else None
    if status is None:
        return None
    host = f"[{status.host}]" if ":" in status.host else status.host
    return f"http://{host}:{status.http_port}{path}"
