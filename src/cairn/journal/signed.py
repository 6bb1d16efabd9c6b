"""SignedModel: a stored format that is authenticated and has its secrets sealed (journal entries, images).

Written: the secrets of `SEALED_FIELD` are sealed with the current catalog key, then an HMAC-SHA256
over the whole object (every field but the MAC itself) is added with that key's id. Read: the MAC
is checked and the secrets opened. Only FEs hold the key, so an object written by anything else
(a compute node, a user of the bucket) reads as FORGED, whatever its plain checksum says.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, ClassVar

from pydantic import PrivateAttr

from cairn import keyring
from cairn.formats import VersionedModel
from cairn.journal.sealed import open_secrets, seal_secrets


class Authenticity(str, Enum):
    """What reading a signed object found out about who wrote it."""

    AUTHENTIC = "authentic"  # a valid MAC under a key this FE holds
    LEGACY = "legacy"  # format 1: written before objects were authenticated
    UNKNOWN_KEY = "unknown key"  # a MAC under a key this FE does not hold
    FORGED = "forged"  # no MAC where one is due, or a wrong one


class SignedModel(VersionedModel):
    """Base of the authenticated formats. Subclasses name the field whose secrets are sealed."""

    FORMAT_VERSION: ClassVar[int] = 2
    SEALED_FIELD: ClassVar[str]

    format_version: int = 2
    key_id: str = ""
    mac: str = ""
    _authenticity: Authenticity = PrivateAttr(default=Authenticity.AUTHENTIC)

    @property
    def authenticity(self) -> Authenticity:
        return self._authenticity

    def _payload(self) -> bytes:
        return json.dumps(self.model_dump(mode="json", exclude={"mac"}), sort_keys=True,
                          separators=(",", ":")).encode()

    def to_bytes(self) -> bytes:
        """Seal the secrets and sign with the current catalog key."""
        ring = keyring.current()
        sealed = self.model_copy(update={
            self.SEALED_FIELD: seal_secrets(getattr(self, self.SEALED_FIELD), ring),
            "format_version": self.FORMAT_VERSION, "key_id": ring.current.key_id, "mac": ""})
        sealed.mac = ring.mac(sealed._payload())[1]
        return VersionedModel.to_bytes(sealed)

    @classmethod
    def from_bytes(cls, data: bytes, key: str) -> Any:
        """Parse, authenticate and (when authentic) open the secrets of the object at `key`.
        The result's `authenticity` says what was found; the caller decides what to trust."""
        model = super().from_bytes(data, key)
        ring = keyring.current()
        if model.mac:
            if not ring.knows(model.key_id):
                found = Authenticity.UNKNOWN_KEY
            elif ring.check_mac(model.key_id, model.mac, model._payload()):
                found = Authenticity.AUTHENTIC
            else:
                found = Authenticity.FORGED
        else:
            found = Authenticity.LEGACY if model.format_version < 2 else Authenticity.FORGED
        if found in {Authenticity.AUTHENTIC, Authenticity.LEGACY}:
            setattr(model, cls.SEALED_FIELD, open_secrets(getattr(model, cls.SEALED_FIELD), ring, key))
        model._authenticity = found
        return model

    def require_readable(self, key: str) -> None:
        """For an object read on its own (a snapshot's image): raise CatalogKeyError when it is under a
        key this FE does not hold, or the format's error when it is forged. Legacy objects pass."""
        if self._authenticity is Authenticity.UNKNOWN_KEY:
            keyring.current().require_key(self.key_id, f"{self.KIND} {key}")
        if self._authenticity is Authenticity.FORGED:
            raise self.ERROR(f"{self.KIND} {key} does not authenticate: it was not written by this cluster's FEs")
