"""The operator's Prometheus metrics (what deploy/monitoring's alert rules read)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from cairn.operator.status import ClusterStatus, DrPhase


class OperatorMetrics:
    """`cairn_operator_disaster_recovery_phase{namespace,name,phase}` (1 for the current phase, 0
    for the others), `cairn_operator_disaster_recovery_started_timestamp_seconds{namespace,name}` and
    `cairn_operator_disaster_recovery_generation{namespace,name}` (deploy/monitoring/README.md)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.phase = Gauge("cairn_operator_disaster_recovery_phase",
                           "Disaster recovery phase of each StarRocksCluster (1 for the current phase)",
                           ["namespace", "name", "phase"], registry=self.registry)
        self.generation = Gauge("cairn_operator_disaster_recovery_generation",
                                "The observed disaster recovery generation of each StarRocksCluster",
                                ["namespace", "name"], registry=self.registry)
        self.started = Gauge("cairn_operator_disaster_recovery_started_timestamp_seconds",
                             "Unix time the current disaster recovery of each StarRocksCluster started",
                             ["namespace", "name"], registry=self.registry)

    def record(self, namespace: str, name: str, status: ClusterStatus) -> None:
        """Export the DR state of one cluster."""
        dr = status.disaster_recovery
        if dr is None:
            return
        for phase in DrPhase:
            self.phase.labels(namespace, name, phase.value).set(1 if dr.phase == phase else 0)
        self.started.labels(namespace, name).set(dr.start_timestamp)
        self.generation.labels(namespace, name).set(dr.observed_generation)

    def forget(self, namespace: str, name: str) -> None:
        """A deleted cluster exports nothing."""
        for phase in DrPhase:
            try:
                self.phase.remove(namespace, name, phase.value)
            except KeyError:
                pass
        for gauge in (self.started, self.generation):
            try:
                gauge.remove(namespace, name)
            except KeyError:
                pass

    def serve(self, host: str, port: int) -> None:
        """Serve /metrics on host:port (a daemon thread)."""
        start_http_server(port, addr=host, registry=self.registry)
