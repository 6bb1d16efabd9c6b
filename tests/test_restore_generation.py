"""A restore asked for by a disaster-recovery generation (RESTORE_CLUSTER_GENERATION, as the
Kubernetes operator sets it) runs once per generation: fe-0 restarted in restore mode resumes the
cluster it restored, and a raised generation restores again. The restore-state endpoint reports
what was restored (the operator copies it into the StarRocksCluster's status)."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path

import pytest

from fe_process import FeProcess, run_sql, start_fe
from test_restore import snapshot_yaml


def _restore_state(fe: FeProcess) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{fe.http_port}/api/v2/get_cluster_snapshot_restore_state",
                                timeout=10) as answer:
        state: dict[str, object] = json.load(answer)
    return state


@pytest.mark.parametrize("volume_kind", ["local"])
def test_restore_runs_once_per_generation(tmp_path: Path, fe_conf_values: dict[str, str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    values = fe_conf_values
    fe = start_fe(tmp_path, values)
    run_sql(fe, "CREATE DATABASE d", "CREATE TABLE d.t (k INT) DISTRIBUTED BY HASH(k)", "INSERT INTO d.t VALUES (1)",
         "ADMIN CREATE CLUSTER SNAPSHOT s1")
    cluster_id = json.loads((Path(values["meta_dir"]) / "cluster.json").read_text())["cluster_id"]
    fe.stop(signal.SIGKILL)
    (tmp_path / "cluster_snapshot.yaml").write_text(snapshot_yaml(values, cluster_id, None))
    monkeypatch.setenv("RESTORE_CLUSTER_SNAPSHOT", "true")
    monkeypatch.setenv("RESTORE_CLUSTER_GENERATION", "1")

    restored = start_fe(tmp_path, values)
    state = _restore_state(restored)
    assert state["state"] == "finished" and state["snapshot"] == "s1" and state["generation"] == "1"
    assert str(state["snapshot_path"]).endswith(f"/{cluster_id}/meta/image/s1")
    assert isinstance(state["journal_id"], int) and state["journal_id"] > 0
    assert isinstance(state["seconds"], float)
    run_sql(restored, "INSERT INTO d.t VALUES (2)")

    # fe-0 restarted still in restore mode for generation 1: it resumes, the row written since stays.
    restored.stop(signal.SIGKILL)
    resumed = start_fe(tmp_path, values)
    assert sorted(run_sql(resumed, "SELECT k FROM d.t")) == [(1,), (2,)]
    assert _restore_state(resumed)["snapshot"] == "s1"
    assert "resuming it" in resumed.log.read_text()

    # A raised generation restores again: back to the snapshot.
    resumed.stop(signal.SIGKILL)
    monkeypatch.setenv("RESTORE_CLUSTER_GENERATION", "2")
    again = start_fe(tmp_path, values)
    assert sorted(run_sql(again, "SELECT k FROM d.t")) == [(1,)]
    assert _restore_state(again)["generation"] == "2"
    again.stop()
