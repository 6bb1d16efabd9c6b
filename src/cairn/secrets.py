"""Keeps secret values out of every text Cairn produces (DESIGN invariant 6).

Whatever holds a secret registers it here; log records and error messages pass through
`redact` before they leave the process, so even an error text that quotes a failing
request cannot carry a credential. A secret is masked in every form it can be written in:
as is, and escaped as a SQL string literal or a JSON string (a `\\` or a quote inside it is
written differently there).

Only the secret itself is masked, never a piece of other text that happens to hold the same
characters: a short value (a one-digit password, a literal of a statement that did not parse)
would otherwise turn `line 10` into `line ******0`. So a value is masked according to its length:
from `ANYWHERE_LENGTH` characters wherever it appears (a long secret inside other text is the
secret); from `STANDALONE_LENGTH` only where it is not part of a longer run of letters and digits;
shorter values only where they are written as a quoted string (`'1'`), which is how a statement
quoted in an error carries them.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable

MASK = "******"
# See the module's docstring: how long a value must be to be masked wherever it appears, or where it
# stands alone; shorter ones are masked only inside quotes.
ANYWHERE_LENGTH = 8
STANDALONE_LENGTH = 4
_QUOTES = "'\""
_ALNUM = "0-9A-Za-z"

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


def _pattern(value: str, form: str) -> str:
    """The regular expression that finds `form` (a written form of `value`) where it is the secret."""
    escaped = re.escape(form)
    if len(value) >= ANYWHERE_LENGTH:
        return escaped
    if len(value) >= STANDALONE_LENGTH:
        before = f"(?<![{_ALNUM}])" if re.match(f"[{_ALNUM}]", form) else ""
        after = f"(?![{_ALNUM}])" if re.match(f"[{_ALNUM}]", form[-1]) else ""
        return before + escaped + after
    # Inside quotes only; the closing quote may be missing (a statement cut at its first quote).
    return "|".join(f"(?<={re.escape(q)}){escaped}(?={re.escape(q)}|\\Z)" for q in _QUOTES)


def mask_values(text: str, values: Iterable[str]) -> str:
    """`text` with every form of each of `values` replaced by the mask where it is that secret
    (see the module's docstring), longest first."""
    forms = sorted({(f, v) for v in values if v for f in secret_forms(v)}, key=lambda fv: len(fv[0]), reverse=True)
    for form, value in forms:
        if form in text:
            text = re.sub(_pattern(value, form), MASK, text)
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
