"""VersionedModel: the base of every format Cairn writes to object storage.

Each format is a pydantic model with a `format_version`, serialized as JSON (optionally compressed),
and validated on read: a damaged object or one from a newer Cairn raises the format's error type
naming the object's key.
"""

from __future__ import annotations

import json
import zlib
from typing import ClassVar, Self

from pydantic import BaseModel, ValidationError

from cairn.errors import CairnError


class VersionedModel(BaseModel):
    """A stored format. Subclasses set KIND (used in messages), and may set COMPRESSED and ERROR."""

    FORMAT_VERSION: ClassVar[int] = 1
    KIND: ClassVar[str] = "object"
    COMPRESSED: ClassVar[bool] = False
    ERROR: ClassVar[type[CairnError]] = CairnError

    format_version: int = 1

    def to_bytes(self) -> bytes:
        data = self.model_dump_json().encode()
        return zlib.compress(data, 3) if self.COMPRESSED else data

    @classmethod
    def from_bytes(cls, data: bytes, key: str) -> Self:
        """Parse and validate `data` read from `key`; raise cls.ERROR if it is damaged or too new."""
        try:
            raw = zlib.decompress(data) if cls.COMPRESSED else data
            model = cls.model_validate(json.loads(raw))
        except (ValueError, zlib.error, ValidationError) as exc:
            raise cls.ERROR(f"{cls.KIND} {key} is not valid: {str(exc).splitlines()[0]}") from None
        if model.format_version > cls.FORMAT_VERSION:
            raise cls.ERROR(f"{cls.KIND} {key} has format {model.format_version}, newer than this Cairn "
                            f"understands ({cls.FORMAT_VERSION})")
        return model
