"""HTTP on http_port: `/api/health` for readiness probes, `/api/leader` (200 on the leader only),
`/metrics` for Prometheus, the restore state, and Stream Load (`PUT /api/<db>/<table>/_stream_load`).

As in StarRocks, the health, leader, metrics and restore-state answers need no credentials (they
carry counts and states, never data); Stream Load checks a MySQL user's password (HTTP basic auth) and
its INSERT privilege, and an FE that does not lead redirects it to the leader (307). Every other path or method is refused. Every refusal is a JSON answer with
a 4xx status, never a closed connection or a traceback.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cairn.errors import BadRequestError, CairnError, NotLeaderError
from cairn.fe.frontend import Frontend
from cairn.restore.startup import RESTORE_STATE_PATH, RestoreState
from cairn.server import fe_status
from cairn.server.request_body import BodyFraming, body_framing, copy_body
from cairn.server.stream_load import (
    StreamLoadAnswer,
    StreamLoadOptions,
    check_password,
    check_target,
    load_workspace,
    stream_load,
)

log = logging.getLogger(__name__)

_STREAM_LOAD = re.compile(r"^/api/([^/]+)/([^/]+)/_stream_load/?$")


def _path_name(segment: str) -> str:
    """A database or table name from its URL path segment, percent-decoded as UTF-8 (`my%20db` is
    `my db`); BadRequestError when the escapes are not UTF-8."""
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise BadRequestError(f"the name '{segment}' in the Stream Load URL is not percent-encoded UTF-8") from None
# After refusing a request whose body was not read, what is still read (and dropped) before
# closing, so that the client sees the answer rather than a reset connection.
_DRAIN_BYTES = 64 << 20
_DRAIN_SECONDS = 5.0


@dataclass(frozen=True)
class _AdmittedLoad:
    """A Stream Load whose headers passed every check: it may send its body."""

    user: str
    database: str
    table: str
    options: StreamLoadOptions
    framing: BodyFraming
    limit: int


class HttpFrontDoor:
    """A threaded HTTP server; one thread per request, stopped by `close`."""

    def __init__(self, frontend: Frontend, host: str, port: int, restore_state: RestoreState | None = None) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # so curl's `Expect: 100-continue` is answered
            admitted: _AdmittedLoad | None = None
            body_unread = False

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug("http %s", format % args)

            def _send(self, status: int, body: bytes, content_type: str = "application/json",
                      headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    if self.close_connection:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(body)
                except OSError:
                    self.close_connection = True  # the client is gone; nothing to tell it

            def _fail(self, status: int, message: str) -> None:
                self._send(status, json.dumps({"Status": "Fail", "Message": message}).encode())

            def _refuse(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                """Answer without reading the request's body: the connection cannot carry another."""
                self.close_connection = True
                self.body_unread = True
                self._send(status, body, headers=headers)

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # http.server's own refusals (a bad request line, headers too long, an unknown method).
                self.close_connection = True
                self.body_unread = True
                if code == 501:  # http.server's answer to a method no handler serves
                    code, message = 405, f"Method {self.command} is not allowed here"
                text = message or self.responses.get(code, ("Error",))[0]
                self._send(code, json.dumps({"Status": "Fail", "Message": text}).encode())

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                if self.path == "/api/health":
                    self._send(*fe_status.health(frontend))
                elif self.path == "/api/leader":
                    self._send(*fe_status.leader(frontend))
                elif self.path == RESTORE_STATE_PATH:
                    self._send(200, restore_state.answer() if restore_state is not None
                               else b'{"status": "OK", "state": "finished"}')
                elif self.path == "/metrics":
                    self._send(200, generate_latest(frontend.metrics.registry), CONTENT_TYPE_LATEST)
                else:
                    self._fail(404, "Not Found")

            def handle_expect_100(self) -> bool:
                # Check everything the headers tell before inviting the body, so that a refused
                # load is never sent.
                if self.command == "PUT":
                    self.admitted = self._admit()
                    if self.admitted is None:
                        return False
                return super().handle_expect_100()

            def _admit(self) -> _AdmittedLoad | None:
                """The load these headers ask for, or None once a refusal is answered."""
                # A query string is kept (a redirect passes it on) but names nothing: options are headers.
                match = _STREAM_LOAD.match(urlsplit(self.path).path)
                if match is None:
                    self._refuse(404, b'{"Status": "Fail", "Message": "Not Found"}')
                    return None
                label = (self.headers.get("label") or "")[:128]
                user, password = _basic_auth(self.headers.get("Authorization"))
                try:
                    check_password(frontend, user, password)
                except CairnError as exc:
                    self._refuse(401, json.dumps({"Status": "Fail", "Message": str(exc)}).encode())
                    return None
                if not frontend.is_leader:
                    self._redirect_to_leader(label)
                    return None
                limit = frontend.config.streaming_load_max_mb * 1024 * 1024
                try:
                    options = StreamLoadOptions.from_headers({k.lower(): v for k, v in self.headers.items()})
                    framing = body_framing(self.headers, limit)
                    database, table = _path_name(match.group(1)), _path_name(match.group(2))
                    check_target(frontend, user, database, table, options)
                except CairnError as exc:
                    # A load refused for what it asks (privilege, unknown table) answers 200 with
                    # Status Fail, as StarRocks does; a malformed request answers 4xx.
                    answer = StreamLoadAnswer(label=label)
                    answer.fail(exc)
                    self._refuse(exc.http_status if isinstance(exc, BadRequestError) else 200, answer.to_json())
                    return None
                return _AdmittedLoad(user, database, table, options, framing, limit)

            def _redirect_to_leader(self, label: str) -> None:
                """307 to the same path and query on the leader's HTTP port (before the body is read),
                so that `curl --location-trusted` sends the load there; 503 when no leader is known."""
                location = fe_status.leader_location(frontend, self.path)
                if location is None:
                    answer = StreamLoadAnswer(label=label)
                    answer.fail(NotLeaderError(
                        "No leader FE is known to this FE, so the load cannot be redirected; retry shortly "
                        f"({frontend.not_leader_reason or 'this FE is not the leader'})"))
                    self._refuse(503, answer.to_json())
                    return
                self._refuse(307, b"", {"Location": location})

            def do_PUT(self) -> None:  # noqa: N802
                admitted, self.admitted = self.admitted or self._admit(), None
                if admitted is None:
                    return
                answer = StreamLoadAnswer(label=admitted.options.label)
                status = 200
                try:
                    with load_workspace(frontend) as directory:
                        body = directory / "body"
                        self.body_unread = True
                        with body.open("wb") as file:
                            copy_body(self.rfile, admitted.framing, admitted.limit, file)
                        self.body_unread = False
                        answer = stream_load(frontend, admitted.user, admitted.database, admitted.table,
                                             admitted.options, body)
                except BadRequestError as exc:
                    answer.fail(exc)
                    status = exc.http_status
                except Exception:  # noqa: BLE001 - the client gets an answer, the log the details
                    log.exception("stream load into %s.%s failed", admitted.database, admitted.table)
                    answer.fail(CairnError("Internal error while loading; nothing was loaded, see the FE log"))
                    status = 500
                if self.body_unread:
                    self.close_connection = True
                self._send(status, answer.to_json())

            def finish(self) -> None:
                super().finish()
                if self.body_unread:
                    _drain(self.connection)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _drain(connection: socket.socket) -> None:
    """Half-close, then read and drop what the client still sends, within bounds, so that closing
    does not reset the connection before the client has read the answer."""
    try:
        connection.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + _DRAIN_SECONDS
        drained = 0
        while drained < _DRAIN_BYTES and (left := deadline - time.monotonic()) > 0:
            connection.settimeout(left)
            data = connection.recv(1 << 16)
            if not data:
                return
            drained += len(data)
    except OSError:
        return


def _basic_auth(header: str | None) -> tuple[str, str]:
    """(user, password) from a Basic Authorization header; ('', '') when absent or malformed."""
    if not header or not header.lower().startswith("basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return "", ""
    return user, password
