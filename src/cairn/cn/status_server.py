"""A compute node's HTTP endpoints: `/heartbeat` on heartbeat_service_port (what the FE polls), and
`/api/health` and `/metrics` on webserver_port (what Kubernetes and Prometheus poll).

`/heartbeat` and `/metrics` answer only requests carrying the cluster credential (an
`Authorization: Bearer` header, as Prometheus' `authorization` scrape setting sends); `/api/health`
stays open, as it tells nothing but that the process serves."""

from __future__ import annotations

import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from cairn import __version__
from cairn.cn.service import ComputeService
from cairn.compute.requests import ENGINE_HEAD_HEADER, ENGINE_NODE_HEADER, NodeReport
from cairn.config.cluster_credential import CREDENTIAL_HEADER, matches
from cairn.config.cluster_tls import server_context

log = logging.getLogger(__name__)


def node_report(service: ComputeService) -> NodeReport:
    """What this node tells the FE at each heartbeat."""
    config = service.config
    stats = service.cache.stats()
    return NodeReport(thrift_port=config.thrift_port, webserver_port=config.webserver_port,
                      heartbeat_service_port=config.heartbeat_service_port, brpc_port=config.brpc_port,
                      start_time=service.started_at, version=__version__, cpu_cores=os.cpu_count() or 1,
                      running=service.running, cache_used_bytes=stats.used_bytes,
                      cache_capacity_bytes=stats.capacity_bytes or 0, cache_hits=stats.hits, cache_misses=stats.misses,
                      counters={**dict(service.counters), "cache_evictions": stats.evictions,
                                "cache_corrupt_refetches": stats.corrupt_refetches})


def _metrics_registry(service: ComputeService) -> CollectorRegistry:
    registry = CollectorRegistry()
    figures = {
        "cairn_cn_running_tasks": ("Scans, writes and compactions running now", lambda: service.running),
        "cairn_cn_cache_used_bytes": ("Bytes in the local object cache", lambda: service.cache.stats().used_bytes),
        "cairn_cn_cache_capacity_bytes": ("Capacity of the local object cache",
                                          lambda: service.cache.stats().capacity_bytes or 0),
        "cairn_cn_cache_hits": ("Objects served from the local cache", lambda: service.cache.stats().hits),
        "cairn_cn_cache_misses": ("Objects fetched from object storage", lambda: service.cache.stats().misses),
        "cairn_cn_cache_corrupt_refetches": ("Cached objects that failed their checksum and were fetched again",
                                             lambda: service.cache.stats().corrupt_refetches),
        "cairn_cn_scans": ("Scan fragments served", lambda: service.counters["scans"]),
        "cairn_cn_writes": ("Load writes served", lambda: service.counters["writes"]),
        "cairn_cn_compactions": ("Compactions run", lambda: service.counters["compactions"]),
        "cairn_cn_rows_scanned": ("Rows sent back by scans", lambda: service.counters["rows_scanned"]),
    }
    for name, (text, read) in figures.items():
        Gauge(name, text, registry=registry).set_function(read)
    return registry


class NodeStatusServer:
    """Both HTTP listeners of one compute node; stopped by `close`."""

    def __init__(self, service: ComputeService) -> None:
        registry = _metrics_registry(service)
        credential = service.credential

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug("http %s", format % args)

            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                if self.path in ("/heartbeat", "/metrics") and not matches(credential, self.headers.get(
                        CREDENTIAL_HEADER)):
                    log.warning("refused an HTTP request for %s from %s: it does not carry the cluster credential",
                                self.path, self.client_address[0])
                    self.send_error(401, "this endpoint needs the cluster credential")
                    return
                if self.path == "/heartbeat":
                    head, node = self.headers.get(ENGINE_HEAD_HEADER), self.headers.get(ENGINE_NODE_HEADER)
                    if head and node and node.isdigit():
                        service.engine_head = (head, int(node))
                    body, kind = node_report(service).model_dump_json().encode(), "application/json"
                elif self.path == "/api/health":
                    body, kind = b'{"status": "OK"}', "application/json"
                elif self.path == "/metrics":
                    body, kind = generate_latest(registry), CONTENT_TYPE_LATEST
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        host = service.config.bind_address
        self.servers = [ThreadingHTTPServer((host, port), Handler)
                        for port in (service.config.heartbeat_service_port, service.config.webserver_port)]
        if service.config.tls:
            context = server_context(service.config.cluster_tls_cert_file, service.config.cluster_tls_key_file)
            for server in self.servers:
                server.socket = context.wrap_socket(server.socket, server_side=True)
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, name="cn-http", daemon=True).start()

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
