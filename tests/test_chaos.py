"""The chaos run, short and with a fixed seed: real FE and CN processes on moto's S3 server, killed
with SIGKILL at random moments and running with injected store faults, under a mixed workload with
snapshots, compaction, vacuum and point-in-time restores. It must end with no violation: nothing
acknowledged lost, nothing failed made visible, every FINISHED snapshot complete and verified, and
restores giving exactly the recorded state. CAIRN_CHAOS_SECONDS sets how long the workload runs here
(20 s by default, enough for kills, snapshots and a restore); `python -m bench.chaos --seconds 300` is the
long form."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CLUSTER_CREDENTIAL, S3_ACCESS_KEY, S3_SECRET_KEY

REPO = Path(__file__).resolve().parent.parent
SEED = 20261202
SECONDS = float(os.environ.get("CAIRN_CHAOS_SECONDS", "20"))


@pytest.mark.slow
@pytest.mark.timeout(0 if SECONDS > 600 else 900)
def test_short_chaos_run_keeps_every_promise(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
           "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY, "CAIRN_CLUSTER_CREDENTIAL": CLUSTER_CREDENTIAL}
    env.pop("CAIRN_STORE_FAULTS", None)
    result = subprocess.run([sys.executable, "-m", "bench.chaos", "--seconds", f"{SECONDS:g}", "--seed", str(SEED),
                             "--workdir", str(tmp_path / "chaos")],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=SECONDS + 800)
    summary = result.stdout.strip()
    assert result.returncode == 0, f"{summary}\n{result.stderr[-3000:]}"
    assert summary.startswith(f"chaos seed={SEED} ") and ": OK;" in summary.splitlines()[0]
    # The run did what it claims: commits were acknowledged, processes were killed, a restore ran.
    counts = dict(part.rsplit(" ", 1) for part in summary.splitlines()[0].split("; ", 1)[1].split(", "))
    assert int(counts.get("insert acknowledged", 0)) > 0
    assert int(counts.get("kill fe", 0)) + int(counts.get("kill cn", 0)) > 0
    assert int(counts.get("restores", 0)) >= 1
    assert int(counts.get("snapshots verified", 0)) > 0


def test_the_chaos_check_tells_promises_kept_from_promises_broken() -> None:
    from bench.chaos_model import Batch, Model, Outcome, check, settle

    def model() -> Model:
        return Model(created={"t": Outcome.ACKED, "gone": Outcome.ACKED, "maybe": Outcome.UNKNOWN},
                     dropped={"gone": Outcome.ACKED},
                     batches={1: Batch("t", 3, Outcome.ACKED, "insert"), 2: Batch("t", 2, Outcome.UNKNOWN, "insert"),
                              3: Batch("t", 2, Outcome.FAILED, "stream-load"), 4: Batch("gone", 1, Outcome.ACKED, "insert")})

    # Kept: every acknowledged batch whole, the unknown one either way, the dropped table gone.
    assert check({"t": {1: 3}}, model()) == []
    assert check({"t": {1: 3, 2: 2}, "maybe": {}}, model()) == []
    broken = check({"t": {1: 2, 3: 2, 9: 1}, "gone": {4: 1}}, model())
    assert any("batch 1 into t is torn" in p for p in broken)
    assert any("batch 3 into t is present though its client was told it failed" in p for p in broken)
    assert any("batch 9 in t was never loaded" in p for p in broken)
    assert any("DROP TABLE gone is undone" in p for p in broken)
    assert check({}, model()) == ["acknowledged CREATE TABLE t is lost", "acknowledged insert batch 1 (3 rows into t) is lost"]
    # An unknown outcome settles to what was seen, and may not change after that.
    settled = model()
    assert settle({"t": {1: 3}}, settled) == 2
    assert check({"t": {1: 3, 2: 2}}, settled) != []
    # A batch into a table that is gone settles from the journal's commits, never from its absence.
    gone = model()
    gone.batches[5] = Batch("gone", 1, Outcome.UNKNOWN, "insert")
    settle({"t": {1: 3}}, gone)
    assert gone.batches[5].outcome is Outcome.UNKNOWN
    settle({"t": {1: 3}}, gone, committed={5})
    assert gone.batches[5].outcome is Outcome.ACKED
