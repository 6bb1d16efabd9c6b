"""The cluster credential on Arrow Flight calls: the FE's client adds it to every call, a compute
node's server refuses every call that does not carry it (config/cluster_credential.py)."""

from __future__ import annotations

import logging

import pyarrow.flight as flight

from cairn.config.cluster_credential import CREDENTIAL_HEADER, header_value, matches

log = logging.getLogger(__name__)

REFUSED = "Access denied: this compute node serves only its cluster's FEs; the call {why} the cluster credential"


class _SendCredential(flight.ClientMiddleware):  # type: ignore[misc]  # pyarrow ships no types
    def __init__(self, value: str) -> None:
        self._value = value

    def sending_headers(self) -> dict[str, str]:
        return {CREDENTIAL_HEADER: self._value}


class SendCredential(flight.ClientMiddlewareFactory):  # type: ignore[misc]  # pyarrow ships no types
    """Client middleware: every call carries the cluster credential."""

    def __init__(self, credential: str) -> None:
        self._value = header_value(credential)

    def start_call(self, info: flight.CallInfo) -> flight.ClientMiddleware:
        return _SendCredential(self._value)


class RequireCredential(flight.ServerMiddlewareFactory):  # type: ignore[misc]  # pyarrow ships no types
    """Server middleware: a call without the cluster credential, or with another, is refused
    before it reaches the service (and logged, without what was presented)."""

    def __init__(self, credential: str) -> None:
        self._credential = credential

    def start_call(self, info: flight.CallInfo, headers: dict[str, list[str | bytes]]) -> None:
        presented = headers.get(CREDENTIAL_HEADER) or []
        if any(matches(self._credential, value) for value in presented):
            return None
        why = "carries a wrong value for" if presented else "does not carry"
        log.warning("refused a Flight %s call: it %s the cluster credential", info.method, why.replace(" for", ""))
        raise flight.FlightUnauthenticatedError(REFUSED.format(why=why))
