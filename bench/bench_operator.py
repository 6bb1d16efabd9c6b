"""The operator (issue 13): disaster recovery's wall time through it, and one reconcile's decisions.

`python -m bench.run --only operator` (or `python -m bench.bench_operator`) measures, in the
Kubernetes simulation, DR wall time from `todo` to `done` beside the restore alone measured in the
same run (bench_operator_dr.py), then times `next_status` + `desired_objects` for the seed's cluster
(3 FEs, 1 CN) in each DR phase, with no I/O; it writes bench/results/operator.json.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench import bench_operator_dr
from bench.common import write_result
from cairn.operator.objects import desired_objects
from cairn.operator.observed import Observed, ObservedPod
from cairn.operator.reconcile import next_status
from cairn.operator.spec import StarRocksCluster
from cairn.operator.status import ClusterStatus

RUNS = 2000


def _cluster(dr: dict[str, Any] | None) -> StarRocksCluster:
    spec: dict[str, Any] = {
        "starRocksFeSpec": {"image": "cairn", "replicas": 3,
                            "configMapInfo": {"configMapName": "fe", "resolveKey": "fe.conf"},
                            "configMaps": [{"name": "cs", "subPath": "cluster_snapshot.yaml",
                                            "mountPath": "/opt/starrocks/fe/conf/cluster_snapshot.yaml"}]},
        "starRocksCnSpec": {"image": "cairn", "replicas": 1},
        "cairn": {"clusterCredentialSecret": {"name": "s"}, "catalogKeySecret": {"name": "s"}}}
    if dr:
        spec["disasterRecovery"] = dr
    return StarRocksCluster.model_validate({"metadata": {"name": "sr", "uid": "u"}, "spec": spec})


def _observed(generation: int | None) -> Observed:
    pods = [ObservedPod(name=f"sr-fe-{i}", component="fe", ready=True, phase="Running", dr_generation=generation)
            for i in range(3)] + [ObservedPod(name="sr-cn-0", component="cn", ready=True, phase="Running")]
    return Observed(now=int(time.time()), pods=pods, statefulset_replicas={"sr-fe": 3, "sr-cn": 1},
                    config_maps={"fe": {"fe.conf": "query_port = 9030\n"}, "cs": {"cluster_snapshot.yaml": ""}},
                    secrets={"s": ["cluster-credential", "catalog-key"]})


def _time(cr: StarRocksCluster, status: ClusterStatus, observed: Observed) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        after = next_status(cr, status, observed)
        desired_objects(cr, after, observed)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def run() -> dict[str, Any]:
    """DR wall time todo → done and the restore alone (seconds); median milliseconds per reconcile
    decision, by case."""
    dr = {"enabled": True, "generation": 1}
    doing = ClusterStatus.model_validate({"disasterRecoveryStatus": {
        "phase": "doing", "reason": "disaster recovery is in progress", "observedGeneration": 1}})
    figures = {
        "disaster_recovery": {**bench_operator_dr.run(), "goal": "<= 3 s added"},
        "decision_ms_normal": _time(_cluster(None), ClusterStatus(), _observed(None)),
        "decision_ms_dr_todo": _time(_cluster(dr), ClusterStatus(), _observed(None)),
        "decision_ms_dr_doing": _time(_cluster(dr), doing, _observed(1)),
        "runs": RUNS,
    }
    write_result("operator", figures)
    return figures


if __name__ == "__main__":
    print(run())
