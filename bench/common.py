"""Shared benchmark helpers: timing, a scratch FE, and writing results."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results")


def timed(action: Callable[[], Any], repeat: int = 1) -> float:
    """Median wall time of `repeat` runs of `action`, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def write_result(name: str, figures: dict[str, Any]) -> Path:
    """Write one benchmark's figures, with the machine they were measured on."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
               "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
               **figures}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def scratch_session(root: Path, statements: str = "") -> Any:
    """An in-process FE on a local volume under `root`, and a session that ran `statements`."""
    from cairn.api import connect, open_frontend

    frontend = open_frontend(meta_dir=str(root / "meta"), local_storage_path=str(root / "storage"))
    session = connect(frontend)
    if statements:
        session.execute_script(statements)
    return session
