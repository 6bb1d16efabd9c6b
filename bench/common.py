"""Shared benchmark helpers: timing, a scratch FE, and writing results."""

from __future__ import annotations

import json
import os
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
    payload = {"benchmark": name, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(),
               **figures}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def machine() -> dict[str, Any]:
    """What the figures were measured on: CPU model and count, memory, Python."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")
    memory = 0.0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kib = next((int(line.split()[1]) for line in meminfo.read_text().splitlines()
                          if line.startswith("MemTotal:")), 0)
        memory = round(total_kib / 2**20, 1)
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "cpu_model": model or platform.machine(),
            "memory_gib": memory, "system": platform.system()}


def scratch_session(root: Path, statements: str = "") -> Any:
    """An in-process FE on a local volume under `root`, and a session that ran `statements`."""
    from cairn.api import connect, open_frontend

    frontend = open_frontend(meta_dir=str(root / "meta"), local_storage_path=str(root / "storage"))
    session = connect(frontend)
    if statements:
        session.execute_script(statements)
    return session
