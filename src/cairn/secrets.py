"""Keeps secret values out of every text Cairn produces (DESIGN invariant 6).

Whatever holds a secret registers it here; log records and error messages pass through
`redact` before they leave the process, so even an error text that quotes a failing
request cannot carry a credential. A secret is masked in every form it can be written in:
as is, and escaped as a SQL string literal or a JSON string (a `\\` or a quote inside it is
written differently there).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable

MASK = "******"

_lock = threading.Lock()
_secrets: set[str] = set()


def secret_forms(value: str) -> set[str]:
    """Every way `value` can appear in a text: as is, inside a SQL literal ('' or \\' for a quote,
    \\\\ for a backslash, either quote character) and inside a JSON string."""
    backslashed = value.replace("\\", "\\\\")
    return {value, json.dumps(value)[1:-1],
            backslashed.replace("'", "''"), backslashed.replace("'", "\\'"),
            backslashed.replace('"', '""'), backslashed.replace('"', '\\"'),
            value.replace("'", "''"), value.replace('"', '""')}


def mask_values(text: str, values: Iterable[str]) -> str:
    """`text` with every form of each of `values` replaced by the mask, longest first."""
    forms = sorted({f for v in values if v for f in secret_forms(v)}, key=len, reverse=True)
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def register_secret(value: str | None) -> None:
    """Remember a secret so that `redact` masks it wherever it appears."""
    if value and len(value) >= 3:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return `text` with every registered secret, in every form, replaced by a mask."""
    with _lock:
        known = list(_secrets)
    return mask_values(text, known)


class RedactingFilter(logging.Filter):
    """A logging filter that masks registered secrets in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
