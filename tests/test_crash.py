"""kill -9 at random moments: every acknowledged statement survives, nothing half-done is visible."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.fe.session import Session

WORKER = Path(__file__).with_name("crash_worker.py")


def _run_and_kill(values: dict[str, str], seed: int, delay: float) -> list[tuple[str, dict]]:
    proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(values), str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    assert ready.strip() == "READY", ready
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    output, _ = proc.communicate(timeout=30)
    events = []
    for line in output.splitlines():
        kind, _, payload = line.partition(" ")
        if kind in {"START", "ACK"} and payload:
            try:
                events.append((kind, json.loads(payload)))
            except json.JSONDecodeError:
                pass  # the last line may be cut by the kill
    return events


def test_kill_minus_nine_keeps_every_acknowledged_statement(fe_conf_values: dict[str, str]) -> None:
    rng = random.Random(20261123)
    acked_batches: dict[int, tuple[str, int]] = {}
    acked_tables = {"t0"}
    for round_number in range(3):
        events = _run_and_kill(fe_conf_values, seed=round_number + 1, delay=rng.uniform(0.3, 2.0))
        in_flight = None
        for kind, statement in events:
            if kind == "START":
                in_flight = statement
            elif kind == "ACK":
                in_flight = None
                if statement["kind"] == "insert":
                    acked_batches[statement["batch"]] = (statement["table"], statement["rows"])
                else:
                    acked_tables.add(statement["table"])
        fe = Frontend.open(load_config(None, **fe_conf_values))
        session = Session(fe, database="crash")
        tables = set(fe.catalog.state.databases["crash"].tables)
        assert acked_tables <= tables
        present: dict[int, tuple[str, int]] = {}
        for table in tables:
            for batch, count in session.execute(f"SELECT batch, count(*) FROM {table} GROUP BY batch").rows():
                present[batch] = (table, count)
        for batch, expected in acked_batches.items():
            assert present.get(batch) == expected, f"acknowledged batch {batch} lost or torn"
        unexplained = set(present) - set(acked_batches)
        if unexplained:
            assert in_flight is not None and in_flight["kind"] == "insert"
            assert unexplained == {in_flight["batch"]}
            assert present[in_flight["batch"]] == (in_flight["table"], in_flight["rows"]), "torn version"
            acked_batches[in_flight["batch"]] = (in_flight["table"], in_flight["rows"])
        session.execute("INSERT INTO t0 VALUES (-1, 0, '2023-01-01')")
        acked_batches[-1] = ("t0", round_number + 1)
        assert session.execute("SELECT count(*) FROM t0 WHERE batch = -1").rows()[0][0] == round_number + 1
        fe.close()
