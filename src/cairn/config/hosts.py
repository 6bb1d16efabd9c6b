"""Host names Cairn resolves: the `CAIRN_HOSTS` map first, then the system's resolver.

`CAIRN_HOSTS` is a JSON object, host name → IP address, e.g.
`{"sr-fe-0.sr-fe-search": "127.0.0.10"}`. It lets a process use stable names (a Kubernetes pod's
`<pod>.<headless service>`) where no DNS serves them, without editing `/etc/hosts`.
`CAIRN_HOSTS_FILE` names a file holding such an object, read again whenever it changes (names that
appear after the process started, as DNS records do); its entries win over the variable's. Names
are matched case-insensitively, a trailing dot ignored. A name neither holds is left to the
system's resolver, so without the variables nothing changes.

Every place Cairn connects to or binds a name goes through `resolve_host`: binding an FE's or a
CN's servers (`FeConfig.bind_address`, `CnConfig.bind_address`), the FE peer client, compute node
heartbeats (`urlopen`) and their Flight clients. Names stay names everywhere else (membership,
heartbeats, `SHOW FRONTENDS`), so a restored cluster still lists its members by their stable names.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cairn.errors import ConfigError

HOSTS_ENV = "CAIRN_HOSTS"
HOSTS_FILE_ENV = "CAIRN_HOSTS_FILE"

# What was parsed last, by where it came from: the variable's text, the file's (path, inode, mtime, size).
_parsed: dict[str, tuple[object, dict[str, str]]] = {}


def _parse(text: str, source: str) -> dict[str, str]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ConfigError(f"{source} must be a JSON object of host name → IP address strings")
    return {_normalise(k): v for k, v in value.items()}


def _cached(source: str, stamp: object, read: Callable[[], str]) -> dict[str, str]:
    cached = _parsed.get(source)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    mapping = _parse(read(), source)
    _parsed[source] = (stamp, mapping)
    return mapping


def hosts_map() -> dict[str, str]:
    """The map of `CAIRN_HOSTS` and `CAIRN_HOSTS_FILE` (names normalised); empty when neither is set.
    ConfigError when one is not a JSON object of strings, or the file cannot be read."""
    text = os.environ.get(HOSTS_ENV, "")
    mapping = _cached(f"the environment variable {HOSTS_ENV}", text, lambda: text)
    path = os.environ.get(HOSTS_FILE_ENV, "")
    if not path:
        return mapping
    source = f"the hosts file {path} ({HOSTS_FILE_ENV})"
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc.strerror or exc}") from None
    from_file = _cached(source, (path, stat.st_ino, stat.st_mtime_ns, stat.st_size), lambda: Path(path).read_text())
    return {**mapping, **from_file} if from_file else mapping


def _normalise(name: str) -> str:
    return name.strip().rstrip(".").lower()


def resolve_host(name: str) -> str:
    """The address `name` maps to in `CAIRN_HOSTS`, or `name` itself (an IP address, or a name the
    system's resolver answers when it is connected to or bound)."""
    return hosts_map().get(_normalise(name), name)


def create_connection(address: tuple[str, int], timeout: float | None = None,
                      source_address: tuple[str, int] | None = None) -> socket.socket:
    """`socket.create_connection` to `address`, its host resolved through `resolve_host`."""
    host, port = address
    if timeout is None:
        return socket.create_connection((resolve_host(host), port), source_address=source_address)
    return socket.create_connection((resolve_host(host), port), timeout, source_address)


class HostsHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection whose host is resolved through `resolve_host`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


class HostsHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection whose host is resolved through `resolve_host`; the certificate is still
    checked against the name (TLS's server name is the host as given)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(HostsHTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        super().__init__(context=context)
        self._hosts_context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(HostsHTTPSConnection, req, context=self._hosts_context)


def urlopen(request: urllib.request.Request | str, timeout: float,
            context: ssl.SSLContext | None = None) -> Any:
    """`urllib.request.urlopen`, the URL's host resolved through `resolve_host`."""
    opener = urllib.request.build_opener(_HTTPHandler(), _HTTPSHandler(context))
    return opener.open(request, timeout=timeout)
