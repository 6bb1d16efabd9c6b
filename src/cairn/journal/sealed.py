"""Secrets inside journal entries and images are sealed with the catalog key (DESIGN invariant 6).

A secret is the value of a secret property (SECRET_PROPERTIES: S3 keys, Azure keys, GCS private
keys) wherever it appears in an op or a catalog: a volume's properties, an ALTER's changes. The
in-memory catalog keeps clear values; only what is written to storage is sealed.
"""

from __future__ import annotations

from typing import Any

from cairn.keyring import Keyring
from cairn.storage.volume import SECRET_PROPERTIES


def seal_secrets(tree: Any, keyring: Keyring) -> Any:
    """A copy of `tree` (JSON data) with every secret property value sealed."""
    if isinstance(tree, dict):
        return {k: keyring.seal(v) if k in SECRET_PROPERTIES and isinstance(v, str) and v
                else seal_secrets(v, keyring) for k, v in tree.items()}
    if isinstance(tree, list):
        return [seal_secrets(v, keyring) for v in tree]
    return tree


def open_secrets(tree: Any, keyring: Keyring, where: str) -> Any:
    """A copy of `tree` with every sealed secret opened (clear legacy values pass unchanged).
    Raises CatalogKeyError naming the missing key."""
    if isinstance(tree, dict):
        return {k: keyring.open(v, where) if k in SECRET_PROPERTIES and isinstance(v, str)
                else open_secrets(v, keyring, where) for k, v in tree.items()}
    if isinstance(tree, list):
        return [open_secrets(v, keyring, where) for v in tree]
    return tree
