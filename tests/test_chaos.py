"""The chaos run, short and with a fixed seed: real FE and CN processes on moto's S3 server, killed
with SIGKILL at random moments and running with injected store faults, under a mixed workload with
snapshots, compaction, vacuum and point-in-time restores. It must end with no violation: nothing
acknowledged lost, nothing failed made visible, every FINISHED snapshot complete and verified, and
restores giving exactly the recorded state. (`python -m bench.chaos --seconds 300` is the long form.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import S3_ACCESS_KEY, S3_SECRET_KEY

REPO = Path(__file__).resolve().parent.parent
SEED = 20261202


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_short_chaos_run_keeps_every_promise(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
           "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY}
    env.pop("CAIRN_STORE_FAULTS", None)
    result = subprocess.run([sys.executable, "-m", "bench.chaos", "--seconds", "40", "--seed", str(SEED),
                             "--workdir", str(tmp_path / "chaos")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=840)
    summary = result.stdout.strip()
    assert result.returncode == 0, f"{summary}\n{result.stderr[-3000:]}"
    assert summary.startswith(f"chaos seed={SEED} ") and ": OK;" in summary.splitlines()[0]
    # The run did what it claims: commits were acknowledged, processes were killed, a restore ran.
    counts = dict(part.rsplit(" ", 1) for part in summary.splitlines()[0].split("; ", 1)[1].split(", "))
    assert int(counts.get("insert acknowledged", 0)) > 0
    assert int(counts.get("kill fe", 0)) + int(counts.get("kill cn", 0)) > 0
    assert int(counts.get("restores", 0)) >= 1
    assert int(counts.get("snapshots verified", 0)) > 0
