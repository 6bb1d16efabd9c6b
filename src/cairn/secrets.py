"""Keeps secret values out of every text Cairn produces (DESIGN invariant 6).

Whatever holds a secret registers it here; log records and error messages pass through
`redact` before they leave the process, so even an error text that quotes a failing
request cannot carry a credential.
"""

from __future__ import annotations

import logging
import threading

MASK = "******"

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret so that `redact` masks it wherever it appears."""
    if value and len(value) >= 3:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return `text` with every registered secret replaced by a mask."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks registered secrets in every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
