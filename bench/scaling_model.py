"""A model of TPC-H query time on 8, 32 and 128 compute nodes, from what the distributed benchmark
measured on this machine (issue #14): `python -m bench.scaling_model` reads
bench/results/distributed.json and prints the inputs, the fitted costs and the projection
(docs/scaling.md explains the model and its assumptions).

Per query q, from the measured runs:
- C(q): the 1-worker time (the whole plan as one task: no exchange), seconds of one node's work;
- E(q): the bytes the 2-worker run exchanged between workers;
- S(q): the stages of the multi-worker plan.
The 2-worker times are fitted as T2 = a * C + k * E + o * S (least squares over the 22 queries),
which gives k, the cost of one exchanged GB on this machine. The projection for N nodes, each with
its own cores: T(N) = C / N + k * E(N) / N + o' * S + t * N * S, where E(N) = E * 2 (N - 1) / N (a
hash exchange sends (N - 1) / N of its rows off their node, half of them on 2 nodes), o' is a
per-stage latency and t the driver's cost of scheduling one task (assumed, stated below).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "distributed.json"
# Assumed, not measured here: a stage's round trip through Ray's scheduler and object store when
# nodes are idle, and the driver's cost per task submitted (Ray schedules thousands per second).
STAGE_LATENCY_SECONDS = 0.05
TASK_SCHEDULING_SECONDS = 0.002
NODE_COUNTS = (1, 2, 4, 8, 32, 128)


def _solve(rows: list[list[float]], targets: list[float]) -> list[float]:
    """Least squares by the normal equations (three unknowns: no numerical library needed)."""
    n = len(rows[0])
    normal = [[sum(r[i] * r[j] for r in rows) for j in range(n)] for i in range(n)]
    right = [sum(r[i] * t for r, t in zip(rows, targets)) for i in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            factor = normal[j][i] / normal[i][i]
            normal[j] = [a - factor * b for a, b in zip(normal[j], normal[i])]
            right[j] -= factor * right[i]
    solution = [0.0] * n
    for i in reversed(range(n)):
        solution[i] = (right[i] - sum(normal[i][c] * solution[c] for c in range(i + 1, n))) / normal[i][i]
    return solution


def model(results: dict[str, Any]) -> dict[str, Any]:
    """The fitted costs, and the projected total of the 22 queries per node count and scale factor."""
    one = {r["q"]: r for r in results["ray_1_worker"]}
    two = results["ray_2_workers"]
    inputs = [(one[r["q"]]["seconds"], r["exchanged_bytes"] / 1e9, r["stages"], r["seconds"]) for r in two]
    a, k, o = _solve([[c, e, s] for c, e, s, _ in inputs], [t for *_, t in inputs])
    projected: dict[str, dict[int, float]] = {}
    for scale in (1, 100):
        projected[f"SF {scale}"] = {
            n: round(sum(c * scale / n + (k * e * scale * 2 * (n - 1) / n / n if n > 1 else 0.0)
                         + (STAGE_LATENCY_SECONDS * s + TASK_SCHEDULING_SECONDS * n * s if n > 1 else 0.0)
                         for c, e, s, _ in inputs), 1)
            for n in NODE_COUNTS}
    return {
        "measured_at": results["measured_at"],
        "load_average": [results.get("load_average_at_start"), results.get("load_average_at_end")],
        "inputs": {"one_worker_seconds": round(sum(c for c, *_ in inputs), 2),
                   "exchanged_gb_on_2": round(sum(e for _, e, *_ in inputs), 3),
                   "stages": sum(s for _, _, s, _ in inputs),
                   "two_worker_seconds": round(sum(t for *_, t in inputs), 2),
                   "duckdb_seconds": results["duckdb_total_seconds"]},
        "fit_2_workers": {"compute_factor": round(a, 3), "seconds_per_exchanged_gb": round(k, 2),
                          "seconds_per_stage": round(o, 3)},
        "assumed": {"stage_latency_seconds": STAGE_LATENCY_SECONDS, "task_scheduling_seconds": TASK_SCHEDULING_SECONDS},
        "projected_total_seconds": projected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="the distributed benchmark's JSON")
    args = parser.parse_args()
    print(json.dumps(model(json.loads(args.results.read_text())), indent=2))


if __name__ == "__main__":
    main()
