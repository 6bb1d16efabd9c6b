"""Reads StarRocks-style `key = value` configuration files."""

from __future__ import annotations

import re
from pathlib import Path

from cairn.errors import ConfigError

_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$")


def parse_conf_text(text: str, source: str = "<text>") -> dict[str, str]:
    """Parse `key = value` lines; `#` starts a comment line, surrounding quotes are removed.

    Raises ConfigError naming the line when a non-comment line has no `=`.
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ConfigError(f"{source}:{number}: expected 'key = value', got {line[:60]!r}")
        key, value = match.group(1), match.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def read_conf_file(path: str | Path) -> dict[str, str]:
    """Read and parse a configuration file; a missing file is a ConfigError naming it."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {file}") from None
    return parse_conf_text(text, str(file))
