"""HTTP on http_port: `/api/health` for readiness probes, `/metrics` for Prometheus, and Stream Load
(`PUT /api/<db>/<table>/_stream_load`)."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cairn.errors import CairnError
from cairn.fe.frontend import Frontend
from cairn.restore.startup import RESTORE_STATE_PATH
from cairn.server.stream_load import check_password, stream_load

log = logging.getLogger(__name__)

_STREAM_LOAD = re.compile(r"^/api/([^/]+)/([^/]+)/_stream_load/?$")
_CHUNK = 1 << 20


class TruncatedUpload(Exception):
    """The client sent fewer bytes than its Content-Length announced."""


class HttpFrontDoor:
    """A threaded HTTP server; one thread per request, stopped by `close`."""

    def __init__(self, frontend: Frontend, host: str, port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # so curl's `Expect: 100-continue` is answered

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug("http %s", format % args)

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _fail(self, status: int, message: str) -> None:
                self._send(status, json.dumps({"Status": "Fail", "Message": message}).encode())

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                if self.path == "/api/health":
                    ok = frontend.is_leader
                    body = {"status": "OK" if ok else "FAILED", "msg": "" if ok else frontend.not_leader_reason}
                    self._send(200 if ok else 503, json.dumps(body).encode())
                elif self.path == RESTORE_STATE_PATH:
                    state = getattr(frontend, "restore_state", None)
                    self._send(200, state.answer() if state else b'{"status": "OK", "state": "finished"}')
                elif self.path == "/metrics":
                    self._send(200, generate_latest(frontend.metrics.registry), CONTENT_TYPE_LATEST)
                else:
                    self._fail(404, "Not Found")

            def _read_body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                parts, received = [], 0
                while received < length:
                    chunk = self.rfile.read(min(_CHUNK, length - received))
                    if not chunk:
                        raise TruncatedUpload(f"upload truncated: received {received} of {length} bytes")
                    parts.append(chunk)
                    received += len(chunk)
                return b"".join(parts)

            def do_PUT(self) -> None:  # noqa: N802
                match = _STREAM_LOAD.match(self.path)
                if match is None:
                    self._fail(404, "Not Found")
                    return
                user, password = _basic_auth(self.headers.get("Authorization"))
                try:
                    check_password(frontend, user, password)
                except CairnError as exc:
                    self.close_connection = True
                    self._fail(401, str(exc))
                    return
                try:
                    body = self._read_body()
                except TruncatedUpload as exc:
                    log.warning("stream load into %s.%s: %s", match.group(1), match.group(2), exc)
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                answer = stream_load(frontend, user, match.group(1), match.group(2), headers, body)
                self._send(200, answer.to_json())

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _basic_auth(header: str | None) -> tuple[str, str]:
    """(user, password) from a Basic Authorization header; ('', '') when absent or malformed."""
    if not header or not header.lower().startswith("basic "):
        return "", ""
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return "", ""
    return user, password
