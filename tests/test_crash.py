"""kill -9 at random moments, on both backends: every acknowledged statement survives, nothing
half-done is visible, and the FE started again keeps committing."""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cairn.api import load_config
from cairn.fe.frontend import Frontend
from cairn.server.session import Session
from crash_worker import T0_DDL

WORKER = Path(__file__).with_name("crash_worker.py")
ROUNDS = 4


@dataclass
class Expected:
    """What the log of acknowledged statements promises: tables, and rows per insert batch."""

    tables: set[str] = field(default_factory=set)
    batches: dict[int, tuple[str, int]] = field(default_factory=dict)


def _run_and_kill(values: dict[str, str], seed: int, delay: float,
                  after_ready: bool) -> tuple[bool, list[tuple[str, dict]]]:
    """Start a worker and SIGKILL it `delay` seconds after spawning (so maybe during its start-up)
    or, with `after_ready`, `delay` seconds after it printed READY (so mid-statement however slow
    the machine is); return (whether it was READY, its START/ACK events in order)."""
    proc = subprocess.Popen([sys.executable, str(WORKER), json.dumps(values), str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    early = []
    if after_ready:
        deadline = time.monotonic() + 120
        while not early or early[-1] != "READY\n":
            ready_to_read, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = proc.stdout.readline() if ready_to_read else ""
            assert line, f"the worker never became ready:\n{proc.stderr.read() if proc.poll() is not None else ''}"
            early.append(line)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    output, errors = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the worker died by itself:\n{errors[-3000:]}"
    ready = False
    events = []
    lines = "".join(early + [output]).splitlines()
    for line in lines:
        kind, _, payload = line.partition(" ")
        ready = ready or kind == "READY"
        if kind in {"START", "ACK"}:
            try:
                events.append((kind, json.loads(payload)))
            except json.JSONDecodeError:
                assert line is lines[-1], "only the last line may be cut by the kill"
    return ready, events


def _acknowledge(expected: Expected, statement: dict) -> None:
    if statement["kind"] == "insert":
        expected.batches[statement["batch"]] = (statement["table"], statement["rows"])
    else:
        expected.tables.add(statement["table"])


def _check_after_restart(session: Session, expected: Expected, in_flight: dict | None) -> None:
    """Every acknowledged change is there; anything more is exactly the one in-flight statement, whole."""
    tables = {row[0] for row in session.execute("SHOW TABLES").rows()}
    assert expected.tables <= tables, "an acknowledged CREATE TABLE was lost"
    extra_tables = tables - expected.tables
    if extra_tables:
        assert in_flight is not None and in_flight["kind"] == "create"
        assert extra_tables == {in_flight["table"]}
        _acknowledge(expected, in_flight)
    present: dict[int, tuple[str, int]] = {}
    for table in tables:
        for batch, count in session.execute(f"SELECT batch, count(*) FROM {table} GROUP BY batch").rows():
            assert batch not in present, f"batch {batch} appears in two tables"
            present[batch] = (table, count)
    for batch, promised in expected.batches.items():
        assert present.get(batch) == promised, f"acknowledged batch {batch} lost or torn: {present.get(batch)}"
    extra_batches = set(present) - set(expected.batches)
    if extra_batches:
        assert in_flight is not None and in_flight["kind"] == "insert"
        assert extra_batches == {in_flight["batch"]}
        assert present[in_flight["batch"]] == (in_flight["table"], in_flight["rows"]), "torn version"
        _acknowledge(expected, in_flight)


def test_kill_minus_nine_keeps_every_acknowledged_statement(fe_conf_values: dict[str, str]) -> None:
    rng = random.Random(20261123)
    expected = Expected()
    acknowledged_total = 0
    for round_number in range(ROUNDS):
        # Even rounds kill at a random moment from spawn, so some kills land in start-up; odd
        # rounds kill at a random moment after READY, so statements are acknowledged and cut.
        ready, events = _run_and_kill(fe_conf_values, seed=round_number + 1, delay=rng.uniform(0.2, 2.0),
                                      after_ready=round_number % 2 == 1)
        in_flight = None
        for kind, statement in events:
            if kind == "START":
                in_flight = statement
            else:
                in_flight = None
                acknowledged_total += 1
                _acknowledge(expected, statement)
        if ready:
            expected.tables.add("t0")

        fe = Frontend.open(load_config(None, **fe_conf_values))
        session = Session(fe)
        session.execute("CREATE DATABASE IF NOT EXISTS crash")
        session.database = "crash"
        _check_after_restart(session, expected, in_flight)

        session.execute(T0_DDL)
        expected.tables.add("t0")
        marker = -1 - round_number
        session.execute(f"INSERT INTO t0 VALUES ({marker}, 0, '2023-01-01'), ({marker}, 1, '2024-01-01')")
        expected.batches[marker] = ("t0", 2)
        assert session.execute(f"SELECT count(*) FROM t0 WHERE batch = {marker}").rows()[0][0] == 2
        fe.close()
    assert acknowledged_total > 0, "no statement was ever acknowledged: the test proved nothing"
