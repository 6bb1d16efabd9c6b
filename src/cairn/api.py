"""The in-process Python API: open an FE and run SQL against it, for tests and notebooks.

    >>> import cairn.api as cairn
    >>> fe = cairn.open_frontend(local_storage_path="/tmp/c/storage", meta_dir="/tmp/c/meta")
    >>> cairn.connect(fe).execute("SHOW DATABASES").rows()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cairn.config.conf_file import read_conf_file
from cairn.config.fe_config import FeConfig
from cairn.fe.frontend import Frontend
from cairn.server.session import Session


def load_config(conf: str | Path | None = None, **overrides: Any) -> FeConfig:
    """Read `fe.conf` (or the defaults) and apply keyword overrides, as if they were in the file."""
    values = read_conf_file(conf) if conf is not None else {}
    values.update({k: str(v) for k, v in overrides.items()})
    return FeConfig.from_mapping(values, str(conf) if conf else "<api>")


def open_frontend(conf: str | Path | None = None, **overrides: Any) -> Frontend:
    """Open the FE described by `conf` plus `overrides` (fe.conf keys)."""
    return Frontend.open(load_config(conf, **overrides))


def connect(frontend: Frontend, user: str = "root", database: str | None = None) -> Session:
    """A session on an open FE."""
    return Session(frontend, user=user, database=database)
