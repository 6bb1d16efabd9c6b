"""Users: password hashing and look-up (the records live in the catalog, never a password)."""

from __future__ import annotations

import hashlib

from cairn.catalog.catalog import Catalog

ROOT = "root"


def native_password_hash(password: str) -> str:
    """The mysql_native_password hash of a password ('' for the empty password)."""
    if not password:
        return ""
    return hashlib.sha1(hashlib.sha1(password.encode()).digest()).hexdigest()


def auth_string_for(catalog: Catalog, username: str) -> str | None:
    """The stored hash of `username` ('' = no password), or None when no such user exists.

    root exists from the start with an empty password, as in StarRocks.
    """
    record = catalog.state.users.get(username)
    if record is not None:
        return record.auth_string
    return "" if username == ROOT else None
