"""SignedModel: a stored format that is authenticated and has its secrets sealed (journal entries, images).

Written: the secrets under `SEALED_PATH` are sealed with the current catalog key, then an HMAC-SHA256
over the whole object (every field but the MAC itself) is added with that key's id. Read: the MAC
is checked and the secrets opened. Only FEs hold the key, so an object written by anything else
(a compute node, a user of the bucket) reads as FORGED, whatever its plain checksum says.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from enum import Enum
from typing import Any, ClassVar, Self

from pydantic import PrivateAttr

from cairn import keyring
from cairn.formats import VersionedModel
from cairn.journal.sealed import open_secrets, seal_secrets

_EMPTY_MAC = b'"mac":""'


class Authenticity(str, Enum):
    """What reading a signed object found out about who wrote it."""

    AUTHENTIC = "authentic"  # a valid MAC under a key this FE holds
    LEGACY = "legacy"  # format 1: written before objects were authenticated
    UNKNOWN_KEY = "unknown key"  # a MAC under a key this FE does not hold
    FORGED = "forged"  # no MAC where one is due, or a wrong one


class SignedModel(VersionedModel):
    """Base of the authenticated formats. Subclasses name, as a path of keys, the part of the object
    that can hold secrets (the rest is not searched, so that a large catalog is not walked whole).

    The MAC is over the object's exact JSON bytes with an empty `mac`, so that checking it needs no
    second serialization; `key_id` and `mac` are declared before any subclass field, so the first
    `"mac":` in those bytes is the object's own.
    """

    FORMAT_VERSION: ClassVar[int] = 2
    SEALED_PATH: ClassVar[tuple[str, ...]]

    format_version: int = 2
    key_id: str = ""
    mac: str = ""
    _authenticity: Authenticity = PrivateAttr(default=Authenticity.AUTHENTIC)

    @property
    def authenticity(self) -> Authenticity:
        return self._authenticity

    def _with_secrets(self, change: Callable[[Any], Any]) -> dict[str, Any]:
        """The update that replaces the part at SEALED_PATH with `change(part)` (copying only the path).
        An empty SEALED_PATH is a format that holds no secrets: nothing to change."""
        if not self.SEALED_PATH:
            return {}
        first, *rest = self.SEALED_PATH
        top = getattr(self, first)
        if not rest:
            return {first: change(top)}
        copied = dict(top)
        holder = copied
        for name in rest[:-1]:
            if not isinstance(holder.get(name), dict):
                return {}
            holder[name] = dict(holder[name])
            holder = holder[name]
        if rest[-1] in holder:
            holder[rest[-1]] = change(holder[rest[-1]])
        return {first: copied}

    def to_bytes(self) -> bytes:
        """Seal the secrets and sign with the current catalog key."""
        ring = keyring.current()
        sealed = self.model_copy(update={**self._with_secrets(lambda part: seal_secrets(part, ring)),
                                         "format_version": self.FORMAT_VERSION, "key_id": ring.current.key_id,
                                         "mac": ""})
        unsigned = sealed.model_dump_json().encode()
        mac = ring.mac(unsigned)[1]
        data = unsigned.replace(_EMPTY_MAC, b'"mac":"' + mac.encode() + b'"', 1)
        return zlib.compress(data, 3) if self.COMPRESSED else data

    @classmethod
    def from_bytes(cls, data: bytes, key: str) -> Self:
        """Parse, authenticate and (when authentic) open the secrets of the object at `key`.
        The result's `authenticity` says what was found; the caller decides what to trust."""
        model = super().from_bytes(data, key)
        ring = keyring.current()
        if model.mac:
            if not ring.knows(model.key_id):
                found = Authenticity.UNKNOWN_KEY
            else:
                raw = zlib.decompress(data) if cls.COMPRESSED else data
                unsigned = raw.replace(b'"mac":"' + model.mac.encode() + b'"', _EMPTY_MAC, 1)
                found = (Authenticity.AUTHENTIC if ring.check_mac(model.key_id, model.mac, unsigned)
                         else Authenticity.FORGED)
        else:
            found = Authenticity.LEGACY if model.format_version < 2 else Authenticity.FORGED
        if found in {Authenticity.AUTHENTIC, Authenticity.LEGACY}:
            for name, value in model._with_secrets(lambda part: open_secrets(part, ring, key)).items():
                setattr(model, name, value)
        model._authenticity = found
        return model

    def require_readable(self, key: str) -> None:
        """For an object read on its own (a snapshot's image): raise CatalogKeyError when it is under a
        key this FE does not hold, or the format's error when it is forged. Legacy objects pass."""
        if self._authenticity is Authenticity.UNKNOWN_KEY:
            keyring.current().require_key(self.key_id, f"{self.KIND} {key}")
        if self._authenticity is Authenticity.FORGED:
            raise self.ERROR(f"{self.KIND} {key} does not authenticate: it was not written by this cluster's FEs")
