"""The scaling model (docs/scaling.md) fits the costs a distributed run's figures hold, and projects
with them: checked on figures made from known costs."""

from __future__ import annotations

from bench.scaling_model import model


def _results(per_gb: float, per_stage: float) -> dict[str, object]:
    one, two = [], []
    for q in range(1, 23):
        seconds, exchanged, stages = 0.2 + q * 0.05, (q % 5) * 1e8 + q * 1e6, 1 + q % 7
        one.append({"q": q, "seconds": seconds})
        two.append({"q": q, "seconds": seconds + per_gb * exchanged / 1e9 + per_stage * stages,
                    "exchanged_bytes": exchanged, "stages": stages})
    return {"measured_at": "now", "duckdb_total_seconds": 1.0, "ray_1_worker": one, "ray_2_workers": two}


def test_the_fit_recovers_the_costs_the_figures_were_made_with() -> None:
    fitted = model(_results(per_gb=12.0, per_stage=0.3))["fit_2_workers"]
    assert fitted == {"compute_factor": 1.0, "seconds_per_exchanged_gb": 12.0, "seconds_per_stage": 0.3}


def test_the_projection_divides_the_work_and_pays_for_stages_and_tasks() -> None:
    projected = model(_results(per_gb=12.0, per_stage=0.0))["projected_total_seconds"]
    assert projected["SF 100"][128] < projected["SF 100"][32] < projected["SF 100"][8] < projected["SF 100"][2]
    assert projected["SF 100"][1] == round(100 * sum(0.2 + q * 0.05 for q in range(1, 23)), 1), "one node: no exchange"
    assert projected["SF 1"][128] > projected["SF 1"][32], "the driver's per-task cost outgrows small work"
