"""The multi-FE chaos run, short and with a fixed seed: three real FEs and two compute nodes on moto's
S3 server under a mixed workload (inserts on every FE, Stream Load through a follower, DDL, queries),
while the leader is killed with SIGKILL twice, paused with SIGSTOP past the failover time and the
object store is paused. It must end with no violation: nothing acknowledged lost, nothing failed
made visible, followers catching up, and a journal showing no commit by a deposed leader.
(`python -m bench.ha_chaos --seconds 600 --seed N` is the long form.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CLUSTER_CREDENTIAL, S3_ACCESS_KEY, S3_SECRET_KEY

REPO = Path(__file__).resolve().parent.parent
SEED = 20261203


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_leader_kills_pauses_and_a_store_pause_keep_every_promise(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
           "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY, "CAIRN_CLUSTER_CREDENTIAL": CLUSTER_CREDENTIAL}
    env.pop("CAIRN_STORE_FAULTS", None)
    workdir = tmp_path / "ha-chaos"
    result = subprocess.run([sys.executable, "-m", "bench.ha_chaos", "--seconds", "20", "--seed", str(SEED),
                             "--workdir", str(workdir)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=560)
    summary = result.stdout.strip()
    assert result.returncode == 0, f"{summary}\n{result.stderr[-3000:]}"
    assert summary.startswith(f"ha-chaos seed={SEED} ") and ": OK;" in summary.splitlines()[0]
    report = json.loads((workdir / "ha_chaos.json").read_text())
    faults = [f["kind"] for f in report["faults"]]
    assert faults.count("kill") >= 2 and "stop" in faults and "store" in faults
    # Every leader fault ended with another FE leading.
    assert all(f["takeover_seconds"] is not None for f in report["faults"] if f["kind"] in ("kill", "stop"))
    counts = report["counts"]
    assert counts.get("insert acknowledged", 0) > 0 and counts.get("stream-load acknowledged", 0) > 0
    assert counts.get("query on follower ok", 0) > 0
    assert counts["checks"] == len(faults) + 1
