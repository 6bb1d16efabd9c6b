"""The FE's Prometheus metrics: statements, errors, latencies, loads, journal position, catalog size, and
this FE's role and replay position in its cluster."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from cairn.catalog.model import CatalogState
from cairn.fe.peers import FrontendRole


class FrontendMetrics:
    """One registry per FE (so several FEs in one process never mix their figures)."""

    def __init__(self, catalog: Callable[[], CatalogState], journal_id: Callable[[], int],
                 journal_rejected: Callable[[], int], is_leader: Callable[[], bool],
                 snapshot_interval: Callable[[], float]) -> None:
        """`catalog`, `journal_id`, `journal_rejected`, `is_leader` and `snapshot_interval` (the automated
        snapshot interval in seconds) are read when the metrics are scraped."""
        self.registry = CollectorRegistry()
        self.statements = Counter("cairn_statements_total", "Statements run, by kind", ["kind"],
                                  registry=self.registry)
        self.errors = Counter("cairn_statement_errors_total", "Statements that failed, by error",
                              ["error"], registry=self.registry)
        self.latency = Histogram("cairn_statement_seconds", "Statement latency", ["kind"], registry=self.registry)
        self.running = Gauge("cairn_running_statements", "Statements running now", registry=self.registry)
        self.sessions = Gauge("cairn_connections", "Open MySQL protocol connections", registry=self.registry)
        self.loads = Counter("cairn_loads_total", "Committed loads, by source", ["source"], registry=self.registry)
        self.loaded_rows = Counter("cairn_loaded_rows_total", "Rows committed by loads", registry=self.registry)
        self.filtered_rows = Counter("cairn_filtered_rows_total", "Rows filtered by loads", registry=self.registry)
        self.load_memory_peak = Gauge("cairn_load_memory_peak_bytes", "The most rows the last Stream Load held in "
                                      "memory at once, in bytes (bounded by load_buffer_mb, not the body's size)",
                                      registry=self.registry)
        gauges: dict[str, tuple[str, Callable[[], float]]] = {
            "cairn_journal_id": ("Journal id of the catalog this FE serves", journal_id),
            "cairn_journal_rejected_entries": ("Journal entries this FE found not to authenticate and did not apply",
                                               journal_rejected),
            "cairn_fe_is_leader": ("1 while this FE leads its cluster", lambda: int(is_leader())),
            "cairn_catalog_databases": ("Databases in the catalog", lambda: len(catalog().databases)),
            "cairn_catalog_tables": ("Tables in the catalog", lambda: sum(
                len(d.tables) for d in catalog().databases.values())),
            "cairn_catalog_partitions": ("Partitions in the catalog", lambda: sum(
                len(t.partitions) for d in catalog().databases.values() for t in d.tables.values())),
        }
        gauges["cairn_snapshot_age_seconds"] = (
            "Seconds since the newest finished cluster snapshot (the cluster's current RPO); -1 if none",
            lambda: _snapshot_age(catalog()))
        # With the age, what an alert needs to tell an RPO at risk from snapshots that are simply off.
        gauges["cairn_snapshot_interval_seconds"] = (
            "Interval of automated cluster snapshots (automated_cluster_snapshot_interval_seconds)", snapshot_interval)
        gauges["cairn_snapshot_automated_enabled"] = (
            "1 while automated cluster snapshots are on (ADMIN SET AUTOMATED CLUSTER SNAPSHOT ON)",
            lambda: int(catalog().automated_snapshots.enabled))
        self.snapshot_seconds = Histogram("cairn_snapshot_seconds", "Cluster snapshot duration",
                                          registry=self.registry)
        self.snapshot_failures = Counter("cairn_snapshot_failures_total", "Cluster snapshots that failed",
                                         registry=self.registry)
        for name, (text, read) in gauges.items():
            Gauge(name, text, registry=self.registry).set_function(read)

    def track_membership(self, role: Callable[[], FrontendRole], replay_lag_seconds: Callable[[], float],
                         replayed_journal_id: Callable[[], int]) -> None:
        """Add this FE's role and replay position, read when the metrics are scraped."""
        self.registry.register(_RoleCollector(role))
        Gauge("cairn_fe_replay_lag_seconds", "Seconds this FE's replay is behind the journal's end (0 while it leads)",
              registry=self.registry).set_function(replay_lag_seconds)
        Gauge("cairn_fe_replayed_journal_id", "Journal id up to which this FE has applied the log",
              registry=self.registry).set_function(replayed_journal_id)


class _RoleCollector(Collector):
    """`cairn_fe_role{role=...}`: 1 for the role this FE has now, 0 for the others (a labelled gauge
    read at scrape time, which `Gauge.set_function` cannot do)."""

    def __init__(self, role: Callable[[], FrontendRole]) -> None:
        self.role = role

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("cairn_fe_role", "1 for this FE's current role (LEADER, FOLLOWER, OBSERVER)",
                                   labels=["role"])
        current = self.role()
        for role in FrontendRole:
            family.add_metric([role.value], 1.0 if role == current else 0.0)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Describing without collecting keeps registration from calling `role` before the FE is open.
        yield GaugeMetricFamily("cairn_fe_role", "1 for this FE's current role (LEADER, FOLLOWER, OBSERVER)",
                                labels=["role"])


def _snapshot_age(state: CatalogState) -> float:
    finished = [j.finished_at for j in state.snapshot_jobs.values()
                if j.state == "FINISHED" and j.finished_at]
    return time.time() - max(finished) if finished else -1.0
